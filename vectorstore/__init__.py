"""The vector store: Chroma (embedded or server), the embedding model and the BM25 side index."""

from vectorstore.embedder import Embedder
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
from vectorstore.filters import Filter, parse_filter
from vectorstore.records import FILTER_FIELDS, Chunk, Passage, StoredDocument
from vectorstore.store import IndexInfo, Store

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
