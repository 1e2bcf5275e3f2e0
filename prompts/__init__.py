"""Prompt templates: text files beside this module, filled with ``string.Template``.

A template is plain text with ``$name`` placeholders (``$$`` for a literal dollar sign). A chat
template is split into messages by lines that hold only a role, ``[system]``, ``[user]`` or
``[assistant]``. The split happens before the values are filled in, so a value (a passage, a
question) can never start a message of its own.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

__all__ = ["PromptError", "load", "messages", "names", "render"]

_DIR = Path(__file__).resolve().parent


class PromptError(ValueError):
    """A template is missing, malformed, or lacks a value; the message says which and the fix.

    Its own type because ``prompts`` imports no other Casebook package; callers that need a
    ``CasebookError`` wrap it.
    """


_ROLE = re.compile(r"^\[(system|user|assistant)\][ \t]*\n", re.MULTILINE)


def names() -> list[str]:
    """Return the names of the prompt templates, sorted."""
    return sorted(p.stem for p in _DIR.glob("*.txt"))


def load(name: str) -> str:
    """Return the text of template ``name`` (``prompts/<name>.txt``)."""
    path = _DIR / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PromptError(f"No prompt {name!r} in {_DIR}; there are: {', '.join(names())}") from None


def render(name: str, **values: str) -> str:
    """Return template ``name`` with every ``$placeholder`` filled from ``values``."""
    return _fill(name, load(name), values)


def messages(name: str, **values: str) -> list[tuple[str, str]]:
    """Return the (role, text) chat messages of template ``name``, filled from ``values``."""
    parts = _ROLE.split(load(name))
    if parts[0].strip() or len(parts) < 3:
        raise PromptError(f"Prompt {name}.txt must start with a role line: [system], [user] or [assistant]")
    return [
        (role, _fill(name, body.strip(), values)) for role, body in zip(parts[1::2], parts[2::2], strict=True)
    ]


def _fill(name: str, text: str, values: dict[str, str]) -> str:
    try:
        return Template(text).substitute(values)
    except KeyError as exc:
        given = ", ".join(sorted(values)) or "none"
        raise PromptError(f"Prompt {name}.txt needs a value for ${exc.args[0]}; given: {given}") from None
    except ValueError as exc:
        raise PromptError(
            f"Prompt {name}.txt has a bad placeholder ({exc}); write $$ for a dollar sign"
        ) from None
