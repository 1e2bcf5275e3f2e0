"""The engine: the settings turned into a store, a retriever and an answerer, behind ``ask``."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answers import Answer
from assistant.extractive import ExtractiveAnswerer
from assistant.glossary import Glossary, load_acronyms
from assistant.retrieval import RetrievalParams, Retriever
from assistant.settings import Settings
from vectorstore import Embedder, Filter, IndexInfo, Passage, Store, parse_filter
from vectorstore.bm25 import BM25Params

log = logging.getLogger(__name__)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d{4}")
_YEAR = re.compile(r"(19|20)\d{2}")


@dataclass(frozen=True)
class Retrieval:
    """What a search found: the query searched (acronyms expanded), the passages, and when
    there are none, why (``reason`` is shown to the user)."""

    query: str
    passages: list[Passage]
    vector: np.ndarray | None
    reason: str | None


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
    def glossary(self) -> Glossary:
        """Return the acronyms of the user's file, completed from the library's own names."""
        return Glossary(load_acronyms(self.settings.acronyms_file), self.store.texts())

    @functools.cached_property
    def answerer(self) -> ExtractiveAnswerer:
        return ExtractiveAnswerer(
            self.embedder,
            self.store.bm25.tokenize,
            self.store.bm25.idf,
            aliases=self.glossary.meaning,
            mentions=self.mentions,
        )

    def mentions(self, names: Sequence[str], *, documents: int = 5) -> list[Passage]:
        """Return the best passage of each document that mentions every one of ``names``."""
        bm25 = self.store.bm25
        wanted = [[set(t) for t in bm25.tokenize([n, self.glossary.meaning(n) or n]) if t] for n in names]
        ranked = self.store.lexical(" ".join(names), 100)
        chunks = self.store.chunks([cid for cid, _ in ranked])
        found: dict[str, Passage] = {}
        for cid, score in ranked:
            chunk = chunks.get(cid)
            if chunk is None or chunk.doc_id in found:
                continue
            held = set(bm25.tokenize([f"{chunk.title} {chunk.text}"])[0])
            if all(any(form <= held for form in forms) for forms in wanted):
                found[chunk.doc_id] = Passage(chunk=chunk, score=score, similarity=0.0)
        return list(found.values())[:documents]

    def parse_filters(self, expressions: Sequence[str]) -> list[Filter]:
        """Return the filters the expressions mean, resolved against the index's values."""
        if not expressions:
            return []
        known = self.store.facets()
        return [parse_filter(e, known) for e in expressions]

    def retrieve(self, query: str, *, k: int | None = None, filters: Sequence[Filter] = ()) -> Retrieval:
        """Return the passages for ``query``; none, with the reason, when the library lacks an answer."""
        self.require_index()
        unknown = self.unknown_names(query)
        expanded = self.glossary.expand(query.strip())
        if unknown:
            log.info("retrieve abstained unknown_names=%s", unknown)
            return Retrieval(expanded, [], None, f"Nothing in the library mentions {', '.join(unknown)}.")
        vector = self.embedder.embed_query(expanded)
        passages = self.retriever.search(expanded, k or self.settings.top_k, filters, vector=vector)
        best = max((p.similarity for p in passages), default=0.0)
        log.info("retrieve query=%r passages=%d best_similarity=%.3f", expanded, len(passages), best)
        if best < self.settings.min_similarity:
            return Retrieval(expanded, [], vector, None)
        return Retrieval(expanded, self._with_lists(passages), vector, None)

    def _with_lists(self, passages: list[Passage]) -> list[Passage]:
        """Return ``passages`` with the passage that follows each one ending in ":" (the list it
        introduces, which chunking may have put in the next passage of the document)."""
        held = {p.chunk.id for p in passages}
        wanted = {}
        for p in passages:
            if p.chunk.text.rstrip().endswith(":"):
                following = f"{p.chunk.doc_id}:{p.chunk.position + 1:04d}"
                if following not in held:
                    wanted[following] = p
        if not wanted:
            return passages
        found = self.store.chunks(list(wanted))
        extra = [
            Passage(chunk=chunk, score=wanted[cid].score, similarity=wanted[cid].similarity)
            for cid, chunk in found.items()
        ]
        return passages + extra

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
        found = self.retrieve(search_query or question, k=k, filters=filters)
        if not found.passages:
            return self.answerer.missing(question, found.query, found.reason)
        return self.answerer.answer(
            question, found.passages, search_query=found.query, query_vector=found.vector
        )

    def unknown_names(self, question: str) -> list[str]:
        """Return the names and years in ``question`` that no passage of the library contains.

        A question about a place, body or year the library never mentions ("CAMHS in Wales",
        "in 2023") cannot be answered from it, however similar its other words are.
        """
        names = [
            word
            for i, word in enumerate(_WORD.findall(question))
            if (i > 0 and word[0].isupper() and word.removesuffix("s").upper() not in self.glossary)
            or _YEAR.fullmatch(word)
        ]
        bm25 = self.store.bm25
        tokens = {name: bm25.tokenize([name])[0] for name in names}
        frequency = bm25.document_frequency({t for toks in tokens.values() for t in toks})
        return [name for name, toks in tokens.items() if toks and all(frequency[t] == 0 for t in toks)]
