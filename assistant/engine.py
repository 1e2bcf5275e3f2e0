"""The engine: the settings turned into a store, a retriever and an answerer, behind ``ask``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from assistant.answers import Answer, abstain
from assistant.extractive import ExtractiveAnswerer
from assistant.retrieval import RetrievalParams, Retriever
from assistant.settings import Settings
from vectorstore import Embedder, Filter, IndexInfo, Store, parse_filter
from vectorstore.bm25 import BM25Params

log = logging.getLogger(__name__)


class Casebook:
    """One library, ready to answer questions; parts are built on first use."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self.store = Store(settings.data_dir, chroma_url=settings.chroma_url)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(self.settings.embed_model_path)
        return self._embedder

    def index_info(self) -> IndexInfo:
        """Return what an index built with these settings records."""
        return IndexInfo.describe(
            self.embedder,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            bm25=BM25Params(),
        )

    def require_index(self) -> None:
        """Raise unless there is an index these settings can read."""
        self.store.require(self.index_info())

    @functools.cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store, self.embedder, RetrievalParams())

    @functools.cached_property
    def answerer(self) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(self.embedder, self.store.bm25.tokenize, self.store.bm25.idf)

    def parse_filters(self, expressions: Sequence[str]) -> list[Filter]:
        """Return the filters the expressions mean, resolved against the index's values."""
        if not expressions:
            return []
        known = self.store.facets()
        return [parse_filter(e, known) for e in expressions]

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Sequence[Filter] = (),
        search_query: str | None = None,
    ) -> Answer:
        """Return the cited answer to ``question``, or an abstention when the library lacks one.

        ``search_query`` (e.g. a follow-up rewritten with the conversation's subject) is what
        is searched and quoted against; ``question`` is what the user asked.
        """
        self.require_index()
        query = (search_query or question).strip()
        vector = self.embedder.embed_query(query)
        passages = self.retriever.search(query, k or self.settings.top_k, filters, vector=vector)
        best = max((p.similarity for p in passages), default=0.0)
        log.info("ask query=%r passages=%d best_similarity=%.3f", query, len(passages), best)
        if best < self.settings.min_similarity:
            return abstain(question, query)
        return self.answerer.answer(question, passages, search_query=query, query_vector=vector)
