"""The index: Chroma holds everything (the source of truth); the rest is derived from it.

Layout of a data directory::

    index.json   a local mirror of what built the index (the ledger in Chroma is what counts)
    chroma/      Chroma's files (absent when a Chroma server holds the vectors)
    derived/     BM25 over chunks and over three-sentence windows and a float16 copy of the
                 sentence vectors, stamped with the generation of Chroma they were built from
                 (see :mod:`vectorstore.derived`)
    ingest.lock  the writers' lock (see :mod:`vectorstore.lock`)

Chroma holds three collections: ``casebook`` (one vector per chunk), ``casebook_sentences``
(one vector per sentence of a chunk: the source of the derived copy that gives a chunk's
best-sentence score, and of the answerer's stored vectors) and ``casebook_meta``
(the ledger: complete documents, the generation, what built the index; see
:mod:`vectorstore.ledger`). A document counts only once its ledger record is written, after
its chunks and sentences, so a crash leaves it absent or complete. Readers check the
generation at most every ``check_every`` seconds and reload what moved; they never lock.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.access import EVERYTHING, Access, is_access_key
from vectorstore.answer_vectors import AnswerVectors
from vectorstore.bm25 import BM25Index, BM25Params
from vectorstore.chroma import COLLECTION, SENTENCES, View
from vectorstore.consistency import Repair, repair
from vectorstore.derived import DocEntry, EntryCache, Snapshot, build, entry_of, fetch_entry
from vectorstore.errors import IndexMismatchError, IndexMissingError, StoreError
from vectorstore.faults import crash_point
from vectorstore.files import is_writable, write_error, write_json_atomic
from vectorstore.filters import Filter, to_where
from vectorstore.ledger import DocumentRecord, Ledger, State, now_iso
from vectorstore.lock import Notify, WriterLock
from vectorstore.records import FILTER_FIELDS, Chunk, StoredDocument
from vectorstore.sentences import SentenceUnit

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
__all__ = ["COLLECTION", "SENTENCES", "IndexInfo", "Store"]
_GET_BATCH = 2000


@dataclass(frozen=True)
class IndexInfo:
    """What built an index; two indexes with different infos must never be mixed."""

    embedding_model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    bm25: BM25Params = field(default_factory=BM25Params)
    embedding_backend: str = "torch"  # indexes from before backends were recorded were built by torch
    sentence_vectors: str = "pooled"  # and their sentence vectors were pooled
    embedding_precision: str = "fp32"  # how ingestion read passages; not checked: bf16 and fp32 mix
    schema: int = SCHEMA_VERSION

    @classmethod
    def describe(cls, embedder: Any, *, chunk_tokens: int, chunk_overlap: int, bm25: BM25Params) -> IndexInfo:
        """Return the record of an index built by ``embedder`` with this chunking and BM25."""
        return cls(
            embedding_model=embedder.name,
            dimension=embedder.dimension,
            embedding_backend=getattr(embedder, "backend", "torch"),
            sentence_vectors=getattr(embedder, "sentences", "pooled"),
            embedding_precision=getattr(embedder, "precision", "fp32"),
            chunk_tokens=chunk_tokens,
            chunk_overlap=chunk_overlap,
            bm25=bm25,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form written to index.json."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IndexInfo:
        """Read the JSON form written by :meth:`to_json`."""
        fields = dict(data)
        fields["bm25"] = BM25Params(**fields.get("bm25", {}))
        return cls(**fields)


@dataclass(frozen=True)
class DocumentWrite:
    """One document to store: its chunks and sentences with their vectors, and what it replaces."""

    chunks: Sequence[Chunk]
    vectors: np.ndarray
    sentences: Sequence[SentenceUnit] = ()
    sentence_vectors: np.ndarray | None = None
    replaces: StoredDocument | None = None


class Store:
    """Chunks with their vectors (Chroma, the source of truth) and the indexes derived from them.

    ``chroma_url`` (e.g. ``http://127.0.0.1:8000``) keeps everything in a Chroma server shared
    by several machines; derived files and index.json stay in ``data_dir`` either way. Writing
    methods expect the caller to hold :meth:`writer_lock`; reading methods never lock.
    """

    def __init__(self, data_dir: Path, *, chroma_url: str | None = None, check_every: float = 2.0) -> None:
        self.data_dir = Path(data_dir)
        self.chroma_url = chroma_url
        self.check_every = check_every
        self._view: View | None = None
        self._retired: list[tuple[View, Any]] = []
        self._state: State | None = None
        self._checked_at = 0.0
        self._snapshot: Snapshot | None = None
        self._cache = EntryCache(self.derived_dir / "docs")
        self.answers = AnswerVectors(self.derived_dir / "answers")
        self._refreshing = threading.Lock()

    # -- what built the index -------------------------------------------------------------

    @property
    def info_path(self) -> Path:
        return self.data_dir / "index.json"

    @property
    def derived_dir(self) -> Path:
        return self.data_dir / "derived"

    def exists(self) -> bool:
        """Return whether there is an index to read (never creating one to find out)."""
        return bool(self.chroma_url) or (self.data_dir / "chroma" / "chroma.sqlite3").is_file()

    @property
    def read_only(self) -> bool:
        """Return whether this process cannot write the embedded database (it reads a copy)."""
        return not self.chroma_url and not is_writable(self.data_dir / "chroma")

    def info(self) -> IndexInfo | None:
        """Return what built the index, or None when there is no index yet."""
        if not self.exists():
            return None
        built = self.state().built_by()
        if built is None and not self.chroma_url and self.info_path.is_file() and self.count():
            built = self._read_info_file()  # an index written before the ledger existed
        try:
            return None if built is None else IndexInfo.from_json(built)
        except (ValueError, TypeError) as exc:
            raise IndexMismatchError(
                f"The record of what built {self.data_dir} is unreadable ({exc}). "
                "Re-ingest into a new --data-dir."
            ) from exc

    def _read_info_file(self) -> dict[str, Any]:
        try:
            return json.loads(self.info_path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise IndexMismatchError(
                f"{self.info_path} is unreadable ({exc}). Delete {self.data_dir} and re-ingest."
            ) from exc

    def require(self, expected: IndexInfo) -> None:
        """Raise unless the index exists and was built the way ``expected`` says."""
        found = self.info()
        if found is None:
            raise IndexMissingError(self.data_dir)
        self._check(found, expected)
        if self.info_path.is_file():  # the local mirror must agree too: never mix
            self._check(IndexInfo.from_json(self._read_info_file()), expected)

    def adopt(self, expected: IndexInfo) -> None:
        """Record ``expected`` as what builds this index, refusing one built otherwise."""
        found = self.info()
        if found is not None:
            self._check(found, expected)
            if self.state().built_by() is not None:
                return
        with self._writes():
            self._state = self.ledger.update(info=json.dumps(expected.to_json()))
            write_json_atomic(self.info_path, expected.to_json())

    def _check(self, found: IndexInfo, expected: IndexInfo) -> None:
        if found.schema != expected.schema:
            raise IndexMismatchError(
                f"Index at {self.data_dir} has schema {found.schema}; this Casebook reads "
                f"{expected.schema}. Re-ingest into a new --data-dir."
            )
        if (found.embedding_model, found.dimension) != (expected.embedding_model, expected.dimension):
            raise IndexMismatchError(
                f"Index at {self.data_dir} was built with {found.embedding_model} "
                f"({found.dimension} dimensions); this Casebook embeds with "
                f"{expected.embedding_model} ({expected.dimension}). "
                "Re-ingest into a new --data-dir, or use the model the index was built with."
            )
        if found.embedding_backend != expected.embedding_backend:
            raise IndexMismatchError(
                f"Index at {self.data_dir} was embedded with the {found.embedding_backend} backend; "
                f"settings ask for {expected.embedding_backend}. Set CASEBOOK_EMBED_BACKEND="
                f"{found.embedding_backend}, or re-ingest into a new --data-dir."
            )
        if found.sentence_vectors != expected.sentence_vectors:
            raise IndexMismatchError(
                f"Index at {self.data_dir} holds {found.sentence_vectors} sentence vectors; settings "
                f"ask for {expected.sentence_vectors}. Set CASEBOOK_SENTENCE_VECTORS="
                f"{found.sentence_vectors}, or re-ingest into a new --data-dir."
            )
        if (found.chunk_tokens, found.chunk_overlap) != (expected.chunk_tokens, expected.chunk_overlap):
            raise IndexMismatchError(
                f"Index at {self.data_dir} was chunked at {found.chunk_tokens} tokens with "
                f"{found.chunk_overlap} overlap; settings ask for {expected.chunk_tokens}/"
                f"{expected.chunk_overlap}. Re-ingest into a new --data-dir, or restore those settings."
            )

    # -- Chroma, kept current ----------------------------------------------------------------

    @property
    def view(self) -> View:
        if self._view is None:
            try:
                self._view = View(self.data_dir, self.chroma_url, copy=self.read_only)
            except StoreError:
                if self.chroma_url or self.read_only:
                    raise
                # Chroma writes when it opens: on a full disk, read from a copy elsewhere.
                log.warning("chroma cannot open in place, reading a copy data_dir=%s", self.data_dir)
                self._view = View(self.data_dir, self.chroma_url, copy=True)
        return self._view

    @property
    def collection(self) -> Any:
        return self.view.collection

    @property
    def sentences(self) -> Any:
        return self.view.sentences

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.view.meta)

    def state(self, *, fresh: bool = False) -> State:
        """Return the index's state, read from Chroma at most every ``check_every`` seconds.

        When another process moved the generation, an embedded database is opened afresh (its
        searches would not see the new vectors otherwise) and the derived indexes reload.
        """
        now = time.monotonic()
        if not fresh and self._state is not None and now - self._checked_at < self.check_every:
            return self._state
        if not self.exists():
            return State()
        state = self.ledger.state()
        self._checked_at = now
        previous, self._state = self._state, state
        moved = previous is not None and previous.generation != state.generation
        if moved and not self.chroma_url and (state.writer_pid, state.writer_host) != _ME:
            self._reopen()
        return state

    @property
    def generation(self) -> int:
        """Return the generation of the index (cheap: checked at most every few seconds)."""
        return self.state().generation

    def _reopen(self) -> None:
        for view, system in self._retired:  # opened two generations ago: no search still uses it
            view.close(system)
        self._retired = [(self._view, self._view.detach())] if self._view is not None else []
        self._view = None
        log.info("chroma reopened data_dir=%s", self.data_dir)

    def count(self, access: Access = EVERYTHING) -> int:
        """Return how many chunks the index holds that ``access`` may read (0 when there is no index)."""
        if not self.exists():
            return 0
        if access.everything:
            return int(self.collection.count())
        return int(self.derived().columns.visible(access).sum())

    def documents(self) -> dict[str, StoredDocument]:
        """Return every COMPLETE stored document, keyed by its source path."""
        if not self.exists():
            return {}
        return {
            r.source: StoredDocument(
                doc_id=r.doc_id,
                source=r.source,
                title=r.title,
                content_hash=r.content_hash,
                chunk_ids=tuple(f"{r.doc_id}:{i:04d}" for i in range(r.chunks)),
            )
            for r in self.ledger.documents().values()
        }

    def texts(self, access: Access = EVERYTHING) -> Iterator[str]:
        """Yield the text of every chunk of every complete document ``access`` may read.

        One document is read at a time and none is kept: holding every entry (with its tokens)
        took 190 MB at SciFact's 5,183 abstracts, and grows with the library.
        """
        if not self.exists():
            return
        records = self.ledger.documents()
        for doc_id in sorted(records):
            entry = self._cache.get(records[doc_id], keep=False) or self._fetch(records[doc_id])[0]
            if _entry_visible(entry, access):
                yield from entry.chunk_texts

    # -- writing (under the writers' lock) ---------------------------------------------------

    def writer_lock(self, *, wait: bool = True, notify: Notify | None = None) -> WriterLock:
        """Return the lock a writer holds while it changes the index."""
        return WriterLock(
            self.data_dir, (lambda: self.ledger) if self.chroma_url else None, wait=wait, notify=notify
        )

    @contextmanager
    def _writes(self) -> Iterator[None]:
        """Turn a full disk or read-only folder into one line naming the folder and the fix."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            error = write_error(exc, self.data_dir)
            if error is None:
                raise
            raise error from None

    def write_document(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        sentences: Sequence[SentenceUnit] = (),
        sentence_vectors: np.ndarray | None = None,
        replaces: StoredDocument | None = None,
    ) -> None:
        """Store one document's chunks and sentences, replacing those of its previous version."""
        self.write_documents([DocumentWrite(chunks, vectors, sentences, sentence_vectors, replaces)])

    def write_documents(self, writes: Sequence[DocumentWrite]) -> None:
        """Store several documents' chunks and sentences in a few Chroma calls, replacing their
        previous versions.

        Each document's ledger record goes first (a crash mid-replacement leaves it absent, so the
        next run ingests it again) and comes back last, once every chunk and sentence of the batch
        is stored; the generation moves once per batch. Many small documents (a corpus of
        abstracts) are written at the model's speed instead of six Chroma calls each.
        """
        for w in writes:
            if len(w.chunks) != len(w.vectors) or len(w.sentences) != (
                0 if w.sentence_vectors is None else len(w.sentence_vectors)
            ):
                raise StoreError("Vectors do not match the chunks or sentences; nothing was stored")
        emptied = [w.replaces for w in writes if not w.chunks and w.replaces is not None]
        writes = [w for w in writes if w.chunks]
        for doc in emptied:
            self.delete_document(doc)
        if not writes:
            return
        with self._writes():
            ledger = self.ledger
            ledger.update(writing=writes[0].chunks[0].doc_id, writer_pid=_ME[0], writer_host=_ME[1])
            replaced = [w.replaces for w in writes if w.replaces is not None]
            for doc in replaced:
                ledger.drop_document(doc.doc_id)
            for doc in replaced:
                self._delete_vectors(doc.doc_id, doc.chunk_ids)
            chunks = [c for w in writes for c in w.chunks]
            self.collection.upsert(
                ids=[c.id for c in chunks],
                embeddings=np.concatenate([w.vectors for w in writes]),
                documents=[c.text for c in chunks],
                metadatas=[c.to_metadata() for c in chunks],
            )
            for _ in writes:
                crash_point("write_document")
            units = [u for w in writes for u in w.sentences]
            unit_vectors = [w.sentence_vectors for w in writes if w.sentence_vectors is not None]
            matrix = np.concatenate(unit_vectors) if unit_vectors else np.zeros((0, 0), np.float32)
            for start in range(0, len(units), _GET_BATCH):
                batch = units[start : start + _GET_BATCH]
                self.sentences.upsert(
                    ids=[u.id for u in batch],
                    embeddings=matrix[start : start + _GET_BATCH],
                    documents=[u.text for u in batch],
                    metadatas=[_sentence_metadata(u) for u in batch],
                )
            for _ in writes:
                crash_point("before_record")
            records = [
                DocumentRecord(
                    doc_id=w.chunks[0].doc_id,
                    source=w.chunks[0].source,
                    title=w.chunks[0].title,
                    content_hash=str(w.chunks[0].metadata.get("content_hash", "")),
                    chunks=len(w.chunks),
                    sentences=len(w.sentences),
                    ingested_at=now_iso(),
                )
                for w in writes
            ]
            ledger.put_documents(records)
            for _ in writes:
                crash_point("after_record")
            self._bump()
            self._remember(records, writes)

    def _remember(self, records: Sequence[DocumentRecord], writes: Sequence[DocumentWrite]) -> None:
        """Put each written document's derived entry in the cache from what was just written, so
        bringing the derived indexes up to date reads nothing back from Chroma. Only a cache: a
        failure here costs a read from Chroma later, never the write."""
        tokenizer = BM25Index([], [], None, self._params())
        self._cache.writable = True
        try:
            for record, w in zip(records, writes, strict=True):
                vectors = () if w.sentence_vectors is None else w.sentence_vectors  # None: no sentences
                entry, matrix = entry_of(
                    record,
                    ((c.id, c.text, c.to_metadata()) for c in w.chunks),
                    ((u.chunk.id, u.position, u.text, v) for u, v in zip(w.sentences, vectors, strict=True)),
                    tokenizer,
                )
                self._cache.put(entry, matrix)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("derived entries not cached at write: %s", exc)
        finally:
            self._cache.writable = False

    def delete_document(self, doc: StoredDocument) -> None:
        """Remove every chunk and sentence of ``doc``, and its ledger record first."""
        with self._writes():
            self.ledger.drop_document(doc.doc_id)
            self._delete_vectors(doc.doc_id, doc.chunk_ids)
            self._bump()

    def _delete_vectors(self, doc_id: str, chunk_ids: Sequence[str]) -> None:
        if chunk_ids:
            self.collection.delete(ids=list(chunk_ids))
        self.sentences.delete(where={"doc_id": doc_id})

    def _bump(self) -> None:
        state = self.ledger.state()
        self._state = self.ledger.update(
            generation=state.generation + 1,
            writing="",
            last_ingest=now_iso(),
            writer_pid=_ME[0],
            writer_host=_ME[1],
        )
        self._checked_at = time.monotonic()

    def repair(self, *, full: bool = False) -> Repair:
        """Remove what a crash left behind: chunks and sentences of documents without a complete
        record (or whose counts differ from it). Cheap when the counts agree, unless ``full``."""
        if not self.exists():
            return Repair()
        with self._writes():
            found = repair(self.collection, self.sentences, self.ledger, full=full)
            if found.documents:
                self._bump()
            return found

    def update_derived(self, params: BM25Params | None = None, *, force: bool = False) -> Snapshot:
        """Bring the derived indexes on disk up to Chroma's generation and return them."""
        params = params or self._params()
        with self._writes():
            state = self.state(fresh=True)
            saved = Snapshot.load(self.derived_dir)
            if saved is not None and saved.generation == state.generation and not force:
                self._snapshot = saved
                return saved
            self._cache.writable = True
            try:
                snapshot = build(self.ledger.documents(), state.generation, params, self._cache, self._fetch)
                snapshot.save(self.derived_dir)
            finally:
                self._cache.writable = False
            self._snapshot = snapshot
            return snapshot

    def rebuild_bm25(self, params: BM25Params) -> None:
        """Rebuild the derived indexes from Chroma (kept for callers of the old name)."""
        self.update_derived(params, force=True)

    # -- derived indexes ---------------------------------------------------------------------

    def derived(self) -> Snapshot:
        """Return the derived indexes of the current generation, reloading them if it moved.

        While one thread rebuilds, others answer from the previous generation's indexes.
        """
        if not self.exists():
            raise IndexMissingError(self.data_dir)
        state = self.state()
        current = self._snapshot
        if current is not None and current.generation == state.generation:
            return current
        if not self._refreshing.acquire(blocking=current is None):
            return current  # type: ignore[return-value]
        try:
            current = self._snapshot
            if current is None or current.generation != state.generation:
                saved = Snapshot.load(self.derived_dir)
                if saved is not None and saved.generation == state.generation:
                    current = saved
                else:
                    records = self.ledger.documents()
                    current = build(records, state.generation, self._params(), self._cache, self._fetch)
                self._snapshot = current
            return current
        finally:
            self._refreshing.release()

    def _params(self) -> BM25Params:
        info = self.info()
        return info.bm25 if info is not None else BM25Params()

    def _fetch(self, record: DocumentRecord) -> tuple[DocEntry, np.ndarray]:
        return fetch_entry(record, self.collection, self.sentences, BM25Index([], [], None, self._params()))

    @property
    def bm25(self) -> BM25Index:
        return self.derived().chunks

    @property
    def bm25_windows(self) -> BM25Index:
        return self.derived().windows

    # -- search ------------------------------------------------------------------------------

    def dense(
        self, vector: np.ndarray, k: int, filters: Sequence[Filter] = (), access: Access = EVERYTHING
    ) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, cosine similarity) pairs ``access`` may read, most similar first."""
        complete = self.derived().chunk_ids
        if not complete:
            return []
        # No count() first (an SQL count, 20 ms a call): Chroma returns what it has up to n_results.
        result = self.collection.query(
            query_embeddings=[vector],
            n_results=k,
            where=_where(filters, access),
            include=["distances"],
        )
        return [
            (cid, 1.0 - float(d))
            for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)
            if cid in complete  # a document still being written is not in the library yet
        ]

    def lexical(
        self, query: str, k: int, filters: Sequence[Filter] = (), access: Access = EVERYTHING
    ) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, BM25 score) pairs with a positive score, best first."""
        return self.derived().lexical(query, k, filters, access)

    def lexical_parts(
        self, query: str, k: int, filters: Sequence[Filter] = (), access: Access = EVERYTHING
    ) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, score of its best three-sentence window), best first."""
        return self.derived().lexical_parts(query, k, filters, access)

    def dense_parts(self, vector: np.ndarray, candidates: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, cosine of its best sentence) among ``candidates``, best first.

        ``candidates`` are the other signals' top lists, already cut to what the filters and the
        caller's access allow; their sentences are scored exactly from the derived vectors.
        """
        return self.derived().dense_parts(vector, candidates, k)

    def similarities(self, vector: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Return the cosine similarity of ``vector`` to each stored chunk in ``ids``."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        matrix = np.asarray(got["embeddings"], dtype=np.float32)
        return dict(zip(got["ids"], (matrix @ vector).tolist(), strict=True))

    def chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Return the stored chunks with these ids, keyed by id."""
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return {chunk.id: chunk for chunk in _chunks_read(got)}

    def document_chunks(self, doc_id: str, access: Access = EVERYTHING) -> list[Chunk]:
        """Return every chunk of one document, in reading order (none when ``access`` may not read it)."""
        where = {"$and": [{"doc_id": doc_id}, clause]} if (clause := access.where()) else {"doc_id": doc_id}
        got = self.collection.get(where=where, include=["documents", "metadatas"])
        return sorted(_chunks_read(got), key=lambda c: c.position)

    def chunks_of(self, doc_ids: Sequence[str]) -> dict[str, list[Chunk]]:
        """Return every chunk of each of ``doc_ids``, in reading order (one Chroma read)."""
        if not doc_ids:
            return {}
        where = {"doc_id": {"$in": list(doc_ids)}}
        got = self.collection.get(where=where, include=["documents", "metadatas"])
        found: dict[str, list[Chunk]] = {}
        for chunk in sorted(_chunks_read(got), key=lambda c: c.position):
            found.setdefault(chunk.doc_id, []).append(chunk)
        return found

    def facets(self, access: Access = EVERYTHING) -> dict[str, list[Any]]:
        """Return the distinct values of each filter field among what ``access`` may read, sorted."""
        return self.derived().facets(access)

    def visible_documents(self, access: Access = EVERYTHING) -> dict[str, str]:
        """Return doc_id -> title of every complete document ``access`` may read."""
        if not self.exists():
            return {}
        snapshot = self.derived()
        visible = snapshot.columns.visible(access)
        held = {cid.rsplit(":", 1)[0] for cid, seen in zip(snapshot.chunks.ids, visible, strict=True) if seen}
        return {d: r.title for d, r in self.ledger.documents().items() if d in held}

    def catalogue(self, access: Access = EVERYTHING) -> list[dict[str, Any]]:
        """Return every complete document ``access`` may read, by title: its id, title and filter
        fields (trust, document type, publisher, year, as its first passage carries them)."""
        if not self.exists():
            return []
        snapshot = self.derived()
        columns, first = snapshot.columns, {}
        for n, (cid, seen) in enumerate(zip(snapshot.chunks.ids, columns.visible(access), strict=True)):
            if seen:
                first.setdefault(cid.rsplit(":", 1)[0], n)
        out = []
        for doc_id, record in self.ledger.documents().items():
            if doc_id in first:
                codes = {f: int(columns.codes[f][first[doc_id]]) for f in FILTER_FIELDS}
                fields = {f: columns.values[f][c] for f, c in codes.items() if c >= 0}
                out.append({"doc_id": doc_id, "title": record.title, **fields})
        return sorted(out, key=lambda d: str(d["title"]).casefold())

    def document_frequency(self, tokens: set[str], access: Access = EVERYTHING) -> dict[str, int]:
        """Return how many chunks ``access`` may read hold each (already tokenised) term."""
        return self.derived().document_frequency(tokens, access)

    def sentence_vectors(self, chunk_ids: Sequence[str]) -> dict[str, tuple[list[str], np.ndarray]]:
        """Return each chunk's stored sentences and their vectors (rows in reading order), by chunk id.

        The answerer looks its candidate sentences up here instead of encoding them again.
        """
        if not chunk_ids:
            return {}
        got = self.sentences.get(
            where={"chunk_id": {"$in": list(dict.fromkeys(chunk_ids))}},
            include=["documents", "metadatas", "embeddings"],
        )
        rows: dict[str, list[tuple[int, str, Any]]] = defaultdict(list)
        for text, meta, vector in zip(got["documents"], got["metadatas"], got["embeddings"], strict=True):
            rows[str(meta["chunk_id"])].append((int(meta["position"]), str(text), vector))
        out = {}
        for chunk_id, found in rows.items():
            found.sort(key=lambda row: row[0])
            out[chunk_id] = ([t for _, t, _ in found], np.asarray([v for _, _, v in found], dtype=np.float32))
        return out


_ME = (os.getpid(), socket.gethostname())


def _chunks_read(got: Mapping[str, Any]) -> list[Chunk]:
    """Return the chunks of a Chroma ``get`` that included documents and metadatas."""
    return [
        Chunk.from_metadata(cid, text, meta)
        for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    ]


def _filter_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Return the keys a sentence shares with its chunk: the filter fields and who may read it."""
    return {k: v for k, v in meta.items() if k in FILTER_FIELDS or is_access_key(k)}


def _where(filters: Sequence[Filter], access: Access) -> dict[str, Any] | None:
    """Return the Chroma ``where`` for ``filters`` and ``access`` together (None: no condition)."""
    clauses = [c for c in (to_where(filters), access.where()) if c]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _entry_visible(entry: DocEntry, access: Access) -> bool:
    groups = entry.chunk_meta[0].get("access") if entry.chunk_meta else None
    return access.allows(groups or None)


def _sentence_metadata(unit: SentenceUnit) -> dict[str, Any]:
    chunk = unit.chunk
    return {
        "chunk_id": chunk.id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "position": unit.position,
        **_filter_fields(chunk.metadata),
    }
