"""JSON API: POST /api/ask, POST /api/feedback, GET /api/health.

Errors are JSON: {"error": {"code", "message"}}; 400 empty question, 413 body too large,
422 malformed body (bad Unicode, deep nesting, huge numbers too) or unknown answer_id, 403 origin
not allowed, 429 rate limited (with Retry-After), 503 feedback store or index unavailable.
"""

from __future__ import annotations

import os
import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..config import Settings
from .chat import Chat, RateLimiter, is_emergency, language_of
from .feedback import VOTES, AnswerSigner, FeedbackStore, FeedbackUnavailable
from .guard import BadJson, parse_json

MAX_HISTORY_ITEMS = 50
ANSWER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, body: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.body = headers or {}, body or {}

    def response(self) -> JSONResponse:
        content = {**self.body, "error": {"code": self.code, "message": self.message}}
        return JSONResponse(content, status_code=self.status, headers=self.headers)


def install_error_handler(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()


def client_key(request: Request) -> str:
    """The client's address as uvicorn reports it (it honours X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else "unknown"


def build_router(chat: Chat, store: FeedbackStore, limiter: RateLimiter, settings: Settings,
                 signer: AnswerSigner) -> APIRouter:
    router = APIRouter()

    def limit(request: Request) -> None:
        wait = limiter.check(client_key(request))
        if wait:
            raise ApiError(429, "rate_limited", f"Too many questions; try again in {wait} s. / 提问过于频繁，请 {wait} 秒后再试。",
                           headers={"Retry-After": str(wait)})

    def guard(request: Request) -> None:
        check_origin(request, settings.allowed_origins)
        limit(request)

    @router.post("/api/ask")
    async def ask(request: Request) -> JSONResponse:
        check_origin(request, settings.allowed_origins)
        try:
            question, history, qid = parse_ask(await read_json(request, settings.max_body_bytes))
        except ApiError:
            limit(request)  # bad requests count against the limit too
            raise
        if not is_emergency(question, settings):  # someone in danger is never told to wait
            limit(request)
        answer = (await run_in_threadpool(chat.ask, question, history, qid)).to_dict()
        answer["answer_id"] = signer.sign(answer["answer_id"])  # feedback is taken for this id only
        if answer["kind"] == "invalid":
            raise ApiError(400, "invalid_question", answer["answer"], body=answer)
        return JSONResponse(answer)

    @router.post("/api/feedback", status_code=201)
    async def feedback(request: Request) -> dict:
        guard(request)
        body = await read_json(request, settings.max_body_bytes)
        signed, vote, comment, question = parse_feedback(body)
        answer_id = signer.verify(signed)
        if answer_id is None:
            raise ApiError(422, "unknown_answer", '"answer_id" is not the answer_id of a reply from this service.')
        try:
            row = body.get("row")
            if type(row) is int and 0 < row < 2**63 and comment:  # a comment on the vote the client just sent
                await run_in_threadpool(store.add_comment, row, comment, answer_id)
                return {"ok": True, "id": row}
            row = await run_in_threadpool(store.record, answer_id, vote, comment, question,
                                          language_of(question or comment or ""), channel_of(body))
        except FeedbackUnavailable as exc:
            raise ApiError(503, "feedback_unavailable",
                           "Your vote could not be saved; please try later. / 反馈未能保存，请稍后再试。") from exc
        return {"ok": True, "id": row}

    @router.get("/api/health")
    async def health() -> JSONResponse:
        """200 only when the index in service was counted and queried just now; else 503."""
        try:
            report = await run_in_threadpool(chat.pipeline.health)
        except Exception as exc:  # the store is unreachable or broken
            return JSONResponse({"status": "unavailable", "version": __version__, "store_reachable": False,
                                 "error": {"code": "index_unavailable", "message": str(exc)[:300]}}, status_code=503)
        ok = bool(report["chunks"]) and report["can_answer"] and report["store_generation"] is not None
        body = {"status": "ok" if ok else "unavailable", "version": __version__, "store_reachable": True,
                "worker_pid": os.getpid(), **report}
        return JSONResponse(body, status_code=200 if ok else 503)

    return router


def channel_of(body: dict) -> str:
    """'page' from the chat page, 'widget' from the widget (and from any other caller)."""
    return "page" if body.get("channel") == "page" else "widget"


def check_origin(request: Request, allowed: tuple[str, ...]) -> None:
    """Browsers send Origin on cross-site POSTs; only the page itself and allowed sites may call."""
    origin = request.headers.get("origin")
    if origin is None or "*" in allowed or origin in allowed:
        return
    if origin == f"{request.url.scheme}://{request.url.netloc}":
        return
    raise ApiError(403, "origin_not_allowed", f"Origin {origin} is not allowed (T1D_QA_ALLOWED_ORIGINS).")


async def read_json(request: Request, limit: int):
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise too_large(limit)
    try:
        return parse_json(bytes(raw))
    except BadJson as exc:
        raise ApiError(422, "malformed_json", str(exc)) from exc


def too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"The request body is larger than {limit} bytes.")


def parse_ask(body) -> tuple[str, list, str | None]:
    if not isinstance(body, dict):
        raise ApiError(422, "malformed_body", 'The body must be a JSON object: {"question": "...", "history": [...]}.')
    question, history, qid = body.get("question"), body.get("history") or [], body.get("id")
    if not isinstance(question, str):
        raise ApiError(422, "malformed_body", '"question" must be a string.')
    if not question.strip():
        raise ApiError(400, "empty_question", "Please type a question. / 请输入您的问题。")
    if not isinstance(history, list) or len(history) > MAX_HISTORY_ITEMS or not all(map(_is_turn, history)):
        raise ApiError(422, "malformed_history",
                       f'"history" must be a list of at most {MAX_HISTORY_ITEMS} {{"role": "user"|"assistant", "content": "..."}} objects.')
    if qid is not None and not isinstance(qid, str | int):
        raise ApiError(422, "malformed_body", '"id" must be a string.')
    return question, history, None if qid is None else str(qid)


def _is_turn(turn) -> bool:
    return (isinstance(turn, dict) and turn.get("role") in ("user", "assistant")
            and isinstance(turn.get("content"), str | list))


def parse_feedback(body) -> tuple[str, str, str | None, str | None]:
    if not isinstance(body, dict):
        raise ApiError(422, "malformed_body", 'The body must be a JSON object: {"answer_id": "...", "vote": "up"|"down"}.')
    answer_id, vote = body.get("answer_id"), body.get("vote")
    comment, question = body.get("comment"), body.get("question")
    if not isinstance(answer_id, str) or not ANSWER_ID.match(answer_id):
        raise ApiError(422, "malformed_body", '"answer_id" must be the answer_id of a reply.')
    if vote not in VOTES:
        raise ApiError(422, "malformed_body", '"vote" must be "up" or "down".')
    if not isinstance(comment, str | None) or not isinstance(question, str | None):
        raise ApiError(422, "malformed_body", '"comment" and "question" must be strings.')
    return answer_id, vote, comment, question
