"""The vector store: Chroma (embedded or server), the embedding model and the BM25 side index.

The errors are imported at once (they are light and every command needs them); everything else
is imported on first use (PEP 562), so ``from vectorstore import CasebookError`` does not load
numpy, bm25s or Chroma, and ``from vectorstore import Store`` still works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vectorstore.errors import (
    CasebookError,
    ConfigError,
    DataError,
    DocumentError,
    FilterError,
    IndexMismatchError,
    IndexMissingError,
    LLMError,
    StoreError,
)

if TYPE_CHECKING:
    from vectorstore.embedder import Embedder
    from vectorstore.filters import Filter, parse_filter
    from vectorstore.records import FILTER_FIELDS, Chunk, Passage, StoredDocument
    from vectorstore.store import IndexInfo, Store

# Exported name -> the module that defines it, imported when the name is first read.
_LAZY = {
    "Embedder": "vectorstore.embedder",
    "Filter": "vectorstore.filters",
    "parse_filter": "vectorstore.filters",
    "FILTER_FIELDS": "vectorstore.records",
    "Chunk": "vectorstore.records",
    "Passage": "vectorstore.records",
    "StoredDocument": "vectorstore.records",
    "IndexInfo": "vectorstore.store",
    "Store": "vectorstore.store",
}

__all__ = [
    "FILTER_FIELDS",
    "CasebookError",
    "Chunk",
    "ConfigError",
    "DataError",
    "DocumentError",
    "Embedder",
    "Filter",
    "FilterError",
    "IndexInfo",
    "IndexMismatchError",
    "IndexMissingError",
    "LLMError",
    "Passage",
    "Store",
    "StoreError",
    "StoredDocument",
    "parse_filter",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
