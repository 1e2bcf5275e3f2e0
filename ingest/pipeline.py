"""The ingestion pipeline: files in, chunks with vectors in the store, BM25 kept in step.

Incremental: a file whose bytes (and sidecar) are unchanged is skipped, a changed file has its
chunks replaced only once its new chunks are embedded, and ``prune`` drops documents whose
files are gone. A file that fails is reported and leaves what is stored untouched.

Page furniture is taken out before chunking: each document by the patterns of a boilerplate file
(see :mod:`ingest.cleaning`), then every line that several documents of the run print (a site's
footer, a standing pull-quote). Files of other types found while walking a folder are reported
by name as unsupported, not silently passed over.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ingest.access import AccessPolicies
from ingest.chunking import ChunkingParams, chunk_document
from ingest.cleaning import Boilerplate, drop_lines, repeated_lines
from ingest.documents import Document
from ingest.loaders import LOADERS, fingerprint, load, supported, walk
from vectorstore import DocumentError, Embedder, IndexInfo, Store
from vectorstore.bm25 import BM25Params
from vectorstore.indexing import Pending, index_documents

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingestion run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[DocumentError] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    chunks_written: int = 0
    chunks_total: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """Return the one-line summary printed at the end of a run."""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.skipped)} unchanged, "
            f"{len(self.removed)} removed, {len(self.failed)} failed{self._unsupported()}; "
            f"{self.chunks_written} chunks written, {self.chunks_total} in the index; "
            f"{self.seconds:.1f}s"
        )

    def _unsupported(self) -> str:
        if not self.unsupported:
            return ""
        names = ", ".join(Path(p).name for p in self.unsupported[:5])
        more = f" and {len(self.unsupported) - 5} more" if len(self.unsupported) > 5 else ""
        return f", {len(self.unsupported)} unsupported ({names}{more})"

    def to_json(self) -> dict[str, object]:
        """Return the report as plain JSON types."""
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed": [{"path": e.path, "reason": e.reason} for e in self.failed],
            "unsupported": self.unsupported,
            "chunks_written": self.chunks_written,
            "chunks_total": self.chunks_total,
            "seconds": round(self.seconds, 3),
        }


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[DocumentError], list[Path]]:
    """Return the readable files named by ``paths`` (folders walked), the paths refused, and the
    files of other types found inside the folders."""
    files: list[Path] = []
    refused: list[DocumentError] = []
    unsupported: list[Path] = []
    for path in paths:
        if not path.exists():
            refused.append(DocumentError(path, "no such file or folder"))
        elif path.is_dir():
            readable, others = walk(path)
            files.extend(readable)
            unsupported.extend(others)
        elif path.suffix.lower() not in LOADERS:
            refused.append(
                DocumentError(
                    path, f"unsupported file type {path.suffix or '(none)'}; Casebook reads {supported()}"
                )
            )
        else:
            files.append(path)
    unique = sorted({f.resolve() for f in files})
    return unique, refused, sorted({p.resolve() for p in unsupported})


def ingest(
    paths: Sequence[Path],
    store: Store,
    embedder: Embedder,
    *,
    chunking: ChunkingParams | None = None,
    bm25: BM25Params | None = None,
    prune: bool = False,
    progress: bool = False,
    boilerplate: Path | None = None,
    wait: bool = True,
    notify: Callable[[str], None] | None = None,
    access_policy: Path | None = None,
) -> IngestReport:
    """Bring the index in line with the files under ``paths`` and return what changed.

    ``boilerplate`` is a file of furniture line patterns (default: ``ingest/boilerplate.txt``).
    The run holds the writers' lock: a second ingestion waits for it (``notify`` is told once)
    or, with ``wait=False``, refuses. It first repairs what a killed run left behind, and last
    brings the derived indexes up to the new generation. Nothing is created when there is no
    index and nothing to ingest. Who may read each document comes from its own ``access``, else
    from ``access_policy`` or an ``access.yaml`` at the root of a folder in ``paths``.
    """
    started = time.perf_counter()
    chunking, bm25 = chunking or ChunkingParams(), bm25 or BM25Params()
    patterns = Boilerplate.load(boilerplate)
    policies = AccessPolicies.find([p for p in paths if p.is_dir()], access_policy)
    report = IngestReport()
    files, report.failed, unsupported = collect(paths)
    report.unsupported = [str(p) for p in unsupported]
    if not files and not store.exists():
        report.seconds = time.perf_counter() - started
        return report
    with store.writer_lock(wait=wait, notify=notify):
        _ingest_locked(files, store, embedder, chunking, bm25, patterns, policies, prune, progress, report)
    report.chunks_total = store.count()
    report.seconds = time.perf_counter() - started
    log.info("ingest done %s", report.summary())
    return report


def _ingest_locked(
    files: list[Path],
    store: Store,
    embedder: Embedder,
    chunking: ChunkingParams,
    bm25: BM25Params,
    patterns: Boilerplate,
    policies: AccessPolicies,
    prune: bool,
    progress: bool,
    report: IngestReport,
) -> None:
    store.adopt(
        IndexInfo.describe(
            embedder,
            chunk_tokens=chunking.chunk_tokens,
            chunk_overlap=chunking.chunk_overlap,
            bm25=bm25,
        )
    )
    repaired = store.repair()
    if repaired.documents:
        log.warning("ingest repaired %s", repaired.to_json())
    stored = store.documents()
    tokenize = embedder.tokenizer_fn()

    # Every document of the run is read, unchanged ones too, so that lines repeated across the
    # run's documents are known before any changed document is chunked.
    documents: dict[Path, Document] = {}
    changed: list[Path] = []
    for path in tqdm(files, desc="Reading", unit="file", disable=not progress):
        previous = stored.get(str(path))
        unchanged = previous is not None and previous.content_hash == fingerprint(
            path, policies.groups_for(path)
        )
        if unchanged:
            report.skipped.append(str(path))
        try:
            documents[path] = load(path, patterns, policy=policies)
        except DocumentError as exc:
            if not unchanged:  # an unchanged file keeps what is stored, as before
                report.failed.append(exc)
                log.warning("ingest failed path=%s reason=%s", exc.path, exc.reason)
            continue
        if not unchanged:
            changed.append(path)
    furniture = repeated_lines(documents.values())

    def chunked() -> Iterator[Pending]:  # runs in its own thread, while the model encodes
        for path in changed:
            chunks = chunk_document(drop_lines(documents[path], furniture), chunking, tokenize)
            yield Pending(chunks, replaces=stored.get(str(path)), tag=str(path))

    bar = tqdm(total=len(changed), desc="Ingesting", unit="file", disable=not progress)

    def written(pending: Pending) -> None:
        (report.updated if pending.replaces else report.added).append(pending.tag)
        report.chunks_written += len(pending.chunks)
        bar.update()

    try:
        index_documents(store, embedder, chunked(), written=written)
    finally:
        bar.close()

    if prune:
        for source, doc in stored.items():
            if not Path(source).exists():
                store.delete_document(doc)
                report.removed.append(source)

    store.update_derived(bm25)
