"""The ledger: Chroma's own record of which documents are complete, the index's generation, what
built it, and (for a shared Chroma server) who holds the writers' lock.

It is the small collection ``casebook_meta`` beside the chunk and sentence collections, so every
machine sharing a Chroma server reads the same truth. Records:

- ``doc:<doc_id>``: one per COMPLETE document, written after its chunks and sentences;
- ``state``: the generation (bumped after every completed write or delete), the last ingest,
  what built the index, and ``writing`` (the document being written; set means a writer may
  have died mid-write, so the next writer scans and repairs);
- ``lock``: the writer holding the index, with an expiry its heartbeat keeps pushing back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

META = "casebook_meta"
_STATE, _LOCK, _DOC = "state", "lock", "doc:"
_VECTOR = [1.0]  # Chroma wants a vector per record; the ledger never searches by one
_BATCH = 2000


def now_iso() -> str:
    """Return the current UTC time as ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DocumentRecord:
    """One complete document: written only once all its chunks and sentences are stored."""

    doc_id: str
    source: str
    title: str
    content_hash: str
    chunks: int
    sentences: int
    ingested_at: str


@dataclass(frozen=True)
class State:
    """The index as a whole: ``generation`` moves whenever a document is written or deleted."""

    generation: int = 0
    last_ingest: str = ""
    info: str = ""  # JSON of what built the index
    writing: str = ""  # doc_id of a write under way ("" when none)
    writer_pid: int = 0
    writer_host: str = ""

    def built_by(self) -> dict[str, Any] | None:
        return json.loads(self.info) if self.info else None


class Ledger:
    """Reads and writes the ledger records in one Chroma collection."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def state(self) -> State:
        """Return the index's state (generation 0 when nothing was ever written)."""
        got = self.collection.get(ids=[_STATE], include=["metadatas"])
        if not got["ids"]:
            return State()
        meta = got["metadatas"][0]
        return State(**{k: meta[k] for k in State.__dataclass_fields__ if k in meta})

    def set_state(self, state: State) -> None:
        self._put(_STATE, {"kind": "state", **asdict(state)})

    def update(self, **changes: Any) -> State:
        """Return the state with ``changes`` applied, after storing it."""
        state = replace(self.state(), **changes)
        self.set_state(state)
        return state

    def documents(self) -> dict[str, DocumentRecord]:
        """Return every complete document, keyed by doc_id."""
        out: dict[str, DocumentRecord] = {}
        offset = 0
        while True:
            page = self.collection.get(
                where={"kind": "doc"}, include=["metadatas"], limit=_BATCH, offset=offset
            )
            for meta in page["metadatas"]:
                record = DocumentRecord(**{k: meta[k] for k in DocumentRecord.__dataclass_fields__})
                out[record.doc_id] = record
            if len(page["ids"]) < _BATCH:
                return out
            offset += _BATCH

    def put_document(self, record: DocumentRecord) -> None:
        self.put_documents([record])

    def put_documents(self, records: Sequence[DocumentRecord]) -> None:
        """Store the records of several complete documents in one call."""
        if records:
            self.collection.upsert(
                ids=[_DOC + r.doc_id for r in records],
                embeddings=[_VECTOR] * len(records),
                metadatas=[{"kind": "doc", **asdict(r)} for r in records],
            )

    def drop_document(self, doc_id: str) -> None:
        self.collection.delete(ids=[_DOC + doc_id])

    def lock_holder(self) -> Mapping[str, Any] | None:
        """Return the lock record (holder, pid, host, expires) if one is held and not expired."""
        got = self.collection.get(ids=[_LOCK], include=["metadatas"])
        if not got["ids"]:
            return None
        meta = got["metadatas"][0]
        return meta if float(meta.get("expires", 0)) > time.time() else None

    def put_lock(self, holder: str, pid: int, host: str, ttl: float) -> None:
        self._put(
            _LOCK, {"kind": "lock", "holder": holder, "pid": pid, "host": host, "expires": time.time() + ttl}
        )

    def drop_lock(self) -> None:
        self.collection.delete(ids=[_LOCK])

    def _put(self, record_id: str, meta: Mapping[str, Any]) -> None:
        self.collection.upsert(ids=[record_id], embeddings=[_VECTOR], metadatas=[dict(meta)])
