"""Live servers: a running `casebook serve` answers from a document another process ingested,
within 5 seconds of that ingestion finishing, with its facets updated and no restart; also
the crash-and-repair path against a real `chroma run` server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import LIBRARY, start_serve, stop
from tests.test_chroma_server import chroma_url  # noqa: F401  (the real `chroma run` fixture)
from tests.test_store import FILES, casebook, crash, library, picture
from vectorstore import Embedder

NEW = "staff-speak-up-culture.md"
QUESTION = "How can staff speak up about concerns?"


def _ask(url: str) -> httpx.Response:
    return httpx.post(
        f"{url}/api/ask", json={"question": QUESTION, "filters": ["publisher=Care Quality"]}, timeout=60
    )


def _cites_new(url: str) -> bool:
    reply = _ask(url)
    return reply.status_code == 200 and any(Path(c["source"]).name == NEW for c in reply.json()["citations"])


def _serve_sees_a_new_document(tmp_path: Path, env: dict[str, str]) -> float:
    folder, data = library(tmp_path, FILES[:1]), tmp_path / "data"
    casebook("ingest", str(folder), "--data-dir", str(data), env=env, check=True)
    process, url = start_serve(data, env=env)
    try:
        # Before: no document from that publisher, so the filter itself is refused.
        assert _ask(url).status_code == 400
        warm = httpx.post(f"{url}/api/ask", json={"question": QUESTION}, timeout=120)  # first-answer costs
        assert all(Path(c["source"]).name != NEW for c in warm.json()["citations"])
        before = httpx.get(f"{url}/api/health", timeout=10).json()["chunks"]
        extra = library(tmp_path, (NEW,), "more")
        casebook("ingest", str(extra), "--data-dir", str(data), env=env, check=True)
        finished = time.monotonic()
        while not _cites_new(url):
            assert time.monotonic() - finished < 5.0, "serve did not see the new document within 5 s"
            time.sleep(0.25)
        seen = time.monotonic() - finished
        assert seen < 5.0, f"the answer citing the new document came {seen:.1f} s after the ingest"
        assert httpx.get(f"{url}/api/health", timeout=10).json()["chunks"] > before
        return seen
    finally:
        stop(process)


def test_serve_answers_from_a_document_ingested_by_another_process(tmp_path: Path) -> None:
    print(f"seen after {_serve_sees_a_new_document(tmp_path, {}):.2f}s")


def test_serve_sees_new_documents_through_a_chroma_server(tmp_path: Path, chroma_url: str) -> None:  # noqa: F811
    print(f"seen after {_serve_sees_a_new_document(tmp_path, {'CASEBOOK_CHROMA_URL': chroma_url}):.2f}s")


def test_crash_and_repair_against_a_chroma_server(
    tmp_path: Path,
    chroma_url: str,  # noqa: F811
    embedder: Embedder,
) -> None:
    folder = library(tmp_path)
    env = {"CASEBOOK_CHROMA_URL": chroma_url}
    data = tmp_path / "data"
    crash(folder, data, "write_document:2", chroma_url)
    crash(folder, data, "derived:1", chroma_url)
    casebook("ingest", str(folder), "--data-dir", str(data), env=env, check=True)
    damaged = picture(data, embedder, chroma_url)
    assert [Path(s).name for s, _ in damaged["documents"]] == sorted(FILES)
    assert damaged["answers"][0][0].endswith("crisis-house-out-of-area.md")
    assert len(damaged["chunks"]) == len(damaged["derived"])
    assert LIBRARY.is_dir()
