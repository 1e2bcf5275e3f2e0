"""Ingestion: loaders per format, section-aware chunking, and the incremental pipeline.

Names are imported on first use (PEP 562): ``from ingest import ingest`` works as before, and
importing the package alone loads none of the loaders' libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.chunking import ChunkingParams, chunk_document, doc_id_for
    from ingest.documents import Document, Section
    from ingest.loaders import load, supported
    from ingest.pipeline import IngestReport, ingest

# Exported name -> the module that defines it, imported when the name is first read.
_LAZY = {
    "ChunkingParams": "ingest.chunking",
    "chunk_document": "ingest.chunking",
    "doc_id_for": "ingest.chunking",
    "Document": "ingest.documents",
    "Section": "ingest.documents",
    "load": "ingest.loaders",
    "supported": "ingest.loaders",
    "IngestReport": "ingest.pipeline",
    "ingest": "ingest.pipeline",
}

__all__ = [
    "ChunkingParams",
    "Document",
    "IngestReport",
    "Section",
    "chunk_document",
    "doc_id_for",
    "ingest",
    "load",
    "supported",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
