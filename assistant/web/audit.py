"""The audit log: who asked what, when, which documents the answer cited, in ``audit.db``.

One row per event (``ask``, ``feedback``, ``denied``, ``signin``). With ``audit_questions`` off
the question text is never written, only the metadata. Rows older than ``audit_retention_days``
are pruned on start and daily, and the feedback log is pruned by the same rule, so nothing grows
without bound. Exports are streamed row by row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from assistant.answers import Answer
from assistant.feedback import FeedbackLog
from assistant.web.database import Database
from assistant.web.users import ANONYMOUS, Identity
from vectorstore import ConfigError

log = logging.getLogger(__name__)

COLUMNS = (
    "time",
    "event",
    "user",
    "method",
    "role",
    "groups",
    "channel",
    "address",
    "status",
    "question",
    "answer_id",
    "documents",
    "detail",
)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    {", ".join(f"{c} TEXT" for c in COLUMNS)}
);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
"""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def parse_since(text: str) -> dt.datetime:
    """Return the moment a ``--since`` value names (a date or ISO time; no zone means UTC)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not a date: use e.g. 2025-01-31 or 2025-01-31T09:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class AuditLog:
    """The audit log in ``audit.db`` under the data directory."""

    def __init__(
        self, data_dir: Path, *, enabled: bool = True, questions: bool = True, retention_days: int = 365
    ) -> None:
        self.path = Path(data_dir) / "audit.db"
        self._db = Database(self.path, _SCHEMA).transaction
        self.enabled = enabled
        self.feedback = FeedbackLog(data_dir)
        self.questions, self.retention_days = questions, retention_days

    def record(
        self,
        event: str,
        identity: Identity | None,
        *,
        channel: str = "",
        address: str | None = None,
        status: int | None = None,
        question: str | None = None,
        answer_id: str | None = None,
        documents: list[dict[str, str]] | None = None,
        detail: str | None = None,
    ) -> None:
        """Write one event; the question only when question text is kept."""
        if not self.enabled:
            return
        row = {
            "time": _stamp(_now()),
            "event": event,
            "user": identity.user if identity else ANONYMOUS,
            "method": identity.method if identity else None,
            "role": identity.role if identity else None,
            "groups": ",".join(identity.groups) if identity else None,
            "channel": channel,
            "address": address,
            "status": None if status is None else str(status),
            "question": question if self.questions else None,
            "answer_id": answer_id,
            "documents": json.dumps(documents, ensure_ascii=False) if documents is not None else None,
            "detail": detail,
        }
        try:
            with self._db() as db:
                db.execute(
                    f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    [row[c] for c in COLUMNS],
                )
        except sqlite3.Error as exc:  # an unwritable log must be visible, but must not break answering
            log.error("audit write failed path=%s error=%s", self.path, exc)

    def answered(
        self, identity: Identity | None, answer: Answer, *, channel: str, address: str | None = None
    ) -> str:
        """Record an answered question and return the answer's new id."""
        answer_id = uuid.uuid4().hex
        documents: dict[str, str] = {}
        for citation in answer.citations:
            documents.setdefault(citation.doc_id, citation.title)
        self.record(
            "ask",
            identity,
            channel=channel,
            address=address,
            status=200,
            question=answer.question,
            answer_id=answer_id,
            documents=[{"doc_id": d, "title": t} for d, t in documents.items()],
            detail="abstained" if answer.abstained else None,
        )
        return answer_id

    @classmethod
    def from_settings(cls, settings: Any) -> AuditLog:
        """Return the audit log the settings describe."""
        return cls(
            settings.data_dir,
            enabled=settings.audit,
            questions=settings.audit_questions,
            retention_days=settings.audit_retention_days,
        )

    async def prune_daily(self) -> None:
        """Prune now and then once a day, until cancelled (run by the web app while it serves)."""
        import asyncio

        while True:
            try:
                await asyncio.to_thread(self.prune)
            except Exception as exc:  # a locked or damaged file must not stop the server
                log.error("audit prune failed path=%s error=%s", self.path, exc)
            await asyncio.sleep(24 * 3600)

    def prune(self, now: dt.datetime | None = None) -> tuple[int, int]:
        """Remove audit rows and feedback older than the retention; return (rows, ratings) removed."""
        cutoff = (now or _now()) - dt.timedelta(days=self.retention_days)
        rows = 0
        if self.path.is_file():
            with self._db() as db:
                rows = db.execute("DELETE FROM events WHERE time < ?", (_stamp(cutoff),)).rowcount
        ratings = self.feedback.prune(cutoff)
        if rows or ratings:
            log.info("audit pruned rows=%d ratings=%d before=%s", rows, ratings, _stamp(cutoff))
        return rows, ratings

    def rows(self, since: dt.datetime) -> Iterator[dict[str, Any]]:
        """Yield the events since ``since``, oldest first, one at a time."""
        if not self.path.is_file():
            return
        with self._db() as db:
            cursor = db.execute(
                f"SELECT {', '.join(COLUMNS)} FROM events WHERE time >= ? ORDER BY time, id",
                (_stamp(since),),
            )
            for values in cursor:
                row = dict(zip(COLUMNS, values, strict=True))
                row["documents"] = json.loads(row["documents"]) if row["documents"] else []
                row["status"] = int(row["status"]) if row["status"] else None
                yield row

    def export(self, since: dt.datetime, fmt: str = "jsonl") -> Iterator[str]:
        """Yield the events since ``since`` as JSON lines or CSV text, a row at a time."""
        if fmt == "jsonl":
            for row in self.rows(since):
                yield json.dumps(row, ensure_ascii=False) + "\n"
            return
        if fmt != "csv":
            raise ConfigError(f"Export format {fmt!r} is not jsonl or csv")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for row in self.rows(since):
            row["documents"] = ";".join(d["doc_id"] for d in row["documents"])
            writer.writerow([row[c] for c in COLUMNS])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():  # the header alone, when there are no rows
            yield buffer.getvalue()
