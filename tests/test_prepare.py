"""Answer vectors made ahead: the same answers, nothing encoded per question, kept in step."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.extractive import answer_texts
from assistant.prepare import Preparer, prepare, prepare_lock
from ingest import ingest
from tests.conftest import LIBRARY, make_casebook, serving
from vectorstore import Embedder, Store

OAP = "How did trusts reduce out-of-area placements?"
PARTIAL = "How much did the crisis line cost and what did it save?"
NEAR_MISS = "How many beds does Oxleas have?"


@pytest.fixture
def library_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    shutil.copytree(LIBRARY, folder)
    return folder


def _ingest(folder: Path, data_dir: Path, embedder: Embedder, *, prune: bool = False) -> Store:
    """Ingest ``folder`` into ``data_dir`` and return a fresh view of the index."""
    report = ingest([folder], make_casebook(data_dir, embedder).store, embedder, prune=prune)
    assert report.ok, report.failed
    return make_casebook(data_dir, embedder).store


def test_prepared_answers_are_the_same_and_encode_no_sentence(
    library_copy: Path, tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    _ingest(library_copy, data_dir, embedder)
    questions = (OAP, PARTIAL, NEAR_MISS)
    before = [make_casebook(data_dir, embedder).ask(q).to_json() for q in questions]

    made = prepare(make_casebook(data_dir, embedder).store, embedder)
    assert made.documents == 10  # the sample library's files
    assert made.texts > 100 and made.pruned == 0

    casebook = make_casebook(data_dir, embedder)
    encoded: list[str] = []
    real = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda texts, **kw: encoded.extend(texts) or real(texts, **kw))
    after = [casebook.ask(q).to_json() for q in questions]
    assert after == before  # float16 on disk, yet the same quotes, order and gaps
    assert encoded == [OAP, PARTIAL, NEAR_MISS]  # each question itself, and not one sentence
    assert "crisis house" in after[0]["answer"].lower()
    assert after[1]["unanswered"] and after[2]["abstained"]


def test_answer_vectors_follow_the_library_and_fit_only_their_own_text(
    library_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    store = _ingest(library_copy, data_dir, embedder)
    prepare(store, embedder)
    assert not store.answers.pending(store.ledger.documents())

    changed = sorted(library_copy.glob("*.md"))[0]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nThe ward also opened a garden in 2019.\n")
    removed = sorted(library_copy.glob("*.md"))[1]
    removed.unlink()
    store = _ingest(library_copy, data_dir, embedder, prune=True)
    records = store.ledger.documents()
    assert len(store.answers.pending(records)) == 1  # the changed document's new version

    made = prepare(store, embedder)
    assert (made.documents, made.pruned) == (1, 2)  # the changed one's old version, the removed one
    assert len(list((store.derived_dir / "answers").glob("*.npz"))) == len(records)

    record = next(r for r in records.values() if r.source.endswith(changed.name))
    texts = [t for c in store.document_chunks(record.doc_id) for t in answer_texts(c)]
    garden = next(t for t in texts if "garden" in t)
    found = store.answers.lookup(record.doc_id, record.content_hash, [garden, garden + " Not quoted."])
    assert found[0] is not None and found[1] is None  # a vector is used only for the text it was made of
    assert float(found[0] @ embedder.embed([garden])[0]) > 0.999


def test_a_server_prepares_while_idle_and_one_process_at_a_time(
    library_copy: Path, tmp_path: Path, embedder: Embedder
) -> None:
    data_dir = tmp_path / "data"
    store = _ingest(library_copy, data_dir, embedder)
    lock = prepare_lock(store)
    lock.acquire()
    preparer = Preparer(store, lambda: embedder, every=0.2)
    try:
        preparer.start()
        result = CliRunner().invoke(main, ["prepare", "--data-dir", str(data_dir)])
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"Error: Another process (casebook serve) is preparing {data_dir} already; it goes on while idle."
        )
        time.sleep(3)
        assert len(store.answers.pending(store.ledger.documents())) == 10  # the lock's holder prepares
        lock.release()  # ... and when it goes, the server takes over
        deadline = time.monotonic() + 120
        while store.answers.pending(store.ledger.documents()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not store.answers.pending(store.ledger.documents())

        # A document ingested by another writer while the server runs is prepared too.
        (library_copy / "new-ward.md").write_text(
            "# A new ward\n\nThe trust opened a new ward for older adults in 2019.\n", encoding="utf-8"
        )
        _ingest(library_copy, data_dir, embedder)
        deadline = time.monotonic() + 60
        while store.answers.pending(store.ledger.documents()) and time.monotonic() < deadline:
            time.sleep(0.5)
        records = store.ledger.documents()
        assert len(records) == 11 and not store.answers.pending(records)
    finally:
        preparer.stop()
        if lock.is_locked:
            lock.release()


def test_serve_prepares_its_library_by_itself(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, env={"CASEBOOK_PREPARE_ANSWERS": "true"}) as (_, url):
        deadline = time.monotonic() + 180
        status: dict = {}
        while time.monotonic() < deadline:
            result = CliRunner().invoke(main, ["status", "--data-dir", str(data_dir), "--json"])
            status = json.loads(result.output)
            if status["answers_prepared"] == status["documents"]:
                break
            time.sleep(1)
        assert status["documents"] == 10 and status["answers_prepared"] == 10, status
        answer = httpx.post(f"{url}/api/ask", json={"question": OAP}, timeout=60).json()
        assert "crisis house" in answer["answer"].lower()
    text = CliRunner().invoke(main, ["status", "--data-dir", str(data_dir)]).output
    assert "Answers prepared" not in text  # said only while some are missing
