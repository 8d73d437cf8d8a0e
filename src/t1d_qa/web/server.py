"""One FastAPI app for the clinic: the chat page at /chat/ (Gradio), the JSON API, /widget.js and source pages."""

from __future__ import annotations

import os

import gradio as gr
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse

from ..answer import LivePipeline, Pipeline
from ..config import ConfigError, Settings
from ..index import Generations, IndexUnavailable
from . import api, page
from .chat import Chat, RateLimiter
from .feedback import AnswerSigner, FeedbackStore, open_store
from .guard import Guard
from .limits import SharedRateLimiter
from .page import PAGE_PATH, PageHead


def create_app(settings: Settings, pipeline: Pipeline, store: FeedbackStore | None = None) -> FastAPI:
    """The page, the API and the widget on one app, with the clinic's CORS policy on the parent.

    The pipeline follows the index generation in service (`t1d-qa index` needs no restart)."""
    store = store or open_store(settings)
    live = pipeline if isinstance(pipeline, LivePipeline) else LivePipeline(pipeline)
    chat, limiter = Chat(live), rate_limiter(settings)
    # No /docs or /redoc: FastAPI's docs pages load their scripts from a CDN.
    app = FastAPI(title="t1d-qa", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    # Gradio adds its own (permissive) CORS only when the parent app has no CORSMiddleware.
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.allowed_origins), allow_credentials=False,
                       allow_methods=["GET", "POST"], allow_headers=["Content-Type"], max_age=600)
    api.install_error_handler(app)
    app.include_router(api.build_router(chat, store, limiter, settings, AnswerSigner.for_settings(settings)))
    app.add_api_route("/", lambda: RedirectResponse("chat/"), include_in_schema=False)  # relative: works under a root path
    app.include_router(page.build_router(settings))  # /widget.js, /sources/…, and /chat -> /chat/
    # The page is Gradio's, hosting the same client as the widget. Under a proxy sub-path Gradio
    # reads its public prefix from GRADIO_ROOT_PATH (e.g. /qa/chat).
    gr.mount_gradio_app(app, page.build_page(), path=PAGE_PATH, **page.mount_options())
    app.add_middleware(PageHead, settings=settings, path=PAGE_PATH + "/")  # our lang and metadata on Gradio's page
    app.add_middleware(Guard, settings=settings, page_path=PAGE_PATH)  # sees every route
    app.add_middleware(GZipMiddleware, minimum_size=1024)  # outermost: compresses once, after the guard
    return app


def rate_limiter(settings: Settings):
    """In memory for one worker; in a SQLite file in the data folder when workers share a host."""
    if settings.workers > 1:
        return SharedRateLimiter(settings.data_dir / "ratelimit.sqlite3", settings.rate_limit_per_minute)
    return RateLimiter(settings.rate_limit_per_minute)


def serve(settings: Settings, host: str | None = None, port: int | None = None, workers: int | None = None) -> int:
    """Load the pipeline once and serve; several workers only on a Chroma server."""
    host, port, workers = host or settings.host, port or settings.port, workers or settings.workers
    if workers > 1:
        return serve_workers(settings, host, port, workers)
    pipeline = Pipeline.load(settings, announce=print)
    app = create_app(settings, pipeline)
    print(f"t1d-qa: chat page http://{host}:{port}{PAGE_PATH}/ · API /api/ask · widget /widget.js", flush=True)
    # X-Forwarded-For is believed only from T1D_QA_TRUSTED_PROXIES (none by default), so the rate
    # limit keys on the real client and nobody can pick their own key.
    uvicorn.run(app, host=host, port=port, workers=1, **uvicorn_options(settings))
    return 0


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """N uvicorn workers, each loading its own pipeline from the same settings (the environment)."""
    if not settings.chroma_url:
        raise ConfigError(f"--workers {workers} needs a Chroma server: the embedded index belongs to one process. "
                          "Start `chroma run --path DIR --port 8000`, set T1D_QA_CHROMA_URL=http://127.0.0.1:8000 "
                          "and run `t1d-qa index`")
    if Generations(settings).current() is None:
        raise IndexUnavailable(f"the Chroma server at {settings.chroma_url} has no index yet; run `t1d-qa index` first")
    os.environ["T1D_QA_WORKERS"] = str(workers)  # the workers read the same settings, this count included
    print(f"t1d-qa: {workers} workers on http://{host}:{port}{PAGE_PATH}/ (Chroma server {settings.chroma_url})",
          flush=True)
    uvicorn.run("t1d_qa.web.server:worker_app", factory=True, host=host, port=port, workers=workers,
                **uvicorn_options(settings))
    return 0


def worker_app() -> FastAPI:
    """The app factory each worker process calls."""
    settings = Settings.from_env()
    return create_app(settings, Pipeline.load(settings, announce=lambda message: None))


def uvicorn_options(settings: Settings) -> dict:
    return {"proxy_headers": bool(settings.trusted_proxies),
            "forwarded_allow_ips": ",".join(settings.trusted_proxies) or "",
            "timeout_keep_alive": max(1, int(settings.client_timeout_s)),
            "limit_concurrency": settings.max_connections,
            "log_level": settings.log_level.lower(), "server_header": False}
