"""Research: how fast each encoder backend is against torch fp32, and how far its vectors move.

Run: .venv/bin/python bench/encoder_backends.py [--beir ../shared/bench/scifact] [--passages 2000]

On the first ``--passages`` SciFact passages and their sentences ("title sentence", as the index
encodes them), each backend encodes the same texts in the same run; prints one JSON object per
backend: seconds for passages and sentences, speed-up against torch fp32, and the mean and max
cosine distance (1 - cos) of its vectors from fp32's. Then the encoding of an index build
(:func:`vectorstore.indexing.embed_chunks` in batches of 128 passages, as ingestion runs it) for
each backend and sentence mode, against the raw torch fp32 encode of the passages.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", type=Path, default=ROOT.parent / "shared/bench/scifact")
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--backends", default="torch,torch-int8")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from eval.beir import corpus_chunks, load_beir
    from vectorstore import Embedder
    from vectorstore.indexing import BATCH_CHUNKS, embed_chunks
    from vectorstore.sentences import sentence_units

    chunks = corpus_chunks(load_beir(args.beir))[: args.passages]
    passages = [c.embed_text for c in chunks]
    sentences = [u.embed_text for u in sentence_units(chunks)]
    reference: dict[str, np.ndarray] = {}
    rows = []
    for backend in args.backends.split(","):
        embedder = Embedder(backend=backend)
        embedder.embed(passages[:64])  # warm up
        row: dict[str, object] = {"backend": backend}
        for name, texts in (("passages", passages), ("sentences", sentences)):
            started = time.perf_counter()
            vectors = embedder.embed(texts)
            row[f"{name}_s"] = round(time.perf_counter() - started, 1)
            if backend == "torch":
                reference[name] = vectors
            distance = 1.0 - np.sum(vectors * reference[name], axis=1)
            row[f"{name}_mean_distance"] = float(f"{distance.mean():.2e}")
            row[f"{name}_max_distance"] = float(f"{distance.max():.2e}")
        rows.append(row)
        print(json.dumps(row), flush=True)
    builds = []
    for backend in args.backends.split(","):
        for mode in ("pooled", "alone"):
            embedder = Embedder(backend=backend, sentences=mode)
            started = time.perf_counter()
            for start in range(0, len(chunks), BATCH_CHUNKS):
                embed_chunks(embedder, chunks[start : start + BATCH_CHUNKS])
            seconds = time.perf_counter() - started
            build = {"backend": backend, "sentences": mode, "encode_s": round(seconds, 1)}
            build["ratio_to_raw"] = round(seconds / float(rows[0]["passages_s"]), 2)
            builds.append(build)
            print(json.dumps(build), flush=True)
    base = rows[0]
    for row in rows:
        row["speedup"] = round(
            (float(base["passages_s"]) + float(base["sentences_s"]))
            / (float(row["passages_s"]) + float(row["sentences_s"])),
            2,
        )
    print(
        json.dumps(
            {
                "passages": len(passages),
                "sentences": len(sentences),
                "load_average": os.getloadavg(),
                "rows": rows,
                "builds": builds,
            }
        )
    )


if __name__ == "__main__":
    main()
