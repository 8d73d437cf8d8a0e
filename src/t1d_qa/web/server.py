"""One FastAPI app for the clinic: the chat page at /chat, the JSON API and /widget.js."""

from __future__ import annotations

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse

from ..answer import LivePipeline, Pipeline
from ..config import Settings
from . import api
from .chat import Chat, RateLimiter
from .feedback import FeedbackStore
from .page import CSS, build_page, theme

PAGE_PATH = "/chat"


def create_app(settings: Settings, pipeline: Pipeline, store: FeedbackStore | None = None) -> FastAPI:
    """The page, the API and the widget on one app, with the clinic's CORS policy on the parent.

    The pipeline follows the index generation in service (`t1d-qa index` needs no restart)."""
    store = store or FeedbackStore(settings.feedback_db, settings.store_question_text)
    live = pipeline if isinstance(pipeline, LivePipeline) else LivePipeline(pipeline)
    chat, limiter = Chat(live), RateLimiter(settings.rate_limit_per_minute)
    # No /docs or /redoc: FastAPI's docs pages load their scripts from a CDN.
    app = FastAPI(title="t1d-qa", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    # Gradio adds its own (permissive) CORS only when the parent app has no CORSMiddleware.
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins), allow_credentials=False,
                       allow_methods=["GET", "POST"], allow_headers=["Content-Type"], max_age=600)
    api.install_error_handler(app)
    app.include_router(api.build_router(chat, store, limiter, settings))
    app.add_api_route("/", lambda: RedirectResponse("chat/"), include_in_schema=False)  # relative: works under a root path
    page = build_page(chat, store, limiter, settings)
    # Under a proxy sub-path Gradio reads its public prefix from GRADIO_ROOT_PATH (e.g. /qa/chat).
    gr.mount_gradio_app(app, page, path=PAGE_PATH, footer_links=[], run_history=False, ssr_mode=False,
                        theme=theme(), css=CSS)
    return app


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> int:
    """Load the pipeline once and serve with one worker (the embedded index is one process)."""
    host, port = host or settings.host, port or settings.port
    pipeline = Pipeline.load(settings, announce=print)
    app = create_app(settings, pipeline)
    print(f"t1d-qa: chat page http://{host}:{port}{PAGE_PATH}/ · API /api/ask · widget /widget.js", flush=True)
    # proxy_headers: uvicorn takes the client address from X-Forwarded-For only when the peer is
    # listed in FORWARDED_ALLOW_IPS (default 127.0.0.1), so the rate limit keys on the real client.
    uvicorn.run(app, host=host, port=port, workers=1, proxy_headers=True,
                log_level=settings.log_level.lower(), server_header=False)
    return 0
