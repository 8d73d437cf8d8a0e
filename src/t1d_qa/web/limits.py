"""The rate limit shared by the workers of one host: the same sliding window as chat.RateLimiter,
kept in a SQLite file in the data folder (WAL; one short transaction per request)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path


class SharedRateLimiter:
    """At most `per_minute` requests per client key in any 60 s, counted across processes."""

    def __init__(self, path: Path, per_minute: int, window: float = 60.0, clock=time.time):
        self.path, self.per_minute, self.window, self.clock = Path(path), per_minute, window, clock
        self._local = threading.local()
        self._calls = 0
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS hits_key ON hits (key, at)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")  # a lost hit after a crash costs nothing
            self._local.db = db
        return _Transaction(db)

    def check(self, key: str) -> int:
        """Record a request; 0 when allowed, else the seconds to wait (for Retry-After)."""
        if self.per_minute <= 0:
            return 0
        now = self.clock()
        self._calls += 1
        with self._db() as db:
            if self._calls % 500 == 0:  # forget idle clients now and then
                db.execute("DELETE FROM hits WHERE at <= ?", (now - self.window,))
            count, oldest = db.execute("SELECT count(*), min(at) FROM hits WHERE key = ? AND at > ?",
                                       (key, now - self.window)).fetchone()
            if count >= self.per_minute:
                return max(1, int(oldest + self.window - now + 0.999))
            db.execute("INSERT INTO hits (key, at) VALUES (?, ?)", (key, now))
            return 0


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT: the count and the insert are one step across processes."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind, exc, tb) -> None:
        self.db.execute("ROLLBACK" if kind else "COMMIT")
