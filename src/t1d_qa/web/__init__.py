"""The web layer: the Gradio chat page, JSON API, embeddable widget and source pages on one FastAPI app.

The only package that imports gradio or fastapi; it talks to the answer Pipeline only.
"""

import os

# Gradio telemetry off before gradio is first imported (also Blocks(analytics_enabled=False)).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
