"""Answer vectors: each sentence's vector as the extractive answerer encodes it, made ahead.

The answerer scores a candidate sentence by the cosine to the question of "title sentence"
encoded alone. Encoded at question time that costs about 25 ms a sentence on serve's one model
thread, most of an answer's time. Ingestion does not make them (eight encodes per chunk would
take it far below the model's speed, and the sentence vectors pooled from the passage's own
forward pass quote worse: docs/benchmarks.md), so they are made afterwards: by ``casebook
serve`` while it is idle, or by ``casebook prepare`` at once. An index without them gives the
same answers, only slower.

One file per version of a document, ``derived/answers/<doc_id>.<content hash>.npz``, written
atomically: the 64-bit hash of each text encoded and its vector (float16). A lookup checks the
text's hash, so a vector is only ever used for the very text it was made from.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from vectorstore.derived import short_hash
from vectorstore.files import is_writable, write_atomic
from vectorstore.ledger import DocumentRecord

_KEEP = 512  # documents whose vectors stay in memory (a few MB)


class AnswerVectors:
    """The answer vectors of an index's documents, on disk in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._memory: OrderedDict[str, dict[int, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, doc_id: str, content_hash: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        """Return the stored vector of each of ``texts`` (of this version of the document), or None."""
        rows = self._rows(_name(doc_id, content_hash))
        return [rows.get(text_hash(text)) for text in texts]

    def _rows(self, name: str) -> dict[int, np.ndarray]:
        with self._lock:
            rows = self._memory.get(name)
            if rows is not None:
                self._memory.move_to_end(name)
                return rows
        try:
            with np.load(self.folder / name, allow_pickle=False) as saved:
                hashes, vectors = saved["hashes"], saved["vectors"]
        except (OSError, ValueError, KeyError):
            return {}  # not made yet (never kept: it may be made any moment)
        rows = dict(zip(hashes.tolist(), vectors.astype(np.float32), strict=True))
        with self._lock:
            self._memory[name] = rows
            while len(self._memory) > _KEEP:
                self._memory.popitem(last=False)
        return rows

    def save(self, doc_id: str, content_hash: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store the vectors of ``texts`` for this version of the document (atomically)."""
        buffer = io.BytesIO()
        hashes = np.array([text_hash(t) for t in texts], dtype=np.uint64)
        np.savez(buffer, hashes=hashes, vectors=np.asarray(vectors, dtype=np.float16))
        write_atomic(self.folder / _name(doc_id, content_hash), buffer.getvalue())

    def pending(self, records: Mapping[str, DocumentRecord]) -> list[DocumentRecord]:
        """Return the documents (this version of each) whose answer vectors are not made yet."""
        made = self._names()
        return [r for r in records.values() if _name(r.doc_id, r.content_hash) not in made]

    def prune(self, records: Mapping[str, DocumentRecord]) -> int:
        """Delete the files of documents (or versions) no longer in ``records``; return how many."""
        wanted = {_name(r.doc_id, r.content_hash) for r in records.values()}
        stale = [name for name in self._names() if name not in wanted]
        for name in stale:
            (self.folder / name).unlink(missing_ok=True)
        return len(stale)

    def count(self, records: Mapping[str, DocumentRecord]) -> int:
        """Return how many of ``records`` have their answer vectors made."""
        return len(records) - len(self.pending(records))

    @property
    def writable(self) -> bool:
        return is_writable(self.folder)

    def _names(self) -> set[str]:
        try:
            return {p.name for p in self.folder.iterdir() if p.suffix == ".npz"}
        except OSError:
            return set()


def text_hash(text: str) -> int:
    """Return the 64-bit hash a text's vector is filed under."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _name(doc_id: str, content_hash: str) -> str:
    return f"{doc_id}.{short_hash(content_hash)}.npz"
