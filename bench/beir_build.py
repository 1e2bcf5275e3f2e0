"""Benchmark: a BEIR index build against the raw encode of its passages, and its nDCG@10, in one run.

Run: .venv/bin/python bench/beir_build.py --beir ../shared/bench/scifact [--precision auto|fp32|bf16]

First sentence-transformers' ``encode`` of exactly the texts the model reads for the corpus's
passages (title and text, fp32, the reference of issue 8's "1.1x a raw encode"), then the index
build of ``casebook eval --beir`` into a fresh temporary folder (passages and sentence vectors,
Chroma's writes, the BM25 indexes), then the four retrieval methods scored on the test queries.
Prints one JSON line: both times, their ratio and each method's nDCG@10, Recall@100 and MRR@10.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", type=Path, required=True, help="a BEIR folder (../shared/bench/scifact)")
    parser.add_argument("--precision", default="auto", help="the index's embedder precision")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from eval.beir import build_index, corpus_chunks, load_beir, run_beir
    from vectorstore import Embedder

    dataset = load_beir(args.beir)
    embedder = Embedder(precision=args.precision)
    texts = [chunk.embed_text for chunk in corpus_chunks(dataset)]
    model = embedder._model  # the raw sentence-transformers model, torch fp32
    model.encode(["warm up the model and its threads"] * 64)
    started = time.perf_counter()
    model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)
    raw_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        store, build_seconds, _ = build_index(dataset, Path(tmp) / "index", embedder)
        runs, _ = run_beir(dataset, store, embedder, ("bm25", "dense", "rrf", "hybrid"))

    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                "date": time.strftime("%Y-%m-%d %H:%M"),
                "torch_threads": torch.get_num_threads(),
                "precision": embedder.precision,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "passages": len(texts),
                "raw_encode_seconds": round(raw_seconds, 1),
                "build_seconds": build_seconds,
                "build_to_raw": round(build_seconds / raw_seconds, 3),
                "runs": {m: {k: round(v, 4) for k, v in r.items()} for m, r in runs.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
