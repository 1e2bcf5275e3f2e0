"""Benchmark: many concurrent clients asking `POST /api/ask` of `casebook serve` on 127.0.0.1.

Run: .venv/bin/python bench/load.py [--clients 50] [--seconds 60] [--modes embedded,chroma]

Per mode, in a new temporary folder: the sample library is ingested (`casebook ingest`), then
`casebook serve` starts on a free port with rate limits off (CASEBOOK_RATE_LIMIT empty):

- ``embedded``: embedded Chroma, 1 worker;
- ``chroma``: a `chroma run` server started here, 2 workers (``--workers 2``).

Each client asks the questions of eval/questions/library.yaml in turn, one request at a time,
until ``--seconds`` have passed; a request still running then is awaited up to ``--timeout``.
Prints one JSON line per mode: requests/s, latency p50/p95/p99 (s), errors (non-200 or no
reply) and the resident memory of the server's processes at the end. Every process started is
stopped whatever happens; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "examples" / "library"
QUESTIONS = ROOT / "eval" / "questions" / "library.yaml"
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
    "TOKENIZERS_PARALLELISM": "false",
}
MODES = {"embedded": 1, "chroma": 2}  # mode -> workers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="Concurrent clients.")
    parser.add_argument("--seconds", type=float, default=60.0, help="How long the clients ask.")
    parser.add_argument("--modes", default="embedded,chroma", help="Comma-separated: embedded, chroma.")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds one request may take.")
    parser.add_argument("--serve-timeout", type=float, default=300.0, help="Seconds for serve to start.")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}: use embedded, chroma")
    questions = [str(q["question"]) for q in yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))]
    for mode in modes:
        print(json.dumps(run_mode(mode, questions, args)), flush=True)


def run_mode(mode: str, questions: Sequence[str], args: argparse.Namespace) -> dict[str, Any]:
    """Start the servers for ``mode``, load them, stop them; return the figures."""
    folder = Path(tempfile.mkdtemp(prefix=f"casebook-load-{mode}-"))
    env = {**os.environ, **OFFLINE, "CASEBOOK_DATA_DIR": str(folder / "data"), "CASEBOOK_RATE_LIMIT": ""}
    try:
        with ExitStack() as stack:
            if mode == "chroma":
                env["CASEBOOK_CHROMA_URL"] = stack.enter_context(chroma_server(folder / "chroma", env))
            casebook = [sys.executable, "-m", "assistant.cli"]
            subprocess.run([*casebook, "ingest", "--json", str(LIBRARY)], env=env, check=True,
                           timeout=600, capture_output=True)  # fmt: skip
            workers = MODES[mode]
            url, pids = stack.enter_context(serve(casebook, workers, env, args.serve_timeout))
            latencies, errors, elapsed = asyncio.run(
                load(url, questions, args.clients, args.seconds, args.timeout)
            )
            rss = sum(resident_mb(pid) for pid in pids())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    done = len(latencies)
    return {
        "mode": mode,
        "workers": workers,
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": done + errors,
        "requests_per_s": round(done / elapsed, 2) if elapsed else 0.0,
        "p50_s": percentile(latencies, 50),
        "p95_s": percentile(latencies, 95),
        "p99_s": percentile(latencies, 99),
        "errors": errors,
        "rss_mb": round(rss),
        "cpus": os.cpu_count(),
    }


async def load(
    url: str, questions: Sequence[str], clients: int, seconds: float, timeout: float
) -> tuple[list[float], int, float]:
    """Run ``clients`` clients for ``seconds``; return the answered latencies, errors and time taken."""
    latencies: list[float] = []
    errors = 0
    start = time.monotonic()
    deadline = start + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(number: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        turn = number
        while time.monotonic() < deadline:
            question = questions[turn % len(questions)]
            turn += 1
            began = time.monotonic()
            try:
                response = await http.post(f"{url}/api/ask", json={"question": question})
                ok = response.status_code == 200 and "answer" in response.json()
            except (httpx.HTTPError, ValueError):
                ok = False
            if ok:
                latencies.append(time.monotonic() - began)
            else:
                errors += 1

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as http:
        await asyncio.wait_for(
            asyncio.gather(*(client(n, http) for n in range(clients))), timeout=seconds + timeout + 10
        )
    return latencies, errors, time.monotonic() - start


def percentile(values: Sequence[float], p: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


@contextmanager
def chroma_server(path: Path, env: dict[str, str]) -> Iterator[str]:
    """Run `chroma run` on a free port; yield its URL."""
    chroma = Path(sys.executable).with_name("chroma")
    port = free_port()
    command = [str(chroma), "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(path)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/api/v2/heartbeat", process, 60)
        yield url
    finally:
        stop(process)


@contextmanager
def serve(
    casebook: list[str], workers: int, env: dict[str, str], seconds: float
) -> Iterator[tuple[str, Any]]:
    """Run `casebook serve --workers N` on a free port; yield its URL and a function giving its pids."""
    port = free_port()
    command = [*casebook, "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/api/health", process, seconds)
        if workers > 1:
            settled(process.pid, workers, seconds)
        yield url, lambda: [process.pid, *descendants(process.pid)]
    finally:
        stop(process)


def settled(pid: int, workers: int, seconds: float) -> None:
    """Wait until ``workers`` workers have loaded their model and warmed up (their memory holds
    still): health answers as soon as the first one listens."""
    deadline = time.monotonic() + seconds
    before: list[float] = []
    while time.monotonic() < deadline:
        now = [resident_mb(p) for p in descendants(pid)]
        ready = len(now) == workers == len(before) and min(now) > 300
        if ready and all(abs(a - b) < 2 for a, b in zip(sorted(now), sorted(before), strict=True)):
            return
        before = now
        time.sleep(2)
    raise SystemExit(f"the {workers} workers did not settle within {seconds:.0f} s")


def descendants(pid: int) -> list[int]:
    """Return the worker processes of ``pid`` (its children running Python, from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def resident_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
