"""Misspelt words of a question, read as the library's own words ("placments" as "placements").

Only a word found neither in the library nor among the model's whole words is corrected, and
only to a library word that starts with the same letter and is one edit away (two for words of
eight letters or more; a swap of two letters, "hosue", is one edit: rapidfuzz's optimal string
alignment distance): a word the library lacks but English has ("turnover") is left as written,
so the answer can still say the library does not hold it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

from rapidfuzz import process
from rapidfuzz.distance import OSA

_SHORTEST = 5  # shorter words have too many neighbours to correct safely
_WORD = re.compile(r"[A-Za-z]+")
_OPENING = re.compile(r"\s*([A-Za-z]+)\b")
_PLURALS = (("ies", "y"), ("es", ""), ("s", ""))
_QUESTION_WORDS = ("what", "when", "where", "which", "who", "whose", "why", "how")


class Spelling:
    """The library's words, by first letter, to correct a question's misspellings against."""

    def __init__(self, words: Iterable[str], known: Callable[[str], bool] = lambda word: False) -> None:
        self.words = {w for w in words if len(w) >= _SHORTEST - 1}
        self.known = known
        self._by_letter: defaultdict[str, list[str]] = defaultdict(list)
        for word in sorted(self.words):
            self._by_letter[word[0]].append(word)

    @staticmethod
    def collecting(texts: Iterable[str], words: set[str]) -> Iterator[str]:
        """Yield ``texts``, adding each one's lower-case words to ``words`` on the way (one read
        of the library serves the glossary and the spelling)."""
        for text in texts:
            words.update(w.lower() for w in _WORD.findall(text))
            yield text

    def correct(self, text: str) -> str:
        """Return ``text`` with each misspelt lower-case word replaced by the library's closest word,
        and a misspelt question word opening it ("hwo", "wehre") by that question word."""
        opening = _OPENING.match(text)
        if opening and (asked := self._question_word(opening.group(1))):
            text = text[: opening.start(1)] + asked + text[opening.end(1) :]
        return _WORD.sub(lambda m: self._word(m.group(0)), text)

    def _question_word(self, word: str) -> str | None:
        """Return the question word ``word`` misspells ("Hwo" -> "How"), or None: only a word
        neither the library nor the model knows, one edit from exactly one question word."""
        low = word.lower()
        if low in _QUESTION_WORDS or low in self.words or self.known(low):
            return None
        near = [q for q in _QUESTION_WORDS if OSA.distance(low, q) <= 1]
        if len(near) > 1:  # "hwo" is one swap from "how" and from "who": the first letter decides
            near = [q for q in near if q[0] == low[0]]
        if len(near) != 1:
            return None
        return near[0].capitalize() if word[0].isupper() else near[0]

    def _holds(self, low: str) -> bool:
        """Return whether the library or the model knows ``low``, or the library holds the one
        it is the plural of ("psychiatrists" where the library prints only "psychiatrist")."""
        if low in self.words or self.known(low):
            return True
        return any(low.endswith(end) and low[: -len(end)] + base in self.words for end, base in _PLURALS)

    def _word(self, word: str) -> str:
        low = word.lower()
        if word[0].isupper() or len(word) < _SHORTEST or self._holds(low):
            return word  # a name, a short word, or one the library or the model knows
        edits = 1 if len(low) < 8 else 2
        near = [w for w in self._by_letter.get(low[0], ()) if abs(len(w) - len(low)) <= edits]
        found = process.extractOne(low, near, scorer=OSA.distance, score_cutoff=edits)
        return found[0] if found else word
