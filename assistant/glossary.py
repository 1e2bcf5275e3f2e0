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
from pathlib import Path

import yaml

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


def load_acronyms(path: Path | None = None) -> dict[str, str]:
    """Return the acronyms in a YAML mapping file (the shipped one when ``path`` is None)."""
    path = Path(path) if path else DEFAULT_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise DataError(f"{path}: cannot read the acronyms file ({exc.strerror}). Fix the path") from None
    except yaml.YAMLError:
        raise DataError(f"{path}: not valid YAML. Write one 'ACRONYM: meaning' per line") from None
    if not isinstance(data, Mapping) or not all(isinstance(v, str) for v in data.values()):
        raise DataError(f"{path}: expected 'ACRONYM: meaning' lines, e.g. 'CQC: Care Quality Commission'")
    return {str(k): v for k, v in data.items()}


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
    stem on two lines takes both: "launch" is both "start" and "open")."""
    found: dict[str, set[str]] = defaultdict(set)
    for asked, held in pairs:
        held_stems = {t for toks in tokenize(held) for t in toks}
        for stem in {t for toks in tokenize(asked) for t in toks}:
            found[stem] |= held_stems - {stem}
    return {stem: frozenset(others) for stem, others in found.items() if others}


class Glossary:
    """Acronym meanings from the user's file, completed from the library's own names."""

    def __init__(self, acronyms: Mapping[str, str], library_texts: Iterable[str] = ()) -> None:
        self.acronyms = dict(acronyms)
        self._learned = _learn(library_texts, set(self.acronyms))

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

    def __contains__(self, acronym: str) -> bool:
        return acronym in self.acronyms or acronym in self._learned

    def expand(self, question: str) -> str:
        """Return ``question`` with the meaning of each known acronym in it appended."""
        meanings: list[str] = []
        for acronym, plural in _TOKEN.findall(question):
            meaning = self.acronyms.get(acronym) or self._learned.get(acronym)
            if meaning and meaning not in meanings and meaning.lower() not in question.lower():
                meanings.append(meaning + plural)
        return f"{question} ({'; '.join(meanings)})" if meanings else question


def unexpanded(query: str) -> str:
    """Return ``query`` without the acronym meanings :meth:`Glossary.expand` appended."""
    return _MEANINGS.sub("", query)


def _plain(name: str) -> str:
    return " ".join(name.lower().replace(",", " ").split())


def _initials(words: list[str]) -> str:
    return "".join(w[0] for w in words if w.lower() not in _CONNECTORS and w != "NHS")


def _learn(texts: Iterable[str], known: set[str]) -> dict[str, str]:
    """Return acronym -> the library's name for it: defined "Name (ACR)" first, then the most
    frequent capitalised name (or its opening words) whose initials spell it."""
    defined: dict[str, str] = {}
    by_initials: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
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
