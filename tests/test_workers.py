"""Several workers: `casebook serve --workers 2` on one port, and two servers sharing a Chroma server.

Every request may land on another process: answers, a conversation's follow-ups, ratings and the
export must all work whichever process takes each one.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ingest import ingest
from tests.conftest import LIBRARY, serving, stop
from tests.test_browser import CHROMIUM, ask
from tests.test_chroma_server import chroma_url  # noqa: F401  (a fixture)
from tests.test_web import OAP
from vectorstore import Embedder, Store

FIRST = "How did trusts reduce out-of-area placements?"
FOLLOW_UP = "and what about Lancashire?"


def children(pid: int) -> list[int]:
    """Return the processes ``pid`` started (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and "spawn_main" in (entry / "cmdline").read_text():
                found.append(int(entry.name))
    return found


def asked(url: str, question: str = OAP) -> dict:
    response = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def chat_answer(url: str, session: str, question: str, history: list) -> list:
    """Answer ``question`` in the chat session ``session`` over plain HTTP, as the page does."""
    config = httpx.get(f"{url}/config", timeout=30).json()
    names = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    answering = next(
        d for d in config["dependencies"] if d["inputs"] and names.get(d["inputs"][0]) == "cb-asked"
    )
    body = {
        "data": [question, history, [], [], [], None],
        "fn_index": answering["id"],
        "session_hash": session,
    }
    response = httpx.post(f"{url}/gradio_api/run/predict", json=body, timeout=120)
    assert response.status_code == 200, response.text
    return response.json()["data"][1]


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A data directory holding the sample library alone, so the answers asserted are exact."""
    data = tmp_path_factory.mktemp("workers") / "data"
    assert ingest([LIBRARY], Store(data), embedder).ok
    return data


@pytest.fixture(scope="module")
def workers(sample_dir: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    with serving(sample_dir, "--workers", "2") as (process, url):
        yield process, url


def test_two_workers_share_the_port_and_each_answers(workers) -> None:
    process, url = workers
    pids = children(process.pid)
    assert len(pids) == 2, pids
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: asked(url), range(16)))
    for answer in answers:
        assert Path(answer["citations"][0]["source"]).name == "crisis-house-out-of-area.md"
    # The Gradio API's /ask is one request too, whichever worker takes it.
    for _ in range(4):
        reply = httpx.post(f"{url}/gradio_api/run/ask", json={"data": [OAP]}, timeout=120)
        assert reply.status_code == 200, reply.text
        assert "crisis house" in reply.json()["data"][0]["answer"]
    # Stopping the server stops its workers.
    stop(process)
    time.sleep(1)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]


@pytest.fixture(scope="module")
def workers_page(sample_dir: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed: run `make test`, which installs it")
    with serving(sample_dir, "--workers", "2") as (_, url):
        yield url


@pytest.mark.browser
def test_chat_with_two_workers_answers_follow_ups_ratings_and_export(workers_page, sample_dir) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page()
        page.goto(workers_page + "/")
        page.wait_for_selector("#cb-question textarea")
        # Three conversations of two turns: each turn may reach either worker.
        for _ in range(3):
            first = ask(page, FIRST, answers_before=0).inner_text()
            assert "crisis house" in first and "[1]" in first
            follow = ask(page, FOLLOW_UP, answers_before=1).inner_text()
            # The follow-up is read in the light of the first turn, whichever worker has it.
            assert "Searched for:" in follow and "out-of-area" in follow.split("Searched for:")[1]
            page.locator('#cb-chat button[aria-label="Like"]').last.click()
            page.get_by_text(f"Thank you: your rating of the answer to “{FOLLOW_UP}” was saved.").wait_for(
                timeout=30_000
            )
            page.fill("#cb-comment input", "Useful")
            page.press("#cb-comment input", "Enter")
            page.get_by_text("was saved with your rating (up).").wait_for(timeout=30_000)
            with page.expect_download() as download:
                page.click("#cb-export")
            exported = Path(download.value.path()).read_text(encoding="utf-8")
            assert f"## {FIRST}" in exported and f"## {FOLLOW_UP}" in exported
            page.click("#cb-new")
            page.wait_for_function("() => !document.querySelector('#cb-chat [data-testid=\"bot\"]')")
        browser.close()
    entries = [json.loads(line) for line in (sample_dir / "feedback.jsonl").read_text().splitlines()]
    commented = [e for e in entries if e["comment"] == "Useful"]
    assert len(commented) == 3 and all(e["question"] == FOLLOW_UP for e in commented)


def test_two_servers_share_a_chroma_server_and_a_conversation(
    chroma_url: str,  # noqa: F811
    tmp_path: Path,
    embedder: Embedder,
) -> None:
    data = tmp_path / "data"
    assert ingest([LIBRARY], Store(data, chroma_url=chroma_url), embedder).ok
    # As behind a load balancer without sticky sessions: the chat does not stream.
    env = {"CASEBOOK_CHROMA_URL": chroma_url, "CASEBOOK_STREAM_CHAT": "false"}
    with contextlib.ExitStack() as running:
        servers = [running.enter_context(serving(data, env=env)) for _ in range(2)]
        urls = [url for _, url in servers]
        for url in urls * 2:
            assert Path(asked(url)["citations"][0]["source"]).name == "crisis-house-out-of-area.md"
        # One conversation, its turns answered by different servers.
        history = chat_answer(urls[0], "conversation-1", FIRST, [])
        assert "crisis house" in json.dumps(history[-1]["content"])
        history = chat_answer(urls[1], "conversation-1", FOLLOW_UP, history)
        said = json.dumps(history[-1]["content"]).replace("\\\\", "")  # Markdown's escapes
        assert "Searched for:" in said and "Lancashire trusts reduce out-of-area placements" in said


def test_concurrent_questions_get_the_vectors_each_would_get_alone(embedder: Embedder) -> None:
    import numpy as np

    questions = [f"How did trust {n} reduce out-of-area placements?" for n in range(24)]
    alone = np.stack([embedder.embed_query(q) for q in questions])
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        together = np.stack(list(pool.map(embedder.embed_query, questions)))
    assert np.allclose(alone, together, atol=1e-5)
    # Many texts from one caller and single questions from others still land in the right rows.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        batch = pool.submit(embedder.embed, questions)
        singles = list(pool.map(embedder.embed_query, questions[:6]))
    assert np.allclose(batch.result(), alone, atol=1e-5)
    assert np.allclose(np.stack(singles), alone[:6], atol=1e-5)


def test_sentences_met_again_are_not_encoded_again(embedder: Embedder, monkeypatch) -> None:
    import numpy as np

    texts = [f"Crisis house case study {n}. The trust opened a crisis house in year {n}." for n in range(10)]
    first = embedder.embed_cached(texts)
    assert np.allclose(first, embedder.embed(texts), atol=1e-5)
    encoded: list[str] = []
    real = embedder.embed
    monkeypatch.setattr(embedder, "embed", lambda batch, **kw: encoded.extend(batch) or real(batch, **kw))
    again = embedder.embed_cached([*texts[:5], "A sentence the cache has not met."])
    assert encoded == ["A sentence the cache has not met."]  # the five met before come from the cache
    assert np.allclose(again[:5], first[:5], atol=1e-6)
