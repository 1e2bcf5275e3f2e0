"""Sentences: how passage text is split, and the part-level units retrieval scores.

Passages are scored twice: as a whole, and by their best part, because MiniLM reads only the
first 256 wordpieces of a passage and a question is often answered by one sentence of it. The
parts are single sentences (for the dense score) and windows of three sentences (for BM25),
each prefixed with the document's title. The same sentences are the units the answerer quotes.
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
# A list item's label ("B1. Review ...", "2) Audit ..."): part of its first sentence, never one.
_LABEL = re.compile(r"(?:[A-Z]?\d{1,3}|[a-z])[.)]\s+(?=\S)")
# A field of a list item ("Deadline: 14 April 2023.", "Lead: ward manager."): it says something of
# the item's sentence before it, and is quoted with it.
_FIELD = re.compile(r"[A-Z][\w’'-]*(?: [\w’'-]+){0,3}: \S")

# A bracketed aside after a sentence ("... on every night shift. (Regulation 18: Staffing)"): it is
# quoted with the sentence it qualifies, never alone.
_ASIDE = re.compile(r"\([^()]*\)[.;]?")


@dataclass(frozen=True)
class SentenceUnit:
    """One sentence of one chunk, as embedded for the part-level dense score."""

    id: str
    chunk: Chunk
    position: int
    text: str
    span: tuple[int, int] = (0, 0)  # where ``text`` sits in the chunk's text ((0, 0): the title)

    @property
    def embed_text(self) -> str:
        """Return the text the model reads: the title gives the sentence its context."""
        return f"{self.chunk.title} {self.text}".strip()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) of each sentence of ``text``: the one splitter of Casebook.

    Ingestion embeds these sentences and the answerer quotes them, so a quoted sentence's vector
    is the one stored at ingest. Paragraph and list breaks end a sentence, list bullets are left
    out, and punkt splits within a line (it knows abbreviations such as "Dr."); a bracketed aside
    stays with the sentence before it.
    """
    tokenizer = _punkt()
    out: list[tuple[int, int]] = []
    for block in re.finditer(r"[^\n]+", text):
        bullet = _BULLET.match(block.group())
        offset = block.start() + (bullet.end() if bullet else 0)
        label = _LABEL.match(text, offset, block.end())
        body = label.end() if label else offset  # punkt alone would end a sentence at "B1."
        first = True
        for start, end in tokenizer.span_tokenize(text[body : block.end()]):
            piece = text[body + start : body + end]
            lead = len(piece) - len(piece.lstrip())
            if piece.strip():
                begin, stop = body + start + lead, body + start + lead + len(piece.strip())
                if not first and (
                    ((bullet or label) and _FIELD.match(text, begin)) or _ASIDE.fullmatch(text, begin, stop)
                ):
                    out[-1] = (out[-1][0], stop)
                else:
                    out.append((offset if label and first else begin, stop))
                first = False
    return out


def split_sentences(text: str) -> list[str]:
    """Return the sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[start:end] for start, end in sentence_spans(text)]


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
        spans = sentence_spans(chunk.text)
        if not spans:
            units.append(SentenceUnit(sentence_id(chunk.id, 0), chunk, 0, chunk.title or chunk.text))
        units.extend(
            SentenceUnit(sentence_id(chunk.id, j), chunk, j, chunk.text[a:b], (a, b))
            for j, (a, b) in enumerate(spans)
        )
    return units


def sentence_id(chunk_id: str, position: int) -> str:
    """Return the id a chunk's sentence is stored under (``<chunk id>:s<position>``)."""
    return f"{chunk_id}:s{position:03d}"


def windows(title: str, sentences: Sequence[str]) -> list[str]:
    """Return the overlapping three-sentence windows of a chunk, each prefixed with the title."""
    sentences = list(sentences) or [""]
    return [
        f"{title} {' '.join(sentences[j : j + WINDOW_SIZE])}".strip()
        for j in range(0, len(sentences), WINDOW_STEP)
    ]
