"""The ingestion pipeline: files in, chunks with vectors in the store, BM25 kept in step.

Incremental: a file whose bytes (and sidecar) are unchanged is skipped, a changed file has its
chunks replaced only once its new chunks are embedded, and ``prune`` drops documents whose
files are gone. A file that fails is reported and leaves what is stored untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ingest.chunking import ChunkingParams, chunk_document
from ingest.loaders import LOADERS, fingerprint, iter_files, load, supported
from vectorstore import DocumentError, Embedder, IndexInfo, Store
from vectorstore.bm25 import BM25Params
from vectorstore.indexing import embed_and_write

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What one ingestion run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[DocumentError] = field(default_factory=list)
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
            f"{len(self.removed)} removed, {len(self.failed)} failed; "
            f"{self.chunks_written} chunks written, {self.chunks_total} in the index; "
            f"{self.seconds:.1f}s"
        )

    def to_json(self) -> dict[str, object]:
        """Return the report as plain JSON types."""
        return {
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "removed": self.removed,
            "failed": [{"path": e.path, "reason": e.reason} for e in self.failed],
            "chunks_written": self.chunks_written,
            "chunks_total": self.chunks_total,
            "seconds": round(self.seconds, 3),
        }


def collect(paths: Iterable[Path]) -> tuple[list[Path], list[DocumentError]]:
    """Return the readable files named by ``paths`` (folders walked) and the paths refused."""
    files: list[Path] = []
    refused: list[DocumentError] = []
    for path in paths:
        if not path.exists():
            refused.append(DocumentError(path, "no such file or folder"))
        elif path.is_dir():
            files.extend(iter_files(path))
        elif path.suffix.lower() not in LOADERS:
            refused.append(
                DocumentError(
                    path, f"unsupported file type {path.suffix or '(none)'}; Casebook reads {supported()}"
                )
            )
        else:
            files.append(path)
    unique = sorted({f.resolve() for f in files})
    return unique, refused


def ingest(
    paths: Sequence[Path],
    store: Store,
    embedder: Embedder,
    *,
    chunking: ChunkingParams | None = None,
    bm25: BM25Params | None = None,
    prune: bool = False,
    progress: bool = False,
) -> IngestReport:
    """Bring the index in line with the files under ``paths`` and return what changed."""
    started = time.perf_counter()
    chunking, bm25 = chunking or ChunkingParams(), bm25 or BM25Params()
    store.adopt(
        IndexInfo.describe(
            embedder,
            chunk_tokens=chunking.chunk_tokens,
            chunk_overlap=chunking.chunk_overlap,
            bm25=bm25,
        )
    )
    report = IngestReport()
    files, report.failed = collect(paths)
    stored = store.documents()
    tokenize = embedder.tokenizer_fn()

    for path in tqdm(files, desc="Ingesting", unit="file", disable=not progress):
        source = str(path)
        previous = stored.get(source)
        if previous is not None and previous.content_hash == fingerprint(path):
            report.skipped.append(source)
            continue
        try:
            chunks = chunk_document(load(path), chunking, tokenize)
        except DocumentError as exc:
            report.failed.append(exc)
            log.warning("ingest failed path=%s reason=%s", exc.path, exc.reason)
            continue
        embed_and_write(store, embedder, chunks, replaces=previous)
        (report.updated if previous else report.added).append(source)
        report.chunks_written += len(chunks)

    if prune:
        for source, doc in stored.items():
            if not Path(source).exists():
                store.delete_document(doc)
                report.removed.append(source)

    changed = report.added or report.updated or report.removed
    if changed or not (store.data_dir / "bm25" / "chunks.json").is_file():
        store.rebuild_bm25(bm25)
    report.chunks_total = store.count()
    report.seconds = time.perf_counter() - started
    log.info("ingest done %s", report.summary())
    return report
