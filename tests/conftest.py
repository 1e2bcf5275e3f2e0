"""Shared fixtures: real model, real Chroma, every data directory under pytest's tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

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


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every Casebook setting at tmp_path so no test touches a real data directory."""
    for key in list(os.environ):
        if key.startswith("CASEBOOK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("CASEBOOK_DATA_DIR", str(tmp_path / "data"))


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
