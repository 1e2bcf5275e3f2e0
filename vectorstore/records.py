"""The project's own records: what ingestion stores and what retrieval gives back.

Chroma and bm25s objects never leave this package; callers see only these frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Metadata keys a document may carry and retrieval may filter on.
FILTER_FIELDS = ("trust", "document_type", "publisher", "year")


@dataclass(frozen=True)
class Chunk:
    """One passage of one document, as stored."""

    id: str
    doc_id: str
    text: str
    title: str
    source: str
    position: int
    page: int | None = None
    section: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, Any]:
        """Return the flat metadata dict stored beside the vector (Chroma takes no None)."""
        flat: dict[str, Any] = {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "position": self.position,
        }
        if self.page is not None:
            flat["page"] = self.page
        if self.section:
            flat["section"] = self.section
        for key, value in self.metadata.items():
            if value is not None and value != "":
                flat[key] = value
        return flat

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, flat: Mapping[str, Any]) -> Chunk:
        """Rebuild a chunk from what :meth:`to_metadata` stored."""
        reserved = {"doc_id", "title", "source", "position", "page", "section"}
        return cls(
            id=chunk_id,
            doc_id=str(flat["doc_id"]),
            text=text,
            title=str(flat.get("title", "")),
            source=str(flat.get("source", "")),
            position=int(flat.get("position", 0)),
            page=int(flat["page"]) if "page" in flat else None,
            section=str(flat["section"]) if "section" in flat else None,
            metadata={k: v for k, v in flat.items() if k not in reserved},
        )

    @property
    def embed_text(self) -> str:
        """Return the text the dense model reads: title and section give the passage context."""
        head = self.title if not self.section else f"{self.title} — {self.section}"
        return f"{head}\n{self.text}"


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores.

    ``score`` is the fused hybrid score that ranked it; ``similarity`` the cosine similarity of
    the passage to the question under the embedding model (0 when it was found by BM25 only and
    not scored densely).
    """

    chunk: Chunk
    score: float
    similarity: float


@dataclass(frozen=True)
class StoredDocument:
    """What the index holds about one ingested file."""

    doc_id: str
    source: str
    title: str
    content_hash: str
    chunk_ids: tuple[str, ...]
