"""Hybrid retrieval: dense (Chroma) and BM25 candidates, fused, near-duplicates dropped.

Fusion methods (``method``):

- ``hybrid`` (default): every candidate from either list gets both a dense cosine and a BM25
  score; each score is normalised over the pool and the two are mixed with ``dense_weight``.
- ``rrf``: reciprocal rank fusion, 1/(60 + rank), summed over the two lists.
- ``dense`` / ``bm25``: one retriever alone (for measurement).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from vectorstore import Embedder, Filter, Passage, Store

log = logging.getLogger(__name__)

Method = Literal["hybrid", "rrf", "dense", "bm25"]
METHODS: tuple[str, ...] = ("hybrid", "rrf", "dense", "bm25")
RRF_K = 60
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class RetrievalParams:
    """How candidates are gathered and fused."""

    method: Method = "hybrid"
    candidates: int = 100
    dense_weight: float = 0.5
    duplicate_overlap: float = 0.8


class Retriever:
    """Finds the passages of the library that best match a query."""

    def __init__(self, store: Store, embedder: Embedder, params: RetrievalParams | None = None):
        self.store = store
        self.embedder = embedder
        self.params = params or RetrievalParams()

    def search(
        self,
        query: str,
        k: int = 5,
        filters: Sequence[Filter] = (),
        *,
        vector: np.ndarray | None = None,
    ) -> list[Passage]:
        """Return the ``k`` best distinct passages for ``query``, best first."""
        scored = self.rank(query, filters, vector=vector)
        chunks = self.store.chunks([cid for cid, _, _ in scored[: max(k * 4, 20)]])
        passages: list[Passage] = []
        for cid, score, similarity in scored:
            chunk = chunks.get(cid)
            if chunk is None:
                continue
            if any(_overlap(chunk.text, p.chunk.text) >= self.params.duplicate_overlap for p in passages):
                continue
            passages.append(Passage(chunk=chunk, score=score, similarity=similarity))
            if len(passages) == k:
                break
        return passages

    def rank(
        self, query: str, filters: Sequence[Filter] = (), *, vector: np.ndarray | None = None
    ) -> list[tuple[str, float, float]]:
        """Return (chunk id, fused score, cosine similarity) for every candidate, best first."""
        p = self.params
        vector = self.embedder.embed_query(query) if vector is None else vector
        dense = [] if p.method == "bm25" else self.store.dense(vector, p.candidates, filters)
        lexical = [] if p.method == "dense" else self.store.lexical(query, p.candidates, filters)
        similarity = dict(dense)
        missing = [cid for cid, _ in lexical if cid not in similarity]
        similarity.update(self.store.similarities(vector, missing))

        if p.method == "dense":
            fused = dict(dense)
        elif p.method == "bm25":
            fused = dict(lexical)
        elif p.method == "rrf":
            fused = _rrf([dense, lexical])
        else:
            fused = _score_fusion(similarity, dict(lexical), p.dense_weight)
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        return [(cid, float(score), float(similarity.get(cid, 0.0))) for cid, score in ranked]


def _rrf(lists: Sequence[Sequence[tuple[str, float]]]) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranking in lists:
        for rank, (cid, _) in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    return fused


def _score_fusion(
    dense: dict[str, float], lexical: dict[str, float], dense_weight: float
) -> dict[str, float]:
    """Mix min-max normalised dense and BM25 scores over the union of candidates."""
    pool = sorted(set(dense) | set(lexical))
    if not pool:
        return {}
    d = _minmax(np.array([dense.get(cid, 0.0) for cid in pool]))
    b = _minmax(np.array([lexical.get(cid, 0.0) for cid in pool]))
    mixed = dense_weight * d + (1.0 - dense_weight) * b
    return dict(zip(pool, mixed.tolist(), strict=True))


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        return np.zeros_like(values) if high <= 0 else np.ones_like(values)
    return (values - low) / (high - low)


def _overlap(a: str, b: str) -> float:
    """Return the share of the shorter text's words found in the other (1.0: a duplicate)."""
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / min(len(wa), len(wb))
