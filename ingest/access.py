"""Who may read each document: its own ``access: [group, ...]`` or a folder rule of a policy file.

A document names its groups in Markdown front matter or its ``FILE.meta.yaml`` sidecar; that
wins. Otherwise the first rule of the access policy whose glob matches the file's path (relative
to the policy file's folder; shell-style, ``*`` also crossing folders, and a folder name alone
covering everything under it) decides. The policy is ``access.yaml`` at the root of a folder being
ingested, or the file ``CASEBOOK_ACCESS_POLICY`` names::

    # access.yaml
    finance/*: [finance]
    board/*.pdf: [board, directors]
    finance/public/*: []        # an empty list: everyone (a rule listed first wins)

A document neither names nor matches is visible to every signed-in user.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vectorstore.access import GROUP
from vectorstore.errors import DocumentError

POLICY_NAME = "access.yaml"


def parse_access(value: Any, where: Path) -> tuple[str, ...]:
    """Return the groups an ``access`` value lists, or raise DocumentError naming ``where``."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(g, str | int) for g in items):
        raise DocumentError(where, "access must be a list of groups, e.g. 'access: [finance, board]'")
    groups = tuple(dict.fromkeys(str(g).strip() for g in items if str(g).strip()))
    bad = next((g for g in groups if not GROUP.fullmatch(g)), None)
    if bad is not None:
        raise DocumentError(
            where, (f"access group {bad!r} is not a group name: no commas, at most 128 characters")
        )
    return groups


@dataclass(frozen=True)
class AccessPolicy:
    """Folder rules: (glob relative to ``root``, groups), the first match deciding."""

    root: Path
    rules: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def load(cls, path: Path) -> AccessPolicy:
        """Return the policy in ``path``, or raise DocumentError naming it and the fix."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise DocumentError(path, f"cannot read the access policy ({exc.strerror})") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            first = (str(exc).strip().splitlines() or ["invalid"])[0][:200]
            raise DocumentError(path, f"the access policy is not valid YAML ({first})") from None
        if not isinstance(data, dict):
            raise DocumentError(
                path, "the access policy must map globs to groups, e.g. 'finance/*: [finance]'"
            )
        rules = tuple((str(glob).strip("/"), parse_access(groups, path)) for glob, groups in data.items())
        return cls(path.parent.resolve(), rules)

    def groups_for(self, path: Path) -> tuple[str, ...] | None:
        """Return the groups of the first rule matching ``path`` (None: no rule matches it)."""
        try:
            relative = path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None
        for glob, groups in self.rules:
            if _matches(relative, glob):
                return groups
        return None


@dataclass(frozen=True)
class AccessPolicies:
    """The policies of one ingestion run: the configured file first, then each folder's own."""

    policies: tuple[AccessPolicy, ...] = ()

    @classmethod
    def find(cls, roots: Sequence[Path], configured: Path | None = None) -> AccessPolicies:
        """Return the policies that apply to files under ``roots`` (and the ``configured`` file)."""
        found = []
        if configured is not None:
            if not Path(configured).is_file():
                raise DocumentError(
                    Path(configured), "no such access policy file; fix CASEBOOK_ACCESS_POLICY"
                )
            found.append(AccessPolicy.load(Path(configured)))
        for root in roots:
            candidate = Path(root) / POLICY_NAME
            if Path(root).is_dir() and candidate.is_file():
                found.append(AccessPolicy.load(candidate))
        return cls(tuple(found))

    def groups_for(self, path: Path) -> tuple[str, ...] | None:
        """Return the groups a folder rule gives ``path`` (None: no rule applies)."""
        for policy in self.policies:
            groups = policy.groups_for(path)
            if groups is not None:
                return groups
        return None


def _matches(relative: str, glob: str) -> bool:
    """Return whether a POSIX path matches a shell-style ``glob``, or lies under the folder it names."""
    if fnmatch.fnmatchcase(relative, glob):
        return True
    return not any(ch in glob for ch in "*?[") and relative.startswith(glob + "/")
