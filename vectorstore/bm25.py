"""The BM25 side index: bm25s over the same chunks as Chroma, derived from it (see derived.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer

from vectorstore.files import write_json_atomic

log = logging.getLogger(__name__)
# bm25s sets its own logger to DEBUG when imported, so "DEBUG bm25s Building index from tokens"
# reached every ingest's output: its messages show from warnings up, like the other libraries'.
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass(frozen=True)
class BM25Params:
    """How the index tokenises and scores; saved with it so a reload scores the same way."""

    k1: float = 1.5
    b: float = 0.75
    stopwords: str = "en"
    stemmer: str = "english"


class BM25Index:
    """Scores every chunk of the library against a query with Okapi BM25 (Lucene variant)."""

    def __init__(
        self,
        ids: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
        model: bm25s.BM25 | None,
        params: BM25Params,
    ) -> None:
        self.ids = list(ids)
        self.metadatas = list(metadatas)
        self.params = params
        self._model = model
        self._stemmer = Stemmer.Stemmer(params.stemmer)

    @classmethod
    def build(
        cls,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, Any]],
        params: BM25Params | None = None,
    ) -> BM25Index:
        """Return an index over ``texts``; ``ids`` and ``metadatas`` are kept in the same order."""
        params = params or BM25Params()
        tokens = cls([], [], None, params).tokenize(texts) if texts else []
        return cls.from_tokens(ids, tokens, metadatas, params)

    @classmethod
    def from_tokens(
        cls,
        ids: Sequence[str],
        tokens: Sequence[Sequence[str]],
        metadatas: Sequence[Mapping[str, Any]],
        params: BM25Params,
    ) -> BM25Index:
        """Return an index over texts already tokenised by :meth:`tokenize` (kept per document,
        so a rebuild after a few changes re-tokenises only those)."""
        index = cls(ids, metadatas, None, params)
        if any(tokens):
            model = bm25s.BM25(k1=params.k1, b=params.b)
            model.index([list(t) for t in tokens], show_progress=False)
            index._model = model
        return index

    def tokenize(self, texts: Sequence[str]) -> list[list[str]]:
        """Return the stemmed, stop-worded tokens of each text."""
        return bm25s.tokenize(
            list(texts),
            stopwords=self.params.stopwords,
            stemmer=self._stemmer,
            return_ids=False,
            show_progress=False,
        )

    def scores(self, query: str) -> np.ndarray:
        """Return the BM25 score of every chunk for ``query``, in ``ids`` order."""
        tokens = self.tokenize([query])[0]
        if self._model is None or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)

    def document_frequency(self, tokens: set[str], among: np.ndarray | None = None) -> dict[str, int]:
        """Return how many chunks contain each (already tokenised) term; only the chunks ``among``
        marks (a boolean mask in ``ids`` order) when it is given."""
        if self._model is None:
            return dict.fromkeys(tokens, 0)
        vocab, indptr = self._model.vocab_dict, self._model.scores["indptr"]
        if among is None:
            return {t: int(indptr[vocab[t] + 1] - indptr[vocab[t]]) if t in vocab else 0 for t in tokens}
        holders = self._model.scores["indices"]  # per term, the chunks holding it
        return {
            t: int(among[holders[indptr[vocab[t]] : indptr[vocab[t] + 1]]].sum()) if t in vocab else 0
            for t in tokens
        }

    def idf(self, tokens: set[str]) -> dict[str, float]:
        """Return the inverse document frequency of each term (rare words weigh more)."""
        n = max(len(self.ids), 1)
        return {
            t: float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
            for t, df in self.document_frequency(tokens).items()
        }

    def save(self, folder: Path) -> None:
        """Write the index to ``folder``, a new folder that the caller renames into place."""
        folder.mkdir(parents=True, exist_ok=True)
        if self._model is not None:
            self._model.save(str(folder / "model"))
        payload = {"params": asdict(self.params), "ids": self.ids, "metadatas": self.metadatas}
        write_json_atomic(folder / "chunks.json", payload)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        """Read an index written by :meth:`save`; its score matrix is memory-mapped (a query reads
        the rows of its own terms), so a large library's index is not all held in memory."""
        payload = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
        params = BM25Params(**payload["params"])
        model = bm25s.BM25.load(str(folder / "model"), mmap=True) if (folder / "model").is_dir() else None
        return cls(payload["ids"], payload["metadatas"], model, params)
