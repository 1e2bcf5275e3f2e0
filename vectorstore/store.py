"""The index: a Chroma collection of chunk vectors, a BM25 side index, and what built them.

Layout of a data directory::

    index.json   the embedding model, dimension and chunking that built the index
    chroma/      Chroma's files (absent when a Chroma server holds the vectors)
    bm25/        the BM25 side index, rebuilt from Chroma after every change
    bm25_windows/  BM25 over three-sentence windows of each chunk (its best part)

Chroma holds two collections: ``casebook`` (one vector per chunk) and ``casebook_sentences``
(one vector per sentence of a chunk, for the chunk's best-part score).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from vectorstore.bm25 import BM25Index, BM25Params
from vectorstore.errors import IndexMismatchError, IndexMissingError, StoreError
from vectorstore.filters import Filter, matches_all, to_where
from vectorstore.records import FILTER_FIELDS, Chunk, StoredDocument
from vectorstore.sentences import SentenceUnit, windows

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
COLLECTION = "casebook"
SENTENCES = "casebook_sentences"
_GET_BATCH = 2000


@dataclass(frozen=True)
class IndexInfo:
    """What built an index; two indexes with different infos must never be mixed."""

    embedding_model: str
    dimension: int
    chunk_tokens: int
    chunk_overlap: int
    bm25: BM25Params = field(default_factory=BM25Params)
    schema: int = SCHEMA_VERSION

    @classmethod
    def describe(cls, embedder: Any, *, chunk_tokens: int, chunk_overlap: int, bm25: BM25Params) -> IndexInfo:
        """Return the record of an index built by ``embedder`` with this chunking and BM25."""
        return cls(
            embedding_model=embedder.name,
            dimension=embedder.dimension,
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


class Store:
    """Chunks with their vectors (Chroma) and their BM25 index, under one data directory.

    ``chroma_url`` (e.g. ``http://127.0.0.1:8000``) keeps the vectors in a Chroma server instead
    of the embedded database; the BM25 index and index.json stay in ``data_dir`` either way.
    """

    def __init__(self, data_dir: Path, *, chroma_url: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.chroma_url = chroma_url
        self._collection: Any = None
        self._sentences: Any = None
        self._bm25: BM25Index | None = None
        self._windows: BM25Index | None = None

    # -- what built the index -------------------------------------------------------------

    @property
    def info_path(self) -> Path:
        return self.data_dir / "index.json"

    def info(self) -> IndexInfo | None:
        """Return what built the index, or None when there is no index yet."""
        if not self.info_path.is_file():
            return None
        try:
            return IndexInfo.from_json(json.loads(self.info_path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise IndexMismatchError(
                f"{self.info_path} is unreadable ({exc}). Delete {self.data_dir} and re-ingest."
            ) from exc

    def require(self, expected: IndexInfo) -> None:
        """Raise unless the index exists and was built the way ``expected`` says."""
        found = self.info()
        if found is None:
            raise IndexMissingError(self.data_dir)
        self._check(found, expected)

    def adopt(self, expected: IndexInfo) -> None:
        """Record ``expected`` as what builds this index, refusing one built otherwise."""
        found = self.info()
        if found is not None:
            self._check(found, expected)
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.info_path.write_text(json.dumps(expected.to_json(), indent=2), encoding="utf-8")

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
        if (found.chunk_tokens, found.chunk_overlap) != (expected.chunk_tokens, expected.chunk_overlap):
            raise IndexMismatchError(
                f"Index at {self.data_dir} was chunked at {found.chunk_tokens} tokens with "
                f"{found.chunk_overlap} overlap; settings ask for {expected.chunk_tokens}/"
                f"{expected.chunk_overlap}. Re-ingest into a new --data-dir, or restore those settings."
            )

    # -- Chroma ------------------------------------------------------------------------------

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._collection, self._sentences = self._open_collections()
        return self._collection

    @property
    def sentences(self) -> Any:
        if self._collection is None:
            self._collection, self._sentences = self._open_collections()
        return self._sentences

    def _open_collections(self) -> tuple[Any, Any]:
        client = self._connect()
        config = {"hnsw": {"space": "cosine", "ef_search": 200}}
        try:
            return tuple(
                client.get_or_create_collection(name, embedding_function=None, configuration=config)
                for name in (COLLECTION, SENTENCES)
            )
        except Exception as exc:  # chromadb wraps transport failures in assorted types
            where = self.chroma_url or str(self.data_dir / "chroma")
            raise StoreError(
                f"Cannot reach the Chroma server at {where} ({_first_line(exc)}). "
                "Start it with: chroma run --path DIR --port N"
                if self.chroma_url
                else f"Cannot open the Chroma database at {where} ({_first_line(exc)})."
            ) from exc

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if not self.chroma_url:
            return chromadb.PersistentClient(path=str(self.data_dir / "chroma"), settings=settings)
        url = urlparse(self.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"Chroma URL {self.chroma_url!r} is not a URL. Use e.g. http://127.0.0.1:8000")
        try:
            return chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 80),
                ssl=url.scheme == "https",
                settings=settings,
            )
        except Exception as exc:  # chromadb raises bare ValueError/ConnectError variants
            raise StoreError(
                f"Cannot reach the Chroma server at {self.chroma_url} ({_first_line(exc)}). "
                "Start it with: chroma run --path DIR --port N"
            ) from exc

    def count(self) -> int:
        """Return how many chunks the index holds (0 when there is no index)."""
        if self.info() is None:
            return 0
        return int(self.collection.count())

    def _all(self, include: list[str], collection: Any = None) -> dict[str, list[Any]]:
        """Return ids and ``include`` fields of every chunk (or sentence), fetched in batches."""
        collection = self.collection if collection is None else collection
        out: dict[str, list[Any]] = defaultdict(list)
        total, offset = collection.count(), 0
        while offset < total:
            page = collection.get(include=include, limit=_GET_BATCH, offset=offset)
            out["ids"].extend(page["ids"])
            for key in include:
                out[key].extend(page[key])
            offset += _GET_BATCH
        return out

    def texts(self) -> list[str]:
        """Return the text of every chunk (empty when there is no index)."""
        if self.info() is None:
            return []
        return [str(t) for t in self._all(["documents"])["documents"]]

    def documents(self) -> dict[str, StoredDocument]:
        """Return every stored document, keyed by its source path."""
        grouped: dict[str, list[tuple[str, Mapping[str, Any]]]] = defaultdict(list)
        data = self._all(["metadatas"])
        for chunk_id, meta in zip(data["ids"], data["metadatas"], strict=True):
            grouped[str(meta["source"])].append((chunk_id, meta))
        return {
            source: StoredDocument(
                doc_id=str(rows[0][1]["doc_id"]),
                source=source,
                title=str(rows[0][1].get("title", "")),
                content_hash=str(rows[0][1].get("content_hash", "")),
                chunk_ids=tuple(sorted((cid for cid, _ in rows), key=_chunk_order)),
            )
            for source, rows in grouped.items()
        }

    def write_document(
        self,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        sentences: Sequence[SentenceUnit] = (),
        sentence_vectors: np.ndarray | None = None,
        replaces: StoredDocument | None = None,
    ) -> None:
        """Store one document's chunks and sentences, replacing those of its previous version."""
        if len(chunks) != len(vectors) or len(sentences) != (
            0 if sentence_vectors is None else len(sentence_vectors)
        ):
            raise StoreError("Vectors do not match the chunks or sentences; nothing was stored")
        if replaces is not None:
            self.delete_document(replaces)
        if chunks:
            self.collection.upsert(
                ids=[c.id for c in chunks],
                embeddings=vectors,
                documents=[c.text for c in chunks],
                metadatas=[c.to_metadata() for c in chunks],
            )
        for start in range(0, len(sentences), _GET_BATCH):
            batch = sentences[start : start + _GET_BATCH]
            self.sentences.upsert(
                ids=[u.id for u in batch],
                embeddings=sentence_vectors[start : start + _GET_BATCH],
                documents=[u.text for u in batch],
                metadatas=[_sentence_metadata(u) for u in batch],
            )
        self._bm25 = self._windows = None

    def delete_document(self, doc: StoredDocument) -> None:
        """Remove every chunk and sentence of ``doc``."""
        if doc.chunk_ids:
            self.collection.delete(ids=list(doc.chunk_ids))
        self.sentences.delete(where={"doc_id": doc.doc_id})
        self._bm25 = self._windows = None

    # -- BM25 --------------------------------------------------------------------------------

    def rebuild_bm25(self, params: BM25Params) -> None:
        """Rebuild both BM25 indexes from what Chroma now holds, so they stay in step with it."""
        data = self._all(["documents", "metadatas"])
        texts = [
            _lexical_text(str(meta.get("title", "")), meta.get("section"), text)
            for text, meta in zip(data["documents"], data["metadatas"], strict=True)
        ]
        index = BM25Index.build(data["ids"], texts, [_filter_fields(m) for m in data["metadatas"]], params)
        index.save(self.data_dir / "bm25")
        self._bm25 = index

        parts = self._all(["documents", "metadatas"], self.sentences)
        grouped: dict[str, list[tuple[int, str, Mapping[str, Any]]]] = defaultdict(list)
        for text, meta in zip(parts["documents"], parts["metadatas"], strict=True):
            grouped[str(meta["chunk_id"])].append((int(meta["position"]), text, meta))
        owners, window_texts, window_meta = [], [], []
        for chunk_id, rows in sorted(grouped.items()):
            rows.sort(key=lambda row: row[0])
            meta = rows[0][2]
            for text in windows(str(meta.get("title", "")), [text for _, text, _ in rows]):
                owners.append(chunk_id)
                window_texts.append(text)
                window_meta.append(_filter_fields(meta))
        self._windows = BM25Index.build(owners, window_texts, window_meta, params)
        self._windows.save(self.data_dir / "bm25_windows")
        log.info("bm25 rebuilt chunks=%d windows=%d", len(data["ids"]), len(owners))

    @property
    def bm25(self) -> BM25Index:
        if self._bm25 is None:
            self._bm25 = self._load_bm25("bm25")
        return self._bm25

    @property
    def bm25_windows(self) -> BM25Index:
        if self._windows is None:
            self._windows = self._load_bm25("bm25_windows")
        return self._windows

    def _load_bm25(self, name: str) -> BM25Index:
        folder = self.data_dir / name
        if not (folder / "chunks.json").is_file():
            raise IndexMissingError(self.data_dir)
        return BM25Index.load(folder)

    # -- search ------------------------------------------------------------------------------

    def dense(self, vector: np.ndarray, k: int, filters: Sequence[Filter] = ()) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, cosine similarity) pairs, most similar first."""
        total = self.collection.count()
        if total == 0:
            return []
        result = self.collection.query(
            query_embeddings=[vector],
            n_results=min(k, total),
            where=to_where(filters),
            include=["distances"],
        )
        return [
            (cid, 1.0 - float(d)) for cid, d in zip(result["ids"][0], result["distances"][0], strict=True)
        ]

    def lexical(self, query: str, k: int, filters: Sequence[Filter] = ()) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, BM25 score) pairs with a positive score, best first."""
        index = self.bm25
        scores = _masked(index, index.scores(query), filters)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(index.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def lexical_parts(self, query: str, k: int, filters: Sequence[Filter] = ()) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, score of its best three-sentence window), best first."""
        index = self.bm25_windows
        scores = _masked(index, index.scores(query), filters)
        best: dict[str, float] = {}
        for i in np.flatnonzero(scores > 0):
            owner = index.ids[i]
            best[owner] = max(best.get(owner, 0.0), float(scores[i]))
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]

    def dense_parts(
        self, vector: np.ndarray, k: int, filters: Sequence[Filter] = ()
    ) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, cosine of its best sentence) pairs, best first."""
        total = self.sentences.count()
        if total == 0:
            return []
        # Several sentences of one chunk may rank high: ask for enough to find k chunks.
        result = self.sentences.query(
            query_embeddings=[vector],
            n_results=min(k * 8, total),
            where=to_where(filters),
            include=["distances", "metadatas"],
        )
        best: dict[str, float] = {}
        for meta, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
            owner = str(meta["chunk_id"])
            best[owner] = max(best.get(owner, -1.0), 1.0 - float(distance))
        return sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]

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
        return {
            cid: Chunk.from_metadata(cid, text, meta)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }

    def document_chunks(self, doc_id: str) -> list[Chunk]:
        """Return every chunk of one document, in reading order."""
        got = self.collection.get(where={"doc_id": doc_id}, include=["documents", "metadatas"])
        chunks = [
            Chunk.from_metadata(cid, text, meta)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        return sorted(chunks, key=lambda c: c.position)

    def facets(self) -> dict[str, list[Any]]:
        """Return the distinct values of each filter field, sorted."""
        values: dict[str, set[Any]] = {f: set() for f in FILTER_FIELDS}
        for meta in self.bm25.metadatas:
            for key, value in meta.items():
                values[key].add(value)
        return {key: sorted(found) for key, found in values.items()}

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


def _masked(index: BM25Index, scores: np.ndarray, filters: Sequence[Filter]) -> np.ndarray:
    if not filters:
        return scores
    keep = np.array([matches_all(filters, m) for m in index.metadatas], dtype=bool)
    return np.where(keep, scores, 0.0)


def _filter_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: meta[k] for k in FILTER_FIELDS if k in meta}


def _sentence_metadata(unit: SentenceUnit) -> dict[str, Any]:
    chunk = unit.chunk
    return {
        "chunk_id": chunk.id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "position": unit.position,
        **_filter_fields(chunk.metadata),
    }


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def _chunk_order(chunk_id: str) -> tuple[str, int]:
    doc, _, pos = chunk_id.rpartition(":")
    return doc, int(pos) if pos.isdigit() else 0


def _lexical_text(title: str, section: Any, text: str) -> str:
    # Titles and headings carry the words people search with, so BM25 reads them too.
    return " ".join(part for part in (title, str(section or ""), text) if part)
