"""The encoder's backends and sentence modes: int8 stays close to fp32, and the index records both."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from assistant.cli import main
from ingest import ingest, load
from tests.conftest import LIBRARY, make_casebook
from vectorstore import Embedder, IndexMismatchError, Store
from vectorstore.errors import ConfigError
from vectorstore.sentences import split_sentences


@pytest.fixture(scope="module")
def int8() -> Embedder:
    """The bundled model with its Linear layers quantised to int8."""
    return Embedder(backend="torch-int8")


def _library_sentences() -> list[str]:
    texts = []
    for path in sorted(LIBRARY.glob("*.md"))[:3]:
        doc = load(path)
        texts += [f"{doc.title} {s}" for section in doc.sections for s in split_sentences(section.text)]
    return texts


def test_int8_vectors_stay_close_to_fp32_on_real_text(embedder: Embedder, int8: Embedder) -> None:
    texts = _library_sentences()
    assert len(texts) > 50
    cosine = np.sum(embedder.embed(texts) * int8.embed(texts), axis=1)
    # Measured 0.985 mean, 0.974 least on these sentences; quantising every layer gave 0.935.
    assert cosine.mean() > 0.98
    assert cosine.min() > 0.96
    # What a user sees: a sentence's nearest neighbour under fp32 stays among its three nearest
    # under int8 (measured: the very first agrees for 83% of these near-tied sentences).
    similarity = [m @ m.T - 2 * np.eye(len(texts)) for m in (embedder.embed(texts), int8.embed(texts))]
    first = similarity[0].argmax(axis=1)
    top3 = np.argsort(-similarity[1], axis=1)[:, :3]
    assert float(np.mean([f in row for f, row in zip(first, top3, strict=True)])) > 0.95


def test_index_refuses_another_backend_with_one_line(tmp_path: Path, int8: Embedder) -> None:
    data = tmp_path / "data"
    ingest([LIBRARY / "crisis-house-out-of-area.md"], Store(data), int8)
    info = json.loads((data / "index.json").read_text())
    assert (info["embedding_backend"], info["sentence_vectors"]) == ("torch-int8", "pooled")

    result = CliRunner().invoke(main, ["ask", "crisis house", "--data-dir", str(data)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    line = result.output.strip()
    assert "\n" not in line
    assert "embedded with the torch-int8 backend; settings ask for torch" in line
    assert "CASEBOOK_EMBED_BACKEND=torch-int8" in line

    answered = make_casebook(data, int8).ask("What does a crisis house cost out of area?")
    assert answered.citations


def test_unknown_backend_names_the_choices() -> None:
    expected = r"Unknown embedding backend 'onnx'\. Use one of: torch, torch-int8\."
    with pytest.raises(ConfigError, match=expected):
        Embedder(backend="onnx")


def test_sentences_alone_are_the_vectors_the_answerer_encodes(tmp_path: Path, embedder: Embedder) -> None:
    alone = copy.copy(embedder)  # the session's model, read with the other sentence mode
    alone.sentences = "alone"
    data = tmp_path / "data"
    store = Store(data)
    ingest([LIBRARY / "crisis-house-out-of-area.md"], store, alone)
    assert json.loads((data / "index.json").read_text())["sentence_vectors"] == "alone"

    ids = sorted({str(m["chunk_id"]) for m in store.sentences.get(include=["metadatas"])["metadatas"]})
    chunks = store.chunks(ids)
    stored = store.sentence_vectors(ids)
    assert sum(len(texts) for texts, _ in stored.values()) > 10
    for chunk_id, (texts, matrix) in stored.items():
        # The answerer encodes f"{title} {sentence}" (assistant/extractive.py): the same vectors.
        again = embedder.embed([f"{chunks[chunk_id].title} {t}" for t in texts])
        assert np.abs(matrix - again).max() < 1e-5

    # So the answerer reads them instead of encoding its candidates again.
    casebook = make_casebook(data, alone, sentence_vectors="alone")
    question = "How did Lancashire Care cut out-of-area placements?"
    casebook.ask(question)  # warm: the question itself is encoded
    encoded: list[str] = []
    real = alone.embed_cached
    alone.embed_cached = lambda texts: encoded.extend(texts) or real(texts)
    answer = casebook.ask(question)
    assert "crisis house" in answer.text.lower() and encoded == []

    with pytest.raises(IndexMismatchError, match="holds alone sentence vectors; settings ask for pooled"):
        ingest([LIBRARY], Store(data), embedder)


def test_bf16_reads_passages_close_to_fp32_and_questions_stay_fp32(
    tmp_path: Path, embedder: Embedder
) -> None:
    bf16, fp32 = copy.copy(embedder), copy.copy(embedder)  # the session's model, at each precision
    bf16.precision, fp32.precision = "bf16", "fp32"
    texts = _library_sentences()
    exact = fp32.embed(texts)
    # Questions and the answerer's sentences are encoded in fp32 whatever the index's precision.
    assert np.abs(bf16.embed(texts) - exact).max() < 1e-6
    # Passages at ingestion are read in bf16: other vectors, within 1e-4 of fp32's in cosine
    # (measured: 1e-5 mean on the sample library's chunks).
    indexed = bf16.embed(texts, indexing=True)
    assert np.abs(indexed - exact).max() > 1e-5
    assert np.sum(indexed * exact, axis=1).min() > 1 - 1e-4
    passages, _, _ = bf16.embed_passages(texts[:20], [[] for _ in range(20)])
    assert np.sum(passages * exact[:20], axis=1).min() > 1 - 1e-4
    data = tmp_path / "data"
    ingest([LIBRARY / "crisis-house-out-of-area.md"], Store(data), bf16)
    assert json.loads((data / "index.json").read_text())["embedding_precision"] == "bf16"


def test_unknown_precision_names_the_choices() -> None:
    with pytest.raises(
        ConfigError, match=r"Unknown embedding precision 'fp16'\. Use one of: auto, fp32, bf16\."
    ):
        Embedder(precision="fp16")
