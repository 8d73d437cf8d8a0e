"""One FastAPI app for the clinic: the chat page at /chat/, the JSON API, /widget.js and source pages."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse

from ..answer import Pipeline
from ..config import Settings
from . import api, page
from .chat import Chat, RateLimiter
from .feedback import FeedbackStore
from .page import PAGE_PATH


def create_app(settings: Settings, pipeline: Pipeline, store: FeedbackStore | None = None) -> FastAPI:
    """The page, the API and the widget on one app, with the clinic's CORS policy on the parent."""
    store = store or FeedbackStore(settings.feedback_db, settings.store_question_text)
    chat, limiter = Chat(pipeline), RateLimiter(settings.rate_limit_per_minute)
    # No /docs or /redoc: FastAPI's docs pages load their scripts from a CDN.
    app = FastAPI(title="t1d-qa", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins), allow_credentials=False,
                       allow_methods=["GET", "POST"], allow_headers=["Content-Type"], max_age=600)
    api.install_error_handler(app)
    app.include_router(api.build_router(chat, store, limiter, settings))
    app.add_api_route("/", lambda: RedirectResponse("chat/"), include_in_schema=False)  # relative: works under a root path
    app.include_router(page.build_router(settings))
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
