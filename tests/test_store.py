"""The index stays whole: crashes at any moment, two writers, a read-only folder and a full disk.

Real processes throughout: `casebook ingest` runs as a subprocess and is killed with SIGKILL,
either at a named crash point (``CASEBOOK_TEST_CRASH_AT``, see vectorstore/faults.py) or after
a delay; the re-run must leave the same index as a clean build.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import LIBRARY, make_casebook
from vectorstore import Embedder, Store
from vectorstore.consistency import scan

FILES = ("crisis-house-out-of-area.md", "staff-speak-up-culture.md", "patient-carer-involvement.md")
QUESTIONS = (
    "How did trusts reduce out-of-area placements?",
    "How can staff speak up about concerns?",
    "How were carers involved in improvement?",
)


def casebook(
    *args: str, env: dict[str, str] | None = None, check: bool = False
) -> subprocess.CompletedProcess:
    """Run the `casebook` command in a new process and return what it did."""
    result = subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def start_ingest(
    folder: Path, data: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant.cli",
            "ingest",
            str(folder),
            "--data-dir",
            str(data),
            "--json",
            *extra,
        ],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def library(tmp_path: Path, names: tuple[str, ...] = FILES, name: str = "lib") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in names:
        shutil.copy(LIBRARY / file, folder / file)
    return folder


def picture(data: Path, embedder: Embedder, chroma_url: str | None = None) -> dict[str, object]:
    """Return what a user relies on in an index: its documents, chunk ids and top-5 citations."""
    book = make_casebook(data, embedder, chroma_url=chroma_url)
    store = book.store
    assert not scan(store.collection, store.sentences, store.ledger).broken
    return {
        "documents": sorted((d.source, d.content_hash) for d in store.documents().values()),
        "chunks": sorted(store.collection.get(include=[])["ids"]),
        "sentences": store.sentences.count(),
        "derived": sorted(store.bm25.ids),
        "answers": [[c.source for c in book.ask(q).citations][:5] for q in QUESTIONS],
        "passages": [[p.chunk.id for p in book.retriever.search(q, 5)] for q in QUESTIONS],
    }


def crash(folder: Path, data: Path, point: str, chroma_url: str | None = None) -> None:
    env = {"CASEBOOK_TEST_CRASH_AT": point, **({"CASEBOOK_CHROMA_URL": chroma_url} if chroma_url else {})}
    result = casebook("ingest", str(folder), "--data-dir", str(data), "--json", env=env)
    assert result.returncode == -signal.SIGKILL, (point, result.returncode, result.stderr[-2000:])


def killed_after(folder: Path, data: Path, seconds: float) -> None:
    process = start_ingest(folder, data)
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.communicate()


def test_killed_ingestions_end_in_the_clean_build(tmp_path: Path, embedder: Embedder) -> None:
    folder, data = library(tmp_path), tmp_path / "data"
    crash(folder, data, "write_document:2")  # inside the second document: chunks, no sentences
    crash(folder, data, "before_record:2")  # sentences written, record not
    crash(folder, data, "after_record:1")  # record written, generation not moved
    crash(folder, data, "derived:1")  # every document done, killed during the BM25 update
    assert (
        json.loads(casebook("status", "--data-dir", str(data), "--json").stdout)["parts"][-2]["ok"] is False
    )
    killed_after(folder, data, 4.0)  # wherever the model load and repair have got to
    casebook("ingest", str(folder), "--data-dir", str(data), check=True)
    note = folder / "crisis-house-out-of-area.md"
    note.write_text(note.read_text(encoding="utf-8").replace("crisis house", "crisis sanctuary"))
    crash(folder, data, "write_document:1")  # mid-replacement of a changed document
    killed_after(folder, data, 9.0)
    casebook("ingest", str(folder), "--data-dir", str(data), check=True)

    clean = tmp_path / "clean"
    casebook("ingest", str(folder), "--data-dir", str(clean), check=True)
    assert picture(data, embedder) == picture(clean, embedder)
    status = json.loads(casebook("check", "--data-dir", str(data), "--json").stdout)
    assert status["consistent"] and status["documents"] == 3


def test_check_finds_and_repairs_an_interrupted_write(tmp_path: Path) -> None:
    # Both small documents are encoded and written in one batch: a kill before their records
    # leaves both incomplete (their chunks and sentences stored, no record).
    folder, data = library(tmp_path, FILES[:2]), tmp_path / "data"
    crash(folder, data, "before_record:2")
    found = casebook("check", "--data-dir", str(data))
    assert found.returncode == 1
    assert "INCONSISTENT  documents: 2 incomplete" in found.stdout
    assert found.stdout.strip().endswith("Inconsistent: run casebook check --repair")
    repaired = casebook("check", "--repair", "--data-dir", str(data), "--json")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    data_json = json.loads(repaired.stdout)
    assert data_json["consistent"] and data_json["documents"] == 0 and data_json["chunks"] == 0
    assert sorted(data_json["repaired"]["documents"]) == sorted(_ids(folder))


def _ids(folder: Path) -> list[str]:
    from ingest import doc_id_for

    return [doc_id_for(str(f.resolve())) for f in sorted(folder.iterdir())]


def test_two_ingestions_into_one_index_never_mix(tmp_path: Path) -> None:
    first, second = library(tmp_path, FILES[:2], "a"), library(tmp_path, FILES[2:], "b")
    data = tmp_path / "data"
    one, two = start_ingest(first, data), start_ingest(second, data)
    outs = [p.communicate(timeout=600) for p in (one, two)]
    assert [one.returncode, two.returncode] == [0, 0], outs
    assert len(Store(data).documents()) == 3
    assert json.loads(casebook("check", "--data-dir", str(data), "--json").stdout)["consistent"]


def test_an_ingestion_waits_for_the_lock_holder_saying_so_once(tmp_path: Path) -> None:
    folder, data = library(tmp_path, FILES[:1]), tmp_path / "data"
    holder = f"pid {os.getpid()} on {socket.gethostname()}"
    with Store(data).writer_lock():
        waiting = start_ingest(folder, data)
        line = waiting.stderr.readline()
        assert line == f"Waiting for the ingestion running as {holder} to finish...\n"
    out, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0 and len(json.loads(out)["added"]) == 1, err


def test_an_ingestion_with_no_wait_refuses_in_one_line(tmp_path: Path) -> None:
    folder, data = library(tmp_path, FILES[:1]), tmp_path / "data"
    with Store(data).writer_lock():
        refused = casebook("ingest", str(folder), "--data-dir", str(data), "--no-wait")
    assert refused.returncode == 1
    assert refused.stderr == (
        f"Error: The index at {data} is being written by the ingestion running as pid {os.getpid()} on "
        f"{socket.gethostname()}. Run again when it has finished, or without --no-wait to wait for it.\n"
    )


def test_ingest_of_a_missing_path_creates_nothing(tmp_path: Path) -> None:
    result = casebook("ingest", str(tmp_path / "no-such-folder"), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 1
    assert not (tmp_path / "data").exists()


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """Mount a small tmpfs at ``where`` (needs root; skips the test otherwise)."""
    where.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]).returncode
    ):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_read_only_index_answers_and_refuses_ingest_in_one_line(tmp_path: Path) -> None:
    folder = library(tmp_path, FILES[:2])
    with tmpfs(tmp_path / "mnt", "16m") as mnt:
        data = mnt / "data"
        casebook("ingest", str(folder), "--data-dir", str(data), check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        answer = casebook("ask", QUESTIONS[1], "--data-dir", str(data), "--json", check=True)
        assert Path(json.loads(answer.stdout)["citations"][0]["source"]).name == FILES[1]
        extra = library(tmp_path, FILES[2:], "more")
        refused = casebook("ingest", str(extra), "--data-dir", str(data))
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"Error: {data} is read-only: Casebook can answer from it")
        assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
        assert casebook("check", "--data-dir", str(data)).returncode == 0


def test_full_disk_is_one_line_and_the_index_stays_whole(tmp_path: Path, embedder: Embedder) -> None:
    """A real full disk: a 6 MB tmpfs, filled up after the first ingest."""
    folder = library(tmp_path, FILES[:1])
    with tmpfs(tmp_path / "mnt", "6m") as mnt:
        data = mnt / "data"
        casebook("ingest", str(folder), "--data-dir", str(data), check=True)
        filler = mnt / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True)
        for name in FILES[1:]:
            shutil.copy(LIBRARY / name, folder / name)
        full = casebook("ingest", str(folder), "--data-dir", str(data))
        assert full.returncode == 1, full.stdout
        assert full.stderr.startswith(f"Error: The disk holding {data} is full. Free some space there")
        assert "Traceback" not in full.stderr and len(full.stderr.strip().splitlines()) == 1
        answer = casebook("ask", QUESTIONS[0], "--data-dir", str(data), "--json", check=True)
        assert Path(json.loads(answer.stdout)["citations"][0]["source"]).name == FILES[0]
        filler.unlink()
        casebook("ingest", str(folder), "--data-dir", str(data), check=True)
        assert json.loads(casebook("check", "--data-dir", str(data), "--json").stdout)["consistent"]
        assert len(Store(data).documents()) == 3


def test_ingest_reads_nothing_back_and_caches_what_chroma_would_give(
    tmp_path: Path, embedder: Embedder, monkeypatch
) -> None:
    # The derived indexes are brought up to date from what was just written: no document is
    # read back from Chroma, and what is cached is exactly what a read-back would give.
    import numpy as np

    from ingest import ingest
    from vectorstore.bm25 import BM25Index
    from vectorstore.derived import EntryCache, fetch_entry

    def read_back(self: Store, record: object) -> None:
        raise AssertionError(f"read back from Chroma: {record}")

    store = Store(tmp_path / "data")
    with monkeypatch.context() as patch:
        patch.setattr(Store, "_fetch", read_back)
        assert ingest([library(tmp_path)], store, embedder).ok
    cache, tokenizer = EntryCache(store.derived_dir / "docs"), BM25Index([], [], None, store.info().bm25)
    records = store.ledger.documents()
    assert len(records) == len(FILES)
    for record in records.values():
        fetched, vectors = fetch_entry(record, store.collection, store.sentences, tokenizer)
        assert cache.get(record) == fetched
        assert np.array_equal(cache.vectors(record), vectors)
