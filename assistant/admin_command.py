"""The admin's commands, ``casebook users`` (API tokens) and ``casebook audit`` (the audit log).

Registered on the ``casebook`` group by ``assistant.cli``. ``users token create`` prints the new
token alone on stdout, so a script can capture it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from assistant.command_errors import clean_errors

_data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index folder (users.db and audit.db live there). Env: CASEBOOK_DATA_DIR.",
)


def _settings(data_dir: Path | None) -> Any:
    from assistant.cli import build_settings

    return build_settings(data_dir=data_dir)


@click.group()
def users() -> None:
    """API tokens: who may call Casebook, with which role and groups."""


@users.group()
def token() -> None:
    """Create and revoke API tokens (sent as Authorization: Bearer TOKEN)."""


@token.command("create")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["reader", "editor", "admin"]), required=True, help="What it may do."
)
@click.option("--groups", default="", help="Comma-separated groups, e.g. finance,board.")
@_data_dir
@clean_errors
def token_create(name: str, role: str, groups: str, data_dir: Path | None) -> None:
    """Create a token for NAME and print it (alone, once: only its hash is kept).

    Once a token exists, every request needs sign-in, from this machine too.

    \b
    casebook users token create alice --role reader --groups finance,board
    TOKEN=$(casebook users token create intranet-bot --role reader)
    """
    from assistant.web.users import TokenStore, parse_groups

    click.echo(TokenStore(_settings(data_dir).data_dir).create(name, role, parse_groups(groups)))


@token.command("revoke")
@click.argument("name")
@_data_dir
@clean_errors
def token_revoke(name: str, data_dir: Path | None) -> None:
    """Revoke NAME's token at once (exit 1 if there is none).

    \b
    casebook users token revoke alice
    """
    from assistant.web.users import TokenStore

    if not TokenStore(_settings(data_dir).data_dir).revoke(name):
        click.echo(f"Error: no token named {name!r}. See: casebook users list", err=True)
        sys.exit(1)
    click.echo(f"Revoked the token {name}", err=True)


@users.command("list")
@_data_dir
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@clean_errors
def users_list(data_dir: Path | None, as_json: bool) -> None:
    """List the tokens: name, role, groups, created, last used (never the token itself).

    \b
    casebook users list --json
    """
    from assistant.web.users import TokenStore

    tokens = TokenStore(_settings(data_dir).data_dir).tokens()
    if as_json:
        click.echo(json.dumps({"tokens": [t.to_json() for t in tokens]}))
        return
    for t in tokens:
        groups = ",".join(t.groups) or "-"
        click.echo(f"{t.name}\t{t.role}\t{groups}\tcreated {t.created}\tlast used {t.last_used or 'never'}")
    if not tokens:
        click.echo("No tokens. Create one: casebook users token create NAME --role reader", err=True)


@click.group()
def audit() -> None:
    """The audit log: who asked what, when, and which documents were cited."""


@audit.command("export")
@click.option("--since", required=True, help="Date or ISO time (UTC unless it says), e.g. 2025-01-31.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@_data_dir
@clean_errors
def audit_export(since: str, fmt: str, data_dir: Path | None) -> None:
    """Print the audit events since a date, oldest first, streamed.

    \b
    casebook audit export --since 2025-01-01 > audit.jsonl
    casebook audit export --since 2025-06-01T00:00 --format csv > audit.csv
    """
    from assistant.web.audit import AuditLog, parse_since

    log = AuditLog.from_settings(_settings(data_dir))
    for chunk in log.export(parse_since(since), fmt):
        sys.stdout.write(chunk)


@audit.command("prune")
@_data_dir
@clean_errors
def audit_prune(data_dir: Path | None) -> None:
    """Remove audit rows and ratings older than CASEBOOK_AUDIT_RETENTION_DAYS now (serve does it daily).

    \b
    CASEBOOK_AUDIT_RETENTION_DAYS=90 casebook audit prune
    """
    from assistant.web.audit import AuditLog

    rows, ratings = AuditLog.from_settings(_settings(data_dir)).prune()
    click.echo(f"Removed {rows} audit rows and {ratings} ratings", err=True)
