"""Thumbs up/down on answers, kept in a local SQLite file (never an IP address); answer ids signed
so that votes are taken only for answers this service gave."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

VOTES = ("up", "down")
MAX_COMMENT_CHARS = 1000

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    comment TEXT,
    question TEXT,            -- only when the clinic sets T1D_QA_STORE_QUESTION_TEXT=1
    language TEXT,
    channel TEXT,             -- 'page' or 'widget'
    created_at TEXT NOT NULL  -- UTC, ISO 8601
)
"""


class FeedbackUnavailable(RuntimeError):
    """The vote could not be stored (read-only, disk full, database down); the caller says so."""


class AnswerSigner:
    """answer_id -> answer_id-<mac>: a vote names an answer this service (with this secret) gave."""

    def __init__(self, secret: bytes):
        self.secret = secret

    @classmethod
    def for_settings(cls, settings) -> AnswerSigner:
        if settings.answer_secret:
            return cls(settings.answer_secret.encode())
        return cls(_local_secret(Path(settings.data_dir) / "answer-secret"))

    def sign(self, answer_id: str) -> str:
        return f"{answer_id}-{self._mac(answer_id)}"

    def verify(self, signed: str) -> str | None:
        """The answer id inside a signed one, or None when it was not issued here."""
        answer_id, _, mac = signed.rpartition("-")
        return answer_id if answer_id and hmac.compare_digest(mac, self._mac(answer_id)) else None

    def _mac(self, answer_id: str) -> str:
        return hmac.new(self.secret, answer_id.encode(), hashlib.sha256).hexdigest()[:20]


def _local_secret(path: Path) -> bytes:
    """One random secret per data folder, created by whichever worker starts first (mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    except FileExistsError:
        pass
    for _ in range(50):  # another worker may be writing it this instant
        secret = path.read_text().strip()
        if secret:
            return secret.encode()
        time.sleep(0.02)
    raise RuntimeError(f"the answer secret {path} is empty; delete it and start again")


class FeedbackStore:
    """Append-only store of votes; one short-lived connection per call, safe across threads."""

    def __init__(self, path: Path, store_question_text: bool = False):
        self.path = Path(path)
        self.store_question_text = store_question_text
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(SCHEMA)

    def record(self, answer_id: str, vote: str, comment: str | None = None, question: str | None = None,
               language: str | None = None, channel: str = "page") -> int:
        """Store one vote and return its row id."""
        row = _row(answer_id, vote, comment, question if self.store_question_text else None, language, channel)
        with self._lock, self._connect() as db:
            cur = db.execute(
                "INSERT INTO feedback (answer_id, vote, comment, question, language, channel, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            return int(cur.lastrowid)

    def add_comment(self, row_id: int, comment: str, answer_id: str | None = None) -> None:
        """Attach a comment to a stored vote; with answer_id, only if the row is that answer's."""
        query, args = "UPDATE feedback SET comment = ? WHERE id = ?", [_clip(comment), row_id]
        if answer_id is not None:
            query, args = query + " AND answer_id = ?", [*args, answer_id]
        with self._lock, self._connect() as db:
            db.execute(query, args)

    def ping(self) -> None:
        with self._connect() as db:
            db.execute("SELECT 1")

    def rows(self) -> list[dict]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=10)
            try:
                with db:  # commits, or rolls back on error
                    yield db
            finally:
                db.close()
        except (sqlite3.Error, OSError) as exc:
            raise FeedbackUnavailable(f"the feedback store {self.path} cannot be written ({exc})") from exc


def _row(answer_id: str, vote: str, comment, question, language, channel: str) -> tuple:
    """One feedback row as both stores insert it; the question only when the clinic keeps question text."""
    if vote not in VOTES:
        raise ValueError(f"vote must be one of {VOTES}, not {vote!r}")
    return (answer_id, vote, _clip(comment), _clip(question, 100_000), language, channel,
            datetime.now(UTC).isoformat(timespec="seconds"))


def _clip(comment: str | None, limit: int = MAX_COMMENT_CHARS) -> str | None:
    """Trimmed, cut to the limit, and storable anywhere: no lone surrogates, no NUL (PostgreSQL refuses it)."""
    comment = (comment or "").strip()[:limit].replace("\x00", "")
    return comment.encode("utf-8", "replace").decode("utf-8") or None


PG_SCHEMA = SCHEMA.replace("id INTEGER PRIMARY KEY AUTOINCREMENT", "id BIGSERIAL PRIMARY KEY")


class PostgresFeedbackStore(FeedbackStore):
    """The same table in a shared PostgreSQL (T1D_QA_FEEDBACK_URL), for several workers or hosts."""

    def __init__(self, url: str, store_question_text: bool = False):
        try:
            import psycopg
        except ImportError as exc:
            raise RuntimeError('T1D_QA_FEEDBACK_URL needs psycopg: pip install "t1d-qa[postgres]"') from exc
        self._psycopg, self.url, self.path = psycopg, url, url.split("@")[-1]  # path: where, without the password
        self.store_question_text = store_question_text
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(PG_SCHEMA)

    def record(self, answer_id: str, vote: str, comment: str | None = None, question: str | None = None,
               language: str | None = None, channel: str = "page") -> int:
        row = _row(answer_id, vote, comment, question if self.store_question_text else None, language, channel)
        with self._connect() as db:
            cur = db.execute(
                "INSERT INTO feedback (answer_id, vote, comment, question, language, channel, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id", row)
            return int(cur.fetchone()[0])

    def add_comment(self, row_id: int, comment: str, answer_id: str | None = None) -> None:
        query, args = "UPDATE feedback SET comment = %s WHERE id = %s", [_clip(comment), row_id]
        if answer_id is not None:
            query, args = query + " AND answer_id = %s", [*args, answer_id]
        with self._connect() as db:
            db.execute(query, args)

    def rows(self) -> list[dict]:
        with self._connect() as db:
            cur = db.execute("SELECT * FROM feedback ORDER BY id")
            names = [c.name for c in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    @contextmanager
    def _connect(self):
        try:
            with self._psycopg.connect(self.url, connect_timeout=5) as db:  # commits, or rolls back on error
                yield db
        except (self._psycopg.Error, OSError) as exc:
            raise FeedbackUnavailable(f"the feedback database at {self.path} cannot be written ({exc})") from exc


def open_store(settings) -> FeedbackStore:
    """SQLite in the data folder by default; PostgreSQL when T1D_QA_FEEDBACK_URL is set."""
    if settings.feedback_url:
        return PostgresFeedbackStore(settings.feedback_url, settings.store_question_text)
    return FeedbackStore(settings.feedback_db, settings.store_question_text)
