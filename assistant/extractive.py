"""The extractive answerer: an answer made only of sentences quoted from retrieved passages.

No language model is involved, so nothing can be stated that a cited passage does not say.
The question is read into parts (:mod:`assistant.intent`); every sentence and list item of the
passages is scored against each part (cosine under the embedding model, the share of the
part's words it holds, its passage's rank) and checked for the kind of answer the part wants (a
figure for "how much", a date for "when", a name for "who", an item for "which trusts"). The
answer leads with the best sentence for the central part; a question about several trusts gets
one cited line per document or item; each part no sentence answers is named as missing. When the
central part is missing Casebook abstains, saying which documents mention the question's subject.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.answers import Answer, Citation, abstain
from assistant.evidence import ROW, TITLES, Unit, first_cell, is_number, kind_fits, listed_bodies, units_of
from assistant.glossary import Phrase, unexpanded
from assistant.intent import FUNCTION_WORDS, POSTS, Intent, Part, irregular_forms, read_question, verb_forms
from vectorstore import Chunk, Embedder, Passage

Tokenize = Callable[[Sequence[str]], list[list[str]]]
# chunk ids -> {chunk id: (its sentences, their vectors)}, as stored at ingest (Store.sentence_vectors).
StoredVectors = Callable[[Sequence[str]], Mapping[str, tuple[list[str], np.ndarray]]]
# (doc id, content hash, texts) -> each text's answer vector made ahead, or None (AnswerVectors.lookup).
PreparedVectors = Callable[[str, str, Sequence[str]], Sequence[np.ndarray | None]]


@dataclass(frozen=True)
class ExtractiveParams:
    """When a sentence answers a part, and how much an answer may quote.

    Calibrated on the development questions (eval/questions/library.yaml and dev.yaml); see
    docs/retrieval.md.
    """

    min_coverage: float = 0.35
    title_weight: float = 0.5
    min_match: float = 0.3
    cosine_weight: float = 0.5
    min_cosine: float = 0.3
    min_paraphrase: float = 0.45
    min_named_paraphrase: float = 0.65
    support: int = 3
    list_lines: int = 25
    item_share: float = 0.9
    relative_floor: float = 0.7
    redundancy: float = 0.85
    cosine_share: float = 0.45
    coverage_share: float = 0.4
    means_bonus: float = 0.1
    name_bonus: float = 0.05
    lean_penalty: float = 0.05
    min_part_paraphrase: float = 0.45


@dataclass
class _Scored:
    units: list[Unit]
    words: list[list[str]]
    tokens: list[set[str]]
    passage_tokens: list[set[str]]
    passage_words: list[list[str]]
    title_tokens: list[set[str]]
    heading_tokens: list[set[str]]  # each passage's section heading ("How it was developed")
    text_tokens: list[set[str]]  # the words of each passage's own units
    figures: list[set[str]]  # the figures each unit prints ("2", "2019"), which the index drops
    text_figures: list[set[str]]  # and each passage's
    echoes: list[set[str]]  # the words of the next sentence when it refers back ("a saving of this size")
    query: np.ndarray
    vectors: Callable[[list[int]], np.ndarray]  # the vectors of the units at these indices
    cosine: np.ndarray  # each unit's cosine to the query; NaN until a part needs it
    coverage: dict[tuple[str, int], float] = field(default_factory=dict)

    unit_vectors: dict[int, np.ndarray] = field(default_factory=dict)

    def cosines(self, indices: Sequence[int]) -> np.ndarray:
        """Return the cosines of the units at ``indices`` to the question, encoding (in one call)
        those not yet known: only a unit that passes every other test of a part is ever encoded."""
        todo = [i for i in indices if i not in self.unit_vectors]
        if todo:
            matrix = self.vectors(todo)
            self.cosine[todo] = matrix @ self.query
            self.unit_vectors.update(zip(todo, matrix, strict=True))
        return self.cosine[list(indices)]

    def cosine_to(self, i: int, vector: np.ndarray) -> float:
        """Return the cosine of unit ``i`` to ``vector`` (a part's own), encoding it if need be."""
        self.cosines([i])
        return float(self.unit_vectors[i] @ vector)


def answer_text(title: str, unit: Unit) -> str:
    """Return the text the answerer encodes for a unit: its document's title gives a sentence its
    subject ("the trust", "it"); measured on the library question set, it raises citation
    correctness from 0.78 to 0.86 (docs/retrieval.md)."""
    return f"{title} {unit.text}"


def answer_texts(chunk: Chunk) -> list[str]:
    """Return every text the answerer may encode for a passage of ``chunk`` (no repeats)."""
    return list(dict.fromkeys(answer_text(chunk.title, u) for u in units_of(0, chunk.text, chunk.doc_id)))


# Words that may stand before the thing counted without making it another thing ("total cost").
_HOW_MANY = re.compile(r"^\W*(?:and\s+)?how many\b", re.IGNORECASE)
_WHY = re.compile(r"^\W*(?:and\s+)?why\b", re.IGNORECASE)
_COUNTING = frozenset({"number", "total", "amount", "overal", "annual", "level", "extra", "addit", "new"})
_HEAVIEST = 6  # words of a part whose weights a sentence's coverage is measured against
_NAMED = 5  # documents an abstention names, of those that mention its subject
_BEING = frozenset({"be", "been", "being"})
_MONEY = frozenset({"money", "cash", "sum"})  # not "funding": a saving in pounds is no funding
_CURRENCY = re.compile(r"[£$€]\s?\d")
_ABOUT = r"(?:about|around|nearly|almost|over|under|just|some|roughly|more\s+than|less\s+than)"
# Modal verbs the stop-word list keeps: "£5bn could be saved" counts what "saved" does.
_MODALS = frozenset({"could", "would", "should", "might", "must", "can", "will", "may", "shall"})


class ExtractiveAnswerer:
    """Builds a cited answer by quoting the sentences that answer each part of the question."""

    def __init__(
        self,
        embedder: Embedder,
        tokenize: Tokenize,
        idf: Callable[[set[str]], dict[str, float]],
        params: ExtractiveParams | None = None,
        *,
        aliases: Callable[[str], Sequence[str]] = lambda name: (),
        synonyms: Mapping[str, frozenset[str]] | None = None,
        phrases: Sequence[Phrase] = (),
        mentions: Callable[[Sequence[str]], list[Passage]] | None = None,
        stored: StoredVectors | None = None,
        prepared: PreparedVectors | None = None,
    ) -> None:
        self.embedder = embedder
        self.tokenize = tokenize
        self.idf = idf
        self.params = params or ExtractiveParams()
        self.aliases = aliases
        self.synonyms = synonyms or {}
        self.phrases = tuple(phrases)
        self.mentions = mentions
        self.stored = stored
        self.prepared = prepared
        self._leading = set(tokenize([_LEADING])[0])

    def answer(
        self,
        question: str,
        passages: Sequence[Passage],
        *,
        search_query: str = "",
        query_vector: np.ndarray | None = None,
        exclude: Collection[str] = (),
        allowed: Callable[[Chunk], bool] | None = None,
    ) -> Answer:
        """Return the answer to ``question`` quoted from ``passages`` (best passage first).

        ``exclude``: sentences never to answer with (those an earlier answer quoted, when the
        user asks for more); ``allowed``: the documents an abstention may name (the filters')."""
        query = search_query or question
        intent = _with_query_subject(read_question(question), query)
        units = [u for i, p in enumerate(passages) for u in units_of(i, p.chunk.text, p.chunk.doc_id)]
        if not units:
            return self.missing(question, query, allowed=allowed)
        scored = self._score(passages, units, query, query_vector)
        intent = Intent(intent.question, tuple(self._resolved(p, passages, scored) for p in intent.parts))
        alone = self._part_vectors(intent)
        found = {intent.central: self._ranked(intent.central, scored, passages, query, vectors=alone)}
        # A later part about the first one's subject ("what did *it* save") may be answered in
        # the documents that answer the first part, whatever words the first part used.
        anchors = {scored.units[i].doc for _, i in found[intent.central][:1]}
        for part in intent.parts[1:]:
            framing = _framing(intent.central.text, part.text)
            others = {t for other in intent.parts if other is not part for t in other.terms}
            distinct = [t for t in part.terms if t not in others]
            found[part] = self._ranked(
                part, scored, passages, query, anchors, alone=alone, framing=framing, distinct=distinct
            )
        if exclude:
            found = {part: [(s, i) for s, i in found[part] if units[i].text not in exclude] for part in found}
        if not any(found.values()):
            return self.missing(question, query, allowed=allowed)
        if not found[intent.central]:
            # The first part is missing but a later one is answered: lead with what is there.
            answered = [part for part in intent.parts if found[part]]
            missing = [part for part in intent.parts if not found[part]]
            intent = Intent(intent.question, tuple(answered + missing))
        return self._compose(question, query, intent, found, scored, passages)

    def _resolved(self, part: Part, passages: Sequence[Passage], scored: _Scored) -> Part:
        """Return ``part`` with its names read as the passages print them.

        Names joined by "and" or commas are one name when the library prints them so and never
        apart ("Sheffield Health and Social Care", "Northumberland, Tyne and Wear"), several when
        it prints each alone ("Lancashire Care and Northumberland, Tyne and Wear"). A run of
        capitalised words no passage prints together ("the CQC Driving improvement report")
        is as many names, each a thing the part is about.
        """
        if not part.names:
            return part
        texts = list(dict.fromkeys(t for p in passages for t in (p.chunk.title, p.chunk.text)))
        groups: list[tuple[str, ...]] = []
        for group in part.groups:
            kept: list[str] = []
            for name in _segmented(group, texts):
                words = name.split()
                apart = len(words) > 1 and not self._printed(name, scored)
                if apart and all(self._printed(w, scored) for w in words):
                    groups.extend((w,) for w in words)
                else:
                    kept.append(name)
            if kept:
                groups.append(tuple(kept))
        return replace(part, groups=tuple(dict.fromkeys(groups)))

    def _printed(self, name: str, scored: _Scored) -> bool:
        """Return whether some passage prints ``name`` (or its expansion) as a run of words."""
        runs = self._name_tokens(name)
        return any(within(run, words) for run in runs for words in scored.passage_words)

    def _part_vectors(self, intent: Intent) -> dict[str, np.ndarray]:
        """Return the own vector of each part of a question of several (a sentence close to
        one part may be far from the whole question)."""
        texts = [part.text for part in intent.parts] if len(intent.parts) > 1 else []
        if not texts:
            return {}
        return dict(zip(texts, self.embedder.embed_cached(texts), strict=True))

    # -- scoring --------------------------------------------------------------------------------

    def _score(
        self, passages: Sequence[Passage], units: list[Unit], query: str, qvec: np.ndarray | None
    ) -> _Scored:
        qvec = self.embedder.embed_query(query) if qvec is None else qvec
        words = self.tokenize([u.text for u in units])
        tokens = [set(t) for t in words]
        for unit, held in zip(units, tokens, strict=True):  # "young people", held as one word
            held.update(phrase.token for phrase in self.phrases if phrase.found(unit.text))
        # A passage is about what its document is about: its title, its trust, its other passages.
        about: dict[str, str] = {}
        for p in passages:
            meta = " ".join(str(v) for k, v in p.chunk.metadata.items() if k in ("trust", "publisher"))
            about[p.chunk.doc_id] = f"{about.get(p.chunk.doc_id, p.chunk.title + ' ' + meta)} {p.chunk.text}"
        passage_words = self.tokenize([f"{about[p.chunk.doc_id]} {p.chunk.section or ''}" for p in passages])
        passage_tokens = [set(t) for t in passage_words]
        titles = [set(t) for t in self.tokenize([p.chunk.title for p in passages])]
        headings = [set(t) for t in self.tokenize([p.chunk.section or "" for p in passages])]
        printed: list[set[str]] = [set() for _ in passages]
        figures = [_figures(unit.text) for unit in units]
        printed_figures: list[set[str]] = [set() for _ in passages]
        for unit, held, its in zip(units, tokens, figures, strict=True):
            printed[unit.passage] |= held
            printed_figures[unit.passage] |= its
        # "... £3.5m." "... so a saving of this size shows ...": the figure was a saving.
        after = [
            units[n + 1].figure_phrase if n + 1 < len(units) and units[n + 1].passage == unit.passage else ""
            for n, unit in enumerate(units)
        ]
        echoes = [set(t) for t in self.tokenize(after)]
        return _Scored(
            units,
            words,
            tokens,
            passage_tokens,
            passage_words,
            titles,
            headings,
            printed,
            figures,
            printed_figures,
            echoes,
            qvec,
            lambda indices: self._vectors(passages, [units[i] for i in indices]),
            np.full(len(units), np.nan, dtype=np.float32),
        )

    def _vectors(self, passages: Sequence[Passage], units: Sequence[Unit]) -> np.ndarray:
        """Return each unit's vector: made ahead (``prepared``, the very vector it would encode),
        or the one ``stored`` gives (same splitter, so the same sentence), else encoded now.

        ``stored`` is left unset by the engine: the index stores sentence vectors pooled from their
        passage's forward pass, and quoting by those lowers the lead rate on the development
        questions (0.73 -> 0.60) with no threshold that restores it (docs/benchmarks.md); an index
        of sentences encoded alone ("title sentence") could pass Store.sentence_vectors here.
        """
        vectors = np.zeros((len(units), self.embedder.dimension), dtype=np.float32)
        texts = [answer_text(passages[u.passage].chunk.title, u) for u in units]
        missing = list(range(len(units)))
        if self.prepared is not None:
            missing = self._prepared(passages, units, texts, vectors)
        if missing and self.stored is not None:
            stored = self.stored([p.chunk.id for p in passages])
            found: dict[tuple[str, str], np.ndarray] = {}
            for chunk_id, (sentences, matrix) in stored.items():
                for text, vector in zip(reversed(sentences), matrix[::-1], strict=True):
                    found[(chunk_id, text)] = vector  # reversed: a repeated sentence keeps its first vector
            still = []
            for n in missing:
                vector = found.get((passages[units[n].passage].chunk.id, units[n].text))
                if vector is None:
                    still.append(n)
                else:
                    vectors[n] = vector
            missing = still
        if missing:
            vectors[missing] = self.embedder.embed_cached([texts[n] for n in missing])
        return vectors

    def _prepared(
        self, passages: Sequence[Passage], units: Sequence[Unit], texts: list[str], vectors: np.ndarray
    ) -> list[int]:
        """Fill ``vectors`` with the answer vectors made ahead; return the indices still missing."""
        assert self.prepared is not None
        by_doc: dict[tuple[str, str], list[int]] = {}
        for n, unit in enumerate(units):
            chunk = passages[unit.passage].chunk
            by_doc.setdefault((chunk.doc_id, str(chunk.metadata.get("content_hash", ""))), []).append(n)
        missing = []
        for (doc_id, content_hash), indices in by_doc.items():
            found = self.prepared(doc_id, content_hash, [texts[n] for n in indices])
            for n, vector in zip(indices, found, strict=True):
                if vector is None:
                    missing.append(n)
                else:
                    vectors[n] = vector
        return sorted(missing)

    def _ranked(
        self,
        part: Part,
        scored: _Scored,
        passages: Sequence[Passage],
        query: str,
        anchors: set[str] = frozenset(),
        *,
        alone: Mapping[str, np.ndarray] | None = None,
        vectors: Mapping[str, np.ndarray] | None = None,
        framing: Collection[str] = (),
        distinct: Sequence[str] = (),
    ) -> list[tuple[float, int]]:
        """Return (score, unit index) of the units that answer ``part``, best first; ``alone``
        holds each part's own vector when the question has several, for a later part (``vectors``
        for the first: its sentence may be far from the whole question, not from the part);
        ``framing``, the period or code the question set for every part ("In Q3 2022/23");
        ``distinct``, the words a later part asks with and no other part does."""
        p = self.params
        # Names are checked against the whole passage; a sentence must hold the other words.
        named = {w.lower() for n in part.names for w in n.split()}
        unnamed = [t for t in part.terms if t not in named]
        own = self._weights(unnamed or list(part.terms))
        context = self._weights(part.context)
        name_tokens = {t for toks in self.tokenize(list(part.names)) for t in toks}
        names = [self._name_tokens(n) for n in part.names]
        groups = [[self._name_tokens(n) for n in group] for group in part.groups]
        # A long question's sentence holds a share of its heaviest words: the rest are its wording.
        total = sum(sorted(own.values(), reverse=True)[:_HEAVIEST]) or 1.0
        focus = self.tokenize([part.focus])[0] if part.focus else []
        # The words that qualify what is counted come before it: "the crisis line's cost" is the
        # line's; in "how many people stayed", a "short stay for people" counts no people.
        stems = [t for toks in self.tokenize(list(part.terms)) for t in toks]
        before_focus = set(stems[: stems.index(focus[0])] if focus and focus[0] in stems else stems)
        # ("the project's cost" is the cost a sentence gives as "the programme cost £186,000")
        counted_by = before_focus | name_tokens | {s for t in before_focus for s in self.synonyms.get(t, ())}
        attribute = set(self.tokenize([part.attribute])[0]) if part.attribute else set()
        scope = {t: own[t] for t in self.tokenize([" ".join(part.scope)])[0] if t in own}
        shared = set(self.tokenize([" ".join(part.shared)])[0]) & own.keys()
        doer = self._name_tokens(part.doer_name) if part.kind == "quantity" and part.doer_name else []
        # What each passage's document is about, read once (not for each of its units).
        doc_about = [self._about(p.chunk) for p in passages] if doer else []
        # "Who answers calls to the line?" is answered by a sentence saying who answers them, not
        # by one naming who calls it: the asked verb, in some form, is in the sentence.
        acts = (
            {t for forms in self.tokenize(list(verb_forms(part.action))) for t in forms}
            if part.action
            else set()
        )
        verb = set(self.tokenize([part.action])[0]) if part.action else set()
        role = set(self.tokenize([part.role])[0]) if part.role else set()
        acts |= {s for t in verb for s in self.synonyms.get(t, ())}
        # "Which ambulance trusts are in the cohort?": a member listed is an ambulance trust.
        modifiers = {t for toks in self.tokenize(list(part.modifiers)) for t in toks}
        out = []
        n_passages = max(len(passages), 1)
        lists = self._listed(scored, own, passages) if part.kind == "which" else {}
        # "Did Oxleas go on to be rated outstanding?" is not answered by a sentence about
        # Calderstones, listed beside it: a sentence naming another member of the subject's list,
        # and not the subject, is about that member.
        peers = self._peers(names, scored) if part.kind != "which" else []
        elsewhere = self._other_sections(names, passages) if part.kind != "which" else set()
        figures = _figures(part.text) | set(framing)
        # "Which trust took over Calderstones?" is answered by "... was taken over by Mersey Care":
        # for a part whose answer is a thing of a kind (a body, a person, a date, a place, an
        # amount), which the sentence must also hold; an open "why" or "what" is not answered by
        # its own words in another tense.
        specific = part.kind in ("which", "who", "when", "where", "quantity")
        tenses = {
            t: set(self.tokenize([" ".join(irregular_forms(t))])[0])
            for t in own
            if specific or t in self.synonyms
        }
        alike = {t: f for t, f in tenses.items() if specific and f}
        # "Who paid for it?" is answered by "... was funded by ...": the user's synonyms, but for
        # an open part not the word itself in another tense ("chose" for "why was it chosen").
        synonyms = {
            t: set(self.synonyms[t]) - (set() if specific else tenses[t]) for t in own if t in self.synonyms
        }
        # "How often were patients held down?" is answered by "... used restraint 37 times"; "why
        # did Mersey Care take it over?" not by "... was taken over by Mersey Care" (the asked verb
        # in another tense restates what happened, which gives no reason).
        for phrase in self.phrases:
            if phrase.held and phrase.found(part.text):
                held = phrase.held
                if _WHY.match(part.text):
                    held = {h for h in held if not self._same_verb(phrase.token, h)}
                for t in phrase.stems & own.keys():
                    synonyms.setdefault(t, set()).update(held)
        years = {f for f in figures if _YEAR.fullmatch(f)}
        own_words = {t for toks in self.tokenize(list(distinct)) for t in toks} - name_tokens
        doc_figures: dict[str, set[str]] = {}
        for k, passage in enumerate(passages):
            doc_figures.setdefault(passage.chunk.doc_id, set()).update(scored.text_figures[k])

        def widen(held: set[str]) -> set[str]:
            """Return ``held`` with the asked words it holds in another tense or as a synonym."""
            held = held | {t for t, forms in alike.items() if forms & held}
            return held | {t for t, others in synonyms.items() if others & held}

        kept: list[tuple[int, float]] = []  # (unit, coverage) of the units only a cosine can rule out
        for i, unit in enumerate(scored.units):
            held = widen(scored.tokens[i] | self._membership(part, i, names, own, scored, passages, widen))
            if not unnamed and any(within(alt, scored.words[i]) for alts in names for alt in alts):
                held = held | set(own)  # "Where is NTW based?": its name, spelt out, is all it asks
            if focus and focus[0] in _MONEY and _CURRENCY.search(unit.text):
                held = held | {focus[0]}  # "how much money": "£5bn" is the money
            # "led by" holds the "leads" asked; so does a sentence under "How it was developed".
            if acts & (held | scored.heading_tokens[unit.passage]):
                held = held | verb
            elif verb & self._leading and _POST_OF.search(unit.text):
                held = held | verb  # "Who leads the Hollin Vale site?": "X, service manager for the ..."
            around = scored.passage_tokens[unit.passage]
            # Each sentence's passage must hold one name of every group (a trust of "A and B",
            # and the "CQC" beside it: whether X is one of Y needs both X and Y); one name for a
            # "which" part, whose members one document may list and another name ("which trusts
            # in the report are also in the Carter cohort").
            around_words = scored.passage_words[unit.passage]
            holds = [[any(within(alt, around_words) for alt in alts) for alts in group] for group in groups]
            if part.kind == "which":
                if holds and not any(any(group) for group in holds):
                    continue
            elif not all(any(group) for group in holds):
                continue
            if (
                context
                and unit.doc not in anchors
                and sum(w for t, w in context.items() if t in around) < 0.5 * sum(context.values())
            ):
                continue
            # "..., and which trusts were they?" names them beside what "they" are (not a name)
            if part.kind == "which" and context and not unit.item and not (set(context) - name_tokens) & held:
                continue
            if unit.asks:
                continue
            # A sentence naming another member of the subject's list, or under a heading about
            # something else ("Hollin Vale site", in a document with a section headed by Eskby), is
            # about that other thing unless it names the subject.
            about_other = unit.passage in elsewhere or any(within(peer, scored.words[i]) for peer in peers)
            if about_other and not any(within(alt, scored.words[i]) for alts in names for alt in alts):
                continue
            if unit.item and modifiers and not modifiers <= held:
                continue
            if unit.item and part.kind != "which" and len(unit.text.split()) < 4:
                continue  # a short list item ("Keep measuring.") answers only a "which" question
            # A sentence is about what its document's title says, at half weight.
            # So is a figure the next sentence names ("... £3.5m." "A saving of this size ...").
            titled = scored.title_tokens[unit.passage] | scored.echoes[i]
            if unit.item:  # so is a list item about its section's heading ("Rating changes ...")
                titled = titled | scored.heading_tokens[unit.passage]
            # An item naming the subject under a heading naming what is asked of it is the subject's
            # entry ("Calderstones ...: good to outstanding." under "Rating changes ..."): its
            # heading's words are its own.
            entry = (
                scored.heading_tokens[unit.passage] & attribute
                if unit.item and any(within(alt, scored.words[i]) for alts in names for alt in alts)
                else set()
            )
            coverage = sum(
                w if t in held or (entry and t in scored.heading_tokens[unit.passage]) else p.title_weight * w
                for t, w in own.items()
                if t in held | titled
            )
            coverage = min(coverage / total, 1.0)
            if unit.item and part.kind == "which" and i in lists:
                coverage = max(coverage, lists[i])
            if not kind_fits(part, unit, own) and not self._done_under(part, i, scored, passages, own):
                continue
            # "When was Calderstones rated outstanding?" is not answered by the date of another
            # of its ratings: a date comes with the part's rarest word when its passage prints it.
            if part.kind == "when" and len(own) >= 2:
                top = max(own.values())
                rarest = {t for t, w in own.items() if w >= top - 1e-9}  # every one of a tie
                if (rarest & scored.text_tokens[unit.passage]) - held:  # the title is no date's subject
                    continue
            # So does a figure the question names ("phase 2", "in 2019"): "24 trusts took part in a
            # diagnostic exercise", listed under phase 1 beside phase 2, is not about phase 2.
            # Years are the exception when the question gives several ("between 2019/20 and
            # 2021/22"): a table prints one a row, and a row holding one of them answers.
            # A table row, by the rows of its whole document: tables are chunked between rows.
            printed = doc_figures[unit.doc] if unit.row else scored.text_figures[unit.passage]
            lacking = (figures & printed) - scored.figures[i]
            if lacking - years or (lacking and not (len(years) > 1 and years & scored.figures[i])):
                continue
            # "What was the median wait in April 2022?" is not answered by the wait of April 2023:
            # a sentence dating its figures by other years than the question's is about those years.
            dated = _dated_by(unit.text) & scored.figures[i]
            if years and dated and not any(_same_year(a, b) for a in years for b in dated):
                continue
            # A table row whose first cell names the thing counts it: its other cells are the
            # figures ("Staff group: Nurses | March 2023 (WTE): 6.8"), not a column's name.
            if focus and not (
                focus[0] in held - scored.tokens[i]  # the money a figure in pounds is
                or _counts(focus[0], scored.words[i], counted_by)
                or _counted_before(focus[0], unit.text)
                or _owns(part.focus, unit.text)
                or self._figure_of(part.focus, unit.text, counted_by)
                or focus[0] in scored.echoes[i]
                or (unit.row and focus[0] in self.tokenize([unit.first_cell])[0])
            ):
                continue
            # "what is the review's budget" needs a sentence about a budget; a list item may be
            # about it by its heading ("Oxleas NHS Foundation Trust: requires improvement to good."
            # under "Rating changes at the seven trusts" is a rating).
            if attribute and not attribute & (
                held | (scored.heading_tokens[unit.passage] if unit.item else set())
            ):
                continue
            # "How much did Lancashire Care save?" is not answered by "Lord Carter suggested £5bn
            # could be saved": a figure is its doer's where the sentence, one before it in its
            # passage, or what its document is about (title, heading, trust, publisher) names the doer.
            if doer and not self._names_near(doer, i, scored, doc_about[unit.passage]):
                continue
            # "What's the vacancy rate for healthcare assistants?" is not answered by the nurses'
            # rate: the sentence, its heading or its title says whom the rate is of (the heavier half
            # of those words).
            around_unit = held | titled | scored.heading_tokens[unit.passage]
            if scope and sum(w for t, w in scope.items() if t in around_unit) < 0.5 * sum(scope.values()):
                continue
            # A share is of those doing what was asked: "38% of visitors said ..." is no share of
            # visitors who "were men" (one of those words, as "agency" of "covered by agency staff").
            if shared and not shared & around_unit:
                continue
            if acts and not acts & held:
                continue
            # "Who is the chief executive?" is not answered by the Chief People Officer's words: a
            # sentence giving someone's post gives the one asked (or its other name: "led by").
            if role - held and _POST.search(unit.text):
                continue
            # "..., and what was its vacancy rate for consultant psychiatrists?" is not answered
            # by the nurses' vacancy rate: a later part's sentence holds a word that only that
            # part asks with (or its document's title does).
            if own_words and not own_words & (held | titled):
                continue
            unworded = coverage < p.min_coverage and len(own) >= 2  # whatever its cosine
            if unworded and (unit.item or (part.names and coverage < p.min_coverage / 2)):
                continue
            kept.append((i, coverage))
        # A part of one word is worded by a sentence close to the question even without it (its
        # verb in another form: "taken over" for "take over"); a later part only by one holding it:
        # "which charities are they" is not answered by a sentence naming no charity.
        one_word = len(own) < 2 if alone is None else not own
        # Only now the cosines: the units no other test ruled out are encoded (about a quarter).
        cosines = scored.cosines([i for i, _ in kept])
        for (i, coverage), cosine in zip(kept, cosines.tolist(), strict=True):
            unit = scored.units[i]
            # The sentence holds the part's words, or (when the part names nobody, so a near
            # miss on a named subject is not possible) says the same in other words.
            worded = (coverage >= p.min_coverage or one_word) and (
                p.cosine_weight * cosine + (1 - p.cosine_weight) * coverage >= p.min_match
            )
            # A part that names its subject takes other words only from a sentence very close to it.
            paraphrase = p.min_named_paraphrase if part.names else p.min_paraphrase
            if not worded and (
                unit.item or cosine < paraphrase or (part.names and coverage < p.min_coverage / 2)
            ):
                continue
            # A sentence close to a question of several parts may answer only the first: in other
            # words, it answers a later part only when close to that part itself.
            if not worded and alone and scored.cosine_to(i, alone[part.text]) < p.min_part_paraphrase:
                continue
            if (
                cosine < p.min_cosine
                and not (coverage >= 1.0 - 1e-9 and (len(own) >= 2 or part.defines))
                and (not vectors or scored.cosine_to(i, vectors[part.text]) < p.min_cosine)
            ):
                continue  # ... unless it holds every word the part asks with (its cosine may be low
                # when it leans on the sentence before: "Its staff contributed to ..."), or is
                # close to the part itself (the whole question of two parts is far from each)
            prior = 1.0 - unit.passage / n_passages
            score = (
                p.cosine_share * cosine
                + p.coverage_share * coverage
                + (1 - p.cosine_share - p.coverage_share) * prior
            )
            if names:  # a sentence naming what the part is about answers it better than its neighbours
                held_names = sum(any(within(alt, scored.words[i]) for alt in alts) for alts in names)
                score += p.name_bonus * held_names / len(names)
            if part.kind == "how" and unit.says_how:
                score += p.means_bonus  # "how did trusts..." is answered by what was done
            if part.wants_list and not unit.item and _opens_list(unit.text):
                score += p.means_bonus  # "what lessons ...": by a list's lead-in, its items after it
            if unit.leans_back:
                score -= p.lean_penalty  # a sentence that needs the one before it leads badly
            out.append((score, i))
            scored.coverage[part.text, i] = coverage
        out.sort(key=lambda item: -item[0])
        if part.kind == "yes_no" and part.names_subject:
            # The answer leads with a sentence naming its subject: "One moved from good to
            # outstanding" does not say whether Oxleas did.
            # A person is named by their title and surname too ("Dr Evans" for Navina Evans).
            called = names[0] + self._titled(part.names[0])
            naming = [item for item in out if any(within(alt, scored.words[item[1]]) for alt in called)]
            if not naming and re.search(rf"\bthe\s+{re.escape(part.names[0])}\s+{_WRITING}", part.text):
                # ... or, when the subject is a piece of writing the name only says whose it is
                # ("Does the NHSI resource say ...?"), one of that writing: where it is named
                # earlier in its passage, or in what its document is about.
                about = [self._about(passage.chunk) for passage in passages]
                naming = [
                    item
                    for item in out
                    if self._names_near(called, item[1], scored, about[scored.units[item[1]].passage])
                ]
            # Other members of the list it is found in say nothing of it ("Is East London in the
            # cohort?" is not answered by "- 5 Boroughs Partnership NHS Foundation Trust").
            others = [
                item
                for item in out
                if item not in naming[:1]
                and not (scored.units[item[1]].item and _only_a_name(scored.units[item[1]].text))
            ]
            out = naming[:1] + others if naming else []
        elif part.kind == "when" and names and out:
            # "When was the Driving improvement report published?" is answered by the sentence
            # naming the report, not by one dating "an earlier CQC report" beside it.
            naming = [item for item in out if any(within(alt, scored.words[item[1]]) for alt in names[0])]
            out = naming[:1] + [item for item in out if item not in naming[:1]]
        return out

    def _about(self, chunk: Chunk) -> list[list[str]]:
        """Return the words of what a passage's document is about: its title, heading, trust and
        publisher."""
        meta = [str(chunk.metadata.get(k, "")) for k in ("trust", "publisher")]
        return self.tokenize([chunk.title, chunk.section or "", *meta])

    def _names_near(self, forms: list[list[str]], i: int, scored: _Scored, about: list[list[str]]) -> bool:
        """Return whether unit ``i``, a unit before it in its passage, or ``about`` (what its
        document is about) names one of ``forms`` (a name and its other names, as token runs)."""
        passage = scored.units[i].passage
        start = i
        while start > 0 and scored.units[start - 1].passage == passage:
            start -= 1
        words = [*about, *(scored.words[j] for j in range(start, i + 1))]
        return any(within(alt, w) for alt in forms for w in words)

    def _same_verb(self, phrase: str, other: str) -> bool:
        """Return whether two phrases open with one verb in two forms ("take over", "taken over")."""
        a, b = phrase.split()[0], other.split()[0]
        return b in irregular_forms(a) or self.tokenize([a])[0] == self.tokenize([b])[0]

    def _done_under(
        self, part: Part, i: int, scored: _Scored, passages: Sequence[Passage], own: Mapping[str, float]
    ) -> bool:
        """Return whether list item ``i`` is something done because its lead-in says so: "Debriefs:
        a post-incident debrief offered ..." under "The main changes were:" answers "what did
        Hessleford do?"."""
        if part.kind != "how" or not scored.units[i].item:
            return False
        lead_in = _lead_in_of(i, scored.units, passages)
        return lead_in is not None and kind_fits(part, scored.units[lead_in], own)

    def _figure_of(self, focus: str, text: str, asked: set[str]) -> bool:
        """Return whether ``text`` gives a figure of what the question counts in a clause after a
        comma: "Sensory rooms: new sensory rooms on four wards, costing £9,600 each" is the rooms'
        cost (the clause's subject is the sentence's, named anywhere before it), where "four wards
        cost £9,600" would be the wards'."""
        found = re.search(rf",\s+{re.escape(focus)}\w*\s+(?:{_ABOUT}\s+)?[£$€]?\d", text, re.IGNORECASE)
        return bool(found and asked & set(self.tokenize([text[: found.start()]])[0]))

    def _listed(
        self, scored: _Scored, own: dict[str, float], passages: Sequence[Passage]
    ) -> dict[int, float]:
        """Return unit -> coverage for the items of lists whose lead-in sentence (with the title)
        holds the question's words, when no item of the list holds them itself: the members of
        "the cohort named by NHSI is:" answer "which trusts are in the cohort?"."""
        total = sum(own.values()) or 1.0
        units, out = scored.units, {}
        start = 0
        while start < len(units):
            if not units[start].item:
                start += 1
                continue
            end = start
            while (
                end + 1 < len(units)
                and units[end + 1].item
                and units[end + 1].passage == units[start].passage
            ):
                end += 1
            members = range(start, end + 1)
            own_cover = [sum(w for t, w in own.items() if t in scored.tokens[i]) / total for i in members]
            if max(own_cover) < self.params.min_coverage:
                held = self._lead_in(start, scored, passages)
                if held:
                    cover = sum(w for t, w in own.items() if t in held) / total
                    out.update(dict.fromkeys(members, cover))
            start = end + 1
        return out

    def _peers(self, names: list[list[list[str]]], scored: _Scored) -> list[list[str]]:
        """Return the first word of each other item of a list whose items name the subject: the
        names listed beside it ("- Calderstones Partnership ..." beside "- Oxleas NHS ..."), in
        bullets or in one sentence.
        A word about as common in the library as the subject's name, or commoner than half as
        rare, is not taken ("NHS" starts many items)."""
        units = scored.units
        asked = [alt for alts in names for alt in alts]
        if not asked:
            return []
        printed = {t for alt in asked for t in alt if any(t in words for words in scored.passage_tokens)}
        subject_idf = max(self.idf(printed).values(), default=0.0) if printed else 0.0
        firsts: set[str] = set()
        start = 0
        while start < len(units):
            end = start
            while end < len(units) and units[end].item and units[end].passage == units[start].passage:
                end += 1
            members = range(start, end)
            # The subject is a member: an item starts with its name ("- Oxleas NHS Foundation
            # Trust: requires improvement to good"), not merely names it ("- July 2016: ...").
            if len(members) > 1 and any(scored.words[i][: len(alt)] == alt for i in members for alt in asked):
                for i in members:
                    # A member is named ("- Oxleas NHS Foundation Trust"), not a point of prose
                    # ("- Window restrictors could be used ...", "Findings:").
                    if not _NAMED_ITEM.match(units[i].text):
                        continue
                    lead = _LEADING_NAME.match(units[i].text)
                    words = self.tokenize([lead.group(1)])[0] if lead else []
                    if words and not any(within(alt, scored.words[i]) for alt in asked):
                        firsts.add(words[0])
            start = max(end, start + 1)
        # So are the other bodies a sentence lists with the subject ("Peer Pathways brought
        # together Harrowdene ... NHS Trust, Wyvern Vale ... NHS Foundation Trust and ...").
        for unit in units:
            bodies = [self.tokenize([body])[0] for body in listed_bodies(unit.text)]
            if any(within(alt, words) for words in bodies for alt in asked):
                firsts.update(
                    words[0] for words in bodies if words and not any(within(alt, words) for alt in asked)
                )
        rare = self.idf(firsts) if firsts else {}
        return [[w] for w, weight in rare.items() if weight >= 0.5 * subject_idf]

    def _other_sections(self, names: list[list[list[str]]], passages: Sequence[Passage]) -> set[int]:
        """Return the passages under a heading about something else: in a document with a section
        whose heading names the subject ("Eskby site"), those whose headings name it nowhere
        ("Hollin Vale site", "What people have told us")."""
        asked = [alt for alts in names for alt in alts]
        if not asked:
            return set()
        headed = self.tokenize([p.chunk.section or "" for p in passages])
        naming = [
            bool(p.chunk.section) and any(within(alt, words) for alt in asked)
            for p, words in zip(passages, headed, strict=True)
        ]
        docs = {p.chunk.doc_id for p, named in zip(passages, naming, strict=True) if named}
        return {
            n
            for n, (p, named) in enumerate(zip(passages, naming, strict=True))
            if p.chunk.doc_id in docs and p.chunk.section and not named
        }

    def _lead_in(self, start: int, scored: _Scored, passages: Sequence[Passage]) -> set[str]:
        """Return the words that introduce the list starting at unit ``start``: the sentence
        before it, or for a list that opens a passage, the sentence ending the passage before
        it in the document ("The cohort named by NHSI is:") or else its heading; with the title."""
        units = scored.units
        chunk = passages[units[start].passage].chunk
        held = set(self.tokenize([f"{chunk.title} {chunk.section or ''}"])[0])
        if start > 0 and units[start - 1].passage == units[start].passage:
            return set() if units[start - 1].item else held | scored.tokens[start - 1]
        # Walk back over passages of the document that continue the list to the one opening it.
        at = {(p.chunk.doc_id, p.chunk.position): p.chunk for p in passages}
        position = chunk.position - 1
        while (before := at.get((chunk.doc_id, position))) is not None:
            last = before.text.rstrip().rsplit("\n", 1)[-1]
            if last.endswith(":"):
                return held | set(self.tokenize([last])[0])
            if not last.lstrip().startswith("- "):
                break
            position -= 1
        return held

    def _membership(
        self,
        part: Part,
        i: int,
        names: list[list[list[str]]],
        own: Mapping[str, float],
        scored: _Scored,
        passages: Sequence[Passage],
        widen: Callable[[set[str]], set[str]],
    ) -> set[str]:
        """Return the words list item ``i`` holds by being in its list, for a part asking whether
        something is in it, or which of its members ... (``widen``: what a unit's words hold of
        the part's in other forms)."""
        unit = scored.units[i]
        if not unit.item or part.kind not in ("yes_no", "which"):
            return set()
        counted = _member_of(part.text, i, scored.units)  # "one of the seven trusts"
        if part.kind == "which":
            return counted
        lead_in = _lead_in_of(i, scored.units, passages)
        if _only_a_name(unit.text):
            # "Is Sussex Partnership in the cohort?": "- Sussex Partnership ..." is read under
            # "The cohort named by NHSI is:" (membership is what the lead-in says); and is "one of
            # the seven" when that is all the lead-in leaves unsaid.
            listing = scored.tokens[lead_in] if lead_in is not None else set()
            whole = widen(scored.tokens[i] | listing | counted | scored.title_tokens[unit.passage])
            return listing | counted if own.keys() <= whole else listing
        if not self._entry_of(names, unit.text):
            return set()
        # So is a row or item whose first cell is the subject ("Lincolnshire Partnership NHS
        # Foundation Trust | Requires Improvement | Good" under "The following trusts feature in
        # the publication, ..."), or under its heading ("Rating changes at the seven trusts"), in
        # the document its title names: it is a member of the list it is in, when that is all it
        # asks (not "Did Oxleas go on to be rated outstanding?": its entry says "... to good").
        listing = scored.tokens[lead_in] if lead_in is not None else scored.heading_tokens[unit.passage]
        membership = listing | counted | scored.title_tokens[unit.passage]
        return membership if own.keys() <= widen(scored.tokens[i] | membership) else set()

    def _entry_of(self, names: list[list[list[str]]], text: str) -> bool:
        """Return whether a list item or table row opens with one of ``names`` and is about it: its
        first cell, or what comes before a colon, is that name and nothing else."""
        head = _entry_name(text)
        words = self.tokenize([head])[0]
        return _only_a_name(head) and any(within(alt, words) for alts in names for alt in alts)

    def _titled(self, name: str) -> list[list[str]]:
        """Return the token runs of a two-word personal name's surname after a title ("Dr Evans",
        "Mr Lawlor" for "Navina Evans", "John Lawlor")."""
        words = name.split()
        if len(words) != 2 or not all(w[:1].isupper() and w[1:].islower() for w in words):
            return []
        return [t for t in self.tokenize([f"{title} {words[1]}" for title in TITLES]) if len(t) == 2]

    def _weights(self, words: Sequence[str]) -> dict[str, float]:
        if not words:
            return {}
        tokens = {t for toks in self.tokenize(list(words)) for t in toks}
        # In one order whatever the process's string hashing: a coverage is a sum of these
        # weights, and summed in another order it may fall a hair short of 1.0.
        return dict(sorted(self.idf(tokens).items())) if tokens else {}

    def _name_tokens(self, name: str) -> list[list[str]]:
        """Return the token runs that count as a mention of ``name`` (itself, or its expansion)."""
        return [t for t in self.tokenize([name, *self.aliases(name)]) if t]

    # -- composing --------------------------------------------------------------------------------

    def _compose(
        self,
        question: str,
        query: str,
        intent: Intent,
        found: dict[Part, list[tuple[float, int]]],
        scored: _Scored,
        passages: Sequence[Passage],
    ) -> Answer:
        p = self.params
        units = scored.units
        central = intent.central
        best_score, lead = found[central][0]
        chosen: list[int] = [lead]
        lines: list[int] = []
        gaps: list[str] = []
        for part in intent.parts[1:]:
            answer = next((i for _, i in found[part] if i not in chosen), None)
            if answer is None and found[part]:
                # The lead sentence answers this part too ("... was taken over by Mersey Care and
                # became its Specialist Learning Disability Division"), if it holds the part's own
                # words: close in meaning to the whole question is not enough for a second part.
                i = found[part][0][1]
                answer = i if scored.coverage.get((part.text, i), 0.0) >= p.min_coverage else None
            if answer is None and part.focus and _HOW_MANY.match(part.text):
                # "..., how many trusts did it feature": a sentence quoted already counts them
                # ("... describing how seven NHS mental health trusts raised ...").
                counted = self.tokenize([part.focus])[0][:1]
                answer = next((i for i in chosen if counted and _numbered(counted[0], scored.words[i])), None)
            if answer is None:
                gaps.append(part.text)
                continue
            if answer not in chosen:
                chosen.append(answer)
        floor = best_score * p.relative_floor
        items_lead = False
        if central.wants_many:
            # Reading order: a list that chunking split over two passages reads as one list.
            def reading(i: int) -> tuple[int, int, int]:
                return (
                    units[i].passage if units[i].doc != units[lead].doc else -1,
                    passages[units[i].passage].chunk.position,
                    units[i].position,
                )

            lines = self._many(central, found[central], units, chosen, floor, scored.coverage, reading)
            if central.kind == "which" and units[lead].item:
                # The items are the answer: they lead, and the list keeps its own order.
                lines = sorted({lead, *lines}, key=reading)
                chosen = [i for i in chosen if i != lead]
                items_lead = True
            if central.kind == "which" and central.names:
                # "Which Hertfordshire trusts...": the items that name it, when some do.
                runs = [alt for name in central.names for alt in self._name_tokens(name)]
                naming = [i for i in lines if any(within(alt, scored.words[i]) for alt in runs)]
                lines = naming or lines
        support = [i for s, i in found[central][1:] if s >= floor and i not in chosen and i not in lines]
        answers = len(chosen)
        for i in support[: p.support if not lines else 0]:
            if not self._repeats(i, chosen, scored):
                chosen.append(i)
        if central.kind == "how" and not lines and len(intent.parts) == 1:
            # What was done, then what it achieved: the next sentence of the lead's passage that
            # reports an amount ("The result reported by the trust was a reduction in bed costs of £3.5m.").
            outcome = next(
                (
                    j
                    for j in range(lead + 1, min(lead + 4, len(units)))
                    if units[j].passage == units[lead].passage
                    and not units[j].item  # another item of the lead's list says what else was done
                    and _OUTCOME.search(units[j].text)
                ),
                None,
            )
            if outcome is not None and outcome not in chosen and not units[outcome].asks:
                chosen.append(outcome)
        # The supporting sentences, chosen by score, read in their documents' order after the
        # answers; a sentence that goes on from a chosen one ("It did not ...") comes right after it.
        chosen[answers:] = _in_reading_order(chosen[answers:], chosen, units, passages)
        for j in self._continuations(chosen, units):
            if j not in chosen and j not in lines:
                chosen.insert(chosen.index(j - 1) + 1, j)
        # "What did NTW's staff contribute to?" is answered by "Its staff contributed to ...": the
        # question names what "it" is, so the sentence before, naming NTW, need not come first.
        asked = [form for part in intent.parts for n in part.names for form in (n, *self.aliases(n))]
        chosen = _with_antecedents(chosen, units, lines, lambda i: _subject_is(units[i].text, asked))
        # A list item quoted alone ("- Sussex Partnership NHS Foundation Trust", "several routes
        # for raising concerns, ...;") is read under its list's lead-in ("The cohort named by NHSI is:").
        listed: dict[int, list[int]] = {}
        for i in chosen:
            j = _lead_in_of(i, units, passages) if units[i].item and not units[i].row else None
            if j is not None and (j not in chosen or chosen.index(j) > chosen.index(i) or j in listed):
                listed.setdefault(j, []).append(i)  # (a lead-in chosen first brings its whole list)
        chosen = list(dict.fromkeys(next((j for j, its in listed.items() if i in its), i) for i in chosen))
        # "What did Hessleford do?" led by "- Debriefs: ..." under "The main changes were:": every
        # change is what it did, so the whole list is quoted.
        doing = _lead_in_of(lead, units, passages) if units[lead].item else None
        if doing in listed and self._done_under(central, lead, scored, passages, {}):
            whole = _items_after(doing, units, passages)[: p.list_lines]
            listed[doing] = [j for j in whole if j not in lines]
        for i in chosen:
            if i in listed:
                continue
            if _opens_list(units[i].text):  # "Its topics include:" brings its items, right after it
                after = _items_after(i, units, passages)[: p.list_lines]
                listed[i] = [j for j in after if j not in lines]
        chosen = [i for i in chosen if not any(i in items for items in listed.values())]
        return self._render(question, query, chosen, lines, gaps, units, passages, items_lead, listed)

    def _many(
        self,
        part: Part,
        ranked: list[tuple[float, int]],
        units: list[Unit],
        chosen: list[int],
        floor: float,
        coverage: dict[tuple[str, int], float],
        reading: Callable[[int], tuple[int, int, int]],
    ) -> list[int]:
        """Return the list lines of a "which trusts" / "how did trusts" answer: the items that
        answer it, or else the best sentence of each further document."""
        p = self.params
        lead = units[chosen[0]]
        items = [i for s, i in ranked if units[i].item and i not in chosen]
        if part.kind == "which" and (items or lead.item):
            # Items of one list read best in the list's order; an item holding fewer of the
            # question's words than its neighbours ("good to outstanding" beside "requires
            # improvement to good") does not answer it.
            same = [i for i in items if units[i].doc == lead.doc] if lead.item else items
            picked = (same or items)[: p.list_lines]
            best = max((coverage.get((part.text, i), 0.0) for i in [*picked, chosen[0]]), default=0.0)
            picked = [i for i in picked if coverage.get((part.text, i), 0.0) >= p.item_share * best]
            return sorted(picked, key=reading)
        seen = {units[i].doc for i in chosen}
        lines = []
        for s, i in ranked:
            doc = units[i].doc
            if (
                s >= floor
                and doc not in seen
                and not units[i].item
                and (part.kind != "how" or units[i].says_how)
            ):
                seen.add(doc)
                lines.append(i)
        return lines[: p.list_lines]

    def _repeats(self, i: int, chosen: list[int], scored: _Scored) -> bool:
        a = scored.tokens[i]
        return any(len(a & scored.tokens[j]) >= self.params.redundancy * max(len(a), 1) for j in chosen)

    def _continuations(self, chosen: list[int], units: list[Unit]) -> list[int]:
        """Return the sentence after a chosen one when it goes on from it ("This...", "They...").

        A sentence that lists items ("...includes:") brings its items.
        """
        extra = []
        for i in chosen:
            j = i + 1
            if j < len(units) and units[j].passage == units[i].passage and units[j].continues:
                extra.append(j)
        return extra[:1]

    def _render(
        self,
        question: str,
        query: str,
        chosen: list[int],
        lines: list[int],
        gaps: list[str],
        units: list[Unit],
        passages: Sequence[Passage],
        items_lead: bool,
        listed: Mapping[int, list[int]],
    ) -> Answer:
        numbers: dict[str, int] = {}
        owner: dict[str, int] = {}
        quoted: dict[str, list[str]] = {}

        def cite(i: int, marked: bool = True) -> str:
            unit = units[i]
            doc = passages[unit.passage].chunk.doc_id
            n = numbers.setdefault(doc, len(numbers) + 1)
            owner.setdefault(doc, unit.passage)
            quoted.setdefault(doc, []).append(unit.text)
            return f"{unit.text} [{n}]" if marked else unit.text

        def paragraph() -> str:
            # A list's lead-in ("Its topics include:") is quoted with its items, which carry the marker.
            out = ""
            for i in chosen:
                items = listed.get(i)
                if items:
                    lead_in = cite(i, marked=False)
                    # The items in the list's order; those left out are marked as left out, as in
                    # any quotation.
                    items = sorted(items)
                    whole = _list_after(i, units, passages) or items
                    rows, last = [], -1
                    for j in items:
                        at = whole.index(j) if j in whole else last + 2  # (not in its list as read)
                        if at > last + 1:
                            rows.append("- …")
                        rows.append(f"- {cite(j)}")
                        last = at
                    if last < len(whole) - 1:
                        rows.append("- …")
                    out += (
                        ("" if not out or out.endswith("\n") else " ")
                        + f"{lead_in}\n"
                        + "\n".join(rows)
                        + "\n\n"  # what follows a list is a paragraph of its own, not part of its last item
                    )
                else:
                    out += ("" if not out or out.endswith("\n") else " ") + cite(i)
            return out.strip()

        bullets = lambda: "\n".join(f"- {cite(i)}" for i in lines)  # noqa: E731
        # Numbers follow the order of first use, so build the blocks in reading order.
        blocks = [bullets(), paragraph()] if items_lead else [paragraph(), bullets()]
        text = "\n\n".join(b for b in blocks if b)
        if gaps:
            text += "\n\n" + " ".join(f"The library does not answer “{_as_question(g)}”." for g in gaps)
        citations = tuple(
            _merged(n, passages, owner[doc], quoted[doc], _passages_of(passages, doc))
            for doc, n in numbers.items()
        )
        return Answer(question, text, False, citations, query, unanswered=tuple(gaps))

    def _mentioned(
        self, names: Sequence[str], allowed: Callable[[Chunk], bool] | None = None
    ) -> list[Passage]:
        """Return the best passage of each document that mentions every one of ``names`` (of
        those ``allowed``: a filtered question names no document its filters leave out)."""
        assert self.mentions is not None
        found = [p for p in self.mentions(names) if allowed is None or allowed(p.chunk)]
        return list({p.chunk.doc_id: p for p in reversed(found)}.values())[::-1]

    def missing(
        self,
        question: str,
        query: str = "",
        reason: str | None = None,
        *,
        allowed: Callable[[Chunk], bool] | None = None,
    ) -> Answer:
        """Return the abstention, offering what the library holds about the question's subject
        (in the documents ``allowed``)."""
        intent = read_question(question)
        central = intent.central
        # The question as asked, or its first part as read ("What share ..., after the change?").
        shown = question.strip() if len(intent.parts) == 1 else central.text
        names = list(central.names)
        if not names or self.mentions is None or reason:
            return abstain(question, query, reason)
        found = self._mentioned(names, allowed)
        if not found and len(names) > 1:
            # No passage prints every name ("CQC" and "Somerset Partnership"): offer what the
            # library holds about the name it prints least often, the likeliest subject.
            held = [(len(docs), name, docs) for name in names if (docs := self._mentioned([name], allowed))]
            if held:
                _, name, found = min(held, key=lambda row: row[0])
                names = [name]
        if not found:  # (one line per document: its best passage)
            return abstain(question, query)
        subject = _as_written(question, names)
        n = len(found)
        count = f"more than {_NAMED} documents" if n > _NAMED else f"{n} document{'s' if n != 1 else ''}"
        head = (
            f"Not in the library: no passage answers “{_as_question(shown)}”. "
            f"{'The documents your filters allow mention' if allowed else 'The library mentions'} "
            f"{subject} in {count}, but not this:"
        )
        citations = tuple(Citation.from_passage(k, p) for k, p in enumerate(found[:_NAMED], start=1))
        lines = [f"- {c.title} [{c.n}]" for c in citations]
        return replace(abstain(question, query), text=head + "\n" + "\n".join(lines), citations=citations)


def _as_written(question: str, names: Sequence[str]) -> str:
    """Return the names as the question writes them when they stand together, joined only by
    commas and "and" ("Northumberland, Tyne and Wear" is read as two names); else joined by "and"."""
    words = [re.escape(w) for name in names for w in name.split()]
    if words:
        pattern = r"(?:[\s,]+(?:and|&)?\s*)".join(words)
        found = re.search(rf"\b{pattern}\b", question)
        if found:
            return found.group(0)
    return " and ".join(names)


def _with_query_subject(intent: Intent, query: str) -> Intent:
    """Return ``intent`` with the subject words a follow-up's search query carried over ("what
    about East London?" searched as "East London crisis line" is about the crisis line)."""
    searched = unexpanded(query)
    central = intent.central
    asked = set(central.terms) | {t for part in intent.parts for t in part.terms}
    carried = tuple(t for t in read_question(searched).central.terms if t not in asked)
    if not carried or searched.strip() == intent.question.strip():
        return intent
    return Intent(intent.question, (replace(central, terms=central.terms + carried), *intent.parts[1:]))


def _in_reading_order(
    indices: list[int], chosen: list[int], units: list[Unit], passages: Sequence[Passage]
) -> list[int]:
    """Return ``indices`` as their documents print them, documents in the order ``chosen`` cites them."""
    docs: dict[str, int] = {}
    for i in chosen:
        docs.setdefault(units[i].doc, len(docs))
    return sorted(
        indices,
        key=lambda i: (docs[units[i].doc], passages[units[i].passage].chunk.position, units[i].position),
    )


def _with_antecedents(
    chosen: list[int], units: list[Unit], lines: list[int], asked: Callable[[int], bool]
) -> list[int]:
    """Return ``chosen`` with the sentence before each one that leans back on it ("a saving of
    this size" needs the sentence giving the saving), placed just before it; a sentence giving
    a figure is moved there when it was chosen itself, further down.

    A sentence whose "it" the question names (``asked``: the sentence before is about what the
    question asks about) needs no sentence before it; nor does one whose sentence before leans
    back in its turn ("He pointed to ..." tells no more who "he" is).
    """
    out: list[int] = []
    for i in chosen:
        before = i - 1
        if (
            units[i].leans_back
            and not _opens_list(units[i].text)  # "Its topics include:" is read with its list
            and before >= 0
            and units[before].passage == units[i].passage
            and not units[before].item
            and (units[i].of_figure or not (units[before].leans_back or asked(before)))
            and (before not in chosen or units[i].of_figure)  # the figure goes before its comment
            and before not in lines
            and before not in out
        ):
            out.append(before)
        if i not in out:
            out.append(i)
    return out


def _subject_is(text: str, names: Sequence[str]) -> bool:
    """Return whether one of ``names`` is the first name ``text`` prints ("Because of this
    journey, Calderstones was chosen ..."; not "Mr Lawlor said his trust worked with NHS
    Improvement" for NHS Improvement)."""
    at = [k for k in (text.find(name) for name in names) if k >= 0]
    if not at:
        return False
    words = re.findall(r"[A-Za-z][\w'’-]*", text[: min(at)])
    return not any(w[0].isupper() for w in words[1:])


def _only_a_name(text: str) -> bool:
    """Return whether a list item is a name and nothing else ("Sussex Partnership NHS Foundation
    Trust"), saying no more than that it is a member of its list."""
    words = re.findall(r"[\w'’&-]+", text)
    return bool(words) and all(
        w[0].isupper() or w[0].isdigit() or w in ("and", "of", "the", "for", "&") for w in words
    )


def _lead_in_of(i: int, units: list[Unit], passages: Sequence[Passage]) -> int | None:
    """Return the lead-in ("Its topics include:") of the list item ``i`` belongs to, if it has
    one: in its passage, or at the end of the passage before it in the document (a list that
    chunking split)."""
    passage, k = units[i].passage, i - 1
    while True:
        while k >= 0 and units[k].passage == passage and units[k].item:
            k -= 1
        if k >= 0 and units[k].passage == passage:
            return k if _opens_list(units[k].text) else None
        chunk = passages[passage].chunk
        before = next(
            (
                n
                for n, p in enumerate(passages)
                if p.chunk.doc_id == chunk.doc_id and p.chunk.position == chunk.position - 1
            ),
            None,
        )
        if before is None:
            return None
        ends = [n for n, u in enumerate(units) if u.passage == before]
        if not ends:
            return None
        passage, k = before, ends[-1]


def in_both_lists(
    first: Sequence[Chunk], second: Sequence[Chunk], meaning: Callable[[str], str | None]
) -> list[str]:
    """Return the names that a list or table in ``first`` and one in another document in
    ``second`` both give as an entry ("Lincolnshire Partnership NHS FT", "Lincolnshire Partnership
    NHS Foundation Trust": acronyms are read by their ``meaning``), as the first prints them
    without the words most entries end with ("NHS", "Trust"), which are not compared."""
    ours, theirs = _entries(first), _entries(second)
    spelt = {
        name: " ".join((meaning(w) or w) if re.fullmatch(r"[A-Z][A-Z&]{1,5}", w) else w for w in name.split())
        for name, _ in ours + theirs
    }
    counts = Counter(w for name in spelt.values() for w in set(_name_words(name)))
    common = {w for w, n in counts.items() if n > len(spelt) / 2}  # "nhs", "trust"

    def key(name: str) -> frozenset[str]:
        return frozenset(_name_words(spelt[name])) - common

    listed = {(key(name), doc) for name, doc in theirs}
    found: list[str] = []
    for name, doc in ours:
        if key(name) and any(k == key(name) and d != doc for k, d in listed):
            words = name.split()
            while len(words) > 1 and set(_name_words(meaning(words[-1]) or words[-1])) <= common:
                words.pop()
            found.append(" ".join(words))
    return list(dict.fromkeys(found))


def _entries(chunks: Sequence[Chunk]) -> list[tuple[str, str]]:
    """Return (name, document) for each list item or table row of ``chunks`` that opens with a
    name (its first cell, or what comes before a colon)."""
    out = []
    for k, chunk in enumerate(chunks):
        for unit in units_of(k, chunk.text, chunk.doc_id):
            head = _entry_name(unit.text)
            if unit.item and len(head.split()) >= 2 and _only_a_name(head):
                out.append((head, chunk.doc_id))
    return out


def _entry_name(text: str) -> str:
    """Return what a list item or table row opens with: a row's first cell, without the column it
    is under ("Trust: Oxleas NHS Foundation Trust | From: ..."), or an item's words before a colon
    or dash ("Oxleas NHS Foundation Trust: requires improvement to good.")."""
    if ROW in text:
        return first_cell(text).split(": ", 1)[-1].strip(" .")
    return re.split(r":\s|\s[–—-]\s", text, maxsplit=1)[0].strip(" .")


def _name_words(name: str) -> list[str]:
    return [w.lower() for w in re.findall(r"[\w'’&-]+", name)]


def _first_item(i: int, units: list[Unit]) -> int:
    """Return the first item of the list (or table) in its passage that item ``i`` belongs to."""
    while i > 0 and units[i - 1].item and units[i - 1].passage == units[i].passage:
        i -= 1
    return i


def _member_of(question: str, i: int, units: list[Unit]) -> set[str]:
    """Return the words of "one of the seven trusts" that list item ``i`` holds by being in its
    list: "one of", and the number when its list (in its passage) has that many items, or that
    many rows below a table's header."""
    held = {"one"} if re.search(r"\bone of\b", question, re.IGNORECASE) else set()
    first = last = _first_item(i, units)
    while last + 1 < len(units) and units[last + 1].item and units[last + 1].passage == units[i].passage:
        last += 1
    size = last - first + 1
    sizes = {size, size - 1} if units[first].row else {size}  # a table's first row may be its header
    for word in re.findall(r"\b\w+\b", question.lower()):
        number = int(word) if word.isdigit() else _NUMBER_WORDS.get(word)
        if number in sizes:
            held.add(word)
    return held


_NUMBER_WORDS = {
    word: n
    for n, word in enumerate(
        (
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
            "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
            "nineteen", "twenty",
        )
    )
}  # fmt: skip


def _items_after(i: int, units: list[Unit], passages: Sequence[Passage]) -> list[int]:
    """Return the list items that follow unit ``i``: in its passage, or when it ends its passage,
    at the start of the document's next passage (chunking may put a list after its lead-in)."""
    passage = units[i].passage
    if i + 1 == len(units) or units[i + 1].passage != passage:
        chunk = passages[passage].chunk
        following = next(
            (
                k
                for k, p in enumerate(passages)
                if p.chunk.doc_id == chunk.doc_id and p.chunk.position == chunk.position + 1
            ),
            None,
        )
        start = next((j for j, u in enumerate(units) if u.passage == following), None)
        if start is None:
            return []
        i, passage = start - 1, following
    items = []
    for j in range(i + 1, len(units)):
        if not (units[j].item and units[j].passage == passage):
            break
        items.append(j)
    return items


def _list_after(i: int, units: list[Unit], passages: Sequence[Passage]) -> list[int]:
    """Return the whole list unit ``i`` leads in, over as many of the retrieved passages as it runs."""
    items = _items_after(i, units, passages)
    while items:
        more = [j for j in _items_after(items[-1], units, passages) if j not in items]
        if not more:
            break
        items += more
    return items


def _figures(text: str) -> set[str]:
    """Return the figures ``text`` prints as words ("2" and "2019" in "phase 2 ... in 2019"; not
    the span "24/7"), financial years ("2018/19"), and the codes of a letter and a number ("Q3")."""
    return set(
        re.findall(r"(?<![\w.,/])(?:[A-Z]\d{1,2}\b|(?:19|20)\d\d/\d\d|\d+(?:[.,]\d+)*)(?![\w/]|[.,]\d)", text)
    )


_OUTCOME = re.compile(r"[£$€]\s?\d|\d\s?%|\d\s?per cent\b|\b\d+(?:\.\d+)?\s?(?:m|bn|million|billion)\b")
_YEAR = re.compile(r"(?:19|20)\d\d(?:/\d\d)?")  # "2019", "2019/20"
_PERIOD = re.compile(r"(?:19|20)\d\d(?:/\d\d)?|[A-Z]\d{1,2}")  # a year or a code ("Q3")


_COMPARED = re.compile(r"\b(?:compared (?:with|to)|than|against|(?:up|down) from)\b", re.IGNORECASE)


def _dated_by(text: str) -> set[str]:
    """Return the years that date what ``text`` says: not one it compares with ("six actions,
    compared with 31 after our 2017 inspection")."""
    compared = _COMPARED.search(text)
    return set(_YEAR.findall(text[: compared.start()] if compared else text))


def _same_year(a: str, b: str) -> bool:
    """Return whether two years are one: "2019" is "2019" and falls in "2019/20" and "2018/19"."""
    if "/" in a and "/" in b:
        return a == b
    if "/" in b:
        a, b = b, a
    if "/" not in a:
        return a == b
    start = int(a[:4])
    return b in (str(start), str(start + 1))


def _framing(first: str, later: str) -> set[str]:
    """Return the years and codes of the question's first part that a later part giving none of
    its own asks about too: "In Q3 2022/23, what was the median wait, and what percentage
    started within 18 weeks?" asks the percentage of Q3 2022/23."""
    periods = lambda text: {f for f in _figures(text) if _PERIOD.fullmatch(f)}  # noqa: E731
    return set() if periods(later) else periods(first)


_LEADING_NAME = re.compile(r"^[-•*\s]*([A-Z][\w'’&-]*)")  # the first word of a list item's name
# A list item opening with a name of two capitalised words ("- Oxleas NHS ..."), not with prose.
_NAMED_ITEM = re.compile(r"^[-•*\s]*(?:\d+[.)]\s*)?[A-Z][\w'’&-]*,?\s+(?:(?:and|of|&)\s+)?[A-Z]")
_SEPARATOR = r"\s*,?\s+(?:(?:and|or|&)\s+)?"  # between the words of names as printed
_GOES_ON = re.compile(r"\s*,\s*[A-Z]|\s+(?:and|&)\s+[A-Z]")  # "Northumberland, Tyne| and Wear"
_WENT_ON = re.compile(r"[A-Z][\w'’-]*(?:\s*,\s*|\s+(?:and|&)\s+)$")  # "Tyne and |Wear"


def _segmented(names: Sequence[str], texts: Sequence[str]) -> list[str]:
    """Return coordinated ``names`` regrouped as ``texts`` print them: from the left, the
    shortest run of names that some text prints standing alone (not inside a longer "A, B and
    C"), joined by "and"; a name no text prints alone or joined stays as it is."""
    if len(names) < 2:
        return list(names)
    out, i = [], 0
    while i < len(names):
        for j in range(i + 1, len(names) + 1):
            if _stands_alone(names[i:j], texts):
                out.append(" and ".join(names[i:j]))
                i = j
                break
        else:
            out.append(names[i])
            i += 1
    return out


def _stands_alone(names: Sequence[str], texts: Sequence[str]) -> bool:
    pattern = re.compile(
        r"(?<![\w'’-])" + _SEPARATOR.join(re.escape(w) for n in names for w in n.split()) + r"(?![\w'’-])"
    )
    for text in texts:
        for found in pattern.finditer(text):
            before = text[max(0, found.start() - 80) : found.start()]
            if not _GOES_ON.match(text, found.end()) and not _WENT_ON.search(before):
                return True
    return False


def within(phrase: Sequence[str], words: Sequence[str]) -> bool:
    """Return whether ``phrase`` occurs in ``words`` as a run ("Devon Partnership NHS Trust" is
    not in "Torbay and South Devon NHS Trust, ... Partnership")."""
    n = len(phrase)
    return any(words[k : k + n] == phrase for k in range(len(words) - n + 1))


def _counts(focus: str, words: list[str], asked: set[str]) -> bool:
    """Return whether ``words`` name the thing a quantity question counts, not another thing
    of the same name: "bed costs" is not the cost of the crisis line that a question asks for."""
    for k, word in enumerate(words):
        if word == focus:
            j = k - 1
            while j >= 0 and (words[j] in _MODALS or words[j] in _BEING):  # "£5bn could be saved"
                j -= 1
            before = words[j] if j >= 0 else ""
            if before in _PARTICLES and j >= 1:  # "set-up cost", "roll-out cost": a cost of doing
                return True  # something to the subject, not the cost of another thing ("bed costs")
            if not before or before in asked or before in _COUNTING or is_number(before):
                return True
    return False


def _numbered(focus: str, words: list[str]) -> bool:
    """Return whether ``words`` give a number of ``focus`` a few words before it ("seven NHS
    mental health trusts")."""
    return any(
        w == focus and any(is_number(x) for x in words[max(k - 4, 0) : k]) for k, w in enumerate(words)
    )


# "Chief People Officer", "Deputy Chief Inspector": a post, as a title.
_POST = re.compile(rf"\b(?:[A-Z][a-z]+\s+){{1,3}}(?:{POSTS.title()})\b")
# "service manager for the Hollin Vale site", "chief executive of NTW": a post, and what it is of.
_POST_OF = re.compile(rf"\b(?:{POSTS})s?\s+(?:for|of|at)\b", re.IGNORECASE)
# What a post does to what it is of: "who leads / runs / manages / heads the site?"
_LEADING = "lead run manage head chair oversee direct"

# "the NHSI mental health improvement resource", "the CQC report": a piece of writing, by whom.
_WRITING = (
    r"(?:[a-z-]+\s+){0,4}?(?:report|review|resource|guide|guidance|article|study|studies|paper|page|"
    r"publication|document|letter|blog|briefing|toolkit|framework|strategy|survey|evaluation)s?\b"
)


def _counted_before(stem: str, text: str) -> bool:
    """Return whether a number counts the ``stem`` a few words after it, with only words naming
    what kind they are between ("seven NHS mental health trusts"); not a figure of another thing
    ("about 4,300 of them are people", "the eleven services, the total number of people")."""
    for clause in re.split(r"[,;:()]", text):
        words = clause.split()
        for k, word in enumerate(words):
            if not is_number(word) or _YEAR.fullmatch(word):
                continue
            for between, after in enumerate(words[k + 1 : k + 5]):
                low = after.lower().strip(".'’\"“”")
                if low.startswith(stem) and len(low) <= len(stem) + 3:
                    if between:  # a count right before it is _counts' to judge
                        return True
                    break
                if low in FUNCTION_WORDS or is_number(after):
                    break
    return False


def _owns(focus: str, text: str) -> bool:
    """Return whether ``text`` gives the thing counted as its subject's own: "It has a budget of
    £1.9 million" ("had cost the trust £1.4 million" is a verb's, and says what cost it)."""
    owner = r"\b(?:has|have|had|having|with)\s+(?:a|an|its|their|his|her|our)\s+(?:[\w-]+\s+)?"
    return bool(re.search(owner + re.escape(focus), text, re.IGNORECASE))


def _opens_list(text: str) -> bool:
    """Return whether a sentence introduces the list after it: "Its topics include:", or one
    that counts what follows ("We have agreed six priorities with carers.")."""
    return text.endswith(":") or bool(_COUNTS_LIST.search(text)) or bool(_FOLLOWING.match(text))


_FOLLOWING = re.compile(r"(?:the|these)\s+following\b", re.IGNORECASE)  # "The following trusts feature ..."
# "six priorities", "10 questions", "three key steps": a count of the items a list will give.
_COUNTS_LIST = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\d{1,2})\s+(?:[a-z-]+\s+)?"
    r"(?:priorities|steps|questions|actions|themes|principles|changes|recommendations|lessons|areas|aims"
    r"|goals|objectives|ways|things|points|commitments|findings|stages|phases|tips)\b"
)


_PARTICLES = frozenset({"up", "out", "off", "down", "over", "on", "in"})  # of "set-up", "roll-out"


def _passages_of(passages: Sequence[Passage], doc: str) -> list[int]:
    """Return the indexes of the passages from document ``doc``, in rank order."""
    return [i for i, p in enumerate(passages) if p.chunk.doc_id == doc]


def _merged(n: int, passages: Sequence[Passage], first: int, quoted: list[str], same: list[int]) -> Citation:
    """Return one citation for a document: the passage first quoted, joined by any other of its
    passages an answer quotes (in reading order), with every quoted sentence."""
    used = [i for i in same if any(q in passages[i].chunk.text for q in quoted)] or [first]
    used.sort(key=lambda i: passages[i].chunk.position)
    citation = Citation.from_passage(n, passages[first], tuple(dict.fromkeys(quoted)))
    if len(used) == 1:
        return citation
    text = "\n\n".join(passages[i].chunk.text for i in used)
    return replace(citation, text=text, positions=tuple(passages[i].chunk.position for i in used))


def _as_question(text: str) -> str:
    text = text.strip().rstrip("?").strip()
    return text[:1].upper() + text[1:] + "?"
