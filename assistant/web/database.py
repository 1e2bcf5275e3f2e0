"""One SQLite file that every serving process shares (chat sessions, tokens, the audit log)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


class Database:
    """A SQLite file in WAL mode (several workers read and write it at once), waiting up to
    ``timeout`` seconds for another writer, with ``schema`` created on first use."""

    def __init__(self, path: Path, schema: str, *, timeout: float = 10.0) -> None:
        self.path, self.schema, self.timeout = Path(path), schema, timeout
        self._ready = False

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Return a connection inside one transaction (committed on leaving, rolled back on error)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=self.timeout)) as db:
            if not self._ready:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(self.schema)
                self._ready = True
            with db:
                yield db
