"""Embedding and storing chunks: the one path by which text enters the index.

Each chunk is read by the model once: one forward pass gives the chunk's vector (mean of its
token embeddings, as :meth:`Embedder.embed` gives it) and the vector of each of its sentences
(the mean of that sentence's token embeddings). Only a sentence past the model's 256-token window
is encoded alone. An embedder with ``sentences="alone"`` encodes every sentence by itself instead
(better sentence vectors, paid for by a faster backend). docs/benchmarks.md has the measurements.

:func:`index_documents` runs three stages at once: the caller's documents are produced (read,
chunked) in one thread, encoded in batches across documents in another, and written to the store
one document at a time in a third, so parsing and Chroma's writes overlap the model.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vectorstore.embedder import Embedder
from vectorstore.records import Chunk, StoredDocument
from vectorstore.sentences import SentenceUnit, sentence_units
from vectorstore.store import DocumentWrite, Store

BATCH_CHUNKS = 128  # chunks per encode: enough to sort by length, small enough to keep writes flowing
_DONE = object()


@dataclass(frozen=True)
class Pending:
    """One document to write: its chunks, the stored version they replace, and a caller's tag."""

    chunks: Sequence[Chunk]
    replaces: StoredDocument | None = None
    tag: Any = None


@dataclass(frozen=True)
class Embedded:
    """A document's chunks and sentences with their vectors, ready for :meth:`Store.write_document`."""

    pending: Pending
    vectors: np.ndarray
    units: Sequence[SentenceUnit]
    unit_vectors: np.ndarray


def embed_chunks(
    embedder: Embedder, chunks: Sequence[Chunk]
) -> tuple[np.ndarray, list[SentenceUnit], np.ndarray]:
    """Return the chunk vectors, the sentence units and their vectors: from one forward pass, or
    with every sentence encoded alone when the embedder says ``sentences="alone"``."""
    units = sentence_units(chunks)
    if embedder.sentences == "alone":  # one call: the texts are sorted by length together
        both = embedder.embed([c.embed_text for c in chunks] + [u.embed_text for u in units])
        return both[: len(chunks)], units, both[len(chunks) :]
    spans: list[list[tuple[int, int]]] = [[] for _ in chunks]
    where = {chunk.id: n for n, chunk in enumerate(chunks)}
    owned: list[int] = []
    for unit in units:
        n = where[unit.chunk.id]
        if unit.span != (0, 0):  # the chunk's text ends its embed_text: "head\ntext"
            shift = len(unit.chunk.embed_text) - len(unit.chunk.text)
            spans[n].append((unit.span[0] + shift, unit.span[1] + shift))
            owned.append(len(owned))
        else:
            owned.append(-1)
    vectors, parts, pooled = embedder.embed_passages([c.embed_text for c in chunks], spans)
    unit_vectors = np.zeros((len(units), embedder.dimension), dtype=np.float32)
    rows = np.array(owned, dtype=np.int64)
    has = rows >= 0
    unit_vectors[has] = parts[rows[has]]
    done = np.zeros(len(units), dtype=bool)
    done[has] = pooled[rows[has]]
    alone = np.flatnonzero(~done)  # past the window, or a chunk with no sentence (its title)
    if len(alone):
        unit_vectors[alone] = embedder.embed([units[i].embed_text for i in alone], indexing=True)
    return vectors, units, unit_vectors


def embed_and_write(
    store: Store, embedder: Embedder, chunks: Sequence[Chunk], replaces: StoredDocument | None = None
) -> int:
    """Embed one document's ``chunks`` and their sentences, store them, return how many vectors."""
    vectors, units, unit_vectors = embed_chunks(embedder, chunks)
    store.write_document(chunks, vectors, units, unit_vectors, replaces)
    return len(vectors) + len(unit_vectors)


def index_documents(
    store: Store,
    embedder: Embedder,
    documents: Iterable[Pending],
    *,
    written: Callable[[Pending], None] | None = None,
    batch_chunks: int = BATCH_CHUNKS,
) -> int:
    """Embed and store every document of ``documents`` (a lazy iterable is consumed in a thread of
    its own); call ``written`` after each document is stored; return how many chunks were written.

    Documents are stored in the order they come. An error in any stage stops the others and is
    raised here; documents already written stay written (each is written whole).
    """
    incoming: queue.Queue[Any] = queue.Queue(maxsize=batch_chunks)
    outgoing: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    failures: list[BaseException] = []
    count = [0]

    def produce() -> None:
        try:
            for pending in documents:
                if stop.is_set():
                    return
                incoming.put(pending)
        except BaseException as exc:  # re-raised in the caller's thread
            failures.append(exc)
        finally:
            incoming.put(_DONE)

    def write() -> None:
        while (item := outgoing.get()) is not _DONE:
            if stop.is_set():
                continue  # drain, so the encoder never blocks on a full queue
            try:
                store.write_documents(
                    [
                        DocumentWrite(
                            done.pending.chunks,
                            done.vectors,
                            done.units,
                            done.unit_vectors,
                            done.pending.replaces,
                        )
                        for done in item
                    ]
                )
                for done in item:
                    count[0] += len(done.pending.chunks)
                    if written is not None:
                        written(done.pending)
            except BaseException as exc:
                failures.append(exc)
                stop.set()

    threads = [threading.Thread(target=produce, daemon=True), threading.Thread(target=write, daemon=True)]
    for thread in threads:
        thread.start()
    finished = False
    try:
        while not finished and not stop.is_set():
            batch: list[Pending] = []
            while sum(len(p.chunks) for p in batch) < batch_chunks:
                item = incoming.get()
                if item is _DONE:
                    finished = True
                    break
                batch.append(item)
            if batch:
                outgoing.put(_embed_batch(embedder, batch))
    except BaseException as exc:
        failures.append(exc)
        stop.set()
    finally:
        outgoing.put(_DONE)
        threads[1].join()
        if not finished:
            stop.set()
            _drain(incoming)
        threads[0].join()
    if failures:
        raise failures[0]
    return count[0]


def _embed_batch(embedder: Embedder, batch: Sequence[Pending]) -> list[Embedded]:
    """Encode the chunks of several documents together (the embedder sorts them by length)."""
    chunks = [chunk for pending in batch for chunk in pending.chunks]
    vectors, units, unit_vectors = embed_chunks(embedder, chunks)
    out, start, unit_start = [], 0, 0
    for pending in batch:
        ids = {c.id for c in pending.chunks}
        end = start + len(pending.chunks)
        unit_end = unit_start
        while unit_end < len(units) and units[unit_end].chunk.id in ids:
            unit_end += 1
        out.append(
            Embedded(
                pending, vectors[start:end], units[unit_start:unit_end], unit_vectors[unit_start:unit_end]
            )
        )
        start, unit_start = end, unit_end
    return out


def _drain(q: queue.Queue[Any]) -> None:
    """Empty ``q`` until its producer says it is done, so a blocked producer can finish."""
    while q.get() is not _DONE:
        pass
