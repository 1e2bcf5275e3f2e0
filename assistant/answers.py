"""What an answer is: its text, whether Casebook abstained, and the numbered citations.

``Answer.to_json()`` is the one JSON shape shared by ``casebook ask --json``, ``casebook eval``
and the web API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from vectorstore import Passage
from vectorstore.sentences import split_sentences

NOT_IN_LIBRARY = (
    "Not in the library: none of the documents answers this question closely enough to quote. "
    "Try other words, remove a filter, or add documents on this topic."
)


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the passage a ``[n]`` marker points to."""

    n: int
    title: str
    source: str
    page: int | None
    section: str | None
    text: str
    score: float
    doc_id: str = ""
    chunk_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    quoted: tuple[str, ...] = ()
    # The places of the passages ``text`` joins, when an answer quotes several of one document.
    positions: tuple[int, ...] = ()

    @classmethod
    def from_passage(cls, n: int, passage: Passage, quoted: tuple[str, ...] = ()) -> Citation:
        """Return citation number ``n`` for ``passage``; ``quoted`` lists the sentences used."""
        chunk = passage.chunk
        return cls(
            n=n,
            title=chunk.title,
            source=chunk.source,
            page=chunk.page,
            section=chunk.section,
            text=chunk.text,
            score=round(float(passage.score), 4),
            doc_id=chunk.doc_id,
            chunk_id=chunk.id,
            metadata=dict(chunk.metadata),
            quoted=quoted,
        )

    @property
    def position(self) -> int:
        """Return the passage's place in its document (from the chunk id, e.g. ``abc:0003``)."""
        tail = self.chunk_id.rpartition(":")[2]
        return int(tail) if tail.isdigit() else 0

    @property
    def url(self) -> str:
        """Return the app link that shows the cited passage in the source viewer.

        ``passage`` is the passage's place in the document (places, comma-separated, when the
        citation joins several); ``q`` lists the quoted sentences as their indexes among the
        passages' sentences (``vectorstore.sentences.split_sentences``).
        The path is relative to the app's root; the viewer marks the first quoted sentence (or
        the passage) with ``id="cited"``, so the link scrolls to it.
        """
        places = ",".join(str(p) for p in self.positions) or str(self.position)
        url = f"/documents/{quote(self.doc_id)}?passage={quote(places)}"
        if self.quoted:
            sentences = split_sentences(self.text)
            marks = sorted({sentences.index(s) for s in self.quoted if s in sentences})
            if marks:
                url += "&q=" + ",".join(str(i) for i in marks)
        return url + "#cited"

    @property
    def publisher(self) -> str | None:
        return _text(self.metadata.get("publisher"))

    @property
    def date(self) -> str | None:
        return _text(self.metadata.get("date"))

    @property
    def original_url(self) -> str | None:
        """Return the document's own web address, when its metadata gives one."""
        return _text(self.metadata.get("original_url"))

    def to_json(self) -> dict[str, Any]:
        """Return the citation in the shared JSON shape."""
        return {
            "n": self.n,
            "title": self.title,
            "source": self.source,
            "page": self.page,
            "section": self.section,
            "text": self.text,
            "score": self.score,
            "url": self.url,
            "publisher": self.publisher,
            "date": self.date,
            "original_url": self.original_url,
            "quoted": list(self.quoted),
        }

    @property
    def location(self) -> str:
        """Return where in the document the passage is: page, section, or ''."""
        parts = []
        if self.page is not None:
            parts.append(f"page {self.page}")
        if self.section:
            # The top heading is usually the title itself: leave it out of the location.
            section = self.section.removeprefix(self.title).removeprefix(" > ").strip()
            if section:
                parts.append(section)
        return ", ".join(parts)


@dataclass(frozen=True)
class Answer:
    """An answer to one question, every sentence followed by a ``[n]`` citation marker."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    search_query: str = ""
    notice: str | None = None
    # The parts of the question the quoted sentences do not answer, as short phrases.
    unanswered: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the answer in the shared JSON shape."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "unanswered": list(self.unanswered),
            "citations": [c.to_json() for c in self.citations],
        }


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def abstain(question: str, search_query: str = "", notice: str | None = None) -> Answer:
    """Return the plain "not in the library" answer."""
    return Answer(question, NOT_IN_LIBRARY, True, (), search_query or question, notice)
