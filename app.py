"""The chat page, JSON API and widget: `python app.py [--host H] [--port P]`, same as `t1d-qa serve`."""

import sys

from t1d_qa.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))
