"""The command line a new user meets: quoted filters, clear one-line refusals, and a fast start."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from tests.conftest import ROOT, make_casebook
from vectorstore import Embedder

HEAVY = ("torch", "sentence_transformers", "chromadb", "llama_index", "gradio")


def test_filters_are_quoted_wherever_a_user_copies_them() -> None:
    help_text = CliRunner().invoke(main, ["ask", "--help"]).output
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--filter 'year>=2018'" in help_text
    assert "--filter 'year>=2018'" in readme
    # Unquoted, `--filter year>=2018` is a shell redirect that writes a file named =2018.
    for text in (help_text, readme):
        assert not re.search(r"--filter [a-z_]+[<>]", text)


def test_a_mistyped_filter_error_shows_the_quoted_form() -> None:
    from vectorstore import FilterError, parse_filter

    with pytest.raises(FilterError) as caught:
        parse_filter("year", {})  # what the shell leaves of an unquoted year>=2018
    assert str(caught.value) == (
        "Cannot read filter 'year'. Write FIELD=VALUE in quotes, e.g. --filter 'year>=2017'; "
        "fields: trust, document_type, publisher, year"
    )


def test_ingest_of_a_mistyped_path_creates_nothing(tmp_path: Path) -> None:
    data, typo = tmp_path / "data", tmp_path / "reprots"
    result = CliRunner().invoke(main, ["ingest", str(typo), "--data-dir", str(data)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: Nothing was ingested: {typo}: no such file or folder"
    assert not data.exists()


def test_ingest_of_a_folder_with_nothing_readable_creates_nothing(tmp_path: Path) -> None:
    folder, data = tmp_path / "slides", tmp_path / "data"
    folder.mkdir()
    (folder / "deck.pptx").write_bytes(b"PK")
    result = CliRunner().invoke(main, ["ingest", str(folder), "--data-dir", str(data)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: Nothing was ingested: {folder}: no .docx, .htm, .html, .markdown, .md, .pdf, .txt "
        "files in it"
    )
    assert not data.exists()


def test_ask_on_an_empty_index_says_it_is_empty(tmp_path: Path, embedder: Embedder) -> None:
    from ingest import ingest

    folder, data = tmp_path / "notes", tmp_path / "data"
    folder.mkdir()
    note = folder / "cafe.md"
    note.write_text("# Crisis cafe\n\nA crisis cafe opened in the evenings for people in distress.\n")
    store = make_casebook(data, embedder).store
    assert ingest([folder], store, embedder).chunks_total == 1
    note.unlink()
    assert ingest([folder], store, embedder, prune=True).chunks_total == 0

    result = CliRunner().invoke(main, ["ask", "Where is the crisis cafe?", "--data-dir", str(data)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"Error: The index at {data} is empty: ingest documents first with: casebook ingest PATH"
    )


def test_ingest_prints_its_progress_and_summary_and_no_library_debug_lines(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "huddle.md").write_text("# Huddles\n\nThe ward team meets each morning to review risks.\n")
    done = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ingest", str(folder), "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 added, 0 updated, 0 unchanged, 0 removed, 0 failed; 1 chunks written")
    assert "DEBUG" not in done.stdout + done.stderr  # bm25s sets its own logger to DEBUG on import


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port)]
        result = subprocess.run(
            [*serve, "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert result.stdout == ""  # never "Casebook is running at ..."
    assert result.stderr.strip() == (
        f"Error: Port {port} on 127.0.0.1 is already in use. Stop what is using it, or choose another "
        "with --port N (or CASEBOOK_PORT)."
    )


def _heavy_modules_loaded_by(args: list[str]) -> tuple[set[str], str]:
    """Run ``casebook ARGS`` in a fresh interpreter; return the heavy packages it imported and
    what it printed on stderr."""
    script = (
        "import sys\n"
        "from assistant.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY:', *sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    heavy = done.stdout.strip().splitlines()[-1]
    assert heavy.startswith("HEAVY:"), done.stdout + done.stderr
    return set(heavy.split()[1:]), done.stderr


def test_help_and_a_missing_index_load_nothing_heavy(tmp_path: Path) -> None:
    heavy, _ = _heavy_modules_loaded_by(["--help"])
    assert heavy == set()
    missing = tmp_path / "none"
    heavy, stderr = _heavy_modules_loaded_by(
        ["ask", "How did trusts reduce OAPs?", "--data-dir", str(missing)]
    )
    assert heavy == set()  # the model is not loaded to say there is no index
    assert stderr.strip() == f"Error: No index at {missing}. Run: casebook ingest <folder>"
    assert not missing.exists()


def test_license_is_an_spdx_string() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"  # the table form is deprecated by setuptools (builds stop 2027)
