"""Documents: the project's own record of one file's text, handed from loaders to chunking."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (``"Parent > Child"``) or on one PDF page."""

    text: str
    heading: str | None = None
    page: int | None = None


@dataclass(frozen=True)
class Document:
    """One file's text in reading order, with its title and metadata."""

    source: str
    title: str
    sections: tuple[Section, ...]
    content_hash: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
