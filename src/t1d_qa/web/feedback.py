"""Thumbs up/down on answers, kept in a local SQLite file (never an IP address)."""

from __future__ import annotations

import sqlite3
import threading
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
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {VOTES}, not {vote!r}")
        row = (answer_id, vote, _clip(comment), question if self.store_question_text else None,
               language, channel, datetime.now(UTC).isoformat(timespec="seconds"))
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

    def rows(self) -> list[dict]:
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()


def _clip(comment: str | None) -> str | None:
    comment = (comment or "").strip()
    return comment[:MAX_COMMENT_CHARS] or None
