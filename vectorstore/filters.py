"""Metadata filters: parsed once, applied alike to dense (Chroma ``where``) and BM25 results."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vectorstore.errors import FilterError
from vectorstore.records import FILTER_FIELDS

_EXPR = re.compile(r"^\s*(?P<field>[a-z_]+)\s*(?P<op>>=|<=|!=|=|>|<)\s*(?P<value>.+?)\s*$")
_CHROMA_OPS = {"=": "$in", "!=": "$nin", ">=": "$gte", "<=": "$lte", ">": "$gt", "<": "$lt"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Filter:
    """One condition on a metadata field; ``values`` holds the exact stored values to match."""

    field: str
    op: str
    values: tuple[Any, ...]

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Return whether a chunk's metadata satisfies this condition."""
        value = metadata.get(self.field)
        if self.op == "=":
            return value in self.values
        if self.op == "!=":
            return value not in self.values
        return value is not None and _COMPARE[self.op](value, self.values[0])

    def describe(self) -> str:
        """Return the condition in words: "document type case study or review", "year from 2018"."""
        name = self.field.replace("_", " ")
        values = " or ".join(str(v) for v in self.values)
        words = {"=": "", "!=": "not ", ">=": "from ", "<=": "up to ", ">": "after ", "<": "before "}
        return f"{name} {words[self.op]}{values}"

    def to_where(self) -> dict[str, Any]:
        """Return the Chroma ``where`` clause for this condition."""
        if self.op in ("=", "!="):
            return {self.field: {_CHROMA_OPS[self.op]: list(self.values)}}
        return {self.field: {_CHROMA_OPS[self.op]: self.values[0]}}


def parse_filter(expression: str, known: Mapping[str, Sequence[Any]]) -> Filter:
    """Return the filter an expression such as ``trust="East London"`` or ``year>=2017`` means.

    Text values match case-insensitively on any part of the stored value, resolved against
    ``known`` (the values the index holds), so ``trust=east london`` finds
    "East London NHS Foundation Trust".
    """
    match = _EXPR.match(expression)
    if not match:
        raise FilterError(
            f"Cannot read filter {expression!r}. Write FIELD=VALUE in quotes, e.g. --filter 'year>=2017'; "
            f"fields: {', '.join(FILTER_FIELDS)}"
        )
    field, op, raw = match["field"], match["op"], match["value"].strip().strip("\"'")
    if field not in FILTER_FIELDS:
        raise FilterError(f"Unknown filter field {field!r}. Use one of: {', '.join(FILTER_FIELDS)}")
    if field == "year":
        if not raw.isdigit():
            raise FilterError(f"Filter {expression!r}: year must be a number, e.g. --filter 'year>=2017'")
        return Filter(field, op, (int(raw),))
    if op not in ("=", "!="):
        raise FilterError(f"Filter {expression!r}: {field} takes = or !=, not {op}")
    values = tuple(v for v in known.get(field, ()) if raw.lower() in str(v).lower())
    if not values:
        have = ", ".join(map(str, known.get(field, ()))) or "none"
        raise FilterError(f"No document has {field} matching {raw!r}. Known values: {have}")
    return Filter(field, op, values)


def to_where(filters: Iterable[Filter]) -> dict[str, Any] | None:
    """Return the Chroma ``where`` clause for all filters together (None when there are none)."""
    clauses = [f.to_where() for f in filters]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def matches_all(filters: Iterable[Filter], metadata: Mapping[str, Any]) -> bool:
    """Return whether metadata satisfies every filter."""
    return all(f.matches(metadata) for f in filters)
