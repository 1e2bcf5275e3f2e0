"""The CLI's one rule for a user's mistake: Casebook's errors become one line on stderr and exit 1."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from vectorstore import CasebookError

F = TypeVar("F", bound=Callable[..., Any])


def clean_errors(func: F) -> F:
    """Return ``func`` wrapped so a CasebookError prints ``Error: <message>`` and exits 1, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CasebookError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
