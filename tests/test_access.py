"""Per-document access and editors' uploads, through a real `casebook serve`, its API and Chromium.

Two readers with different groups ask the same questions of one library: a document restricted
to ``ward-7`` (by the library's access.yaml) is cited for the nurse and never for the finance
officer — not cited, not quoted, not among the filter values, not in "the library mentions", not
at /documents/<id>, not through /v1/chat/completions or the Gradio API. An editor uploads a
document that becomes answerable; a reader gets 403, an oversize file 413, a wrong type 415.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant import Casebook, Settings
from tests.conftest import LIBRARY, serving
from tests.test_auth import audit_rows, bearer, casebook_cli

KESTREL = (
    "---\ntitle: Kestrel ward restraint review\npublisher: Wyvern Vale Partnership NHS Foundation Trust\n"
    "date: 2021-05-04\ntrust: Wyvern Vale Partnership NHS Foundation Trust\ndocument_type: internal review\n"
    "---\n\n# Kestrel ward restraint review\n\n"
    "Wyvern Vale Partnership NHS Foundation Trust (WVPFT) reviewed restraint on Kestrel ward, its acute "
    "admissions ward. Kestrel ward reduced restraint by 41 per cent in nine months after staff began "
    "twice-daily safety huddles and a sensory room was opened beside the nursing office.\n\n"
    "## What the ward changed\n\nThe huddles named each patient at risk of distress that shift. "
    "Bank staff joined the huddles before their first shift on Kestrel ward.\n"
)
LEDGER = (
    "---\ntitle: Osprey budget ledger\naccess: [finance]\ndocument_type: budget\n---\n\n"
    "# Osprey budget ledger\n\nThe Osprey programme spent 2.4 million pounds on agency nurses in 2020. "
    "Agency spending on the Osprey programme fell after a bank staff incentive was introduced.\n"
)
HERON = (
    "---\ntitle: Heron ward falls prevention\ndocument_type: case study\n---\n\n"
    "# Heron ward falls prevention\n\n"
    "Heron ward cut falls among older inpatients by a third after introducing hourly rounding and low "
    "beds. The ward also reviewed sedating medicines at every weekly multidisciplinary meeting.\n"
)
RESTRAINT = "How did Kestrel ward reduce restraint?"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("access") / "library"
    folder.mkdir()
    for name in ("crisis-house-out-of-area.md", "outstanding-trusts-twinning.md"):
        shutil.copy(LIBRARY / name, folder / name)
    (folder / "wards").mkdir()
    (folder / "wards" / "kestrel-ward-restraint.md").write_text(KESTREL, encoding="utf-8")
    (folder / "osprey-ledger.md").write_text(LEDGER, encoding="utf-8")
    (folder / "access.yaml").write_text("wards/*: [ward-7]\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def indexed(library: Path, embedder, tmp_path_factory: pytest.TempPathFactory) -> Casebook:
    from ingest import ingest

    casebook = Casebook(Settings(data_dir=tmp_path_factory.mktemp("access-data") / "data"), embedder=embedder)
    report = ingest([library], casebook.store, casebook.embedder)
    assert report.ok and not report.unsupported, report.to_json()  # access.yaml is not a document
    return casebook


@pytest.fixture(scope="module")
def server(indexed: Casebook) -> Iterator[dict]:
    data_dir = indexed.settings.data_dir
    tokens = {}
    for name, role, groups in [
        ("nina", "reader", "ward-7"),
        ("fred", "reader", "finance"),
        ("edie", "editor", "ward-7"),
        ("otto", "editor", "finance"),
    ]:
        made = casebook_cli(
            "users", "token", "create", name, "--role", role, "--groups", groups, "--data-dir", str(data_dir)
        )
        assert made.returncode == 0, made.stderr
        tokens[name] = made.stdout.strip()
    with serving(data_dir, env={"CASEBOOK_MAX_UPLOAD_BYTES": "100000", "CASEBOOK_RATE_LIMIT": ""}) as (
        _,
        url,
    ):
        yield {"url": url, "data_dir": data_dir, "tokens": tokens, "casebook": indexed}


def ask(server: dict, user: str, question: str, **body: object) -> httpx.Response:
    return httpx.post(
        server["url"] + "/api/ask",
        json={"question": question, **body},
        headers=bearer(server["tokens"][user]),
        timeout=120,
    )


def kestrel_id(server: dict) -> str:
    return next(d.doc_id for s, d in server["casebook"].store.documents().items() if "kestrel" in s)


# --- inside retrieval, in process ----------------------------------------------------------------


def test_groups_decide_what_retrieval_facets_glossary_and_mentions_see(indexed: Casebook) -> None:
    nurse, finance = ("ward-7",), ("finance",)
    assert indexed.ask(RESTRAINT, groups=nurse).citations[0].title == "Kestrel ward restraint review"
    hidden = indexed.ask(RESTRAINT, groups=finance)
    assert hidden.abstained and hidden.notice == "Nothing in the library mentions Kestrel."
    assert "Kestrel" not in json.dumps(hidden.to_json()).replace(RESTRAINT, "")
    trust = "Wyvern Vale Partnership NHS Foundation Trust"
    assert trust in indexed.facets(nurse)["trust"] and trust not in indexed.facets(finance)["trust"]
    assert indexed.glossary_for(nurse).meaning("WVPFT") == trust
    assert indexed.glossary_for(finance).meaning("WVPFT") is None  # a restricted name must not leak
    assert [p.chunk.title for p in indexed.mentions(["Osprey"], groups=finance)] == ["Osprey budget ledger"]
    assert indexed.mentions(["Osprey"], groups=nurse) == []
    assert indexed.mentions(["Osprey"], groups=()) == []  # signed in with no groups: open documents
    assert indexed.document_chunks(kestrel_id({"casebook": indexed}), groups=finance) == []
    # The library panel's list of documents, too.
    assert "Kestrel ward restraint review" in indexed.documents(groups=nurse).values()
    assert "Kestrel ward restraint review" not in indexed.documents(groups=finance).values()
    # ... and the chat's list of what the library holds, with each document's facts.
    listed = {d["title"]: d for d in indexed.catalogue(groups=nurse)}
    assert listed["Kestrel ward restraint review"]["trust"] == trust
    assert "Kestrel ward restraint review" not in {d["title"] for d in indexed.catalogue(groups=finance)}
    # Sign-in off (groups None): everything is visible.
    assert indexed.ask(RESTRAINT).citations[0].title == "Kestrel ward restraint review"


def test_a_sidecar_names_groups_and_a_changed_policy_reingests(tmp_path: Path, embedder) -> None:
    from ingest import ingest

    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "heron.md").write_text(HERON, encoding="utf-8")
    (folder / "heron.md.meta.yaml").write_text("access: [falls-team]\n", encoding="utf-8")
    casebook = Casebook(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    assert ingest([folder], casebook.store, embedder).ok
    question = "How did Heron ward cut falls?"
    assert casebook.ask(question, groups=["falls-team"]).citations
    assert not casebook.ask(question, groups=["finance"]).citations
    (folder / "heron.md.meta.yaml").unlink()
    (folder / "access.yaml").write_text("'*': [board]\n", encoding="utf-8")
    assert ingest([folder], casebook.store, embedder).updated == [str((folder / "heron.md").resolve())]
    assert casebook.ask(question, groups=["board"]).citations
    assert not casebook.ask(question, groups=["falls-team"]).citations


def test_a_bad_access_value_is_one_line_naming_the_file(tmp_path: Path, embedder) -> None:
    from ingest import ingest

    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "heron.md").write_text(HERON.replace("---\n\n#", "access: {a: b}\n---\n\n#"))
    casebook = Casebook(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    report = ingest([tmp_path / "lib"], casebook.store, embedder)
    assert [str(e) for e in report.failed] == [
        f"{tmp_path / 'lib' / 'heron.md'}: access must be a list of groups, e.g. 'access: [finance, board]'"
    ]


# --- through the API --------------------------------------------------------------------------------


def test_the_api_cites_a_restricted_document_only_for_its_group(server: dict) -> None:
    allowed = ask(server, "nina", RESTRAINT).json()
    assert allowed["citations"][0]["title"] == "Kestrel ward restraint review"
    assert "41 per cent" in allowed["answer"]
    refused = ask(server, "fred", RESTRAINT)
    assert refused.status_code == 200
    assert refused.json()["citations"] == [] and "41 per cent" not in refused.text
    assert refused.json()["abstained"] is True


def test_filter_values_of_another_group_are_neither_accepted_nor_listed(server: dict) -> None:
    assert ask(server, "nina", RESTRAINT, filters=["trust=Wyvern"]).status_code == 200
    refused = ask(server, "fred", RESTRAINT, filters=["trust=Wyvern"])
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith("No document has trust matching 'Wyvern'. Known values: ")
    assert "Wyvern" not in refused.json()["detail"].split("Known values: ")[1]


def test_the_library_mentions_only_what_the_reader_may_read(server: dict) -> None:
    question = "How much did the Osprey programme spend on agency nurses?"
    finance = ask(server, "fred", question).json()
    nurse = ask(server, "nina", question).json()
    assert "Osprey budget ledger" in json.dumps(finance)
    assert "Osprey budget ledger" not in json.dumps(nurse) and nurse["citations"] == []


def test_a_hidden_document_is_not_found_like_an_absent_one(server: dict) -> None:
    doc = kestrel_id(server)
    for path in (f"/documents/{doc}", f"/documents/{doc}/file"):
        nurse = httpx.get(server["url"] + path, headers=bearer(server["tokens"]["nina"]))
        assert nurse.status_code == 200 and "41 per cent" in nurse.text
        finance = httpx.get(server["url"] + path, headers=bearer(server["tokens"]["fred"]))
        absent = httpx.get(
            server["url"] + path.replace(doc, "0" * 16), headers=bearer(server["tokens"]["fred"])
        )
        assert finance.status_code == absent.status_code == 404
        assert "41 per cent" not in finance.text and "Kestrel" not in finance.text


def test_health_counts_only_what_the_caller_may_read(server: dict) -> None:
    casebook, url, tokens = server["casebook"], server["url"], server["tokens"]
    total = casebook.store.count()
    kestrel = len(casebook.document_chunks(kestrel_id(server)))
    osprey = next(d.doc_id for s, d in casebook.store.documents().items() if "osprey" in s)
    counts = {
        user: httpx.get(f"{url}/api/health", headers=bearer(tokens[user])).json()["chunks"]
        for user in ("nina", "fred")
    }
    assert counts == {"nina": total - len(casebook.document_chunks(osprey)), "fred": total - kestrel}
    assert httpx.get(f"{url}/api/health").json() == {"status": "ok"}  # no sign-in, no numbers


RESTRICTED = ("Kestrel", "41 per cent", "Wyvern", "sensory room")


def test_no_endpoint_shows_a_reader_another_groups_document(server: dict) -> None:
    url, fred = server["url"], bearer(server["tokens"]["fred"])
    doc = kestrel_id(server)
    chat = {"model": "casebook", "messages": [{"role": "user", "content": "What is WVPFT?"}]}
    replies = {
        "health": httpx.get(f"{url}/api/health", headers=fred),
        "gradio config (filter values)": httpx.get(f"{url}/config", headers=fred),
        "ask (glossary)": httpx.post(
            f"{url}/api/ask", json={"question": "What is WVPFT?"}, headers=fred, timeout=120
        ),
        "ask (mentions)": httpx.post(
            f"{url}/api/ask",
            json={"question": "Which ward opened a room beside the nursing office?"},
            headers=fred,
            timeout=120,
        ),
        "openai": httpx.post(f"{url}/v1/chat/completions", json=chat, headers=fred, timeout=120),
        "gradio api": httpx.post(
            f"{url}/gradio_api/run/ask",
            json={"data": ["How did a ward reduce restraint?"]},
            headers=fred,
            timeout=120,
        ),
        "viewer": httpx.get(f"{url}/documents/{doc}", headers=fred),
        "file": httpx.get(f"{url}/documents/{doc}/file", headers=fred),
        "remove": httpx.delete(f"{url}/api/documents/{doc}", headers=fred),
        "users": httpx.get(f"{url}/api/users", headers=fred),
        "audit": httpx.get(f"{url}/api/audit?since=2000-01-01", headers=fred),
    }
    for name, reply in replies.items():
        assert reply.status_code in (200, 403, 404, 405), (name, reply.status_code, reply.text[:200])
        leaked = [marker for marker in RESTRICTED if marker in reply.text]
        assert leaked == [], (name, leaked)
    assert (
        replies["users"].status_code == replies["audit"].status_code == replies["remove"].status_code == 403
    )
    # The same requests show nina her group's document, so the markers above can be found.
    nina = bearer(server["tokens"]["nina"])
    assert (
        "Wyvern"
        in httpx.post(f"{url}/api/ask", json={"question": "What is WVPFT?"}, headers=nina, timeout=120).text
    )
    assert "Kestrel" in httpx.get(f"{url}/documents/{doc}", headers=nina).text


def test_openai_endpoint_and_gradio_api_filter_by_the_callers_groups(server: dict) -> None:
    url, tokens = server["url"], server["tokens"]
    body = {"model": "casebook", "messages": [{"role": "user", "content": RESTRAINT}]}
    for user, cited in (("nina", True), ("fred", False)):
        reply = httpx.post(f"{url}/v1/chat/completions", json=body, headers=bearer(tokens[user]), timeout=120)
        titles = [c["title"] for c in reply.json()["citations"]]
        assert ("Kestrel ward restraint review" in titles) is cited
        assert ("41 per cent" in reply.text) is cited
        started = httpx.post(
            f"{url}/gradio_api/call/ask", json={"data": [RESTRAINT]}, headers=bearer(tokens[user]), timeout=30
        )
        event = started.json()["event_id"]
        stream = httpx.get(f"{url}/gradio_api/call/ask/{event}", headers=bearer(tokens[user]), timeout=120)
        assert ("Kestrel ward restraint review" in stream.text) is cited
        assert ("41 per cent" in stream.text) is cited


# --- uploads ---------------------------------------------------------------------------------------------


def upload(server: dict, user: str, name: str, data: bytes, access: str = "") -> httpx.Response:
    return httpx.post(
        server["url"] + "/api/documents",
        files={"file": (name, data)},
        data={"access": access} if access else {},
        headers=bearer(server["tokens"][user]),
        timeout=60,
    )


def finished(server: dict, job: dict) -> dict:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = httpx.get(server["url"] + job["status_url"], headers=bearer(server["tokens"]["edie"])).json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.5)
    raise AssertionError(f"upload job {job['id']} did not finish")


def test_an_editor_uploads_a_document_that_becomes_answerable_then_removes_it(server: dict) -> None:
    made = upload(server, "edie", "heron-ward.md", HERON.encode(), access="ward-7")
    assert made.status_code == 202, made.text
    done = finished(server, made.json())
    assert done["state"] == "done" and done["access"] == ["ward-7"] and done["chunks"] >= 1
    # Another editor cannot read the job (its file name and groups).
    other = httpx.get(server["url"] + made.json()["status_url"], headers=bearer(server["tokens"]["otto"]))
    assert other.status_code == 404 and other.json()["detail"] == f"No upload job {done['id']!r}"
    question = "How did Heron ward cut falls?"
    assert ask(server, "nina", question).json()["citations"][0]["title"] == "Heron ward falls prevention"
    assert ask(server, "fred", question).json()["citations"] == []
    refused = httpx.delete(
        server["url"] + f"/api/documents/{done['doc_id']}", headers=bearer(server["tokens"]["fred"])
    )
    assert refused.status_code == 403
    removed = httpx.delete(
        server["url"] + f"/api/documents/{done['doc_id']}", headers=bearer(server["tokens"]["edie"])
    )
    assert removed.json() == {"removed": done["doc_id"], "title": "Heron ward falls prevention"}
    time.sleep(2.5)  # other readers notice the new generation within CASEBOOK's check interval
    assert ask(server, "nina", question).json()["citations"] == []
    assert not (server["data_dir"] / "uploads" / made.json()["id"]).exists()
    events = [(r["event"], r["user"], r["status"]) for r in audit_rows(server["data_dir"])]
    assert ("upload", "edie", 202) in events and ("remove", "edie", 200) in events


def test_uploads_refuse_readers_oversize_files_and_wrong_types_in_one_line(server: dict) -> None:
    reader = upload(server, "nina", "heron.md", HERON.encode())
    assert reader.status_code == 403
    assert reader.json()["detail"] == "This needs the editor role; nina is a reader"
    big = upload(server, "edie", "big.md", b"# Big\n\n" + b"word " * 30_000)
    assert big.status_code == 413
    assert (
        big.json()["detail"]
        == "big.md is larger than the upload limit of 100,000 bytes (CASEBOOK_MAX_UPLOAD_BYTES)."
    )
    huge = upload(server, "edie", "huge.md", b"word " * 50_000)  # refused before the app reads it
    assert huge.status_code == 413
    assert (
        huge.json()["detail"]
        == "Request body too large: the limit is 165,536 bytes (CASEBOOK_MAX_UPLOAD_BYTES)."
    )
    exe = upload(server, "edie", "tool.exe", b"MZ\x90\x00binary")
    assert exe.status_code == 415
    assert exe.json()["detail"].startswith("tool.exe: unsupported file type .exe; Casebook reads ")
    renamed = upload(server, "edie", "report.pdf", b"just some text, not a PDF")
    assert renamed.status_code == 415
    assert renamed.json()["detail"] == "report.pdf: the content is not .pdf (is it another format renamed?)"
    bad_groups = upload(server, "edie", "heron.md", HERON.encode(), access="ward-7,x" + "y" * 200)
    assert bad_groups.status_code == 400
    assert bad_groups.json()["detail"].startswith("heron.md: access group 'x")
    broken = upload(server, "edie", "broken.md", b"---\ntitle: [unclosed\n---\n\nText of a broken file.\n")
    failed = finished(server, broken.json())
    assert failed["state"] == "failed"
    assert failed["detail"].startswith("broken.md: front matter is not valid YAML")
    assert "\n" not in failed["detail"]
    assert not (server["data_dir"] / "uploads" / broken.json()["id"]).exists()  # nothing stored


# --- in the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    from tests.test_browser import CHROMIUM

    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed: run `make test`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def open_as(chromium, server: dict, user: str):
    context = chromium.new_context(
        viewport={"width": 1280, "height": 900}, extra_http_headers=bearer(server["tokens"][user])
    )
    page = context.new_page()
    page.goto(server["url"] + "/")
    page.wait_for_selector("#cb-question textarea")
    return context, page


def trust_choices(page) -> list[str]:
    page.click("#cb-filters button")
    page.click("#cb-filter-trust input")
    page.wait_for_selector("ul[role='listbox'] li")
    choices = page.locator("ul[role='listbox'] li").all_inner_texts()
    page.keyboard.press("Escape")
    return [c.strip() for c in choices]


@pytest.mark.browser
def test_in_the_browser_each_reader_sees_only_their_groups_documents(chromium, server: dict) -> None:
    from tests.test_browser import ask as ask_in

    for user, allowed in (("nina", True), ("fred", False)):
        context, page = open_as(chromium, server, user)
        try:
            page.wait_for_timeout(1500)  # the page's load event fills the user's filter values
            trusts = trust_choices(page)
            assert ("Wyvern Vale Partnership NHS Foundation Trust" in trusts) is allowed
            assert "Lancashire Care NHS Foundation Trust" in trusts
            bubble = ask_in(page, RESTRAINT)
            sources = page.locator("#cb-sources").inner_text()
            assert ("41 per cent" in bubble.inner_text()) is allowed
            assert ("Kestrel ward restraint review" in sources) is allowed
            page.locator("#cb-catalogue").get_by_text("Documents in the library").click()
            holdings = page.locator("#cb-catalogue-list").inner_text()
            assert ("Kestrel ward restraint review" in holdings) is allowed
            assert "Cutting out-of-area placements with a crisis house" in holdings
            assert page.locator("#cb-library").count() == 0 or not page.locator("#cb-library").is_visible()
        finally:
            context.close()


@pytest.mark.browser
def test_in_the_browser_an_editor_adds_a_document(chromium, server: dict, tmp_path: Path) -> None:
    from tests.test_browser import ask as ask_in

    path = tmp_path / "heron-ward.md"
    path.write_text(HERON, encoding="utf-8")
    context, page = open_as(chromium, server, "edie")
    try:
        page.wait_for_selector("#cb-library", state="visible", timeout=30_000)
        page.click("#cb-library button")
        page.set_input_files("#cb-upload-file input[type=file]", str(path))
        page.fill("#cb-upload-access textarea, #cb-upload-access input", "ward-7")
        page.click("#cb-upload")
        page.wait_for_function(
            "() => document.querySelector('#cb-library-status').innerText.includes('Added heron-ward.md')",
            timeout=180_000,
        )
        bubble = ask_in(page, "How did Heron ward cut falls?")
        assert "hourly rounding" in bubble.inner_text()
    finally:
        context.close()
    assert ask(server, "fred", "How did Heron ward cut falls?").json()["citations"] == []


def test_what_two_lists_both_give_is_read_only_from_lists_the_reader_may_read(
    tmp_path: Path, embedder
) -> None:
    from ingest import ingest

    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "improving-care.md").write_text(
        "# Improving care: the regulator's report\n\n"
        "The following community trusts feature in the report.\n\n"
        "- Ashdown Community NHS Foundation Trust\n- Pennington Partnership NHS Foundation Trust\n"
        "- Quarry Bank Care NHS Trust\n",
        encoding="utf-8",
    )
    (folder / "review-cohort.md").write_text(
        "# Productivity review of community trusts\n\nThe review cohort includes:\n\n"
        "- Birchwood Community NHS FT\n- Pennington Partnership NHS FT\n- Rowan Community NHS FT\n",
        encoding="utf-8",
    )
    (folder / "review-cohort.md.meta.yaml").write_text("access: [board]\n", encoding="utf-8")
    casebook = Casebook(Settings(data_dir=tmp_path / "data"), embedder=embedder)
    assert ingest([folder], casebook.store, embedder).ok
    question = "Which trust is both in the regulator's report and in the productivity review cohort?"
    board = casebook.ask(question, groups=["board"])
    assert "Pennington Partnership" in board.text.split("[1]")[0], board.text
    # Another reader is not told, nor shown, what the board's document lists.
    finance = casebook.ask(question, groups=["finance"])
    assert finance.abstained and "Productivity review" not in finance.text, finance.text
    assert all(c.title != "Productivity review of community trusts" for c in finance.citations)
