"""Casebook's exceptions.

Every error a user can cause is a ``CasebookError`` whose message names the value at fault and
the fix, so the CLI can print it as one line. The tree::

    CasebookError
    ├── ConfigError           a setting or option has a value Casebook cannot use
    │   └── FilterError       a --filter expression cannot be parsed
    ├── IndexMissingError     no index in the data directory yet
    ├── IndexMismatchError    the index was built with another model or chunking
    ├── StoreError            the vector store cannot be reached or written
    ├── DocumentError         one input file cannot be ingested (the others still are)
    ├── DataError             an evaluation or benchmark file is malformed
    └── LLMError              a language-model backend failed (Casebook falls back)

They live here, in the lowest package, so that every other package can raise them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "CasebookError",
    "ConfigError",
    "DataError",
    "DocumentError",
    "FilterError",
    "IndexMismatchError",
    "IndexMissingError",
    "LLMError",
    "StoreError",
]


class CasebookError(Exception):
    """Base class of every error Casebook raises on purpose."""


class ConfigError(CasebookError):
    """A setting or option has a value Casebook cannot use."""


class FilterError(ConfigError):
    """A metadata filter expression cannot be parsed."""


class IndexMissingError(CasebookError):
    """There is no index in the data directory."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(f"No index at {data_dir}. Run: casebook ingest <folder>")
        self.data_dir = data_dir


class IndexMismatchError(CasebookError):
    """The index on disk was built with settings this Casebook does not use."""


class StoreError(CasebookError):
    """The vector store cannot be reached or written."""


class DocumentError(CasebookError):
    """One input file cannot be ingested; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


class DataError(CasebookError):
    """An evaluation question file or benchmark folder is malformed."""


class LLMError(CasebookError):
    """A language-model backend failed: unreachable, timed out or answered nonsense."""
