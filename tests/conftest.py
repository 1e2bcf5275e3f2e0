"""Shared fixtures: real model, real Chroma, every data directory under pytest's tmp_path."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant import Casebook, Settings
from vectorstore import Embedder

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "examples" / "library"
SEEDS = ROOT.parent / "shared" / "seeds"
TEST_DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Servers do not prepare answer vectors unless a test asks: one preparing a shared library in the
# background would change, mid-session, what other tests' answers encode (also set per test below,
# and read here by the fixtures built before it).
os.environ["CASEBOOK_PREPARE_ANSWERS"] = "false"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every Casebook setting at tmp_path so no test touches a real data directory."""
    for key in list(os.environ):
        if key.startswith("CASEBOOK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CASEBOOK_PREPARE_ANSWERS", "false")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once per test session."""
    return Embedder()


@pytest.fixture(scope="session")
def seeds() -> Path:
    """The five public seed articles (real third-party text), beside the checkout in CI."""
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} is absent: the seed articles sit beside the checkout only in CI")
    return SEEDS


@pytest.fixture(scope="session")
def library_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data directory holding the sample library and, when present, the seeds."""
    from ingest import ingest

    data_dir = tmp_path_factory.mktemp("library-index")
    paths = [LIBRARY] + ([SEEDS] if SEEDS.is_dir() else [])
    report = ingest(paths, Casebook(Settings(data_dir=data_dir), embedder=embedder).store, embedder)
    assert report.ok, report.failed
    return data_dir


@pytest.fixture(scope="session")
def library(library_dir: Path, embedder: Embedder) -> Casebook:
    """A Casebook over the sample library (and seeds when present)."""
    return Casebook(Settings(data_dir=library_dir), embedder=embedder)


def make_casebook(data_dir: Path, embedder: Embedder, **settings: object) -> Casebook:
    """Return a Casebook on ``data_dir`` sharing the session's model."""
    return Casebook(Settings(data_dir=data_dir, **settings), embedder=embedder)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
    timeout: float = 240,
) -> tuple[subprocess.Popen, str]:
    """Start `casebook serve ARGS` on ``port`` (a free one by default) and return the process and its
    URL once it answers its health check (every worker's, when ARGS start several); a server that
    exits or stays silent for ``timeout`` seconds fails the test, and is stopped."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "assistant.cli",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
    ]
    # Its output goes to a file: a pipe nobody reads until the end fills after some 64 KB of
    # request logs, and the server then hangs on its next log line.
    log = tempfile.NamedTemporaryFile("w+", prefix="casebook-serve-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [*command, *args],
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_path = Path(log.name)  # type: ignore[attr-defined]
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"casebook serve exited: {stop(process)}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    stop(process)
    raise AssertionError(f"casebook serve did not start within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> str:
    """Stop a server started by ``start_serve`` (again is harmless) and return what it printed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    path = getattr(process, "log_path", None)
    if path is None or not path.exists():
        return ""
    out = path.read_text(encoding="utf-8", errors="replace")
    path.unlink()
    return out


@contextlib.contextmanager
def serving(
    data_dir: Path,
    *args: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
    timeout: float = 240,
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Return (as a context) a `casebook serve` started by ``start_serve``, stopped on leaving."""
    process, url = start_serve(data_dir, *args, env=env, port=port, timeout=timeout)
    try:
        yield process, url
    finally:
        stop(process)
