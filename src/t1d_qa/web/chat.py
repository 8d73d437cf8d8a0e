"""The one door from the web layer to the answer Pipeline: history clean-up, one ask at a time,
and a safe reply (with disclaimer and label) when something inside fails."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from .. import safety
from ..answer import Answer, Pipeline, error_answer
from ..config import Settings
from ..corpus import language_of

log = logging.getLogger(__name__)
MAX_HISTORY_MESSAGES = 6  # the recent turns a follow-up is resolved against


class Chat:
    """Wraps the Pipeline for the page and the API; the embedded index serves one ask at a time."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self._lock = threading.Lock()

    def ask(self, question: str, history=None, id: str | None = None) -> Answer:
        try:
            with self._lock:
                return self.pipeline.ask(question, history=recent(history), id=id)
        except Exception:  # the person still gets a safe reply; the log gets the details
            log.exception("the pipeline failed on a question")
            return error_answer(question, self.settings, language_of(question), id=id)


def recent(history) -> list[dict]:
    """The last few {"role", "content"} turns, content as plain text."""
    turns = []
    for turn in history or []:
        if isinstance(turn, dict) and turn.get("role") in ("user", "assistant"):
            text = content_text(turn.get("content"))
            if text:
                turns.append({"role": turn["role"], "content": text})
    return turns[-MAX_HISTORY_MESSAGES:]


def content_text(content) -> str:
    """Plain text of a message's content: a string, or Gradio 6 structured parts."""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text"]
        return " ".join(p for p in parts if isinstance(p, str)).strip()
    return ""


def is_emergency(question: str, settings: Settings) -> bool:
    """Emergencies skip the rate limit: the screen is cheap and runs again inside the chain."""
    return safety.screen(question, settings.max_question_chars).kind == "emergency"


class RateLimiter:
    """In-memory sliding window: at most `per_minute` requests per client key in any 60 s."""

    def __init__(self, per_minute: int, window: float = 60.0, clock=time.monotonic):
        self.per_minute, self.window, self.clock = per_minute, window, clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> int:
        """Record a request; 0 when allowed, else the seconds to wait (for Retry-After)."""
        if self.per_minute <= 0:
            return 0
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, int(hits[0] + self.window - now + 0.999))
            hits.append(now)
            if len(self._hits) > 10_000:
                self._forget_idle(now)
            return 0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
            del self._hits[key]
