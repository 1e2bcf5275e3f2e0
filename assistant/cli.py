"""The ``casebook`` command: the composition root that builds the settings and wires the parts.

Every command prints one clean line and exits 1 on a user's mistake; ``--json`` gives machine
output. Options read ``CASEBOOK_*`` environment variables; a flag wins over the variable.

Heavy libraries (the model, Chroma, Gradio, llama-index) are imported inside the commands that
need them, after the cheap checks, so ``--help`` and a mistake are answered at once.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assistant.admin import check, status
from assistant.admin_command import audit, users
from assistant.command_errors import clean_errors
from assistant.eval_command import eval_command
from vectorstore import CasebookError, ConfigError, IndexMissingError

if TYPE_CHECKING:
    from assistant.answers import Answer
    from assistant.engine import Casebook
    from assistant.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def _offline() -> None:
    """Make every library we use stay off the network and send no telemetry."""
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def build_settings(**overrides: Any) -> Settings:
    """Return settings from the environment with the given (non-None) flags on top."""
    from pydantic import ValidationError

    from assistant.settings import Settings

    flags = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise click.UsageError(
            f"Setting {field} (CASEBOOK_{field.upper()}): {first['msg']} (got {first.get('input')!r})"
        ) from None


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index folder. Env: CASEBOOK_DATA_DIR. Default: data/ in the checkout.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")


def llm_options(func: F) -> F:
    """Add the options that let a language model phrase answers (default: none, extractive)."""
    func = click.option(
        "--llm-model", default=None, help="Model name on that server. Env: CASEBOOK_LLM_MODEL."
    )(func)
    func = click.option(
        "--llm-base-url",
        default=None,
        help="LLM server, e.g. http://127.0.0.1:11434. Env: CASEBOOK_LLM_BASE_URL.",
    )(func)
    return click.option(
        "--llm",
        type=click.Choice(["none", "openai", "ollama"]),
        default=None,
        help="Phrase answers with a language model. Env: CASEBOOK_LLM. Default: none.",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.version_option(package_name="casebook")
def main(verbose: int) -> None:
    """Casebook: answers from your library of NHS mental-health improvement documents,
    every sentence cited to the passage it came from.

    \b
    casebook ingest examples/library
    casebook ask "How did trusts reduce out-of-area placements?"
    casebook serve
    """
    _offline()
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s %(message)s")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@data_dir_option
@click.option("--prune", is_flag=True, help="Remove documents whose files are gone.")
@click.option("--no-wait", is_flag=True, help="Refuse, rather than wait, while another ingestion runs.")
@json_option
@clean_errors
def ingest(paths: tuple[Path, ...], data_dir: Path | None, prune: bool, no_wait: bool, as_json: bool) -> None:
    """Add files or folders (.md .txt .html .pdf .docx) to the library.

    Unchanged files are skipped; changed files are re-read; exit code 1 if any file failed.

    \b
    casebook ingest examples/library
    casebook ingest reports/ notes.md --prune
    """
    settings = build_settings(data_dir=data_dir)
    if not (prune and settings.data_dir.exists()):
        require_files(paths)
    from assistant.engine import Casebook

    casebook = Casebook(settings)
    report = run_ingest(casebook, paths, prune=prune, progress=not as_json, wait=not no_wait)
    for failure in report.failed:
        click.echo(f"Failed: {failure}", err=True)
    click.echo(json.dumps(report.to_json()) if as_json else report.summary())
    if report.failed:
        sys.exit(1)


@main.command()
@data_dir_option
@json_option
@clean_errors
def prepare(data_dir: Path | None, as_json: bool) -> None:
    """Encode ahead every sentence an answer may quote, so answers come fast.

    Answers are the same without it, only slower (each encodes its candidate sentences);
    `casebook serve` does this by itself while idle. Safe to stop at any moment.

    \b
    casebook prepare
    casebook prepare --data-dir /srv/casebook --json
    """
    from dataclasses import asdict

    from filelock import Timeout

    from assistant.engine import Casebook
    from assistant.prepare import prepare as prepare_answers
    from assistant.prepare import prepare_lock
    from vectorstore import StoreError

    casebook = Casebook(build_settings(data_dir=data_dir))
    require_contents(casebook)
    casebook.require_index()
    store = casebook.store
    if not store.answers.writable:
        raise StoreError(f"{store.derived_dir} is read-only: answers are encoded as they are asked.")
    lock = prepare_lock(store)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreError(
            f"Another process (casebook serve) is preparing {store.data_dir} already; it goes on while idle."
        ) from None
    try:
        made = prepare_answers(store, casebook.embedder, progress=not as_json)
    finally:
        lock.release()
    click.echo(json.dumps(asdict(made)) if as_json else made.summary())


def require_files(paths: Sequence[Path]) -> None:
    """Raise, before anything is created, when ``paths`` name no file Casebook can read."""
    from ingest.loaders import supported
    from ingest.pipeline import collect

    files, refused, _ = collect(paths)
    if files:
        return
    empty = [f"{p}: no {supported()} files in it" for p in paths if p.is_dir()]
    reasons = "; ".join([str(e) for e in refused] + empty)
    raise CasebookError(f"Nothing was ingested: {reasons}")


def run_ingest(
    casebook: Any, paths: Sequence[Path], *, prune: bool = False, progress: bool = False, wait: bool = True
) -> Any:
    """Ingest ``paths`` into ``casebook``'s index with its settings; return the report."""
    from ingest import ChunkingParams
    from ingest import ingest as ingest_files

    chunking = ChunkingParams(casebook.settings.chunk_tokens, casebook.settings.chunk_overlap)
    return ingest_files(
        list(paths),
        casebook.store,
        casebook.embedder,
        chunking=chunking,
        prune=prune,
        progress=progress,
        wait=wait,
        notify=lambda line: click.echo(line, err=True),
        access_policy=casebook.settings.access_policy,
    )


@main.command()
@click.argument("question")
@data_dir_option
@click.option(
    "-k", "top_k", type=click.IntRange(1, 50), default=None, help="Passages to retrieve. Env: CASEBOOK_TOP_K."
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="EXPR",
    help="""Only documents matching, quoted, e.g. 'year>=2018' or 'trust=East London'. Repeatable.""",
)
@llm_options
@json_option
@clean_errors
def ask(
    question: str,
    data_dir: Path | None,
    top_k: int | None,
    filters: tuple[str, ...],
    llm: str | None,
    llm_base_url: str | None,
    llm_model: str | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the library, citing each sentence.

    \b
    casebook ask "How did trusts reduce out-of-area placements?"
    casebook ask "Which trusts went from RI to good?" --filter 'year>=2018' --json
    casebook ask "What changed at Oxleas?" --filter 'document_type=inspection report'
    """
    from assistant.engine import Casebook

    settings = build_settings(
        data_dir=data_dir, top_k=top_k, llm=llm, llm_base_url=llm_base_url, llm_model=llm_model
    )
    casebook = Casebook(settings)
    require_contents(casebook)
    casebook.require_index()  # loads the model: checks it is the one that built the index

    from assistant.conversation import Conversation
    from assistant.generative import build_llm

    chosen = casebook.parse_filters(filters)
    model = build_llm(settings)
    answer = (
        Conversation(casebook, model).ask(question, chosen)
        if model
        else casebook.ask(question, filters=chosen)
    )
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        click.echo(format_answer(answer))


def require_contents(casebook: Casebook) -> None:
    """Raise when there is no index or it holds nothing, without loading the model."""
    store = casebook.store
    if store.info() is None:
        raise IndexMissingError(store.data_dir)
    if store.count() == 0:
        raise CasebookError(
            f"The index at {store.data_dir} is empty: ingest documents first with: casebook ingest PATH"
        )


def format_answer(answer: Answer, width: int = 100) -> str:
    """Return an answer and its numbered sources as terminal text."""
    # Keep the answer's own lines (a list of trusts, the note on what the library lacks).
    lines = [
        textwrap.fill(line, width, subsequent_indent="  " if line.startswith("- ") else "")
        for line in answer.text.split("\n")
    ]
    if answer.notice:
        lines.insert(0, f"Note: {answer.notice}\n")
    if answer.citations:
        lines.append("\nSources:")
    for c in answer.citations:
        where = f" ({c.location})" if c.location else ""
        lines.append(f"[{c.n}] {c.title}{where}\n    {c.source}")
        lines.append(textwrap.indent(textwrap.fill(c.text, width - 6), "    > "))
    return "\n".join(lines)


@main.command()
@data_dir_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="CASEBOOK_HOST",
    help="Address to listen on. Env: CASEBOOK_HOST.",
)
@click.option(
    "--port",
    default=7860,
    show_default=True,
    type=int,
    envvar="CASEBOOK_PORT",
    help="Port. Env: CASEBOOK_PORT.",
)
@click.option(
    "--insecure-no-auth",
    is_flag=True,
    help="Serve beyond loopback with no sign-in (a warning shows on every page). Never on a network.",
)
@click.option(
    "--root-path",
    default=None,
    metavar="PATH",
    help="Sub-path a reverse proxy serves Casebook under, e.g. /casebook. Env: CASEBOOK_ROOT_PATH.",
)
@click.option(
    "--allowed-origins",
    default=None,
    metavar="ORIGINS",
    help=(
        "Comma-separated origins that may embed the chat and call the API from a browser, e.g. "
        "https://intranet.trust.nhs.uk. Env: CASEBOOK_ALLOWED_ORIGINS. Default: none."
    ),
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes serving the port, each with its own model. Env: CASEBOOK_WORKERS. Default: 1.",
)
@llm_options
@clean_errors
def serve(
    data_dir: Path | None,
    host: str,
    port: int,
    insecure_no_auth: bool,
    root_path: str | None,
    allowed_origins: str | None,
    workers: int | None,
    llm: str | None,
    llm_base_url: str | None,
    llm_model: str | None,
) -> None:
    """Start the chat UI (and its JSON API) in the browser.

    On first start with an empty index, the sample library is ingested. Beyond 127.0.0.1 a
    sign-in method is required (see `casebook users --help` and README "Sign-in").

    \b
    casebook serve
    casebook serve --port 8080 --data-dir /srv/casebook
    casebook users token create alice --role reader && casebook serve --host 0.0.0.0
    casebook serve --root-path /casebook --allowed-origins https://intranet.trust.nhs.uk
    casebook serve --workers 4 --host 0.0.0.0
    """
    flags = {
        "data_dir": data_dir,
        "root_path": root_path,
        "allowed_origins": allowed_origins,
        "workers": workers,
        "llm": llm,
        "llm_base_url": llm_base_url,
        "llm_model": llm_model,
    }
    settings = build_settings(**flags)
    from assistant.web.auth import auth_config, session_secret

    auth = auth_config(settings, host=host, insecure=insecure_no_auth)
    listening = listen(host, port)  # before the model loads: a port in use is said at once
    from assistant.engine import Casebook
    from assistant.generative import build_llm
    from assistant.web.app import run, run_workers

    model = build_llm(settings)
    casebook = Casebook(settings)
    if casebook.store.count() == 0 and casebook.settings.sample_library.is_dir():
        click.echo(f"Empty index: ingesting the sample library {casebook.settings.sample_library}")
        report = run_ingest(casebook, [casebook.settings.sample_library], progress=True)
        click.echo(report.summary())
    if settings.workers == 1:
        run(casebook, host=host, port=port, llm=model, auth=auth, sock=listening)
        return
    del casebook  # each worker opens the index and loads the model itself
    session_secret(settings)  # written once here, not raced for by the workers
    for name, value in flags.items():  # the workers build their settings from the environment
        if value is not None:
            os.environ[f"CASEBOOK_{name.upper()}"] = str(value)
    run_workers(settings, host=host, sock=listening, auth=auth)


def listen(host: str, port: int) -> socket.socket:
    """Return a socket bound to ``host:port`` (as uvicorn binds), or raise one line saying why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"Cannot listen on {host!r}: not an address of this machine ({exc}).") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"Port {port} on {host} is already in use. Stop what is using it, or choose another "
                "with --port N (or CASEBOOK_PORT)."
            ) from None
        raise ConfigError(f"Cannot listen on {host}:{port} ({exc.strerror}).") from None
    sock.set_inheritable(True)
    return sock


@main.group()
def feedback() -> None:
    """Ratings given to answers in the chat window."""


@feedback.command("export")
@data_dir_option
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the question file here (default: print it).",
)
@clean_errors
def feedback_export(data_dir: Path | None, out: Path | None) -> None:
    """Turn rated answers into a question file that `casebook eval` can run.

    Answers rated up become questions expecting the documents they cited; answers rated down
    are listed as comments for a person to complete.

    \b
    casebook feedback export --out eval/questions/feedback.yaml
    casebook eval eval/questions/feedback.yaml
    """
    from assistant.feedback import FeedbackLog

    log = FeedbackLog(build_settings(data_dir=data_dir).data_dir)
    text, written, review = log.export_questions()
    if out is None:
        click.echo(text, nl=False)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(
            f"{written} questions written to {out}; {review} answers rated down need a source", err=True
        )


main.add_command(eval_command)
main.add_command(users)
main.add_command(audit)
main.add_command(status)
main.add_command(check)


if __name__ == "__main__":
    main()
