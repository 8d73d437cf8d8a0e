"""The guard in front of every route (API, chat page, widget): one set of limits for every door.

Request bodies are capped and must arrive in time; JSON must be valid Unicode and shallow; routes
nothing here needs (Gradio's upload, and every non-GET route of the page, which has no Gradio
handlers) are closed; every response carries the security headers; and
an unexpected failure is a JSON error, never a plain-text 500.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re

from ..config import Settings

log = logging.getLogger(__name__)
MAX_JSON_DEPTH = 64
# Nothing on the page uploads files; Gradio's upload route would store anything from anyone.
CLOSED = re.compile(r"/gradio_api/(upload|upload_progress)\b")
OURS = {b"content-security-policy", b"x-content-type-options", b"referrer-policy"}
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


class BadJson(ValueError):
    """The body is JSON this service will not read; the message says why."""


def parse_json(raw: bytes):
    """json.loads, with the inputs it crashes on (deep nesting, huge numbers, lone surrogates) refused."""
    try:
        value = json.loads(raw)
    except RecursionError as exc:
        raise BadJson("The JSON is nested too deeply.") from exc
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, and integers over 4,300 digits
        raise BadJson(f"The body is not valid JSON: {str(exc)[:120]}") from exc
    check_json(value)
    return value


def check_json(value) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadJson(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise BadJson("A string in the body is not valid Unicode (an unpaired surrogate).") from exc
        elif isinstance(item, dict):
            stack += [(k, depth + 1) for k in item] + [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]


class Guard:
    """Pure ASGI middleware (it must see the raw body and every response, streamed ones too)."""

    def __init__(self, app, settings: Settings, page_path: str = "/chat"):
        self.app, self.settings, self.page_path = app, settings, page_path
        ancestors = "*" if "*" in settings.allowed_origins else " ".join(["'self'", *settings.allowed_origins])
        self.policy = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
                       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
                       f"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        # Nothing inside compresses (Gradio would brotli its page before the inline scripts are
        # hashed below); the GZip middleware outside the guard compresses once.
        scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        if CLOSED.search(path):
            return await self._error(send, 404, "not_found", "Not found.")
        if (path == self.page_path or path.startswith(self.page_path + "/")) and scope["method"] not in ("GET", "HEAD"):
            # The page is Gradio's with no handlers: its client asks /api/ask, so nothing is posted here.
            return await self._error(send, 405, "method_not_allowed",
                                     "The chat page takes only GET requests; questions go to /api/ask.")
        if scope["method"] in ("POST", "PUT", "PATCH"):
            limit = self.settings.max_body_bytes if path.startswith("/api/") else self.settings.max_page_body_bytes
            try:
                body = await asyncio.wait_for(read_body(receive, limit), self.settings.client_timeout_s)
            except TooLarge:
                return await self._error(send, 413, "body_too_large", f"The request body is larger than {limit} bytes.")
            except TimeoutError:
                return await self._error(send, 408, "request_timeout", "The request body did not arrive in time.")
            receive = replay(body, receive)
        started = False

        async def send_secured(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, HeaderSender(send_secured, self.policy))
        except Exception:
            log.exception("unhandled error on %s %s", scope["method"], path)
            if started:
                raise
            await self._error(send, 500, "internal_error", "Something went wrong inside; please try again.")

    async def _error(self, send, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        sender = HeaderSender(send, self.policy)
        await sender({"type": "http.response.start", "status": status,
                      "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await sender({"type": "http.response.body", "body": body})


class HeaderSender:
    """Adds the security headers to a response; an HTML page is held until its inline scripts are
    hashed into the Content-Security-Policy (Gradio writes its configuration inline)."""

    def __init__(self, send, policy: str):
        self.send, self.policy = send, policy
        self.start, self.html = None, None

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in OURS]
            headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
            message = {**message, "headers": headers}
            if dict(headers).get(b"content-type", b"").startswith(b"text/html"):
                self.start, self.html = message, bytearray()
                return
            message["headers"].append((b"content-security-policy", self.policy.format(hashes="").encode()))
            return await self.send(message)
        if self.html is None or message["type"] != "http.response.body":
            return await self.send(message)
        self.html += message.get("body", b"")
        if message.get("more_body"):
            return
        hashes = "".join(f" 'sha256-{base64.b64encode(hashlib.sha256(s).digest()).decode()}'"
                         for s in INLINE_SCRIPT.findall(bytes(self.html)))
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
        headers += [(b"content-length", str(len(self.html)).encode()),
                    (b"content-security-policy", self.policy.format(hashes=hashes).encode())]
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": bytes(self.html)})


class TooLarge(Exception):
    pass


async def read_body(receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            raise TooLarge
        if not message.get("more_body"):
            break
    return bytes(body)


def replay(body: bytes, receive):
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
