"""``casebook status`` and ``casebook check``: what the index holds and whether every part agrees.

The parts checked: the ledger against Chroma's chunks and sentences (totals for ``status``,
every document for ``check``), an unfinished write, the derived indexes against the ledger's
generation, and index.json against the ledger's record of what built the index.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from vectorstore import Store


@dataclass(frozen=True)
class Part:
    """One part of the index and whether it agrees with the ledger."""

    name: str
    ok: bool
    detail: str


def report(store: Store, *, full: bool) -> dict[str, Any]:
    """Return the index's figures and the consistency of each part (``full``: every document)."""
    if not store.exists():
        return {"data_dir": str(store.data_dir), "exists": False, "consistent": True, "parts": []}
    state = store.state(fresh=True)
    ledger = store.ledger
    records = ledger.documents()
    chunks, sentences = store.collection.count(), store.sentences.count()
    parts = [_totals(store, chunks, sentences, records)]
    if full:
        from vectorstore.consistency import scan

        broken = scan(store.collection, store.sentences, ledger).broken
        parts.append(
            Part(
                "documents",
                not broken,
                f"{len(broken)} incomplete: {', '.join(broken[:5])}" if broken else "every document complete",
            )
        )
    held = ledger.lock_holder() if store.chroma_url else None
    parts.append(
        Part(
            "writes",
            not state.writing or held is not None,
            f"unfinished write of {state.writing}" if state.writing else "none unfinished",
        )
    )
    from vectorstore.derived import Snapshot

    saved = Snapshot.load(store.derived_dir)
    saved_gen = None if saved is None else saved.generation
    derived_ok = (
        saved is not None
        and saved_gen == state.generation
        and len(saved.chunks.ids) == sum(r.chunks for r in records.values())
    )
    parts.append(Part("derived", derived_ok, f"built from generation {saved_gen}"))
    parts.append(_mirror(store, state.built_by()))
    return {
        "data_dir": str(store.data_dir),
        "chroma": store.chroma_url or str(store.data_dir / "chroma"),
        "exists": True,
        "documents": len(records),
        "chunks": chunks,
        "sentences": sentences,
        "generation": state.generation,
        "last_ingest": state.last_ingest or None,
        "built_by": state.built_by(),
        "read_only": store.read_only,
        "answers_prepared": store.answers.count(records),
        "consistent": all(p.ok for p in parts),
        "parts": [asdict(p) for p in parts],
    }


def _totals(store: Store, chunks: int, sentences: int, records: dict[str, Any]) -> Part:
    want_chunks = sum(r.chunks for r in records.values())
    want_sentences = sum(r.sentences for r in records.values())
    from vectorstore.consistency import counts_agree

    ok = counts_agree(store.collection, store.sentences, store.ledger)
    return Part("chroma", ok, f"{chunks}/{want_chunks} chunks, {sentences}/{want_sentences} sentences")


def _mirror(store: Store, built: dict[str, Any] | None) -> Part:
    if store.chroma_url and not store.info_path.is_file():
        return Part("index.json", True, "absent (the server's record counts)")
    try:
        mirror = json.loads(store.info_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        mirror = None
    return Part("index.json", mirror == built, "matches the ledger" if mirror == built else "differs")


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data))
        return
    if not data["exists"]:
        click.echo(f"No index at {data['data_dir']}. Run: casebook ingest <folder>")
        return
    built = data["built_by"] or {}
    click.echo(
        f"{data['documents']} documents, {data['chunks']} chunks, {data['sentences']} sentences; "
        f"generation {data['generation']}; last ingest {data['last_ingest'] or 'never'}\n"
        f"Built by {built.get('embedding_model')} ({built.get('dimension')} dimensions, "
        f"{built.get('embedding_backend', 'torch')} {built.get('embedding_precision', 'fp32')}), chunks of "
        f"{built.get('chunk_tokens')}/{built.get('chunk_overlap')} tokens, schema {built.get('schema')}"
    )
    for part in data["parts"]:
        click.echo(f"  {'ok' if part['ok'] else 'INCONSISTENT'}  {part['name']}: {part['detail']}")
    if data["answers_prepared"] < data["documents"]:
        click.echo(
            f"Answers prepared for {data['answers_prepared']} of {data['documents']} documents: the rest "
            "encode their sentences per question (slower, same answers) until casebook prepare, or "
            "serve while idle, makes them."
        )
    click.echo("Consistent." if data["consistent"] else "Inconsistent: run casebook check --repair")


def _store(data_dir: Path | None) -> Store:
    from assistant.cli import build_settings

    settings = build_settings(data_dir=data_dir)
    from vectorstore import Store

    return Store(settings.data_dir, chroma_url=settings.chroma_url)


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index folder. Env: CASEBOOK_DATA_DIR.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(data_dir: Path | None, as_json: bool) -> None:
    """Show what the index holds, what built it, and whether its parts agree.

    \b
    casebook status
    casebook status --json
    """
    from assistant.command_errors import clean_errors

    clean_errors(lambda: _print(report(_store(data_dir), full=False), as_json))()


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index folder. Env: CASEBOOK_DATA_DIR.",
)
@click.option("--repair", is_flag=True, help="Remove incomplete documents and rebuild derived indexes.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def check(data_dir: Path | None, repair: bool, as_json: bool) -> None:
    """Check every document of the index; exit 1 when it is inconsistent and not repaired.

    Repairing takes the writers' lock (it waits for a running ingestion), removes documents
    whose write was cut short (the next ingest adds them again) and rebuilds the derived indexes.

    \b
    casebook check
    casebook check --repair --json
    """
    from assistant.command_errors import clean_errors

    def run() -> None:
        store = _store(data_dir)
        data = report(store, full=True)
        if repair and data["exists"] and not data["consistent"]:
            with store.writer_lock(notify=lambda line: click.echo(line, err=True)):
                removed = store.repair(full=True)
                store.update_derived(force=True)
            data = {**report(store, full=True), "repaired": removed.to_json()}
        _print(data, as_json)
        if not data["consistent"]:
            sys.exit(1)

    clean_errors(run)()
