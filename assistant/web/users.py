"""Who is asking: the request's ``Identity`` and the API tokens kept hashed in ``users.db``.

A token is 32 random bytes (``cb_`` + URL-safe text); only its SHA-256 is stored, so a copy of the
data directory cannot be used to sign in. Roles are ordered: an admin may do what an editor may,
an editor what a reader may. Groups travel with the identity so retrieval can filter by them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from assistant.web.database import Database
from vectorstore import ConfigError

Role = Literal["reader", "editor", "admin"]
ROLES: tuple[Role, ...] = ("reader", "editor", "admin")
ANONYMOUS = "anonymous"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_GROUP = re.compile(r"[^,\s][^,]{0,127}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    groups TEXT NOT NULL,
    created TEXT NOT NULL,
    last_used TEXT
)
"""


@dataclass(frozen=True)
class Identity:
    """The signed-in user of one request: name, role, groups and how they signed in."""

    user: str
    role: Role
    groups: tuple[str, ...] = ()
    method: Literal["token", "header", "oidc", "none"] = "none"

    def allows(self, role: Role) -> bool:
        """Return whether this identity's role includes ``role``."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def to_json(self) -> dict[str, Any]:
        return {"user": self.user, "role": self.role, "groups": list(self.groups), "method": self.method}


@dataclass(frozen=True)
class TokenInfo:
    """One stored token, without its secret."""

    name: str
    role: Role
    groups: tuple[str, ...]
    created: str
    last_used: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "groups": list(self.groups),
            "created": self.created,
            "last_used": self.last_used,
        }


def parse_groups(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """Return the groups in a comma-separated string (or list), stripped, de-duplicated, in order."""
    items = text.split(",") if isinstance(text, str) else list(text or ())
    seen: dict[str, None] = {}
    for item in items:
        group = str(item).strip()
        if group and _GROUP.fullmatch(group):
            seen.setdefault(group, None)
    return tuple(seen)


def role_for(groups: Iterable[str], editor_groups: str, admin_groups: str) -> Role:
    """Return the role a header or OIDC user gets from their groups (reader unless listed)."""
    mine = set(groups)
    if mine & set(parse_groups(admin_groups)):
        return "admin"
    if mine & set(parse_groups(editor_groups)):
        return "editor"
    return "reader"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class TokenStore:
    """API tokens in ``users.db`` under the data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "users.db"
        self._db = Database(self.path, _SCHEMA).transaction

    def create(self, name: str, role: str, groups: Iterable[str] = ()) -> str:
        """Store a new token for ``name`` and return it (the only time it is ever shown)."""
        if not _NAME.fullmatch(name):
            raise ConfigError(
                f"Token name {name!r} is not allowed: use up to 64 letters, digits, '.', '_', '@' or '-'"
            )
        if role not in ROLES:
            raise ConfigError(f"Role {role!r} is not one of {', '.join(ROLES)}")
        token = "cb_" + secrets.token_urlsafe(32)
        try:
            with self._db() as db:
                db.execute(
                    "INSERT INTO tokens (name, token_sha256, role, groups, created) VALUES (?, ?, ?, ?, ?)",
                    (name, _digest(token), role, ",".join(parse_groups(groups)), _now()),
                )
        except sqlite3.IntegrityError:
            raise ConfigError(
                f"A token named {name!r} exists. Revoke it first: casebook users token revoke {name}"
            ) from None
        return token

    def revoke(self, name: str) -> bool:
        """Delete ``name``'s token; return whether there was one."""
        with self._db() as db:
            return db.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount > 0

    def tokens(self) -> list[TokenInfo]:
        """Return every stored token (without secrets), by name."""
        if not self.path.is_file():
            return []
        with self._db() as db:
            rows = db.execute(
                "SELECT name, role, groups, created, last_used FROM tokens ORDER BY name"
            ).fetchall()
        return [TokenInfo(n, r, parse_groups(g), c, u) for n, r, g, c, u in rows]

    def any(self) -> bool:
        """Return whether at least one token exists (then sign-in is required everywhere)."""
        if not self.path.is_file():
            return False
        with self._db() as db:
            return db.execute("SELECT 1 FROM tokens LIMIT 1").fetchone() is not None

    def identify(self, token: str) -> Identity | None:
        """Return the identity a presented token belongs to, or None for an unknown token."""
        if not token.startswith("cb_") or len(token) > 200 or not self.path.is_file():
            return None
        digest = _digest(token)
        with self._db() as db:
            row = db.execute(
                "SELECT name, role, groups, token_sha256, last_used FROM tokens WHERE token_sha256 = ?",
                (digest,),
            ).fetchone()
            # The lookup is by a hash of 256 random bits; the comparison is still constant-time.
            if row is None or not hmac.compare_digest(row[3], digest):
                return None
            now = _now()
            if (row[4] or "")[:16] != now[:16]:  # at most one write a minute per token
                db.execute("UPDATE tokens SET last_used = ? WHERE name = ?", (now, row[0]))
        return Identity(row[0], row[1], parse_groups(row[2]), "token")
