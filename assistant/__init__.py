"""Casebook's assistant: retrieval, answering, chat, settings, CLI and web app.

Names are imported on first use (PEP 562), so ``casebook --help`` and the CLI's error paths
start without loading the answerer, Chroma or the model; ``from assistant import Casebook``
works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.answers import NOT_IN_LIBRARY, Answer, Citation
    from assistant.engine import Casebook
    from assistant.settings import Settings

# Exported name -> the module that defines it, imported when the name is first read.
_LAZY = {
    "NOT_IN_LIBRARY": "assistant.answers",
    "Answer": "assistant.answers",
    "Citation": "assistant.answers",
    "Casebook": "assistant.engine",
    "Settings": "assistant.settings",
}

__all__ = ["NOT_IN_LIBRARY", "Answer", "Casebook", "Citation", "Settings"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
