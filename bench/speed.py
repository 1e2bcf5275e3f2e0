"""Benchmark: ingestion throughput, question latency and peak memory on the sample library.

Run: .venv/bin/python bench/speed.py [--copies 5] [--questions eval/questions/library.yaml]

The library is copied N times into a temporary folder (each copy a distinct file, so every copy
is chunked and embedded) to give ingestion enough work to time. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--questions", type=Path, default=ROOT / "eval/questions/library.yaml")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from assistant import Casebook, Settings
    from ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        library = Path(tmp) / "library"
        for copy in range(args.copies):
            shutil.copytree(ROOT / "examples/library", library / f"copy{copy}")
        started = time.perf_counter()
        casebook = Casebook(Settings(data_dir=Path(tmp) / "data"))
        _ = casebook.embedder
        model_seconds = time.perf_counter() - started

        started = time.perf_counter()
        report = ingest([library], casebook.store, casebook.embedder)
        ingest_seconds = time.perf_counter() - started
        again = time.perf_counter()
        ingest([library], casebook.store, casebook.embedder)
        reingest_seconds = time.perf_counter() - again

        questions = [q["question"] for q in yaml.safe_load(args.questions.read_text())]
        casebook.ask(questions[0])  # warm caches
        latencies = []
        for question in questions:
            t = time.perf_counter()
            casebook.ask(question)
            latencies.append((time.perf_counter() - t) * 1000)

    print(
        json.dumps(
            {
                "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
                "model_load_seconds": round(model_seconds, 2),
                "documents": len(report.added),
                "chunks": report.chunks_total,
                "ingest_seconds": round(ingest_seconds, 2),
                "chunks_per_second": round(report.chunks_total / ingest_seconds, 1),
                "reingest_unchanged_seconds": round(reingest_seconds, 2),
                "questions": len(latencies),
                "ask_ms_p50": round(statistics.median(latencies), 1),
                "ask_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
