"""Feedback on answers: thumbs up or down with a comment, kept in ``feedback.jsonl``.

Each line holds the question, the answer, its citations and the rating, so a rated answer can be
replayed later. ``export_questions`` turns the log into a question file ``casebook eval`` runs:
an answer rated up becomes a regression question whose expected sources are the documents it
cited; an answer rated down is listed for a person to give the right source.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml

from assistant.answers import Answer
from vectorstore import DataError

Rating = Literal["up", "down", "withdrawn"]  # withdrawn: the rating was clicked again to undo it
_LOCK = threading.Lock()


class FeedbackLog:
    """An append-only log of ratings under the data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "feedback.jsonl"

    def record(self, answer: Answer, rating: Rating, comment: str = "", user: str | None = None) -> dict:
        """Append one rating of ``answer`` and return the stored entry."""
        if rating not in ("up", "down", "withdrawn"):
            raise DataError(f"Rating {rating!r} is not 'up', 'down' or 'withdrawn'")
        entry = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "rating": rating,
            "comment": comment.strip(),
            "user": user,
            "question": answer.question,
            "search_query": answer.search_query,
            "answer": answer.text,
            "abstained": answer.abstained,
            "citations": [c.to_json() for c in answer.citations],
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._locked(), self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
        return entry

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the log's lock, across threads and across the processes of several workers."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _LOCK, self.path.with_suffix(".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            yield

    def prune(self, before: dt.datetime) -> int:
        """Remove ratings given before ``before`` (the audit retention); return how many."""
        if not self.path.is_file():
            return 0
        cutoff = before.astimezone(dt.UTC).isoformat(timespec="seconds")
        with self._locked():
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if _time(line) >= cutoff]
            if len(kept) < len(lines):
                spare = self.path.with_suffix(".jsonl.tmp")
                spare.write_text("".join(kept), encoding="utf-8")
                spare.replace(self.path)
        return len(lines) - len(kept)

    def entries(self) -> list[dict[str, Any]]:
        """Return every stored entry, oldest first."""
        if not self.path.is_file():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{self.path}: line {number} is not JSON ({exc.msg}); fix or delete it"
                ) from exc
        return out

    def export_questions(self) -> tuple[str, int, int]:
        """Return (YAML question file, questions written, answers awaiting review)."""
        items, review = [], []
        # A question's last entry speaks for it: a comment is written as a second entry of the
        # same rating, and a changed mind replaces the earlier rating (or withdraws it).
        latest: dict[str, dict[str, Any]] = {}
        for entry in self.entries():
            key = entry["question"].strip().lower()
            latest[key] = entry
        for entry in latest.values():
            if entry["rating"] == "up":
                items.append(_as_question(entry, len(items) + 1))
            elif entry["rating"] == "down":
                review.append(entry)
        text = "# Questions from rated answers (casebook feedback export)\n"
        text += yaml.safe_dump(items, sort_keys=False, allow_unicode=True) if items else "[]\n"
        for entry in review:
            note = f" ({entry['comment']})" if entry["comment"] else ""
            text += f"# rated down, add its right sources and move it up: {entry['question']}{note}\n"
        return text, len(items), len(review)


def _time(line: str) -> str:
    """Return a log line's UTC time as ISO text ('~' for an unreadable line, kept for a person)."""
    try:
        return str(json.loads(line)["time"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return "~"


def _as_question(entry: dict[str, Any], number: int) -> dict[str, Any]:
    sources = sorted({Path(c["source"]).name for c in entry["citations"]})
    slug = re.sub(r"[^a-z0-9]+", "-", entry["question"].lower()).strip("-")[:40]
    return {
        "id": f"feedback-{number}-{slug}",
        "question": entry["question"],
        "sources": [] if entry["abstained"] else sources,
        "kind": "feedback",
    }
