"""Making answer vectors ahead (vectorstore.answer_vectors): at once, or while serve is idle.

``prepare`` encodes, document by document, every text the extractive answerer may encode for
the document's passages, and files them; a document re-ingested gets new ones, a removed one's
are deleted. ``Preparer`` does the same in a background thread of ``casebook serve``, one small
batch at a time and only while no question has used the model for a moment, at the lowest CPU
priority; of several workers on one index, one prepares (a file lock), the others read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from filelock import FileLock, Timeout
from tqdm import tqdm

from assistant.extractive import answer_texts
from vectorstore import Embedder, Store
from vectorstore.ledger import DocumentRecord

log = logging.getLogger(__name__)

BATCH = 8  # texts per encode while serving: a question arriving waits for one batch at most (~0.2 s)
IDLE = 2.0  # seconds without a question before background work resumes


@dataclass(frozen=True)
class Prepared:
    """What one pass made."""

    documents: int
    texts: int
    pruned: int
    seconds: float

    def summary(self) -> str:
        return (
            f"Answer vectors made for {self.documents} documents ({self.texts} sentences) "
            f"in {self.seconds:.1f} s; {self.pruned} stale removed."
        )


def prepare(
    store: Store,
    embedder: Embedder,
    *,
    batch: int = 16,
    progress: bool = False,
    pause: Callable[[], bool] = lambda: True,
    background: bool = False,
) -> Prepared:
    """Make the answer vectors of every document that lacks them, several documents per encode
    call, ``batch`` texts a batch; ``pause`` is called before each batch and stops the pass
    when it returns False (the documents already saved stay made)."""
    began = time.perf_counter()
    records = store.ledger.documents()
    pruned = store.answers.prune(records)
    todo = store.answers.pending(records)
    documents = texts = 0
    bar = tqdm(total=len(todo), desc="Preparing answers", unit="doc", disable=not progress)
    try:
        for group in _groups(store, todo, batch * 32):
            if not _encode_group(store, embedder, group, batch, pause, background):
                break
            documents += len(group)
            texts += sum(len(t) for _, t in group)
            bar.update(len(group))
    finally:
        bar.close()
    return Prepared(documents, texts, pruned, time.perf_counter() - began)


def _groups(
    store: Store, records: Sequence[DocumentRecord], size: int
) -> Iterator[list[tuple[DocumentRecord, list[str]]]]:
    """Yield the documents with their answer texts, in groups of about ``size`` texts."""
    group: list[tuple[DocumentRecord, list[str]]] = []
    held = 0
    for start in range(0, len(records), 64):
        some = records[start : start + 64]
        chunks = store.chunks_of([r.doc_id for r in some])
        for record in some:
            texts = list(dict.fromkeys(t for c in chunks.get(record.doc_id, []) for t in answer_texts(c)))
            group.append((record, texts))
            held += len(texts)
            if held >= size:
                yield group
                group, held = [], 0
    if group:
        yield group


def _encode_group(
    store: Store,
    embedder: Embedder,
    group: list[tuple[DocumentRecord, list[str]]],
    batch: int,
    pause: Callable[[], bool],
    background: bool,
) -> bool:
    texts = [t for _, each in group for t in each]
    vectors = [np.zeros((0, embedder.dimension), dtype=np.float32)]
    for start in range(0, len(texts), batch):
        if not pause():
            return False
        vectors.append(embedder.embed(texts[start : start + batch], background=background))
    matrix = np.concatenate(vectors)
    offset = 0
    for record, each in group:
        store.answers.save(record.doc_id, record.content_hash, each, matrix[offset : offset + len(each)])
        offset += len(each)
    return True


class Preparer:
    """Makes answer vectors in a background thread for as long as the server runs."""

    def __init__(self, store: Store, embedder: Callable[[], Embedder], *, every: float = 5.0) -> None:
        self.store = store
        self._embedder = embedder
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.store.exists() or not self.store.answers.writable:
            reason = "no index" if not self.store.exists() else "read-only"
            log.info("answer vectors not prepared reason=%s", reason)
            return
        self._thread = threading.Thread(target=self._run, name="casebook-prepare", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        _lowest_priority()
        lock = prepare_lock(self.store)
        done = -1
        try:
            while not self._stop.is_set():
                if not lock.is_locked and not _try(lock):
                    self._stop.wait(self.every)  # another worker on this index prepares
                    continue
                generation = self.store.generation
                if generation != done:
                    try:
                        made = prepare(
                            self.store, self._embedder(), batch=BATCH, pause=self._idle, background=True
                        )
                    except Exception:
                        log.exception("preparing answer vectors failed; retrying later")
                        made = None
                    if made is not None and made.documents:
                        log.info("answer vectors %s", made.summary())
                    if made is not None and not self._stop.is_set():
                        done = generation
                self._stop.wait(self.every)
        finally:
            if lock.is_locked:
                lock.release()

    def _idle(self) -> bool:
        """Wait until no question has used the model for ``IDLE`` seconds; False when stopping."""
        embedder = self._embedder()
        while not self._stop.is_set():
            quiet = time.monotonic() - embedder.last_use
            if quiet >= IDLE:
                return True
            self._stop.wait(IDLE - quiet)
        return False


def prepare_lock(store: Store) -> FileLock:
    """Return the lock of whoever makes an index's answer vectors (one process at a time)."""
    store.derived_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(store.derived_dir / "prepare.lock"))


def _try(lock: FileLock) -> bool:
    try:
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        return False
    return True


def _lowest_priority() -> None:
    """Run this thread at nice 19 (Linux schedules threads alone), so questions come first."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
