"""Consistency: whether Chroma's chunks and sentences agree with the ledger, and the repair.

A document is consistent when its ledger record exists and the chunks and sentences stored for
it number what the record says. Anything else (chunks of a document whose write was killed, a
record whose counts do not match) is removed by :func:`repair`, so the next ingestion writes
the document again from its file.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from vectorstore.ledger import Ledger

_BATCH = 2000


@dataclass(frozen=True)
class Repair:
    """What a repair removed: the documents, and how many chunks and sentences they held."""

    documents: tuple[str, ...] = ()
    chunks: int = 0
    sentences: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"documents": list(self.documents), "chunks": self.chunks, "sentences": self.sentences}


@dataclass(frozen=True)
class Scan:
    """Chroma's chunks and sentences counted per document, against the ledger's records."""

    chunk_ids: dict[str, list[str]] = field(default_factory=dict)
    sentences: Counter[str] = field(default_factory=Counter)
    broken: tuple[str, ...] = ()


def counts_agree(collection: Any, sentences: Any, ledger: Ledger) -> bool:
    """Return whether the totals of chunks and sentences match the ledger (a cheap check)."""
    records = ledger.documents().values()
    return collection.count() == sum(r.chunks for r in records) and sentences.count() == sum(
        r.sentences for r in records
    )


def scan(collection: Any, sentences: Any, ledger: Ledger) -> Scan:
    """Return every document whose stored chunks or sentences disagree with its record."""
    records = ledger.documents()
    chunk_ids: dict[str, list[str]] = defaultdict(list)
    for ids, metas in _pages(collection):
        for cid, meta in zip(ids, metas, strict=True):
            chunk_ids[str(meta.get("doc_id"))].append(cid)
    per_doc: Counter[str] = Counter()
    for _, metas in _pages(sentences):
        per_doc.update(str(meta.get("doc_id")) for meta in metas)
    broken = sorted(
        doc_id
        for doc_id in set(chunk_ids) | set(per_doc) | set(records)
        if doc_id not in records
        or (records[doc_id].chunks, records[doc_id].sentences)
        != (len(chunk_ids.get(doc_id, ())), per_doc.get(doc_id, 0))
    )
    return Scan(dict(chunk_ids), per_doc, tuple(broken))


def repair(collection: Any, sentences: Any, ledger: Ledger, *, full: bool = False) -> Repair:
    """Remove every inconsistent document (record, chunks, sentences) and return what went.

    Unless ``full``, this scans only when a write was left unfinished or the totals disagree.
    """
    if not full and not ledger.state().writing and counts_agree(collection, sentences, ledger):
        return Repair()
    found = scan(collection, sentences, ledger)
    chunks = sum(len(found.chunk_ids.get(d, ())) for d in found.broken)
    parts = sum(found.sentences.get(d, 0) for d in found.broken)
    for doc_id in found.broken:
        ledger.drop_document(doc_id)
        if found.chunk_ids.get(doc_id):
            collection.delete(ids=found.chunk_ids[doc_id])
        if found.sentences.get(doc_id):
            sentences.delete(where={"doc_id": doc_id})
    if ledger.state().writing:
        ledger.update(writing="")
    return Repair(found.broken, chunks, parts)


def _pages(collection: Any):
    offset = 0
    while True:
        page = collection.get(include=["metadatas"], limit=_BATCH, offset=offset)
        yield page["ids"], page["metadatas"]
        if len(page["ids"]) < _BATCH:
            return
        offset += _BATCH
