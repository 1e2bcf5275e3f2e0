"""Acronyms, expanded in the search query so "How did LCFT cut OAPs?" finds the full words.

Staff write in acronyms; documents usually spell names out. Meanings come from two places: a
YAML file the user can edit (``acronyms.yaml`` beside this module by default), and the library
itself: a capitalised name whose initials spell the acronym ("East London NHS Foundation Trust"
for ELFT, "Northumberland, Tyne and Wear" for NTW), or an explicit "Full Name (ACR)". The
expansion is appended to the query (the question is kept), and the query searched is shown.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from assistant.evidence import TITLES
from assistant.intent import FUNCTION_WORDS, POSTS
from vectorstore import DataError

DEFAULT_FILE = Path(__file__).with_name("acronyms.yaml")
_TOKEN = re.compile(r"\b([A-Z][A-Z&]{1,5})(s?)\b")
_MEANINGS = re.compile(r"\s*\([^()]*\)\s*$")  # what expand() appends
_CONNECTORS = frozenset({"and", "of", "the", "&", "for", "in", "on"})
# Runs of capitalised words, joined by connectors or commas: "Northumberland, Tyne and Wear".
_RUN = re.compile(r"[A-Z][\w'’&-]*(?:(?:,\s|\s(?:and|of|the|&|for|in|on)\s|\s)[A-Z][\w'’&-]*)*")
_DEFINED = re.compile(
    r"([A-Z][\w'’&-]*(?:(?:,\s|\s(?:and|of|the|&|for|in|on)\s|\s)[A-Z][\w'’&-]*)+)\s\(([A-Z][A-Za-z&]{1,7})\)"
)


def load_acronyms(path: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Return the acronyms in a YAML mapping file (the shipped one when ``path`` is None), each
    with its meanings: one, or a list of the ways documents write it ("A&E: [accident and
    emergency, emergency department]")."""
    path = Path(path) if path else DEFAULT_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise DataError(f"{path}: cannot read the acronyms file ({exc.strerror}). Fix the path") from None
    except yaml.YAMLError:
        raise DataError(f"{path}: not valid YAML. Write one 'ACRONYM: meaning' per line") from None
    hint = (
        "expected 'ACRONYM: meaning' or 'ACRONYM: [meaning, ...]' lines, e.g. 'CQC: Care Quality Commission'"
    )
    if not isinstance(data, Mapping):
        raise DataError(f"{path}: {hint}")
    acronyms: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        meanings = [value] if isinstance(value, str) else value
        if not isinstance(meanings, list) or not meanings or not all(isinstance(m, str) for m in meanings):
            raise DataError(f"{path}: cannot read the meaning of {key}: {hint}")
        acronyms[str(key)] = tuple(meanings)
    return acronyms


SYNONYMS_FILE = Path(__file__).with_name("synonyms.yaml")


def load_synonyms(path: Path | None = None) -> list[tuple[list[str], list[str]]]:
    """Return the synonyms of a YAML list file (the shipped one when ``path`` is None), as pairs
    of (words a question asks with, words a sentence may hold instead). A line ``[a, b]`` reads
    each word as the other; ``{pay: [fund]}`` reads a question's "pay" in a sentence's "fund" only
    ("who paid for it" is "who funded it"; "who funds it" is not "who pays a premium")."""
    path = Path(path) if path else SYNONYMS_FILE
    hint = "Write '- [word, word, ...]' or '- {asked: [word, ...]}' lines, e.g. '- [choose, select]'"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except OSError as exc:
        raise DataError(f"{path}: cannot read the synonyms file ({exc.strerror}). Fix the path") from None
    except yaml.YAMLError:
        raise DataError(f"{path}: not valid YAML. {hint}") from None
    pairs: list[tuple[list[str], list[str]]] = []
    for line in data if isinstance(data, list) else [data]:
        if isinstance(line, list) and all(isinstance(w, str) for w in line):
            pairs.append((line, line))
        elif isinstance(line, Mapping) and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(w, str) for w in v)
            for k, v in line.items()
        ):
            pairs.extend(([asked], held) for asked, held in line.items())
        else:
            raise DataError(f"{path}: cannot read the line {line!r}. {hint}")
    return pairs


def synonym_stems(
    pairs: Iterable[tuple[list[str], list[str]]], tokenize: Callable[[Sequence[str]], list[list[str]]]
) -> dict[str, frozenset[str]]:
    """Return, for each stem a question may ask with, the stems a sentence may hold instead (a
    stem on two lines takes both: "launch" is both "start" and "open"). A phrase a sentence may
    hold instead ("young people") is held as itself (``Phrase.token``); a phrase asked with is
    read by ``synonym_phrases``, only in a question that holds it."""
    found: dict[str, set[str]] = defaultdict(set)
    for asked, held in pairs:
        held_stems = _held(held, tokenize)
        for stem in {t for toks in tokenize([w for w in asked if not _is_phrase(w)]) for t in toks}:
            found[stem] |= held_stems - {stem}
    return {stem: frozenset(others) for stem, others in found.items() if others}


@dataclass(frozen=True)
class Phrase:
    """A synonym of several words: "held down", read where its words stand in order."""

    token: str  # how a sentence holding it holds it: "held down" (no stem has a space)
    stems: frozenset[str]  # the words a question asks with, as the index stems them
    pattern: re.Pattern[str]  # its words in order, up to two others between ("holding patients down")
    held: frozenset[str] = frozenset()  # what a sentence may hold instead, when a question asks it
    means: str = ""  # the line's first other entry, which a search for it adds ("restraint")

    def found(self, text: str) -> bool:
        """Return True when ``text`` holds the phrase. Its first word is looked for first: every unit
        of every passage is checked against every phrase, and the pattern is six times slower."""
        return self.token.split(" ", 1)[0] in text.lower() and self.pattern.search(text) is not None


def synonym_phrases(
    pairs: Iterable[tuple[list[str], list[str]]], tokenize: Callable[[Sequence[str]], list[list[str]]]
) -> tuple[Phrase, ...]:
    """Return the phrases of several words on the synonym lines, each with what a sentence may
    hold instead when a question asks with it ("held down": "restraint")."""
    held_by: dict[str, set[str]] = defaultdict(set)
    means: dict[str, str] = {}
    every: set[str] = set()
    for asked, held in pairs:
        every.update(_phrase_key(w) for w in [*asked, *held] if _is_phrase(w))
        for phrase in (_phrase_key(w) for w in asked if _is_phrase(w)):
            held_by[phrase] |= _held(held, tokenize) - {phrase}
            means.setdefault(phrase, next((w for w in held if _phrase_key(w) != phrase), ""))
    return tuple(
        Phrase(
            token=key,
            stems=frozenset(t for toks in tokenize([key]) for t in toks),
            pattern=re.compile(r"\b" + _GAP.join(map(re.escape, key.split())) + r"\b", re.IGNORECASE),
            held=frozenset(held_by.get(key, ())),
            means=means.get(key, ""),
        )
        for key in sorted(every)
    )


_GAP = r"\W+(?:\w+\W+){0,2}?"  # between a phrase's words: up to two others


def _is_phrase(entry: str) -> bool:
    """Return whether a synonym entry is several words: "held down", or "24-hour" (whose parts the
    index reads as two words, each of which alone means something else)."""
    return " " in entry.strip() or "-" in entry.strip(" -")


def _phrase_key(phrase: str) -> str:
    return " ".join(phrase.lower().split())


def _held(words: Sequence[str], tokenize: Callable[[Sequence[str]], list[list[str]]]) -> set[str]:
    """Return what a sentence holding one of ``words`` holds: a word's stems, a phrase itself."""
    phrases = {_phrase_key(w) for w in words if _is_phrase(w)}
    return {t for toks in tokenize([w for w in words if not _is_phrase(w)]) for t in toks} | phrases


class Glossary:
    """Acronym meanings from the user's file, completed from the library's own names."""

    def __init__(
        self,
        acronyms: Mapping[str, str | Sequence[str]],
        library_texts: Iterable[str] = (),
        phrases: Sequence[Phrase] = (),
    ) -> None:
        self._meanings = {k: (v,) if isinstance(v, str) else tuple(v) for k, v in acronyms.items()}
        self.acronyms = {k: v[0] for k, v in self._meanings.items()}  # the first meaning of each
        self.phrases = tuple(phrases)
        self.people: dict[str, frozenset[str]] = {}  # "Paul Lelliott": the words of his post
        self._learned = _learn(library_texts, set(self.acronyms), self.people)

    def meaning(self, acronym: str) -> str | None:
        """Return what ``acronym`` stands for (the file first, then the library), or None."""
        key = acronym.upper().removesuffix("S") if acronym.upper() not in self else acronym.upper()
        return self.acronyms.get(key) or self._learned.get(key)

    def alias(self, name: str) -> str | None:
        """Return the other name of ``name``: an acronym's meaning, or the acronym the user's file
        gives a meaning ("NHS Improvement" -> "NHSI"), or None. (The initials learned from the
        library are guesses at every name's acronym; only the file's are known to be used.)"""
        found = self.meaning(name)
        if found:
            return found
        wanted = _plain(name)
        return next(
            (acronym for acronym, meaning in self.acronyms.items() if _plain(meaning) == wanted), None
        )

    def names_for(self, name: str) -> tuple[str, ...]:
        """Return every other name of ``name``: each meaning the user's file gives an acronym ("A&E":
        "accident and emergency", "emergency department"), else :meth:`alias`."""
        key = name.upper().removesuffix("S") if name.upper() not in self._meanings else name.upper()
        if key in self._meanings:
            return self._meanings[key]
        found = self.alias(name)
        return (found,) if found else ()

    def __contains__(self, acronym: str) -> bool:
        return acronym in self.acronyms or acronym in self._learned

    def expand(self, question: str) -> str:
        """Return ``question`` with the meaning of each known acronym in it appended, and the
        synonym of each phrase it asks with ("held down": "restraint")."""
        meanings: list[str] = []
        for acronym, plural in _TOKEN.findall(question):
            learned = (self._learned[acronym],) if acronym in self._learned else ()
            for meaning in self._meanings.get(acronym, learned):
                if meaning not in meanings and meaning.lower() not in question.lower():
                    meanings.append(meaning + plural)
        found = [(m.start(), p.means) for p in self.phrases if p.means and (m := p.pattern.search(question))]
        meanings += [means for _, means in sorted(found) if not _says(question, means)]  # in its order
        meanings += [name for name in self.holders(question) if name.lower() not in question.lower()]
        meanings = list(dict.fromkeys(meanings))
        return f"{question} ({'; '.join(meanings)})" if meanings else question

    def holders(self, question: str) -> list[str]:
        """Return the person the library names in each post ``question`` asks of by its words
        ("CQC's mental health lead": "Paul Lelliott", whom it introduces as "Deputy Chief
        Inspector of Hospitals (lead for mental health)"), where only one person holds them."""
        found = []
        for role in _ROLE_ASKED.finditer(question):
            post = re.split(r"['’]s\s+", role.group(0))[-1]  # not the owner: "the regulator's"
            words = {w.lower() for w in re.findall(r"[A-Za-z-]+", post) if w[:1].islower()}
            words -= FUNCTION_WORDS
            if len(words) < 2:  # "the lead" alone could be anyone's post
                continue
            holders = [name for name, given in self.people.items() if words <= given]
            if len(holders) == 1:
                found.append(holders[0])
        return found


# "Dr Paul Lelliott, Deputy Chief Inspector of Hospitals (lead for mental health), said": a person
# (two or three capitalised words, after a title or not) and the post set after the name. The title
# is read as part of the run and taken off after: an optional group before the run is tried at
# every letter of the library, which is read when the library is opened.
_NAMED_POST = re.compile(
    r"\b([A-Z][a-z'’-]+(?:\s+[A-Z][a-z'’-]+){1,3}),\s+"
    r"([^,.;:\n“”\"]{3,120}?)(?=,|\.\s|;|:|\s+(?:said|says|told|added|explained|wrote)\b)"
)
_TITLE = re.compile(rf"^(?:{'|'.join(TITLES)})\.?\s+")
_POST_WORD = re.compile(rf"\b(?:{POSTS})\b", re.IGNORECASE)
# A post a question asks of: "CQC's mental health lead", "the lead for mental health at CQC".
_ROLE_ASKED = re.compile(
    rf"(?:[\w'’-]+\s+){{0,3}}(?:{POSTS})s?\b(?:\s+(?:for|of)\s+(?:[a-z-]+\s*){{1,3}})?", re.IGNORECASE
)


def _says(text: str, words: str) -> bool:
    return re.search(rf"\b{re.escape(words)}\b", text, re.IGNORECASE) is not None


def unexpanded(query: str) -> str:
    """Return ``query`` without the acronym meanings :meth:`Glossary.expand` appended."""
    return _MEANINGS.sub("", query)


def _plain(name: str) -> str:
    return " ".join(name.lower().replace(",", " ").split())


def _initials(words: list[str]) -> str:
    return "".join(w[0] for w in words if w.lower() not in _CONNECTORS and w != "NHS")


def _learn(texts: Iterable[str], known: set[str], people: dict[str, frozenset[str]]) -> dict[str, str]:
    """Return acronym -> the library's name for it: defined "Name (ACR)" first, then the most
    frequent capitalised name (or its opening words) whose initials spell it. Fill ``people``
    with the posts the library gives people ("Dr Paul Lelliott, Deputy Chief Inspector ...")."""
    defined: dict[str, str] = {}
    by_initials: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        for run, post in _NAMED_POST.findall(text):
            name = _TITLE.sub("", run)
            if len(name.split()) <= 3 and _POST_WORD.search(post):
                words = {
                    w.lower().removesuffix("'s").removesuffix("’s") for w in re.findall(r"[\w'’-]+", post)
                }
                people[name] = people.get(name, frozenset()) | frozenset(words - FUNCTION_WORDS)
        for name, acronym in _DEFINED.findall(text):
            words = name.replace(",", "").split()
            for start in range(len(words)):
                if _initials(words[start:]) == acronym:
                    defined.setdefault(acronym, " ".join(name.split()[start:]).strip(", "))
                    break
        for run in _RUN.findall(text):
            words = run.replace(",", "").split()
            if len(words) < 2:
                continue
            for end in range(2, len(words) + 1):
                initials = _initials(words[:end])
                if len(initials) >= 2:
                    by_initials[initials][" ".join(run.split()[:end]).strip(", ")] += 1
    learned = {a: n for a, n in defined.items() if a not in known}
    for initials, names in by_initials.items():
        if initials not in known and initials not in learned and initials.isupper():
            learned[initials] = names.most_common(1)[0][0]
    return learned
