"""Sentences: how passage text is split, and the part-level units retrieval scores.

Passages are scored twice: as a whole, and by their best part, because MiniLM reads only the
first 256 wordpieces of a passage and a question is often answered by one sentence of it. The
parts are single sentences (for the dense score) and windows of three sentences (for BM25),
each prefixed with the document's title.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vectorstore.records import Chunk

WINDOW_SIZE = 3
WINDOW_STEP = 2
_BULLET = re.compile(r"^[\s•*\-–]+")
# Where a retrieval part ends: ., ! or ? then space then a capital, digit or bracket.
_PART_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


@dataclass(frozen=True)
class SentenceUnit:
    """One sentence of one chunk, as embedded for the part-level dense score."""

    id: str
    chunk: Chunk
    position: int
    text: str

    @property
    def embed_text(self) -> str:
        """Return the text the model reads: the title gives the sentence its context."""
        return f"{self.chunk.title} {self.text}".strip()


def split_parts(text: str) -> list[str]:
    """Return the sentence-sized parts of ``text`` that retrieval scores.

    A plain rule rather than punkt: it is fast, and it is the cut measured on BEIR SciFact
    (docs/benchmarks.md). Quoted sentences in answers use :func:`split_sentences` instead,
    which knows abbreviations such as "Dr." and reads better.
    """
    return [part.strip() for part in _PART_END.split(text.strip()) if part.strip()]


def split_sentences(text: str) -> list[str]:
    """Return the sentences of ``text`` for quoting; paragraph and list breaks end a sentence."""
    tokenizer = _punkt()
    out: list[str] = []
    for block in re.split(r"\n+", text):
        block = _BULLET.sub("", block).strip()
        if block:
            out.extend(s.strip() for s in tokenizer.tokenize(block) if s.strip())
    return out


@functools.cache
def _punkt():
    import llama_index.core
    import nltk
    from nltk.tokenize import PunktTokenizer

    # llama-index ships the punkt tables; point nltk at them instead of downloading.
    cache = os.path.join(os.path.dirname(llama_index.core.__file__), "_static", "nltk_cache")
    if cache not in nltk.data.path:
        nltk.data.path.append(cache)
    return PunktTokenizer("english")


def sentence_units(chunks: Iterable[Chunk]) -> list[SentenceUnit]:
    """Return every sentence-sized part of every chunk (a chunk with none yields its title)."""
    units = []
    for chunk in chunks:
        sentences = split_parts(chunk.text) or [chunk.title or chunk.text]
        units.extend(
            SentenceUnit(f"{chunk.id}:s{j:03d}", chunk, j, sentence) for j, sentence in enumerate(sentences)
        )
    return units


def windows(title: str, sentences: Sequence[str]) -> list[str]:
    """Return the overlapping three-sentence windows of a chunk, each prefixed with the title."""
    sentences = list(sentences) or [""]
    return [
        f"{title} {' '.join(sentences[j : j + WINDOW_SIZE])}".strip()
        for j in range(0, len(sentences), WINDOW_STEP)
    ]
