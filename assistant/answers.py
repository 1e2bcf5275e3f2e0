"""What an answer is: its text, whether Casebook abstained, and the numbered citations.

``Answer.to_json()`` is the one JSON shape shared by ``casebook ask --json``, ``casebook eval``
and the web API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vectorstore import Passage

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

    def to_json(self) -> dict[str, Any]:
        """Return the answer in the shared JSON shape."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
        }

    def to_markdown(self) -> str:
        """Return the answer with its numbered references, for export."""
        lines = [f"## {self.question}", "", self.text, ""]
        if self.citations:
            lines += ["### References", ""]
            for c in self.citations:
                date = c.metadata.get("date")
                bits = [c.title, str(date) if date else "", c.location, c.source]
                lines.append(f"{c.n}. " + " · ".join(b for b in bits if b))
        return "\n".join(lines).rstrip() + "\n"


def abstain(question: str, search_query: str = "", notice: str | None = None) -> Answer:
    """Return the plain "not in the library" answer."""
    return Answer(question, NOT_IN_LIBRARY, True, (), search_query or question, notice)
