"""Misspelt words read as the library's words; names, short words and real English words left alone."""

from __future__ import annotations

import pytest

from assistant.spelling import Spelling

LIBRARY = "Out-of-area placements fell after the crisis house opened. Deprescribing reviews; staff turnout."


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("how did trusts reduce out of area placments", "how did trusts reduce out of area placements"),
        ("When did the crisis hosue open?", "When did the crisis house open?"),
        # A real word the library lacks stays (the answer can then say the library lacks it).
        ("What is the staff turnover?", "What is the staff turnover?"),
        ("Who runs Placments Ltd?", "Who runs Placments Ltd?"),  # a name
        ("Was it opned?", "Was it opened?"),
        ("Is the hous open?", "Is the hous open?"),  # too short to correct safely
        ("Any prescribing reviews?", "Any prescribing reviews?"),  # not "deprescribing": another first letter
        # A misspelt question word opening the question; "hwo" is a swap from "how" and "who".
        ("Wehre is the crisis house?", "Where is the crisis house?"),
        ("hwo did the crisis house open?", "how did the crisis house open?"),
        ("Whta fell?", "What fell?"),
        ("Hot desking?", "Hot desking?"),  # a word the model knows is no misspelling
        # The plural of a library word is no misspelling of its neighbour ("placement").
        ("Which houses opened?", "Which houses opened?"),
    ],
)
def test_misspellings_read_as_the_library_writes_them(question: str, expected: str) -> None:
    words: set[str] = set()
    assert list(Spelling.collecting([LIBRARY], words)) == [LIBRARY]
    spelling = Spelling(words, known=lambda word: word in {"turnover", "prescribing", "reviews", "hot"})
    assert spelling.correct(question) == expected
