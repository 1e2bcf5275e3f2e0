"""Per-document access: which groups may read a document, and the filter that enforces it.

A document's ``access`` (a list of groups) is stored with every one of its chunks and sentences
as one boolean key per group, ``access:<group>: true``, plus ``restricted: true``. Chroma
metadata holds no lists and has no operator matching part of a string, so a delimited string
would match ``ward`` inside ``ward-7``; a key per group is matched exactly by ``$eq``, and
``restricted $ne true`` also keeps chunks stored before access existed (they lack the key).

An :class:`Access` is what one caller may see: ``Access(None)`` (sign-in off) sees everything;
``Access(frozenset(groups))`` sees unrestricted documents and those naming one of its groups.
It is applied inside retrieval, before any ranking cut: as a Chroma ``where`` for dense search
and as a numpy mask over the derived BM25 columns (see :mod:`vectorstore.derived`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RESTRICTED = "restricted"
PREFIX = "access:"
GROUP = re.compile(r"[^,\s][^,]{0,127}")


def access_metadata(groups: Sequence[str] | None) -> dict[str, bool]:
    """Return the flat metadata keys that record ``groups`` (None or empty: everyone may read)."""
    if not groups:
        return {RESTRICTED: False}
    return {RESTRICTED: True, **{PREFIX + g: True for g in groups}}


def groups_of(metadata: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Return the groups a chunk's metadata allows, sorted (None: not restricted)."""
    if metadata.get(RESTRICTED) is not True:
        return None
    return tuple(sorted(k[len(PREFIX) :] for k, v in metadata.items() if k.startswith(PREFIX) and v is True))


def is_access_key(key: str) -> bool:
    """Return whether ``key`` is one of the metadata keys this module writes."""
    return key == RESTRICTED or key.startswith(PREFIX)


@dataclass(frozen=True)
class Access:
    """What one caller may read: everything (``groups`` None) or the documents their groups allow."""

    groups: frozenset[str] | None = None

    @classmethod
    def of(cls, groups: Iterable[str] | None) -> Access:
        """Return the access of a caller in ``groups`` (None: sign-in is off, everything)."""
        return cls(None if groups is None else frozenset(g.strip() for g in groups if g.strip()))

    @property
    def everything(self) -> bool:
        return self.groups is None

    def allows(self, document_groups: Iterable[str] | None) -> bool:
        """Return whether a document restricted to ``document_groups`` (None: not restricted) is visible."""
        if self.groups is None or document_groups is None:
            return True
        return not self.groups.isdisjoint(document_groups)

    def allows_metadata(self, metadata: Mapping[str, Any]) -> bool:
        """Return whether a chunk with this stored metadata is visible."""
        return self.allows(groups_of(metadata))

    def where(self) -> dict[str, Any] | None:
        """Return the Chroma ``where`` clause selecting what is visible (None: no condition)."""
        if self.groups is None:
            return None
        open_to_all: dict[str, Any] = {RESTRICTED: {"$ne": True}}
        allowed = [{PREFIX + g: {"$eq": True}} for g in sorted(self.groups)]
        return {"$or": [open_to_all, *allowed]} if allowed else open_to_all


EVERYTHING = Access(None)
