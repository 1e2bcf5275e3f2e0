"""Server mode: vectors in a real `chroma run` server, BM25 and index.json in the data directory."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from assistant.cli import main
from ingest import ingest
from tests.conftest import LIBRARY, free_port, make_casebook
from vectorstore import Embedder, Store, StoreError


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        chroma = Path(shutil.which("chroma") or "chroma")
    port = free_port()
    process = subprocess.Popen(
        [str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "chroma")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/api/v2/heartbeat", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_ingest_and_ask_through_a_chroma_server(chroma_url: str, tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    report = ingest([LIBRARY], Store(data, chroma_url=chroma_url), embedder)
    assert report.ok and report.chunks_total > 10
    assert not (data / "chroma").exists()  # the vectors live in the server
    casebook = make_casebook(data, embedder, chroma_url=chroma_url)
    answer = casebook.ask("How did trusts reduce out-of-area placements?")
    assert Path(answer.citations[0].source).name == "crisis-house-out-of-area.md"


def test_unreachable_chroma_server_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        main, ["ingest", str(LIBRARY / "crisis-house-out-of-area.md")], env={"CASEBOOK_CHROMA_URL": url}
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Cannot reach the Chroma server at {url}")
    assert result.stderr.strip().endswith("Start it with: chroma run --path DIR --port N")
    assert "Traceback" not in result.stderr


def test_bad_chroma_url_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=re.escape("is not a URL. Use e.g. http://127.0.0.1:8000")):
        _ = Store(tmp_path, chroma_url="localhost:8000").collection
