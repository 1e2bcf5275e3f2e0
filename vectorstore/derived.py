"""Derived indexes: BM25 over chunks and over three-sentence windows, filter columns and facets,
and the sentence vectors of every chunk, rebuilt from Chroma's complete documents and stamped
with the generation they were built from.

Under ``data_dir/derived/``::

    CURRENT          names the folder of the newest complete build (replaced atomically)
    gen-<G>-<tag>/   one build: chunks/ and windows/ (bm25s), sentences.npy (float16, one row per
                     sentence, chunk by chunk) and sentence_starts.npy (each chunk's first row),
                     and build.json (its generation and format)
    docs/            one file of tokens per document version (``<doc_id>.<hash>.json``) and one of
                     its sentence vectors (``.npy``), so a rebuild reads from Chroma only the
                     documents that changed

The sentence vectors are memory-mapped and read only for a query's candidate chunks: the
best-sentence score costs a few hundred rows per query, not a library-wide nearest-neighbour
index held in memory (Chroma's sentence HNSW, about 2 KB a sentence, is no longer queried).

A build folder is whole before CURRENT names it: a crash leaves the previous build (stale,
known by its generation, and rebuilt) or the new one, never a mix.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.access import EVERYTHING, Access, groups_of
from vectorstore.bm25 import BM25Index, BM25Params
from vectorstore.faults import crash_point
from vectorstore.files import remove_tree, sync_folder, write_atomic, write_json_atomic
from vectorstore.filters import Filter
from vectorstore.ledger import DocumentRecord
from vectorstore.records import FILTER_FIELDS
from vectorstore.sentences import windows

log = logging.getLogger(__name__)
FORMAT = 2  # build.json "format": 2 added the sentence vectors
ACCESS = "access"  # the derived metadata key holding the groups allowed to read a chunk


@dataclass(frozen=True)
class DocEntry:
    """One document's part of the derived indexes: its chunks' and windows' tokens."""

    doc_id: str
    content_hash: str
    chunk_ids: list[str]
    chunk_texts: list[str]
    chunk_tokens: list[list[str]]
    chunk_meta: list[dict[str, Any]]
    window_owners: list[str]
    window_tokens: list[list[str]]
    sentence_counts: list[int]  # sentences of each chunk, in chunk order (rows of its vectors)


class EntryCache:
    """Document entries by (doc_id, content hash): in memory, and on disk when ``folder`` is set."""

    def __init__(self, folder: Path | None, *, writable: bool = False) -> None:
        self.folder = folder
        self.writable = writable  # only writers (holding the lock) write files
        self.memory: dict[str, DocEntry] = {}
        self.memory_vectors: dict[str, np.ndarray] = {}  # only for entries not written to disk

    def get(self, record: DocumentRecord, *, keep: bool = True) -> DocEntry | None:
        """Return the entry of this version of the document, or None; one read from disk is kept
        in memory only when ``keep``."""
        entry = self.memory.get(record.doc_id)
        if entry is not None and entry.content_hash == record.content_hash:
            return entry
        path = self._path(record.doc_id, record.content_hash)
        if path is None or not path.is_file():
            return None
        try:
            entry = DocEntry(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        if keep:
            self.memory[record.doc_id] = entry
        return entry

    def vectors(self, record: DocumentRecord) -> np.ndarray | None:
        """Return the sentence vectors of this version of the document, or None."""
        kept = self.memory_vectors.get(_key(record.doc_id, record.content_hash))
        if kept is not None:
            return kept
        path = self._path(record.doc_id, record.content_hash)
        if path is None:
            return None
        try:
            return np.load(path.with_suffix(".npy"), allow_pickle=False)
        except (OSError, ValueError):
            return None

    def put(self, entry: DocEntry, vectors: np.ndarray) -> None:
        self.memory[entry.doc_id] = entry
        path = self._path(entry.doc_id, entry.content_hash)
        if path is not None and self.writable:
            # The vectors first: an entry on disk always has its vectors beside it.
            write_atomic(path.with_suffix(".npy"), _npy(vectors))
            write_json_atomic(path, asdict(entry))
        else:
            key = _key(entry.doc_id, entry.content_hash)
            self.memory_vectors[key] = np.asarray(vectors, dtype=np.float16)

    def keep_only(self, records: Mapping[str, DocumentRecord]) -> None:
        """Forget entries of documents no longer in ``records`` (and their files)."""
        self.memory = {d: e for d, e in self.memory.items() if d in records}
        current = {_key(r.doc_id, r.content_hash) for r in records.values()}
        self.memory_vectors = {k: v for k, v in self.memory_vectors.items() if k in current}
        if self.folder is None or not self.writable or not self.folder.is_dir():
            return
        wanted = {f"{r.doc_id}.{short_hash(r.content_hash)}" for r in records.values()}
        for path in [*self.folder.glob("*.json"), *self.folder.glob("*.npy")]:
            if path.name.rsplit(".", 1)[0] not in wanted:
                path.unlink(missing_ok=True)

    def _path(self, doc_id: str, content_hash: str) -> Path | None:
        return None if self.folder is None else self.folder / f"{doc_id}.{short_hash(content_hash)}.json"


class Columns:
    """Each filter field of every chunk as an integer code column, so a filter is a numpy mask.

    The groups allowed to read each chunk are one more column (code -1: not restricted), so an
    :class:`Access` is a mask too, decided once per distinct set of groups.
    """

    def __init__(self, metadatas: Sequence[Mapping[str, Any]]) -> None:
        self.values: dict[str, list[Any]] = {}
        self.codes: dict[str, np.ndarray] = {}
        self.size = len(metadatas)
        for field in FILTER_FIELDS:
            column = [m.get(field) for m in metadatas]
            distinct = _sorted({v for v in column if v is not None})
            code = {v: i for i, v in enumerate(distinct)}
            self.values[field] = distinct
            self.codes[field] = np.fromiter(
                (code.get(v, -1) for v in column), dtype=np.int32, count=len(column)
            )
        sets = [tuple(m[ACCESS]) if m.get(ACCESS) else None for m in metadatas]
        self.access_sets = sorted({s for s in sets if s is not None})
        code = {s: i for i, s in enumerate(self.access_sets)}
        self.access_codes = np.fromiter(
            (code.get(s, -1) if s is not None else -1 for s in sets), dtype=np.int32, count=len(sets)
        )

    def mask(self, filters: Sequence[Filter], access: Access = EVERYTHING) -> np.ndarray:
        """Return which chunks satisfy every filter and ``access`` (decided once per distinct value)."""
        keep = self.visible(access)
        for flt in filters:
            # The last slot answers for chunks without the field (code -1).
            ok = [flt.matches({flt.field: v}) for v in self.values[flt.field]] + [flt.matches({})]
            keep &= np.asarray(ok, dtype=bool)[self.codes[flt.field]]
        return keep

    def visible(self, access: Access) -> np.ndarray:
        """Return which chunks ``access`` may read."""
        if access.everything or not self.access_sets:
            return np.ones(self.size, dtype=bool)
        # The last slot answers for chunks open to everyone (code -1).
        ok = [access.allows(groups) for groups in self.access_sets] + [True]
        return np.asarray(ok, dtype=bool)[self.access_codes]


class Snapshot:
    """The derived indexes of one generation, ready to score queries."""

    def __init__(
        self,
        generation: int,
        chunks: BM25Index,
        windows: BM25Index,
        sentences: np.ndarray,
        sentence_starts: np.ndarray,
    ) -> None:
        self.generation = generation
        self.chunks = chunks
        self.windows = windows
        self.sentences = sentences  # float16 (rows, dim), memory-mapped once saved
        self.sentence_starts = sentence_starts  # int64 (chunks + 1): chunk i owns rows [s[i], s[i+1])
        position = {cid: i for i, cid in enumerate(chunks.ids)}
        self.owner_index = np.fromiter(
            (position[o] for o in windows.ids), dtype=np.int64, count=len(windows.ids)
        )
        # Ties rank by chunk id, as they always have.
        self.rank = np.argsort(np.argsort(np.asarray(chunks.ids, dtype=object), kind="stable"))
        self.columns = Columns(chunks.metadatas)
        self.chunk_ids = frozenset(chunks.ids)
        self.position = position

    def facets(self, access: Access = EVERYTHING) -> dict[str, list[Any]]:
        """Return the distinct values of each filter field among the chunks ``access`` may read."""
        columns = self.columns
        if access.everything:
            return {field: list(values) for field, values in columns.values.items()}
        visible = columns.visible(access)
        facets = {}
        for field, values in columns.values.items():
            used = set(columns.codes[field][visible].tolist())
            facets[field] = [v for i, v in enumerate(values) if i in used]
        return facets

    def document_frequency(self, tokens: set[str], access: Access = EVERYTHING) -> dict[str, int]:
        """Return how many chunks ``access`` may read contain each (already tokenised) term."""
        if access.everything or not self.columns.access_sets:
            return self.chunks.document_frequency(tokens)
        return self.chunks.document_frequency(tokens, self.columns.visible(access))

    def lexical(
        self, query: str, k: int, filters: Sequence[Filter], access: Access = EVERYTHING
    ) -> list[tuple[str, float]]:
        scores = self.chunks.scores(query)
        if filters or not access.everything:
            scores = np.where(self.columns.mask(filters, access), scores, 0.0)
        return self._top(scores, k)

    def lexical_parts(
        self, query: str, k: int, filters: Sequence[Filter], access: Access = EVERYTHING
    ) -> list[tuple[str, float]]:
        scores = self.windows.scores(query)
        if filters or not access.everything:
            scores = np.where(self.columns.mask(filters, access)[self.owner_index], scores, 0.0)
        best = np.zeros(len(self.chunks.ids), dtype=np.float32)
        hit = np.flatnonzero(scores > 0)
        np.maximum.at(best, self.owner_index[hit], scores[hit])
        return self._top(best, k)

    def dense_parts(self, vector: np.ndarray, candidates: Sequence[str], k: int) -> list[tuple[str, float]]:
        """Return up to ``k`` (chunk id, cosine of its best sentence) among ``candidates``, best first.

        Exact, and over the candidates only (the other signals' top lists, already filtered),
        so it reads a few hundred rows of the memory-mapped vectors whatever the library's size.
        """
        index = np.fromiter(
            (i for c in dict.fromkeys(candidates) if (i := self.position.get(c)) is not None), dtype=np.int64
        )
        starts, ends = self.sentence_starts[index], self.sentence_starts[index + 1]
        has = ends > starts
        index, starts, ends = index[has], starts[has], ends[has]
        if not len(index):
            return []
        # Each candidate's rows, one after another: candidate j's start at ``offsets[j]``.
        lengths = ends - starts
        offsets = np.cumsum(lengths) - lengths
        rows = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
        cosines = np.asarray(self.sentences[rows], dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
        best = np.maximum.reduceat(cosines, offsets)
        order = np.lexsort((self.rank[index], -best))[:k]
        return [(self.chunks.ids[index[j]], float(best[j])) for j in order]

    def _top(self, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        found = np.flatnonzero(scores > 0)
        if len(found) > k:
            floor = np.partition(scores[found], len(found) - k)[len(found) - k]
            found = found[scores[found] >= floor]
        order = found[np.lexsort((self.rank[found], -scores[found]))][:k]
        return [(self.chunks.ids[i], float(scores[i])) for i in order]

    def save(self, root: Path) -> None:
        """Write this build under ``root`` and make it the current one."""
        tag = f"gen-{self.generation}-{os.getpid()}-{time.time_ns()}"
        tmp = root / f".{tag}.tmp"
        self.chunks.save(tmp / "chunks")
        self.windows.save(tmp / "windows")
        write_atomic(tmp / "sentences.npy", _npy(self.sentences))
        write_atomic(tmp / "sentence_starts.npy", _npy(self.sentence_starts, np.int64))
        write_json_atomic(tmp / "build.json", {"generation": self.generation, "format": FORMAT})
        crash_point("derived")
        os.replace(tmp, root / tag)
        sync_folder(root)
        write_atomic(root / "CURRENT", tag)
        for old in root.glob("gen-*"):
            if old.name != tag:
                remove_tree(old)
        for old in root.glob(".gen-*.tmp"):
            remove_tree(old)

    @classmethod
    def load(cls, root: Path) -> Snapshot | None:
        """Return the current build under ``root``, or None when there is none (or it vanished)."""
        try:
            folder = root / (root / "CURRENT").read_text(encoding="utf-8").strip()
            built = json.loads((folder / "build.json").read_text(encoding="utf-8"))
            if built.get("format") != FORMAT:
                return None  # an older build: rebuilt (from the cached tokens) like a stale one
            return cls(
                int(built["generation"]),
                BM25Index.load(folder / "chunks"),
                BM25Index.load(folder / "windows"),
                np.load(folder / "sentences.npy", mmap_mode="r", allow_pickle=False),
                np.load(folder / "sentence_starts.npy", allow_pickle=False),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def build(
    records: Mapping[str, DocumentRecord],
    generation: int,
    params: BM25Params,
    cache: EntryCache,
    fetch: Callable[[DocumentRecord], tuple[DocEntry, np.ndarray]],
) -> Snapshot:
    """Return the derived indexes over ``records``, fetching only documents not in ``cache``."""
    entries, vectors, fetched = [], [], 0
    for doc_id in sorted(records):
        entry = cache.get(records[doc_id])
        found = None if entry is None else cache.vectors(records[doc_id])
        if entry is None or found is None:
            entry, found = fetch(records[doc_id])
            cache.put(entry, found)
            fetched += 1
        entries.append(entry)
        vectors.append(np.asarray(found, dtype=np.float16))
    cache.keep_only(records)
    counts = np.fromiter((n for e in entries for n in e.sentence_counts), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    held = [v for v in vectors if len(v)]
    matrix = np.concatenate(held) if held else np.zeros((0, 0), dtype=np.float16)
    chunks = BM25Index.from_tokens(
        _flat(e.chunk_ids for e in entries),
        _flat(e.chunk_tokens for e in entries),
        _flat(e.chunk_meta for e in entries),
        params,
    )
    windows = BM25Index.from_tokens(
        _flat(e.window_owners for e in entries), _flat(e.window_tokens for e in entries), [], params
    )
    log.info("derived built generation=%d documents=%d fetched=%d", generation, len(entries), fetched)
    return Snapshot(generation, chunks, windows, matrix, starts)


def _flat(parts: Iterable[list[Any]]) -> list[Any]:
    return [item for part in parts for item in part]


def _npy(array: np.ndarray, dtype: Any = np.float16) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=dtype), allow_pickle=False)
    return buffer.getvalue()


def _key(doc_id: str, content_hash: str) -> str:
    return f"{doc_id}.{short_hash(content_hash)}"


def short_hash(content_hash: str) -> str:
    return "".join(ch for ch in content_hash if ch.isalnum())[-24:] or "none"


def _sorted(values: set[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def fetch_entry(
    record: DocumentRecord, collection: Any, sentences: Any, tokenizer: BM25Index
) -> tuple[DocEntry, np.ndarray]:
    """Return one document's entry, read from Chroma (its chunks and sentences) and tokenised,
    and its sentence vectors (one row per sentence, chunk by chunk, in reading order)."""
    got = collection.get(where={"doc_id": record.doc_id}, include=["documents", "metadatas"])
    parts = sentences.get(where={"doc_id": record.doc_id}, include=["documents", "metadatas", "embeddings"])
    return entry_of(
        record,
        zip(got["ids"], got["documents"], got["metadatas"], strict=True),
        (
            (str(meta["chunk_id"]), int(meta["position"]), str(text), vector)
            for text, meta, vector in zip(
                parts["documents"], parts["metadatas"], parts["embeddings"], strict=True
            )
        ),
        tokenizer,
    )


def entry_of(
    record: DocumentRecord,
    chunk_rows: Iterable[tuple[str, str, Mapping[str, Any]]],
    sentence_rows: Iterable[tuple[str, int, str, Any]],
    tokenizer: BM25Index,
) -> tuple[DocEntry, np.ndarray]:
    """Return one document's entry and sentence vectors from its chunks (id, text, metadata) and
    sentences (chunk id, position, text, vector): as read back from Chroma, or as just written."""
    rows = sorted(chunk_rows, key=lambda row: int(row[2].get("position", 0)))
    grouped: dict[str, list[tuple[int, str, Any]]] = {}
    for chunk_id, position, text, vector in sentence_rows:
        grouped.setdefault(chunk_id, []).append((position, text, vector))
    owners, window_texts, counts, vectors = [], [], [], []
    for cid, _, meta in rows:
        found = sorted(grouped.get(cid, []), key=lambda row: row[0])
        counts.append(len(found))
        vectors.extend(v for _, _, v in found)
        for text in windows(str(meta.get("title", "")), [t for _, t, _ in found]):
            owners.append(cid)
            window_texts.append(text)
    lexical = [lexical_text(str(m.get("title", "")), m.get("section"), str(t)) for _, t, m in rows]
    return DocEntry(
        doc_id=record.doc_id,
        content_hash=record.content_hash,
        chunk_ids=[cid for cid, _, _ in rows],
        chunk_texts=[str(t) for _, t, _ in rows],
        chunk_tokens=tokenizer.tokenize(lexical) if lexical else [],
        chunk_meta=[_chunk_meta(m) for _, _, m in rows],
        window_owners=owners,
        window_tokens=tokenizer.tokenize(window_texts) if window_texts else [],
        sentence_counts=counts,
    ), (np.asarray(vectors, dtype=np.float16) if vectors else np.zeros((0, 0), dtype=np.float16))


def _chunk_meta(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Return what the derived indexes keep of a chunk's metadata: filter fields and access."""
    kept = {k: metadata[k] for k in FILTER_FIELDS if k in metadata}
    groups = groups_of(metadata)
    if groups is not None:
        kept[ACCESS] = list(groups)
    return kept


def lexical_text(title: str, section: Any, text: str) -> str:
    """Return what BM25 reads of a chunk: titles and headings carry the words people search with."""
    return " ".join(part for part in (title, str(section or ""), text) if part)
