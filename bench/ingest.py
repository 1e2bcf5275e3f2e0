"""Benchmark: chunks/s of ingestion against the raw encode of the same chunk texts, in one run.

Run: .venv/bin/python bench/ingest.py [--copies 10] [--threads N] [--backend torch-int8]
    [--precision auto|fp32|bf16] [--library examples/library]

The library is copied N times into a temporary folder (each copy a distinct file, so every copy
is read, chunked, embedded and written) and ingested into a fresh index with ``ingest()``, the
function behind ``casebook ingest``: reading, cleaning, chunking, the chunk and sentence vectors,
Chroma's writes and the BM25 update all count. The raw figure is sentence-transformers'
``encode`` of exactly the texts the model read for those chunks (title, section and text),
timed before and after the ingestion; the ratio is against their mean. The raw encode is always
torch fp32 (sentence-transformers' default); ``--backend`` and ``--precision`` set the ingesting
embedder's. For comparison the same texts are also encoded raw under bf16 autocast once, after
the ingestion (``raw_bf16_seconds``, ``ratio_to_raw_bf16``). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # this file is named ingest.py: let ``import ingest`` find the package


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--library", type=Path, default=ROOT / "examples/library")
    parser.add_argument("--backend", default="torch", help="the ingesting embedder's backend")
    parser.add_argument("--precision", default="auto", help="the ingesting embedder's precision")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from ingest import ingest
    from vectorstore import Embedder, Store

    if args.threads:
        torch.set_num_threads(args.threads)
    embedder = Embedder(backend=args.backend, precision=args.precision)
    model = (embedder if args.backend == "torch" else Embedder())._model  # raw sentence-transformers

    def raw(texts: list[str], bf16: bool = False) -> float:
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.encode(
                texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "library"
        for copy in range(args.copies):
            shutil.copytree(args.library, library / f"copy{copy}")
        raw(["warm up the model and its threads"] * 64)
        store = Store(Path(tmp) / "data")
        # The texts the model reads come from a first, untimed ingestion of one copy.
        ingest([library / "copy0"], Store(Path(tmp) / "probe"), embedder)
        probe = Store(Path(tmp) / "probe")
        docs = probe.documents().values()
        one_copy = [c.embed_text for doc in docs for c in probe.document_chunks(doc.doc_id)]
        texts = one_copy * args.copies

        raw_before = raw(texts)
        started = time.perf_counter()
        report = ingest([library], store, embedder)
        ingest_seconds = time.perf_counter() - started
        raw_after = raw(texts)
        raw_bf16 = raw(texts, bf16=True)

    raw_seconds = (raw_before + raw_after) / 2
    chunks = report.chunks_written
    assert chunks == len(texts), (chunks, len(texts))  # the same texts on both sides
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                "date": time.strftime("%Y-%m-%d"),
                "torch_threads": torch.get_num_threads(),
                "backend": args.backend,
                "precision": embedder.precision,
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "documents": len(report.added),
                "chunks": chunks,
                "ingest_seconds": round(ingest_seconds, 2),
                "ingest_chunks_per_second": round(chunks / ingest_seconds, 1),
                "raw_encode_seconds": [round(raw_before, 2), round(raw_after, 2)],
                "raw_chunks_per_second": round(len(texts) / raw_seconds, 1),
                "ratio": round((chunks / ingest_seconds) / (len(texts) / raw_seconds), 3),
                "raw_bf16_seconds": round(raw_bf16, 2),
                "ratio_to_raw_bf16": round(raw_bf16 / ingest_seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
