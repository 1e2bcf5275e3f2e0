"""The chat window in a real browser: Playwright driving Debian's Chromium against `casebook serve`.

Screenshots of the main states are saved under ``test-output/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.web.chat_ui import example_questions
from ingest import ingest
from tests.conftest import LIBRARY, ROOT, serving, start_serve, stop
from vectorstore import Embedder, Store

pytestmark = pytest.mark.browser
EXAMPLES = example_questions(ROOT / "examples" / "example-questions.yaml")
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "test-output" / "screenshots"
EVIL = (
    "---\ntitle: Ward noticeboard transcript\ndocument_type: case study\n---\n\n"
    "# Ward noticeboard transcript\n\n"
    "The noticeboard on the rehabilitation ward displayed <script>window.__xss=1</script> in red ink. "
    'Beside it a poster read <img src=x onerror="window.__xss=1"> about the gardening group.\n'
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[str, Path]]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed: run `make test`, which installs it")
    root = tmp_path_factory.mktemp("browser")
    library = root / "library"
    shutil.copytree(LIBRARY, library)
    (library / "ward-noticeboard.md").write_text(EVIL, encoding="utf-8")
    data = root / "data"
    assert ingest([library], Store(data), embedder).ok
    # No rate limit: a dozen tests ask within a minute from one address (the limit has its own
    # test in test_intranet.py); at 60/minute the last of them waited on the limit, not an answer.
    with serving(data, env={"CASEBOOK_RATE_LIMIT": ""}) as (_, url):
        yield url, data


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, served):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(served[0] + "/")
    page.wait_for_selector("#cb-question textarea")
    yield page
    context.close()


def ask(page, question: str, answers_before: int | None = None) -> object:
    """Type a question, send it, and return the new answer bubble once its sources are shown."""
    bots = page.locator('#cb-chat [data-testid="bot"]')
    before = bots.count() if answers_before is None else answers_before
    page.fill("#cb-question textarea", question)
    page.press("#cb-question textarea", "Enter")
    page.wait_for_function(
        """n => {
            const bots = document.querySelectorAll('#cb-chat [data-testid="bot"]');
            if (bots.length <= n) return false;
            const text = bots[n].innerText;
            return text.includes('Sources') || text.includes('Not in the library')
                || text.includes('could not answer') || text.includes('Ask a whole question')
                || text.includes('Nothing more');
        }""",
        arg=before,
        timeout=90_000,
    )
    bubble = bots.nth(before)
    return bubble


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def box_of(page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box


def fonts_of(page, selector: str) -> list[str]:
    """Return the fonts Chromium drew the first ``selector`` element's text with."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return [f["postScriptName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]


def style(page, selector: str, prop: str) -> str:
    return page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")


def test_question_gets_cited_answer_with_source_cards_and_opens_the_source(page) -> None:
    bubble = ask(page, "How did trusts reduce out-of-area placements?")
    text = bubble.inner_text()
    assert "crisis house" in text and "[1]" in text
    cards = page.locator("#cb-sources .cb-card")
    card = cards.first
    assert "crisis house" in card.locator(".cb-card-head").inner_text().lower()
    marked = " ".join(cards.locator("mark").all_inner_texts()).lower()
    assert "crisis house" in marked  # the quoted sentence is highlighted in its passage
    shot(page, "answer")

    with page.expect_popup() as popup:
        card.locator("a").first.click()
    opened = popup.value
    opened.wait_for_load_state()
    assert "/documents/" in opened.url and "passage=" in opened.url
    assert "crisis house" in opened.content().lower()
    opened.close()

    # A [n] marker in the answer is a link that opens the cited passage in a new tab.
    marker = bubble.locator("a.cb-ref").first
    assert marker.inner_text() == "[1]"
    assert (marker.get_attribute("aria-label") or "").startswith("Source 1: "), marker.evaluate(
        "e => e.outerHTML"
    )
    with page.expect_popup() as popup:
        marker.click()
    assert "/documents/" in popup.value.url and "passage=" in popup.value.url

    # A screen reader hears the answer's words, not its Markdown and HTML.
    page.wait_for_timeout(300)
    labels = page.locator('#cb-chat [aria-label*=": "]').evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    answers = [label for label in labels if label.startswith("Answer: ")]
    assert answers and "crisis house" in answers[-1], labels
    assert not any("<a " in label or "**" in label or "cb-ref" in label for label in labels), labels


def test_stylesheet_layout_and_footer_at_desktop_size(page) -> None:
    ask(page, "How did trusts reduce out-of-area placements?")
    # The chat's own stylesheet is applied: bordered cards, a calm (not pure yellow) highlight.
    assert style(page, "#cb-sources .cb-card", "borderTopWidth") == "1px"
    assert style(page, "#cb-sources .cb-card", "borderLeftColor") == "rgb(0, 94, 184)"
    assert style(page, "#cb-sources mark", "backgroundColor") == "rgb(255, 242, 184)"
    # Sources sit beside the answer, in view, and the page fits the window.
    chat, sources = box_of(page, "#cb-chat"), box_of(page, "#cb-sources")
    assert sources["x"] > chat["x"] + chat["width"] - 1
    assert 0 <= sources["y"] < 800
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 820, f"the page is {height}px tall in an 800px window"
    # The conversation takes the height the input leaves: a long answer and its question fit.
    assert chat["height"] >= 450, f"the conversation is {chat['height']}px tall in an 800px window"
    assert box_of(page, "#cb-question")["y"] + 50 <= 800  # the input stays in view
    # The clear button keeps a column of its own: no message scrolls under it.
    clear = box_of(page, "#cb-chat .icon-button-wrapper.top-panel")
    for bubble in page.locator("#cb-chat .message").all():
        edge = bubble.bounding_box()
        assert edge["x"] + edge["width"] < clear["x"], (edge, clear)
    # Every letter of a source title is drawn in one font (Gradio's SemiBold file holds only "A").
    fonts = fonts_of(page, "#cb-sources .cb-title")
    assert len(fonts) == 1 and fonts[0].startswith("SourceSans") and "Bold" in fonts[0], fonts
    # The product's own footer, not Gradio's.
    body = page.locator("body").inner_text()
    assert "Built with Gradio" not in body and "nothing leaves this computer" in body
    assert page.locator("footer.cb-footer a", has_text="API").get_attribute("href") == "api/docs"
    shot(page, "desktop-1280x800")


def test_example_click_sends_the_question(page) -> None:
    # Each example shows its whole question, however long, wrapping if it must.
    chips = page.locator("#cb-examples button.cb-example")
    chips.first.wait_for()
    assert [t.strip() for t in chips.all_inner_texts()] == EXAMPLES
    assert abs(box_of(page, ".cb-examples-title")["x"] - chips.first.bounding_box()["x"]) <= 2  # lined up
    example = chips.first
    question = example.inner_text().strip()
    example.click()
    page.wait_for_function(
        """() => {
            const bots = document.querySelectorAll('#cb-chat [data-testid="bot"]');
            return bots.length && bots[0].innerText.includes('Sources');
        }""",
        timeout=90_000,
    )
    assert page.locator('#cb-chat [data-testid="user"]').first.inner_text().strip() == question
    assert page.locator("#cb-sources .cb-card").count() > 0


def test_filter_changes_the_answer(page) -> None:
    question = "How did trusts reduce out-of-area placements?"
    first = ask(page, question).inner_text()
    page.locator("#cb-filters").get_by_text("Filters").click()
    # An empty filter says what it means: no restriction.
    placeholders = {
        name: page.locator(f"#cb-filter-{name} input").get_attribute("placeholder")
        for name in ("trust", "document_type", "publisher")
    }
    assert placeholders == {"trust": "Any trust", "document_type": "Any type", "publisher": "Any publisher"}
    # "Any year" is a choice, so a year once picked can be unpicked.
    assert page.locator("#cb-filter-year input").input_value() == "Any year"
    page.locator("#cb-filter-document_type input").click()
    page.get_by_role("option", name="inspection report").click()
    page.keyboard.press("Escape")
    placeholder = (
        "getComputedStyle(document.querySelector('#cb-filter-document_type input'), '::placeholder').color"
    )
    assert page.evaluate(placeholder) == "rgba(0, 0, 0, 0)"  # no "Any type" beside the picked type
    second = ask(page, question).inner_text()
    assert second != first
    # The answer says it came from part of the library.
    assert "Searched only documents with document type inspection report." in second
    cards = page.locator("#cb-sources .cb-card")
    assert cards.count() == 0 or "inspection report" in cards.first.inner_text()
    shot(page, "filtered")
    # A new conversation starts from the whole library again.
    page.click("#cb-new")
    page.wait_for_function("() => !document.querySelector('#cb-filter-document_type .token')")
    assert "Searched only" not in ask(page, question, answers_before=0).inner_text()


def test_follow_up_uses_the_conversation(page) -> None:
    ask(page, "How did NTW improve its crisis line?")
    follow = ask(page, "and what did East London do?").inner_text()
    assert "Searched for:" in follow and "crisis line" in follow.split("Searched for:")[1]
    shot(page, "follow-up")
    # One click re-asks the same message with nothing carried over.
    page.click("#cb-standalone")
    alone = ask_done(page, answers=3).inner_text()
    assert "Searched for:" not in alone
    users = page.locator('#cb-chat [data-testid="user"]').all_inner_texts()
    assert [u.strip() for u in users][-1] == "and what did East London do?"
    page.click("#cb-new")
    page.wait_for_function("() => !document.querySelector('#cb-chat [data-testid=\"bot\"]')")


def test_first_question_with_an_acronym_shows_no_search_rewrite(page) -> None:
    # The search appends "(Care Quality Commission)" to the query: that is no rewrite to report.
    text = ask(page, "What themes drove improvement in the trusts CQC studied?").inner_text()
    assert "Sources" in text
    assert "Searched for:" not in text
    assert not page.locator("#cb-standalone").is_visible()


def test_a_note_box_shows_its_words_not_markdown_escapes(page) -> None:
    # The note box is HTML around Markdown: its escapes ("\\(", "out\\-of") must not show.
    bubble = ask(page, "hello")
    assert "(a trust, a service, a topic)" in bubble.inner_text(), bubble.inner_text()
    assert "\\" not in bubble.inner_text()
    assert "No passage is quoted for this message." in page.locator("#cb-sources").inner_text()
    assert style(page, '#cb-chat [data-testid="bot"] .cb-gap', "borderLeftStyle") == "solid"  # still a note


def test_trash_icon_resets_the_conversation(page) -> None:
    ask(page, "How did NTW improve its crisis line?")
    page.locator('#cb-chat button[aria-label="Clear"]').click()
    page.wait_for_function("() => !document.querySelector('#cb-chat [data-testid=\"bot\"]')")
    page.get_by_text("The passages an answer quotes appear here").wait_for()
    assert page.locator("#cb-export").is_disabled()
    # A follow-up-looking question is searched as asked: the cleared subject is forgotten.
    text = ask(page, "What did they do next?", answers_before=0).inner_text()
    assert "Searched for:" not in text


def test_a_reload_resumes_the_conversation_and_a_new_one_stays_new(page) -> None:
    ask(page, "How did NTW improve its crisis line?")
    last = ask(page, "How did trusts reduce out-of-area placements?").inner_text()
    cards = page.locator("#cb-sources").inner_text()
    assert "crisis house" in cards.lower()
    page.reload()
    page.wait_for_selector('#cb-chat [data-testid="bot"]', timeout=30_000)
    bots = page.locator('#cb-chat [data-testid="bot"]')
    assert bots.count() == 2 and bots.nth(1).inner_text() == last
    users = page.locator('#cb-chat [data-testid="user"]')
    assert users.nth(0).inner_text().strip() == "How did NTW improve its crisis line?"
    page.get_by_text("Open the passage in its document").first.wait_for()
    assert page.locator("#cb-sources").inner_text() == cards  # the last answer's source cards
    assert not page.locator("#cb-export").is_disabled()
    shot(page, "reload-resumed")
    # The resumed conversation goes on: a follow-up is read against it.
    assert "Searched for:" in ask(page, "and what did East London do?").inner_text()
    page.locator("#cb-new").click()
    page.wait_for_function("() => !document.querySelector('#cb-chat [data-testid=\"bot\"]')")
    stored = page.evaluate("() => localStorage.getItem('casebook-conversation')")
    assert stored  # this page's key, kept by the browser (encrypted afresh on every write)
    page.reload()
    # The load request has come back once it stored the new page's key.
    page.wait_for_function("v => localStorage.getItem('casebook-conversation') !== v", arg=stored)
    assert page.locator('#cb-chat [data-testid="bot"]').count() == 0


def test_the_input_is_named_and_a_long_question_is_refused_whole(page) -> None:
    # Screen readers name the box and its button.
    assert page.get_by_role("textbox", name="Your question").count() == 1
    assert page.get_by_role("button", name="Ask").count() == 1
    # A pasted question over the limit is refused with the numbers, not cut short in the box.
    long = " ".join(["How did trusts cut out-of-area placements?"] * 60)
    page.fill("#cb-question textarea", long)
    page.press("#cb-question textarea", "Enter")
    page.get_by_text(f"The question is {len(long):,} characters; the limit is 2,000. Shorten it.").wait_for()
    assert box_of(page, "#cb-question")["height"] < 220  # the box scrolls instead of growing
    shot(page, "long-question-refused")


def test_feedback_is_stored_with_the_answer(page, served) -> None:
    first = "How did trusts reduce out-of-area placements?"
    ask(page, first)
    question = "Which trusts went from requires improvement to good?"
    bubble = ask(page, question)
    assert not page.locator("#cb-comment input").is_visible()
    page.locator('#cb-chat button[aria-label="Like"]').last.click()
    # The note names the answer rated; the comment box sits right under the conversation.
    page.get_by_text(f"Thank you: your rating of the answer to “{question}” was saved.").wait_for(
        timeout=30_000
    )
    chat, comment = box_of(page, "#cb-chat"), box_of(page, "#cb-comment")
    assert 0 <= comment["y"] - (chat["y"] + chat["height"]) <= 16
    assert comment["height"] <= 90 and chat["height"] >= 420
    assert page.evaluate("document.documentElement.scrollHeight") <= 820
    shot(page, "rated")
    page.fill("#cb-comment input", "Exactly what I needed")
    page.press("#cb-comment input", "Enter")
    page.get_by_text(
        f"Thank you: your comment on the answer to “{question}” was saved with your rating (up)."
    ).wait_for(timeout=30_000)
    assert not page.locator("#cb-comment input").is_visible()  # the box folds away once saved
    lines = (served[1] / "feedback.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(lines[-1])
    assert entry["rating"] == "up" and entry["comment"] == "Exactly what I needed"
    assert entry["question"] == question
    # The stored answer is the one shown (a "- " line shows as a list item).
    assert entry["citations"] and entry["answer"].split(" [")[0].removeprefix("- ") in bubble.inner_text()
    shot(page, "feedback")

    # Clicking the same thumb again withdraws the rating, and says so.
    page.locator('#cb-chat button[aria-label="Liked"]').last.click()
    page.get_by_text(f"Your rating of “{question}” was withdrawn.").wait_for(timeout=30_000)
    assert json.loads((served[1] / "feedback.jsonl").read_text(encoding="utf-8").splitlines()[-1])[
        "rating"
    ] == ("withdrawn")
    page.locator('#cb-chat button[aria-label="Like"]').last.click()
    page.get_by_text(f"Thank you: your rating of the answer to “{question}” was saved.").wait_for(
        timeout=30_000
    )

    # Copy and Export give the whole conversation with references, never a server path.
    page.click("#cb-copy")
    page.get_by_text("The conversation was copied, with its references, as Markdown.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("# Casebook conversation")
    assert f"## {first}" in copied and f"## {question}" in copied
    assert "### References" in copied and entry["citations"][0]["title"] in copied
    assert "Care Quality Commission" in copied  # the publisher, with the title and date
    assert "/tmp/" not in copied and str(served[1].parent) not in copied
    with page.expect_download() as download:
        page.click("#cb-export")
    assert Path(download.value.path()).read_text(encoding="utf-8") == copied
    # A reload shows the conversation with its rating.
    page.reload()
    page.wait_for_selector('#cb-chat [data-testid="bot"]', timeout=30_000)
    page.locator('#cb-chat button[aria-label="Liked"]').wait_for(timeout=30_000)
    assert page.locator('#cb-chat button[aria-label="Liked"]').count() == 1


def test_document_markup_is_shown_as_text_and_never_runs(page) -> None:
    bubble = ask(page, "What did the rehabilitation ward noticeboard display?")
    assert page.evaluate("typeof window.__xss") == "undefined"
    sources = page.locator("#cb-sources").inner_text()
    assert "<script>window.__xss=1</script>" in sources
    assert "<script>" in bubble.inner_text() or "<img" in bubble.inner_text()
    assert page.evaluate("typeof window.__xss") == "undefined"
    shot(page, "markup-as-text")


def test_narrow_window_keeps_chat_and_sources_usable(browser, served) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(served[0] + "/")
    page.wait_for_selector("#cb-question textarea")
    # On first load the example questions are on the screen, under a short empty conversation.
    assert box_of(page, "#cb-examples button.cb-example")["y"] < 844
    shot(page, "narrow-390x844-open")
    ask(page, "What is the Carter review of mental health trusts looking at?")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, f"page scrolls sideways: {width}px"
    chat, sources = box_of(page, "#cb-chat"), box_of(page, "#cb-sources")
    assert sources["y"] >= chat["y"] + chat["height"]  # the answer first, then its sources
    answer = page.locator('#cb-chat [data-testid="bot"]').last.bounding_box()
    assert answer is not None and answer["width"] >= 0.9 * chat["width"]  # no avatar gutter
    # An answer longer than the conversation's box reads from its question, not from its end.
    ask(page, "Which trusts went from requires improvement to good?")
    page.wait_for_timeout(800)  # the scroll runs after the chat's own scroll to the end
    chat = box_of(page, "#cb-chat")
    question = page.locator('#cb-chat [data-testid="user"]').last.bounding_box()
    assert question is not None and chat["y"] + 30 <= question["y"] <= chat["y"] + 48, (question, chat)
    clear = box_of(page, "#cb-chat .icon-button-wrapper.top-panel")
    assert clear["y"] + clear["height"] <= question["y"]  # the clear button covers no text
    # ...right after the input: before the examples and the filters.
    card, examples = box_of(page, "#cb-sources .cb-card"), box_of(page, "#cb-examples")
    assert card["y"] < examples["y"] < box_of(page, "#cb-filters")["y"]
    page.locator("#cb-sources .cb-card").first.scroll_into_view_if_needed()
    assert page.locator("#cb-sources .cb-card").first.is_visible()
    shot(page, "narrow-390x844")
    context.close()


def test_llm_answer_streams_into_the_chat_with_its_sources(browser, served) -> None:
    from tests.openai_stub import LLMStub

    with LLMStub() as stub:
        stub.reply(
            "Lancashire Care opened a crisis house [1], run with the third sector [1]. A made-up claim [9].",
            piece_delay=0.3,
            delay=1.5,
        )
        process, url = start_serve(
            served[1],
            env={
                "CASEBOOK_LLM": "openai",
                "CASEBOOK_LLM_BASE_URL": stub.url,
                "CASEBOOK_LLM_MODEL": "stub-model",
            },
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(url + "/")
            page.wait_for_selector("#cb-question textarea")
            page.fill("#cb-question textarea", "How did Lancashire Care cut out-of-area placements?")
            page.press("#cb-question textarea", "Enter")
            # Until the first words arrive, the bubble says the library is being searched.
            page.locator('#cb-chat [data-testid="bot"]').get_by_text("Searching the library...").wait_for()
            # Tokens arrive before the answer is complete: the first words show while the rest stream.
            page.locator('#cb-chat [data-testid="bot"]').get_by_text("Lancashire Care opened").wait_for()
            bubble = ask_done(page)
            text = bubble.inner_text()
            assert "Lancashire Care opened a crisis house [1], run with the third sector [1]." in text
            assert "[9]" not in text and "made-up claim" not in text
            assert "crisis house" in page.locator("#cb-sources .cb-card").first.inner_text().lower()
            assert stub.requests and stub.requests[-1]["stream"] is True
            shot(page, "llm-streamed")
            context.close()
        finally:
            stop(process)


def ask_done(page, answers: int = 1):
    """Return the last answer bubble once there are ``answers`` finished ones."""
    page.wait_for_function(
        """n => {
            const bots = document.querySelectorAll('#cb-chat [data-testid="bot"]');
            const text = bots.length >= n ? bots[bots.length - 1].innerText : '';
            return text.includes('Sources') || text.includes('Not in the library');
        }""",
        arg=answers,
        timeout=90_000,
    )
    return page.locator('#cb-chat [data-testid="bot"]').last
