"""Benchmark: `ask` latency and `casebook serve` memory on libraries of 1k, 10k and 100k chunks.

Run: .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--keep /tmp/casebook-scale]

Each library is BEIR SciFact text (../shared/bench/scifact/corpus.jsonl): first every abstract as
it is, then further copies with each abstract's sentences shuffled (seeded), so every copy is
distinct text, until the abstracts chunk to the size asked. Every abstract is written as a
Markdown file (front matter: title, publisher) and ingested through the product's own path
(`assistant.cli.run_ingest`, what `casebook ingest` runs) into its own data directory.

Then, per size: `ask` p50/p95 over a fixed set of SciFact test queries (retrieve + extractive
answer, the engine in this process, the model warm, with serve's model threads), the same for
each stage (`retrieve`, `answer`), all again with the answerer reading stored sentence vectors
(`stored_*`, CASEBOOK_ANSWER_STORED_VECTORS), and the resident memory of a
`casebook serve` process on that data directory after it answered the same queries through
/api/ask (read from /proc); all without answer vectors made ahead. With `--prepare`, then, the
answer vectors are made (`casebook prepare`'s code, every core) and `ask` and serve measured
again with them (`prepared_*`). Prints one JSON line per size. `--keep DIR` keeps the libraries and
indexes there and reuses a finished one (an interrupted build resumes: ingestion skips the files
already stored). `--build-only` builds and measures nothing; `--partial` measures an unfinished
library as it stands. Every wait is bounded: the server is stopped whatever happens.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # bench/ingest.py would otherwise hide the ingest package
SCIFACT = ROOT.parent / "shared" / "bench" / "scifact"
MARKER = "scale.json"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="Chunks per library, comma-separated.")
    parser.add_argument("--scifact", type=Path, default=SCIFACT, help="BEIR SciFact folder.")
    parser.add_argument("--queries", type=int, default=50, help="SciFact test queries asked per size.")
    parser.add_argument("--seed", type=int, default=13, help="Seed of the sentence shuffles.")
    parser.add_argument("--keep", type=Path, default=None, help="Keep (and reuse) libraries here.")
    parser.add_argument("--serve-timeout", type=float, default=900, help="Seconds for serve to start.")
    parser.add_argument(
        "--build-only", action="store_true", help="Build (or resume) the libraries; measure nothing."
    )
    parser.add_argument(
        "--partial", action="store_true", help="Measure an unfinished library as it stands (no resume)."
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="Also make the answer vectors (casebook prepare) and measure with them (prepared_*).",
    )
    args = parser.parse_args()
    for key, value in OFFLINE.items():
        os.environ.setdefault(key, value)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    abstracts = read_corpus(args.scifact / "corpus.jsonl")
    queries = test_queries(args.scifact, args.queries)
    with tempfile.TemporaryDirectory(prefix="casebook-scale-") as tmp:
        base = args.keep or Path(tmp)
        for size in sizes:
            folder = base / f"chunks-{size}"
            if args.build_only:
                print(json.dumps(build(size, folder, abstracts, args.seed)), flush=True)
                continue
            row = measure(
                size,
                folder,
                abstracts,
                queries,
                args.seed,
                args.serve_timeout,
                partial=args.partial,
                prepare=args.prepare,
            )
            print(json.dumps(row), flush=True)


def measure(
    size: int,
    folder: Path,
    abstracts: Sequence[tuple[str, str, str]],
    queries: Sequence[str],
    seed: int,
    serve_timeout: float,
    *,
    partial: bool = False,
    prepare: bool = False,
) -> dict[str, Any]:
    """Build (or reuse) the library of ``size`` chunks in ``folder`` and measure it; with
    ``partial``, measure an unfinished library as it stands instead of resuming its build; with
    ``prepare``, also make its answer vectors and measure again (``prepared_*``)."""
    import torch

    from assistant import Casebook, Settings

    data = folder / "data"
    built = built_record(folder, size, abstracts, seed)
    reused = built is not None
    if built is None and partial:
        store = Casebook(Settings(data_dir=data)).store
        built = {"chunks": store.count(), "documents": len(store.documents()), "ingest_seconds": None}
    elif built is None:
        built = build(size, folder, abstracts, seed)

    stages = {}
    answers = data / "derived" / "answers"
    hidden = answers.with_name("answers.hidden")
    if answers.is_dir():  # answer vectors made by an earlier run: out of sight while measuring without
        answers.rename(hidden)
    try:
        for mode, stored in (("encoded", False), ("stored", True)):
            casebook = Casebook(Settings(data_dir=data, answer_stored_vectors=stored))
            torch.set_num_threads(casebook.settings.model_threads)  # as `casebook serve` does
            stages[mode] = ask_stages(casebook, queries)
            del casebook
        serve = serve_memory(data, queries, serve_timeout)
    finally:
        if hidden.is_dir():
            hidden.rename(answers)
    encoded = stages["encoded"]
    prepared: dict[str, Any] = {}
    if prepare:
        prepared = measure_prepared(data, queries, serve_timeout)
    return {
        "chunks_asked": size,
        "chunks": built["chunks"],
        "documents": built["documents"],
        "built_from": "Markdown files through run_ingest (casebook ingest's path)",
        "partial": partial and not reused,
        "ingest_seconds": built["ingest_seconds"],
        "ingest_reused": reused,
        "ingest_chunks_per_second": round(built["chunks"] / built["ingest_seconds"], 1)
        if built["ingest_seconds"]
        else None,
        "queries": len(encoded["ask"]),
        "ask_ms_p50": _p(encoded["ask"], 50),
        "ask_ms_p95": _p(encoded["ask"], 95),
        **{f"{stage}_ms_p{q}": _p(encoded[stage], q) for stage in ("retrieve", "answer") for q in (50, 95)},
        **{f"stored_{stage}_ms_p{q}": _p(stages["stored"][stage], q) for stage in encoded for q in (50, 95)},
        **serve,
        **prepared,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def measure_prepared(data: Path, queries: Sequence[str], serve_timeout: float) -> dict[str, Any]:
    """Make the library's answer vectors (what `casebook prepare` runs; resumes an earlier run) and
    return its time and `ask`'s p50/p95 and serve's memory with them."""
    import torch

    from assistant import Casebook, Settings
    from assistant.prepare import prepare

    casebook = Casebook(Settings(data_dir=data))
    torch.set_num_threads(os.cpu_count() or 1)  # as `casebook prepare` runs: every core
    made = prepare(casebook.store, casebook.embedder, progress=True)
    torch.set_num_threads(casebook.settings.model_threads)
    stages = ask_stages(Casebook(Settings(data_dir=data), embedder=casebook.embedder), queries)
    serve = serve_memory(data, queries, serve_timeout)
    return {
        "prepare_seconds": round(made.seconds, 1),
        "prepare_documents": made.documents,
        "prepare_texts": made.texts,
        **{f"prepared_{stage}_ms_p{q}": _p(stages[stage], q) for stage in stages for q in (50, 95)},
        **{f"prepared_{key}": value for key, value in serve.items()},
    }


def ask_stages(casebook: Any, queries: Sequence[str]) -> dict[str, list[float]]:
    """Return the ms of each ``Casebook.ask`` over ``queries`` (one asked first, not counted), and
    of its two stages: ``retrieve`` (timed around the engine's own call) and ``answer`` (the rest)."""
    casebook.ask(queries[0])  # warm: model, Chroma, BM25, glossary
    spent: list[float] = []
    retrieve = casebook.retrieve

    def timed(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return retrieve(*args, **kwargs)
        finally:
            spent.append((time.perf_counter() - began) * 1000)

    casebook.retrieve = timed
    asked = []
    for question in queries:
        began = time.perf_counter()
        casebook.ask(question)
        asked.append((time.perf_counter() - began) * 1000)
    return {"ask": asked, "retrieve": spent, "answer": [a - r for a, r in zip(asked, spent, strict=True)]}


def _p(values: Sequence[float], p: float) -> float:
    return round(statistics.median(values) if p == 50 else percentile(values, p), 1)


def build(size: int, folder: Path, abstracts: Sequence[tuple[str, str, str]], seed: int) -> dict[str, Any]:
    """Return the record of the library of ``size`` chunks in ``folder``, building (or resuming) it
    through `casebook ingest`'s path when it is not finished."""
    from assistant import Casebook, Settings
    from assistant.cli import run_ingest

    built = built_record(folder, size, abstracts, seed)
    if built is not None:
        return built
    casebook = Casebook(Settings(data_dir=folder / "data"))
    library = write_library(folder / "library", size, abstracts, seed, casebook)
    started = time.perf_counter()
    report = run_ingest(casebook, [library])
    if report.failed:
        raise SystemExit(f"Ingestion failed for {len(report.failed)} files, e.g. {report.failed[0]}")
    built = {
        "key": library_key(size, abstracts, seed),
        "documents": len(report.added) + len(report.updated) + len(report.skipped),
        "chunks": report.chunks_total,
        "ingest_seconds": round(time.perf_counter() - started, 1),
    }
    (folder / MARKER).write_text(json.dumps(built, indent=2), encoding="utf-8")
    return built


# -- the library --------------------------------------------------------------------------------


def read_corpus(path: Path) -> list[tuple[str, str, str]]:
    """Return (id, title, text) of every SciFact abstract, in file order."""
    if not path.is_file():
        raise SystemExit(f"{path}: missing. Give the BEIR SciFact folder with --scifact")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        (str(r["_id"]), str(r.get("title") or ""), str(r["text"])) for r in rows if str(r["text"]).strip()
    ]


def test_queries(folder: Path, n: int) -> list[str]:
    """Return the first ``n`` SciFact queries that have test judgements, in file order."""
    judged = {line.split("\t")[0] for line in (folder / "qrels" / "test.tsv").read_text().splitlines()}
    rows = [json.loads(line) for line in (folder / "queries.jsonl").read_text().splitlines() if line.strip()]
    return [str(r["text"]) for r in rows if str(r["_id"]) in judged][:n]


def copies(abstracts: Sequence[tuple[str, str, str]], seed: int) -> Iterator[tuple[int, str, str, str]]:
    """Yield (copy, id, title, text): every abstract as it is, then copy after copy with each
    abstract's sentences shuffled; an abstract with no unseen order left is passed over."""
    from vectorstore.sentences import split_sentences

    sentences = {doc_id: split_sentences(text) for doc_id, _, text in abstracts}
    seen = {doc_id: {" ".join(s)} for doc_id, s in sentences.items()}
    for doc_id, title, _ in abstracts:
        yield 0, doc_id, title, " ".join(sentences[doc_id])
    copy = 0
    while True:
        copy += 1
        fresh = 0
        for doc_id, title, _ in abstracts:
            rng = random.Random(f"{seed}:{copy}:{doc_id}")
            for _attempt in range(5):
                order = rng.sample(sentences[doc_id], len(sentences[doc_id]))
                text = " ".join(order)
                if text not in seen[doc_id]:
                    seen[doc_id].add(text)
                    fresh += 1
                    yield copy, doc_id, title, text
                    break
        if not fresh:
            raise SystemExit(f"SciFact has no more distinct orders of its sentences after {copy} copies")


def write_library(
    folder: Path, size: int, abstracts: Sequence[tuple[str, str, str]], seed: int, casebook: Any
) -> Path:
    """Write Markdown files until their abstracts chunk (as ingestion will) to ``size`` chunks."""
    from ingest import ChunkingParams, Document, Section, chunk_document

    params = ChunkingParams(casebook.settings.chunk_tokens, casebook.settings.chunk_overlap)
    tokenize = casebook.embedder.tokenizer_fn()
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for copy, doc_id, title, text in copies(abstracts, seed):
        if total >= size:
            break
        total += len(chunk_document(Document(doc_id, title, (Section(text),), ""), params, tokenize))
        front = yaml.safe_dump({"title": title, "publisher": "SciFact"})
        path = folder / f"copy{copy:03d}" / f"{doc_id}.md"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"---\n{front}---\n\n{text}\n", encoding="utf-8")
    return folder


def library_key(size: int, abstracts: Sequence[tuple[str, str, str]], seed: int) -> str:
    digest = hashlib.sha256(json.dumps([size, seed, abstracts[:50], len(abstracts)]).encode())
    return digest.hexdigest()[:16]


def built_record(folder: Path, size: int, abstracts: Sequence[tuple[str, str, str]], seed: int) -> Any:
    """Return the record of a finished library of this size in ``folder``, or None (a library of
    another size or seed there is removed)."""
    marker = folder / MARKER
    if marker.is_file():
        built = json.loads(marker.read_text(encoding="utf-8"))
        if built.get("key") == library_key(size, abstracts, seed):
            return built
        shutil.rmtree(folder)
    return None


# -- the server ---------------------------------------------------------------------------------


def serve_memory(data: Path, queries: Sequence[str], timeout: float) -> dict[str, Any]:
    """Start `casebook serve` on ``data``, ask it every query, and return its memory then."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(port), "--data-dir", str(data)]
    env = {
        **os.environ,
        **OFFLINE,
        "PYTHONPATH": str(ROOT),
        "CASEBOOK_SAMPLE_LIBRARY": str(data / "none"),
        "CASEBOOK_PREPARE_ANSWERS": "false",  # measured as it stands, nothing in the background
    }
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            start_seconds = _wait_until_healthy(process, url, log, timeout)
            latencies = []
            for question in queries:
                began = time.perf_counter()
                response = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=120)
                response.raise_for_status()
                latencies.append((time.perf_counter() - began) * 1000)
            rss, peak = _memory_kb(process.pid)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)
    return {
        "serve_start_seconds": round(start_seconds, 1),
        "serve_api_ms_p50": round(statistics.median(latencies), 1),
        "serve_api_ms_p95": round(percentile(latencies, 95), 1),
        "serve_rss_mb": round(rss / 1024, 1),
        "serve_peak_rss_mb": round(peak / 1024, 1),
    }


def _wait_until_healthy(process: subprocess.Popen, url: str, log: Any, timeout: float) -> float:
    """Return the seconds until the server answered /api/health; stop with its output if it died."""
    started = time.perf_counter()
    while not _healthy(url):
        if process.poll() is not None or time.perf_counter() - started > timeout:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"casebook serve did not start within {timeout:.0f} s:\n{tail}")
        time.sleep(1)
    return time.perf_counter() - started


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/api/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _memory_kb(pid: int) -> tuple[int, int]:
    """Return the resident and peak resident memory (kB) of ``pid`` and its children."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    rss, peak = int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0])
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.is_file() else []:
        more = _memory_kb(int(child))
        rss, peak = rss + more[0], peak + more[1]
    return rss, peak


def percentile(values: Sequence[float], p: float) -> float:
    """Return the ``p``-th percentile (linear interpolation between closest ranks)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


if __name__ == "__main__":
    main()
