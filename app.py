"""Build the web app from Settings and launch it: `python app.py` (same as `t1d-qa serve`)."""

from t1d_qa.config import Settings
from t1d_qa.web.server import serve

if __name__ == "__main__":
    raise SystemExit(serve(Settings.from_env()))
