"""The engine: the settings turned into a store, a retriever and an answerer, behind ``ask``."""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from assistant.answers import Answer
from assistant.extractive import ExtractiveAnswerer, in_both_lists, within
from assistant.glossary import Glossary, load_acronyms, load_synonyms, synonym_phrases, synonym_stems
from assistant.intent import in_both, read_question
from assistant.retrieval import RetrievalParams, Retriever
from assistant.settings import Settings
from assistant.spelling import Spelling
from vectorstore import Chunk, Embedder, Filter, IndexInfo, Passage, Store, parse_filter
from vectorstore.access import Access
from vectorstore.bm25 import BM25Params
from vectorstore.filters import matches_all

log = logging.getLogger(__name__)
FILTERED = "Not in the documents your filters allow. Without the filters,"
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d{4}")
_YEAR = re.compile(r"(19|20)\d{2}")
_LIST_PASSAGES = 4  # rounds of passages fetched to finish a list that runs on
_KNOWN_WORDS = 2  # words besides names that a question below the similarity floor may have
_VIEWS = 32  # glossaries and answerers kept, one per distinct set of groups asking

Groups = Iterable[str] | None  # a caller's groups; None when sign-in is off (everything is visible)


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
        self._generation = -1
        self._views: OrderedDict[Access, tuple[Glossary, ExtractiveAnswerer]] = OrderedDict()
        self._views_lock = threading.Lock()

    def refresh(self) -> None:
        """Forget what was learned from an older generation of the index (the glossary's names,
        the answerer's word statistics), so a document ingested by another process is used.

        The store checks the generation at most every few seconds, so this is cheap per call.
        """
        generation = self.store.generation if self.store.exists() else 0
        if generation != self._generation:
            if self._generation != -1:
                log.info("index moved generation=%d", generation)
            self._generation = generation
            with self._views_lock:
                self._views.clear()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = Embedder(
                self.settings.embed_model_path,
                backend=self.settings.embed_backend,
                sentences=self.settings.sentence_vectors,
                precision=self.settings.embed_precision,
            )
        return self._embedder

    def _stored_sentences_fit(self) -> bool:
        """Return whether the answerer reads the index's sentence vectors instead of encoding its
        candidates: always when they were encoded alone (the very vectors it would compute), and
        when asked to even though they are pooled from their passage."""
        return self.settings.sentence_vectors == "alone" or self.settings.answer_stored_vectors

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

    @property
    def glossary(self) -> Glossary:
        """Return the acronyms of the user's file, completed from the whole library's names."""
        return self.glossary_for(None)

    @property
    def answerer(self) -> ExtractiveAnswerer:
        return self.answerer_for(None)

    def glossary_for(self, groups: Groups) -> Glossary:
        """Return the glossary completed only from documents ``groups`` may read: a restricted
        document's names (a trust's acronym) must not show in another user's search query."""
        return self._view(Access.of(groups))[0]

    def answerer_for(self, groups: Groups) -> ExtractiveAnswerer:
        """Return the extractive answerer whose aliases and "the library mentions" see only what
        ``groups`` may read."""
        return self._view(Access.of(groups))[1]

    def _view(self, access: Access) -> tuple[Glossary, ExtractiveAnswerer, Spelling]:
        with self._views_lock:
            if access in self._views:
                self._views.move_to_end(access)
                return self._views[access]
        words: set[str] = set()
        texts = Spelling.collecting(self.store.texts(access), words)
        synonyms = load_synonyms(self.settings.synonyms_file)
        phrases = synonym_phrases(synonyms, self.store.bm25.tokenize)
        glossary = Glossary(load_acronyms(self.settings.acronyms_file), texts, phrases)
        spelling = Spelling(words, self.embedder.knows)
        answerer = ExtractiveAnswerer(
            self.embedder,
            self.store.bm25.tokenize,
            self.store.bm25.idf,
            aliases=glossary.names_for,
            synonyms=synonym_stems(synonyms, self.store.bm25.tokenize),
            phrases=phrases,
            # One more than an abstention names, so that it can say "more than 5 documents".
            mentions=functools.partial(self._mentions, documents=6, access=access, glossary=glossary),
            stored=self.store.sentence_vectors if self._stored_sentences_fit() else None,
            prepared=self.store.answers.lookup,
        )
        with self._views_lock:
            self._views[access] = (glossary, answerer, spelling)
            while len(self._views) > _VIEWS:
                self._views.popitem(last=False)
        return glossary, answerer, spelling

    def mentions(self, names: Sequence[str], *, documents: int = 5, groups: Groups = None) -> list[Passage]:
        """Return the best passage of each document ``groups`` may read that mentions every one
        of ``names``."""
        access = Access.of(groups)
        return self._mentions(names, documents=documents, access=access, glossary=self._view(access)[0])

    def _mentions(
        self, names: Sequence[str], *, documents: int = 5, access: Access, glossary: Glossary
    ) -> list[Passage]:
        bm25 = self.store.bm25
        wanted = [[t for t in bm25.tokenize([n, *glossary.names_for(n)]) if t] for n in names]
        # "NTW" is mentioned where "Northumberland, Tyne and Wear" is printed: search both.
        aliases = [a for n in names for a in glossary.names_for(n)]
        ranked = self.store.lexical(" ".join([*names, *aliases]), 100, access=access)
        chunks = self.store.chunks([cid for cid, _ in ranked])
        found: dict[str, Passage] = {}
        for cid, score in ranked:
            chunk = chunks.get(cid)
            if chunk is None or chunk.doc_id in found:
                continue
            held = bm25.tokenize([f"{chunk.title}\n{chunk.text}"])[0]
            if all(any(within(form, held) for form in forms) for forms in wanted):  # "Model Hospital" as such
                found[chunk.doc_id] = Passage(chunk=chunk, score=score, similarity=0.0)
        return list(found.values())[:documents]

    def facets(self, groups: Groups = None) -> dict[str, list]:
        """Return the values of each filter field among the documents ``groups`` may read."""
        self.refresh()
        return self.store.facets(Access.of(groups))

    def document_chunks(self, doc_id: str, *, groups: Groups = None) -> list[Chunk]:
        """Return one document's chunks in reading order; none when it is absent or ``groups``
        may not read it (the two look the same to the caller)."""
        return self.store.document_chunks(doc_id, Access.of(groups))

    def documents(self, *, groups: Groups = None) -> dict[str, str]:
        """Return doc_id -> title of every document ``groups`` may read."""
        return self.store.visible_documents(Access.of(groups))

    def catalogue(self, *, groups: Groups = None) -> list[dict[str, Any]]:
        """Return every document ``groups`` may read, by title, with its trust, type, publisher and year."""
        self.refresh()
        return self.store.catalogue(Access.of(groups))

    def parse_filters(self, expressions: Sequence[str], *, groups: Groups = None) -> list[Filter]:
        """Return the filters the expressions mean, resolved against the values of the documents
        ``groups`` may read (an error never lists another group's values)."""
        if not expressions:
            return []
        known = self.facets(groups)
        return [parse_filter(e, known) for e in expressions]

    def retrieve(
        self,
        query: str,
        *,
        k: int | None = None,
        filters: Sequence[Filter] = (),
        groups: Groups = None,
        vector: np.ndarray | None = None,
    ) -> Retrieval:
        """Return the passages ``groups`` may read for ``query`` (None: sign-in is off, all of
        them); none, with the reason, when the library lacks an answer. ``vector``: the query's,
        when a search of it has encoded it already."""
        self.require_index()
        self.refresh()
        access = Access.of(groups)
        unknown = self.unknown_names(query, groups=groups)
        expanded = self._view(access)[0].expand(query.strip())
        if unknown:
            log.info("retrieve abstained unknown_names=%s", unknown)
            return Retrieval(expanded, [], None, f"Nothing in the library mentions {', '.join(unknown)}.")
        vector = self.embedder.embed_query(expanded) if vector is None else vector
        k = k or self.settings.top_k
        passages = self.retriever.search(expanded, k, filters, vector=vector, access=access)
        best = max((p.similarity for p in passages), default=0.0)
        log.info("retrieve query=%r passages=%d best_similarity=%.3f", expanded, len(passages), best)
        if best < self.settings.min_similarity and not self._known_words_only(query, access):
            return Retrieval(expanded, [], vector, None)
        return Retrieval(expanded, self._with_neighbours(passages), vector, None)

    def _known_words_only(self, question: str, access: Access) -> bool:
        """Return whether a question's only words are names ("Who is John Lawlor?") or a word or
        two ("What does co-production mean?") that the library prints: the model has not met
        them, so even the passage holding them scores a low cosine, and the answerer, not the
        similarity floor, judges whether the library answers the question."""
        parts = read_question(question).parts
        named = {w.lower() for part in parts for name in part.names for w in name.split()}
        words = {t for part in parts for t in part.terms if t not in named}
        if (not named and not words) or len(words) > _KNOWN_WORDS:
            return False
        tokens = {t for toks in self.store.bm25.tokenize(sorted(words)) for t in toks}
        frequency = self.store.document_frequency(tokens, access) if tokens else {}
        return all(frequency.get(t, 0) > 0 for t in tokens)

    def _with_neighbours(self, passages: list[Passage]) -> list[Passage]:
        """Return ``passages`` and, after them, the passages around the best ones in their
        documents: the one before and after each of the first ``neighbours`` (a document names
        its trust in one passage and says what it did in the next, which alone may not rank),
        and the one after any passage ending in ":" or in a list item (the list it introduces, or
        the rest of a list that chunking split), for a list over several passages too."""
        held = {p.chunk.id for p in passages}
        out = list(passages)
        rounds = [(rank, p) for rank, p in enumerate(passages)]
        for _ in range(_LIST_PASSAGES):
            wanted: dict[str, Passage] = {}
            for rank, p in rounds:
                steps = (-1, 1) if 0 <= rank < self.settings.neighbours else ()
                last = p.chunk.text.rstrip().rsplit("\n", 1)[-1]
                steps += (1,) if last.endswith(":") or last.lstrip().startswith("- ") else ()
                for step in dict.fromkeys(steps):
                    near = f"{p.chunk.doc_id}:{p.chunk.position + step:04d}"
                    if p.chunk.position + step >= 0 and near not in held:
                        wanted.setdefault(near, p)
            if not wanted:
                break
            found = self.store.chunks(list(wanted))
            extra = [
                Passage(chunk=chunk, score=wanted[cid].score, similarity=wanted[cid].similarity)
                for cid, chunk in found.items()
            ]
            held.update(found)
            out += extra
            rounds = [(-1, p) for p in extra]  # an added passage brings only the rest of its list
        return out

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        filters: Sequence[Filter] = (),
        search_query: str | None = None,
        groups: Groups = None,
        exclude: Collection[str] = (),
    ) -> Answer:
        """Return the cited answer to ``question``, or an abstention when the library lacks one.

        ``search_query`` (e.g. a follow-up rewritten with the conversation's subject) is what
        is searched and quoted against; ``question`` is what the user asked. ``groups`` are the
        signed-in user's: only documents they allow are searched, quoted or mentioned (None,
        with sign-in off: every document). ``exclude``: sentences not to quote again.
        """
        self.refresh()
        _, answerer, spelling = self._view(Access.of(groups))
        asked = spelling.correct(question)  # "placments": the library's "placements"
        searched = spelling.correct(search_query) if search_query else asked
        if not search_query and (both := in_both(asked)):
            # What is in both of two lists is no sentence's: it is found by name, or not at all.
            answer = self._in_both(both, k=k, filters=filters, groups=groups, exclude=exclude)
            answer = answer or self.missing(asked, asked, filters=filters, groups=groups)
            return replace(answer, question=question)
        found = self.retrieve(searched, k=k, filters=filters, groups=groups)
        allowed = _allowed(filters)

        def read(found: Retrieval) -> Answer:
            return answerer.answer(
                asked,
                found.passages,
                search_query=found.query,
                query_vector=found.vector,
                exclude=exclude,
                allowed=allowed,
            )

        if not found.passages:
            answer = answerer.missing(asked, found.query, found.reason, allowed=allowed)
        else:
            answer = read(found)
        if answer.abstained and found.passages and k is None and self.settings.wider_k:
            # Staff wording may rank the passage that answers just below the first few: read a
            # few more before abstaining (the answerer's tests still decide).
            k_more = self.settings.top_k + self.settings.wider_k
            second = read(
                self.retrieve(searched, k=k_more, filters=filters, groups=groups, vector=found.vector)
            )
            answer = answer if second.abstained else second
        if filters and answer.abstained and not exclude:
            # The filters may have left out the documents that answer: say so, and which.
            unfiltered = self.ask(question, k=k, search_query=search_query, groups=groups)
            if not unfiltered.abstained:
                titles = "; ".join(f"“{c.title}”" for c in unfiltered.citations)
                answer = Answer(
                    asked,
                    f"{FILTERED} the library answers this from {titles}.",
                    True,
                    (),
                    answer.search_query,
                )
        return answer if asked == question else replace(answer, question=question)

    def _in_both(
        self,
        both: tuple[str, str, str],
        *,
        k: int | None,
        filters: Sequence[Filter],
        groups: Groups,
        exclude: Collection[str],
    ) -> Answer | None:
        """Return the answer to "which trust was both one of the seven and in the cohort?": what
        the two lists (each searched on its own) both give, asked of by name ("Was Lincolnshire
        Partnership one of the seven and in the cohort?"); None when no name in both is answered
        for both lists. Each list is read from the two documents that best match it, whole: a
        list is seldom what a search for its name ranks first."""
        aux, first, second = both
        sides = []
        for side in (first, second):  # the lists of the two documents that best match each side
            # (retrieved with the user's groups and filters: only documents they may read)
            passages = self.retrieve(side, k=k, filters=filters, groups=groups).passages
            docs = list(dict.fromkeys(p.chunk.doc_id for p in passages))[:2]
            chunks = self.store.chunks_of(docs)
            sides.append([c for doc in docs for c in chunks.get(doc, [])])
        for name in in_both_lists(*sides, self.glossary_for(groups).meaning)[:3]:
            answer = self.ask(
                f"{aux} {name} {first} and {second}?", k=k, filters=filters, groups=groups, exclude=exclude
            )
            if not answer.abstained and not answer.unanswered:
                return answer
        return None

    def missing(
        self, question: str, query: str, *, filters: Sequence[Filter] = (), groups: Groups = None
    ) -> Answer:
        """Return the abstention for ``question``, naming the documents ``groups`` may read (and
        ``filters`` allow) that mention its subject."""
        return self._view(Access.of(groups))[1].missing(question, query, allowed=_allowed(filters))

    def unknown_names(self, question: str, *, groups: Groups = None) -> list[str]:
        """Return the names and years in ``question`` that no passage of the library contains.

        A question about a place, body or year the library never mentions ("CAMHS in Wales",
        "in 2023") cannot be answered from it, however similar its other words are. Only the
        documents ``groups`` may read count.
        """
        access = Access.of(groups)
        glossary = self._view(access)[0]
        names = [
            word
            for i, word in enumerate(_WORD.findall(question))
            if (i > 0 and word[0].isupper() and _bare(word).upper() not in glossary) or _YEAR.fullmatch(word)
        ]
        bm25 = self.store.bm25
        tokens = {name: bm25.tokenize([name])[0] for name in names}
        frequency = self.store.document_frequency({t for toks in tokens.values() for t in toks}, access)
        return [name for name, toks in tokens.items() if toks and all(frequency[t] == 0 for t in toks)]


def _bare(word: str) -> str:
    """Return ``word`` without a possessive or plural ending: "ELFT's", "ELFTs" -> "ELFT"."""
    for ending in ("'s", "\u2019s", "'", "\u2019"):
        if word.endswith(ending):
            return word[: -len(ending)]
    return word.removesuffix("s")


def _allowed(filters: Sequence[Filter]) -> Callable[[Chunk], bool] | None:
    """Return whether a chunk passes ``filters`` (None without filters: every chunk does)."""
    return (lambda chunk: matches_all(filters, chunk.metadata)) if filters else None
