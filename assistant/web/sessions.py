"""Chat sessions kept in ``chat.db`` under the data directory, so any worker can answer any turn.

Each browser session (Gradio's ``session_hash``) has one row: its completed turns with their
answers, the audit ids of those answers, the message last read as a follow-up and the rating a
comment attaches to. A request loads the row, and the turn it completes writes it back; several
processes (``casebook serve --workers N``, or N machines sharing the data directory) see the
same conversation. Sessions idle longer than ``idle_hours`` are removed, so the file stays small.
A reloaded page resumes its browser's conversation (:meth:`ChatSessions.resume`), only for the
user who had it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.answers import Answer, Citation
from assistant.conversation import Turn
from assistant.web.database import Database

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,
    updated TEXT NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions (updated);
"""


@dataclass
class ChatState:
    """What one browser session remembers between requests."""

    turns: list[Turn] = field(default_factory=list)  # what a follow-up is read against
    answers: list[Answer] = field(default_factory=list)  # every answer shown, failures included
    answer_ids: list[str] = field(default_factory=list)  # the audit log's id of each answer
    follow_up: str | None = None  # the last message read as a follow-up, to re-ask standalone
    rated: int | None = None  # the answer last rated, which a comment is attached to
    rating: str = ""
    owner: str | None = None  # the signed-in user whose conversation this is (None: no sign-in)
    ratings: dict[int, str] = field(default_factory=dict)  # answer -> "up"/"down", shown after a reload

    def to_json(self) -> dict[str, Any]:
        return {
            "turns": [{"question": t.question, "answer": dataclasses.asdict(t.answer)} for t in self.turns],
            "answers": [dataclasses.asdict(a) for a in self.answers],
            "answer_ids": self.answer_ids,
            "follow_up": self.follow_up,
            "rated": self.rated,
            "rating": self.rating,
            "owner": self.owner,
            "ratings": {str(k): v for k, v in self.ratings.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChatState:
        turns = [Turn(t["question"], answer_from_json(t["answer"])) for t in data.get("turns", [])]
        return cls(
            turns=turns,
            answers=[answer_from_json(a) for a in data.get("answers", [])],
            answer_ids=list(data.get("answer_ids", [])),
            follow_up=data.get("follow_up"),
            rated=data.get("rated"),
            ratings={int(k): str(v) for k, v in (data.get("ratings") or {}).items()},
            rating=data.get("rating", ""),
            owner=data.get("owner"),
        )


def answer_from_json(data: dict[str, Any]) -> Answer:
    """Return the Answer that ``dataclasses.asdict`` turned into ``data``."""
    citations = tuple(
        Citation(**{**c, "quoted": tuple(c.get("quoted", ())), "positions": tuple(c.get("positions", ()))})
        for c in data.get("citations", ())
    )
    return Answer(
        **{**data, "citations": citations, "unanswered": tuple(data.get("unanswered", ()))},
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ChatSessions:
    """The chat sessions in ``chat.db`` under ``data_dir``."""

    def __init__(self, data_dir: Path, *, idle_hours: float = 24.0) -> None:
        self.path = Path(data_dir) / "chat.db"
        self._db = Database(self.path, _SCHEMA).transaction
        self.idle = dt.timedelta(hours=idle_hours)

    def load(self, key: str) -> ChatState:
        """Return the session's state (a new one for a key never seen or expired)."""
        cutoff = (_now() - self.idle).isoformat(timespec="seconds")
        with self._db() as db:
            row = db.execute("SELECT state, updated FROM sessions WHERE key = ?", (key,)).fetchone()
        if row is None or row[1] < cutoff:
            return ChatState()
        try:
            return ChatState.from_json(json.loads(row[0]))
        except (ValueError, KeyError, TypeError) as exc:  # written by another version: start afresh
            log.warning("chat session unreadable key=%s error=%s", key[:8], exc)
            return ChatState()

    def save(self, key: str, state: ChatState) -> None:
        """Store the session's state and remove sessions idle past the limit."""
        now = _now()
        text = json.dumps(state.to_json(), ensure_ascii=False, default=str)
        with self._db() as db:
            db.execute(
                "INSERT INTO sessions (key, updated, state) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET updated = excluded.updated, state = excluded.state",
                (key, now.isoformat(timespec="seconds"), text),
            )
            db.execute(
                "DELETE FROM sessions WHERE updated < ?", ((now - self.idle).isoformat(timespec="seconds"),)
            )

    def resume(self, previous: str, key: str, owner: str | None) -> ChatState | None:
        """Copy the conversation of an earlier page of the same browser (``previous``) to this
        page's ``key`` and return it; None when there is none, it expired, or another user's."""
        if not previous or previous == key:
            return None
        state = self.load(previous)
        if not state.answers or state.owner != owner:
            return None
        self.save(key, state)  # a copy: another tab still open on ``previous`` keeps its own
        return state

    def forget(self, key: str) -> None:
        """Remove the session: the next message starts a new conversation."""
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE key = ?", (key,))
