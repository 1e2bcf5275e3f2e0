"""The source viewer over real HTTP: `casebook serve` on the sample library plus planted files.

A citation link must land on readable text (never raw markup or front matter), scrolled to the
quoted sentences, with nothing from a library file able to run in the app's origin.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from ingest import doc_id_for, ingest
from tests.conftest import LIBRARY, serving
from tests.test_browser import CHROMIUM, SHOTS, browser  # noqa: F401  (browser is a fixture)
from tests.test_web import OAP
from vectorstore import Embedder, Store

CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
PAGE = """<!DOCTYPE html><html><head><title>Ward safety huddles</title>
<meta name="publisher" content="Planted ward team"><style>body { display: none }</style>
<script>window.__xss=1</script></head><body>
<nav><a href="/home">Home</a> | <a href="/news">News</a> | Site menu item</nav>
<h1>Ward safety huddles</h1>
<h2>How the huddle works</h2>
<p>Each morning the ward team meets for ten minutes to review risks.
<img src="https://tracker.example/pixel.png" onerror="window.__xss=1" alt="">
The nurse in charge leads the huddle and <a href="javascript:window.__xss=1">records actions</a>
on a whiteboard.</p>
<p>Staff said the <b>short daily huddle</b> reduced incidents of violence on the ward by a third.</p>
<iframe src="https://evil.example/"></iframe>
<form action="https://evil.example/"><input name="a"><button>Send</button></form>
<div onclick="window.__xss=1">See <a href="https://www.england.nhs.uk/">NHS England</a> for more.</div>
</body></html>
"""
MARKDOWN = """---
title: Peer support workers on acute wards
publisher: Planted ward team
date: 2023-05-01
document_type: case study
secret_note: front-matter-value
---

# Peer support workers on acute wards

The trust employed peer support workers with lived experience on every acute ward. Patients said
they felt listened to, and readmissions within 30 days fell.

A poster read <script>window.__xss=1</script> in the day room.
"""
TABLE = """---
title: Waiting times at the Planted eating disorder service
publisher: Planted ward team
---

# Waiting times at the Planted eating disorder service

The service cut its waits after it changed triage.

| Quarter | Median wait: referral to assessment | Median wait: referral to start of treatment |
|---|---|---|
| Q2 2022/23 | 7 weeks | 14 weeks |
| Q3 2022/23 | 6 weeks | 11 weeks |
"""
TEXT = (
    "Notes from the community team meeting\n\n"
    "The community team agreed to phone every patient within 72 hours of discharge.\n"
    "Each call is logged in the record.\n\n"
    "The minutes mention <b>bold</b> tags & ampersands.\n"
)

EDITED_BEFORE = (
    "Crisis team standards\n\n"
    "The crisis team visits within four hours of a referral. Staff record the outcome the same day.\n"
)


@pytest.fixture(scope="module")
def viewer_server(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[str, Path]]:
    """`casebook serve` over a copy of the sample library plus planted HTML, Markdown and text."""
    root = tmp_path_factory.mktemp("viewer")
    library = root / "library"
    shutil.copytree(LIBRARY, library)
    (library / "ward-huddles.html").write_text(PAGE, encoding="utf-8")
    (library / "peer-support.md").write_text(MARKDOWN, encoding="utf-8")
    (library / "team-notes.txt").write_text(TEXT, encoding="utf-8")
    (library / "waiting-times.md").write_text(TABLE, encoding="utf-8")
    (library / "gone-soon.txt").write_text("A note about a file that is deleted after ingestion.\n")
    for name in ("edited-note.txt", "rewritten-note.txt"):
        (library / name).write_text(EDITED_BEFORE, encoding="utf-8")
    data = root / "data"
    assert ingest([library], Store(data), embedder).ok
    with serving(data) as (_, url):
        yield url, library


def _open(server: tuple[str, Path], name: str, query: str = "") -> tuple[httpx.Response, BeautifulSoup]:
    url, library = server
    response = httpx.get(f"{url}/documents/{doc_id_for(str(library / name))}{query}", timeout=30)
    return response, BeautifulSoup(response.text, "html.parser")


def _squeeze(text: str) -> str:
    return "".join(text.split())


def test_html_document_opens_rendered_with_nothing_that_can_run(viewer_server) -> None:
    response, soup = _open(viewer_server, "ward-huddles.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    article = soup.select_one("article.cb-doc")
    assert article.find("h2").get_text() == "How the huddle works"
    assert article.find("b").get_text() == "short daily huddle"
    assert "&lt;" not in article.decode_contents() and "<" not in article.get_text()
    assert soup.find_all(["script", "iframe", "form", "input", "nav", "img"]) == []
    assert soup.find_all("style") == soup.head.find_all("style")  # only the viewer's own
    assert "Site menu item" not in soup.get_text()
    for element in soup.find_all(True):
        assert not [a for a in element.attrs if a.startswith("on")], element
    links = article.find_all("a")
    assert [a.get("href") for a in links] == [None, "https://www.england.nhs.uk/"]
    assert all(a["rel"] == ["noopener", "noreferrer"] for a in links)
    assert soup.find("h1").get_text() == "Ward safety huddles"
    assert "Planted ward team" in soup.select_one(".cb-meta").get_text()


def test_markdown_is_rendered_without_its_front_matter(viewer_server) -> None:
    response, soup = _open(viewer_server, "peer-support.md")
    assert response.status_code == 200
    text = soup.get_text()
    for hidden in ("secret_note", "front-matter-value", "title:", "---"):
        assert hidden not in text
    assert soup.select_one(".cb-meta").get_text() == "Planted ward team · 2023-05-01 · case study"
    assert soup.find("script") is None
    assert "A poster read <script>window.__xss=1</script> in the day room." in text


def test_plain_text_is_escaped_paragraphs(viewer_server) -> None:
    _, soup = _open(viewer_server, "team-notes.txt")
    paragraphs = [p.get_text() for p in soup.select("article.cb-text p")]
    assert paragraphs == [
        "Notes from the community team meeting",
        "The community team agreed to phone every patient within 72 hours of discharge.\n"
        "Each call is logged in the record.",
        "The minutes mention <b>bold</b> tags & ampersands.",
    ]
    assert soup.select("article b") == []


def test_cited_passage_of_a_real_answer_is_marked(viewer_server) -> None:
    url, _ = viewer_server
    answer = httpx.post(f"{url}/api/ask", json={"question": OAP}, timeout=90).json()
    citation = answer["citations"][0]
    assert citation["url"].startswith("/documents/") and citation["url"].endswith("#cited")
    response = httpx.get(url + citation["url"], timeout=30)
    soup = BeautifulSoup(response.text, "html.parser")
    cited = soup.select_one("mark#cited")
    assert cited is not None and len(soup.select("#cited")) == 1
    marked = _squeeze("".join(m.get_text() for m in soup.select("article mark")))
    quoted = [_squeeze(q) for q in citation["quoted"]]
    assert quoted and all(q in marked for q in quoted)
    # The link lands on a quoted sentence: #cited starts one (and may run on over the next ones).
    first = _squeeze(cited.get_text())
    assert any(first.startswith(q) or q.startswith(first) for q in quoted)
    assert soup.find("h1").get_text() == citation["title"]


def test_a_table_row_is_quoted_with_its_columns_and_marked_in_the_rendered_table(viewer_server) -> None:
    url, _ = viewer_server
    question = (
        "What was the median wait from referral to start of treatment in Q3 2022/23 at the Planted service?"
    )
    answer = httpx.post(f"{url}/api/ask", json={"question": question}, timeout=90).json()
    row = (
        "Quarter: Q3 2022/23 | Median wait: referral to assessment: 6 weeks | "
        "Median wait: referral to start of treatment: 11 weeks"
    )
    assert answer["answer"] == f"{row} [1]", answer["answer"]  # not Q2's row
    soup = BeautifulSoup(httpx.get(url + answer["citations"][0]["url"], timeout=30).text, "html.parser")
    table = soup.select_one("article table")
    assert [th.get_text() for th in table.select("thead th")] == [
        "Quarter",
        "Median wait: referral to assessment",
        "Median wait: referral to start of treatment",
    ]
    marked = soup.select_one("mark#cited").find_parent("tr")
    assert [td.get_text() for td in marked.find_all("td")] == ["Q3 2022/23", "6 weeks", "11 weeks"]
    assert len(marked.select("mark")) == 3 and soup.select_one(".cb-passage") is None


def test_a_row_quoted_beside_a_sentence_is_marked_too() -> None:
    from assistant.web.viewer import _mark
    from ingest.markup import render_markdown
    from vectorstore import Chunk

    page = BeautifulSoup(render_markdown(TABLE.split("---\n", 2)[2]), "html.parser")
    row = (
        "Quarter: Q3 2022/23 | Median wait: referral to assessment: 6 weeks | "
        "Median wait: referral to start of treatment: 11 weeks"
    )
    text = f"The service cut its waits after it changed triage.\n\n{row}"
    assert _mark(page, Chunk("d:0001", "d", text, "Waits", "waits.md", 1), [0, 1]) == ""
    assert page.select_one("mark#cited").get_text() == "The service cut its waits after it changed triage."
    assert [m.get_text() for m in page.select("tr mark")] == ["Q3 2022/23", "6 weeks", "11 weeks"]


def test_pdf_shows_extracted_pages_and_links_the_file_at_the_cited_page(viewer_server) -> None:
    url, library = viewer_server
    pdf = library / "driving-improvement-report.pdf"
    doc_id = doc_id_for(str(pdf))
    _, soup = _open(viewer_server, pdf.name, "?passage=3&q=0")
    pages = [h.get_text() for h in soup.select("article h2.cb-page")]
    assert pages == [f"Page {n}" for n in range(1, len(pages) + 1)] and len(pages) > 1
    link = soup.select_one(".cb-file a")
    page = int(link["href"].rpartition("#page=")[2])
    assert link["href"] == f"{doc_id}/file#page={page}" and f"at page {page}" in link.get_text()
    # The marked sentence sits under the page heading the file link opens at.
    assert soup.select_one("mark#cited").find_previous("h2").get_text() == f"Page {page}"
    # Its headings show within the pages, under them; its bullets are a list.
    headings = [h.get_text() for h in soup.select("article h3")]
    assert headings == [
        "About the report",
        "How the trusts were chosen and studied",
        "Rating changes at the seven trusts",
        "What the Deputy Chief Inspector said",
    ], headings
    items = [li.get_text() for li in soup.select("article ul li")]
    assert "Oxleas NHS Foundation Trust: requires improvement to good." in items, items
    article = soup.select_one("article").get_text()
    for sentence in {m.get_text() for m in soup.select("article mark")}:
        assert article.count(sentence) == 1  # extracted text, not overlapping chunks
    original = httpx.get(f"{url}/documents/{doc_id}/file", timeout=30)
    assert original.headers["content-type"] == "application/pdf"
    assert original.content == pdf.read_bytes()


def test_original_files_are_served_as_inert_text_or_download(viewer_server) -> None:
    url, library = viewer_server
    for name, media in (("ward-huddles.html", "text/plain"), ("peer-support.md", "text/plain")):
        response = httpx.get(f"{url}/documents/{doc_id_for(str(library / name))}/file", timeout=30)
        assert response.headers["content-type"] == f"{media}; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
    docx = httpx.get(f"{url}/documents/{doc_id_for(str(library / 'improvement-themes.docx'))}/file")
    assert docx.headers["content-disposition"].startswith("attachment")


def test_viewer_sends_the_security_headers_and_relative_links_only(viewer_server) -> None:
    response, soup = _open(viewer_server, "ward-huddles.html", "?passage=0")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    own = [a["href"] for a in soup.select("header a, .cb-file a")]
    assert own[0] == "../" and own[1].endswith("/file")
    assert not [h for h in own if h.startswith("/")]
    assert soup.find("meta", attrs={"name": "viewport"}) is not None


def test_unknown_malformed_and_deleted_documents_are_404(viewer_server) -> None:
    url, library = viewer_server
    for doc_id in ("0000000000000000", "ABCDEF0123456789", "..%2F..%2Fetc%2Fpasswd", "abc"):
        for tail in ("", "/file"):
            response = httpx.get(f"{url}/documents/{doc_id}{tail}", timeout=30)
            assert response.status_code == 404, (doc_id, tail)
    (library / "gone-soon.txt").unlink()
    response, soup = _open(viewer_server, "gone-soon.txt")
    assert response.status_code == 404
    assert response.headers["content-security-policy"] == CSP
    doc_id = doc_id_for(str(library / "gone-soon.txt"))
    assert soup.select_one(".cb-missing").get_text() == (
        f"No document {doc_id} in the library: it may have been removed or re-ingested."
    )


def test_a_passage_the_page_no_longer_holds_word_for_word_is_still_shown(viewer_server) -> None:
    _, library = viewer_server
    # Edited since ingestion: the sentence's first words are there, its end is not.
    (library / "edited-note.txt").write_text(
        EDITED_BEFORE.replace("four hours", "six hours"), encoding="utf-8"
    )
    _, soup = _open(viewer_server, "edited-note.txt", "?passage=0&q=1")
    cited = soup.select_one("mark#cited")
    assert cited.parent.name == "p" and cited.get_text().startswith("The crisis team visits within six")
    # Rewritten: nothing can be found, so the stored passage is shown in a box at the top.
    (library / "rewritten-note.txt").write_text("Entirely different minutes.\n", encoding="utf-8")
    _, soup = _open(viewer_server, "rewritten-note.txt", "?passage=0&q=1")
    box = soup.select_one("aside#cited")
    assert box.find("mark").get_text() == "The crisis team visits within four hours of a referral."
    assert "Entirely different minutes." in soup.select_one("article").get_text()


@pytest.mark.browser
def test_citation_link_scrolls_to_the_marked_sentence_in_a_browser(viewer_server, browser) -> None:  # noqa: F811
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed: run `make test`, which installs it")
    url, _ = viewer_server
    answer = httpx.post(f"{url}/api/ask", json={"question": OAP}, timeout=90).json()
    link = next(c["url"] for c in answer["citations"] if "?passage=" in c["url"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, width, height in (("viewer-citation", 1280, 800), ("viewer-mobile", 390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(url + link)
        page.wait_for_load_state()
        box = page.locator("mark#cited").bounding_box()
        assert box is not None and 0 <= box["y"] < height - box["height"], box
        assert page.evaluate("typeof window.__xss") == "undefined"
        page.screenshot(path=str(SHOTS / f"{name}.png"))
        context.close()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{url}/documents/{doc_id_for(str(viewer_server[1] / 'ward-huddles.html'))}?passage=0#cited")
    page.wait_for_load_state()
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("article h2").first.inner_text() == "How the huddle works"
    page.screenshot(path=str(SHOTS / "viewer-html.png"), full_page=True)
    context.close()
