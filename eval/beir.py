"""BEIR benchmarks: a BEIR folder indexed with Casebook's own pieces and scored with ranx.

Each corpus row becomes one passage (title and text, as the published BEIR baselines index
them), stored through the same embedder, sentence units, Store and BM25 indexes as a library;
each method is a :class:`Retriever` with ``RetrievalParams(method=...)``, so changes to
retrieval show up here unchanged. A document's score is its best passage's score, and the top
``top_docs`` documents are scored with ranx (trec_eval-compatible nDCG@10, Recall@100, MRR@10).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant.retrieval import RetrievalParams, Retriever
from eval.metrics import percentile
from vectorstore import Chunk, DataError, Embedder, IndexInfo, Store
from vectorstore.bm25 import BM25Params
from vectorstore.indexing import Pending, index_documents

log = logging.getLogger(__name__)

BEIR_METRICS = ("ndcg@10", "recall@100", "mrr@10")
DEFAULT_METHODS = ("bm25", "dense", "hybrid")
LAYOUT = "a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/test.tsv"
MARKER = "beir.json"


@dataclass(frozen=True)
class BeirDataset:
    """A BEIR test split: the corpus rows, the queries and the relevance judgements."""

    name: str
    corpus: tuple[tuple[str, str, str], ...]  # (_id, title, text)
    queries: Mapping[str, str]
    qrels: Mapping[str, Mapping[str, int]]
    fingerprint: str


@dataclass(frozen=True)
class BeirResults:
    """The scores of each retrieval method on one dataset, with latencies and index cost."""

    dataset: str
    runs: Mapping[str, Mapping[str, float]]
    latency: Mapping[str, Mapping[str, float | None]]
    index_seconds: float
    index_cached: bool
    documents: int
    chunks: int
    queries: int
    candidates: int

    def to_json(self) -> dict[str, Any]:
        """Return {"dataset", "runs": {method: {metric: value}}, "latency", "index_seconds", ...}."""
        return {
            "dataset": self.dataset,
            "runs": {m: dict(v) for m, v in self.runs.items()},
            "latency": {m: dict(v) for m, v in self.latency.items()},
            "index_seconds": self.index_seconds,
            "index_cached": self.index_cached,
            "documents": self.documents,
            "chunks": self.chunks,
            "queries": self.queries,
            "candidates": self.candidates,
        }


def load_beir(folder: Path) -> BeirDataset:
    """Return the dataset in a BEIR folder; raise DataError naming the file, line and fix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder. Give a BEIR dataset folder ({LAYOUT})")
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_path = folder / "qrels" / "test.tsv"
    for path in (corpus_path, queries_path, qrels_path):
        if not path.is_file():
            raise DataError(f"{path}: missing; {LAYOUT}")
    corpus = tuple(
        (row["_id"], str(row.get("title") or ""), row["text"]) for row in _jsonl(corpus_path, needs="text")
    )
    queries = {row["_id"]: row["text"] for row in _jsonl(queries_path, needs="text")}
    qrels = _qrels(qrels_path, queries)
    digest = hashlib.sha256(corpus_path.read_bytes()).hexdigest()
    return BeirDataset(folder.name, corpus, queries, qrels, digest)


def _jsonl(path: Path, *, needs: str) -> list[dict[str, Any]]:
    rows = []
    hint = f"each line must be one JSON object with _id and {needs}"
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: line {n} is not valid JSON ({exc.msg}); {hint}") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}: line {n} is not a JSON object; {hint}")
        for key in ("_id", needs):
            if not isinstance(row.get(key), str | int):
                raise DataError(f"{path}: line {n}: '{key}' is missing; {hint}")
        rows.append({**row, "_id": str(row["_id"]), needs: str(row[needs])})
    if not rows:
        raise DataError(f"{path}: empty; {hint}")
    return rows


def _qrels(path: Path, queries: Mapping[str, str]) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    hint = "each line after the header is query-id, corpus-id and score, separated by tabs"
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.strip().split("\t")
        if not line.strip() or (n == 1 and fields[0] == "query-id"):
            continue
        if len(fields) != 3 or not fields[2].lstrip("-").isdigit():
            raise DataError(f"{path}: line {n} is {line!r}; {hint}")
        query_id, doc_id, relevance = fields[0], fields[1], int(fields[2])
        if query_id not in queries:
            raise DataError(
                f"{path}: line {n}: query-id {query_id!r} is not in queries.jsonl; "
                "add the query there or remove the line"
            )
        qrels.setdefault(query_id, {})[doc_id] = relevance
    if not any(score > 0 for judged in qrels.values() for score in judged.values()):
        raise DataError(f"{path}: no relevance judgements with a score above 0; {hint}")
    return qrels


def build_index(
    dataset: BeirDataset,
    data_dir: Path,
    embedder: Embedder,
    *,
    bm25: BM25Params | None = None,
    progress: bool = False,
) -> tuple[Store, float, bool]:
    """Index the corpus under ``data_dir`` (reusing an index of the same corpus there).

    Return the store, the seconds spent building and whether a cached index was reused.
    """
    store, bm25 = Store(data_dir), bm25 or BM25Params()
    # chunk_tokens 0: one passage per corpus row, unsplit.
    store.adopt(IndexInfo.describe(embedder, chunk_tokens=0, chunk_overlap=0, bm25=bm25))
    marker = Path(data_dir) / MARKER
    if marker.is_file():
        built = json.loads(marker.read_text(encoding="utf-8"))
        if built.get("corpus_sha256") != dataset.fingerprint:
            raise DataError(
                f"{data_dir} holds the index of another corpus ({built.get('dataset')}). "
                "Delete that folder or give another --cache folder"
            )
        if built.get("chunks") == store.count():
            log.info("beir index reused dataset=%s data_dir=%s", dataset.name, data_dir)
            return store, 0.0, True
    elif store.count() > 0:
        raise DataError(
            f"{data_dir} already holds an index that is not a finished BEIR index. "
            "Delete that folder or give an empty --cache folder"
        )
    started = time.perf_counter()
    chunks = corpus_chunks(dataset)
    bar = tqdm(total=len(chunks), desc="Encoding corpus", unit="chunk", disable=not progress)
    try:  # the path of `casebook ingest`: one document per row, encoded in batches, written as they come
        index_documents(store, embedder, (Pending([c]) for c in chunks), written=lambda _: bar.update())
    finally:
        bar.close()
    store.rebuild_bm25(bm25)
    seconds = round(time.perf_counter() - started, 1)
    record = {"dataset": dataset.name, "corpus_sha256": dataset.fingerprint, "chunks": len(chunks)}
    marker.write_text(json.dumps(record, indent=2), encoding="utf-8")
    log.info("beir index built dataset=%s chunks=%d seconds=%.1f", dataset.name, len(chunks), seconds)
    return store, seconds, False


def corpus_chunks(dataset: BeirDataset) -> list[Chunk]:
    """Return one passage per corpus row; its source and doc_id are the row's _id."""
    return [
        Chunk(id=f"{doc_id}:0000", doc_id=doc_id, text=text or title, title=title, source=doc_id, position=0)
        for doc_id, title, text in dataset.corpus
        if text.strip() or title.strip()
    ]


def run_beir(
    dataset: BeirDataset,
    store: Store,
    embedder: Embedder,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    candidates: int = 100,
    top_docs: int = 100,
    progress: bool = False,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float | None]]]:
    """Rank the judged queries with each method; return (metrics per method, latency per method)."""
    query_ids = [q for q in dataset.queries if q in dataset.qrels]
    vectors = embedder.embed([dataset.queries[q] for q in query_ids])
    runs, latency = {}, {}
    for method in methods:
        params = replace(RetrievalParams(), method=method, candidates=candidates)
        retriever = Retriever(store, embedder, params)
        run: dict[str, dict[str, float]] = {}
        times = []
        for query_id, vector in tqdm(
            list(zip(query_ids, vectors, strict=True)), desc=f"Ranking ({method})", disable=not progress
        ):
            began = time.perf_counter()
            ranked = retriever.rank(dataset.queries[query_id], vector=vector)
            times.append((time.perf_counter() - began) * 1000)
            run[query_id] = documents_by_max(ranked, top_docs)
        runs[method] = evaluate(dataset.qrels, run)
        latency[method] = {"p50_ms": _round(percentile(times, 50)), "p95_ms": _round(percentile(times, 95))}
        log.info("beir method=%s %s", method, runs[method])
    return runs, latency


def documents_by_max(ranked: Sequence[tuple[str, float, float]], top_docs: int) -> dict[str, float]:
    """Return the ``top_docs`` best documents of a chunk ranking, each scored by its best chunk."""
    docs: dict[str, float] = {}
    for chunk_id, score, _ in ranked:  # best first, so a document's first chunk is its best
        doc_id = chunk_id.rpartition(":")[0]
        if doc_id not in docs:
            docs[doc_id] = score
            if len(docs) == top_docs:
                break
    return docs


def evaluate(
    qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Return nDCG@10, Recall@100 and MRR@10 of ``run`` with ranx (queries missing from it score 0)."""
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    ranked = {q: dict(docs) for q, docs in run.items() if docs}
    if not ranked:
        return dict.fromkeys(BEIR_METRICS, 0.0)
    scores = ranx_evaluate(
        Qrels({q: dict(d) for q, d in qrels.items()}), Run(ranked), list(BEIR_METRICS), make_comparable=True
    )
    return {metric: round(float(scores[metric]), 4) for metric in BEIR_METRICS}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
