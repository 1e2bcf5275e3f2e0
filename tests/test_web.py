"""The web app over real HTTP: `casebook serve` in a subprocess, its page, Gradio API and JSON API."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.answers import NOT_IN_LIBRARY, Answer, Citation
from assistant.conversation import Turn
from assistant.export import conversation_markdown
from assistant.rendering import MENTIONS, answer_markdown, rewritten, sources_html
from tests.conftest import serving, start_serve, stop

OAP = "How did trusts reduce out-of-area placements?"


@pytest.fixture(scope="module")
def server(library_dir: Path) -> Iterator[str]:
    with serving(library_dir) as (_, url):
        yield url


def test_page_is_served_with_the_chat(server: str) -> None:
    page = httpx.get(server + "/", timeout=30)
    assert page.status_code == 200
    assert "Casebook" in page.text and "gradio" in page.text.lower()


def test_gradio_api_returns_a_cited_answer(server: str) -> None:
    from gradio_client import Client

    result = Client(server + "/", verbose=False).predict(OAP, api_name="/ask")
    assert result["abstained"] is False
    assert "[1]" in result["answer"] and "crisis house" in result["answer"].lower()
    assert "crisis house" in result["citations"][0]["text"].lower()


def test_json_api_answers_and_rejects_bad_filters(server: str) -> None:
    ok = httpx.post(server + "/api/ask", json={"question": OAP, "k": 3}, timeout=60)
    assert ok.status_code == 200
    assert ok.json()["citations"][0]["n"] == 1
    bad = httpx.post(server + "/api/ask", json={"question": OAP, "filters": ["colour=red"]}, timeout=60)
    assert bad.status_code == 400
    assert (
        bad.json()["detail"]
        == "Unknown filter field 'colour'. Use one of: trust, document_type, publisher, year"
    )


def test_cited_documents_open_and_nothing_else_does(server: str, library_dir: Path) -> None:
    from ingest import doc_id_for

    pdf = Path(__file__).resolve().parent.parent / "examples/library/driving-improvement-report.pdf"
    response = httpx.get(f"{server}/documents/{doc_id_for(str(pdf))}/file", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content == pdf.read_bytes()
    assert httpx.get(f"{server}/documents/0000000000000000", timeout=30).status_code == 404
    assert httpx.get(f"{server}/documents/..%2F..%2Fetc%2Fpasswd", timeout=30).status_code == 404


def test_serve_ingests_the_sample_library_on_first_start(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "crisis-cafe.md").write_text(
        "# Evening crisis cafe\n\nThe trust opened an evening crisis cafe run with a local charity.\n"
    )
    process, url = start_serve(tmp_path / "data", env={"CASEBOOK_SAMPLE_LIBRARY": str(sample)})
    try:
        assert httpx.get(url + "/api/health", timeout=10).json()["chunks"] == 1
    finally:
        output = stop(process)
    assert "Empty index: ingesting the sample library" in output


def test_document_text_is_escaped_never_run() -> None:
    evil = 'Staff said <script>window.__xss=1</script> and <img src=x onerror="window.__xss=1"> here.'
    citation = Citation(1, "<b>Title</b>", "/x.md", None, None, evil, 0.5, "abc", "abc:0000", {}, (evil,))
    answer = Answer("q", f"{evil} [1]", False, (citation,))
    for rendered in (answer_markdown(answer), sources_html(answer)):
        assert "<script>" not in rendered and "<img" not in rendered and "<b>" not in rendered
    assert "&lt;script&gt;" in sources_html(answer)
    assert "<mark>" in sources_html(answer)


def _citation(n: int, **metadata: str) -> Citation:
    text = "The trust opened a crisis house. It cut out-of-area placements by half."
    return Citation(
        n, "Crisis house", "/srv/library/crisis.md", 4, "Crisis house > What the trust did", text,
        0.5, "abc123", f"abc123:000{n}", dict(metadata), ("The trust opened a crisis house.",),
    )  # fmt: skip


def test_answer_keeps_its_structure_with_markers_linked_to_the_passage() -> None:
    citation = _citation(1, publisher="NHS Improvement", date="2019-03-01")
    text = (
        "Two trusts opened crisis houses [1].\n\n"
        "- Lancashire Care: a crisis house [1]\n- East London: a crisis cafe [2]\n\n"
        "The library does not give the cost of the crisis line."
    )
    answer = Answer("q", text, False, (citation,), unanswered=("the cost of the crisis line",))
    rendered = answer_markdown(answer)

    link = f'<a class="cb-ref" href="{html.escape(citation.url[1:])}"'
    assert citation.url.startswith("/documents/abc123?passage=1") and link in rendered
    # The marker is titled by its document, not only "[1]" (the page gives screen readers the title).
    assert f'title="Source 1: {citation.title}">[1]</a>' in rendered
    assert "\n- Lancashire Care: a crisis house " in rendered  # a list line stays a list
    assert "East London: a crisis cafe \\[2\\]" in rendered  # an unknown marker stays text
    assert '<div class="cb-gap">\n\nNot in the library: the cost of the crisis line\n\n</div>' in rendered
    assert "The library does not give" not in rendered
    assert f"1. [Crisis house]({citation.url[1:]}) — page 4, What the trust did" in rendered
    # A list citing one source shows its marker once, at the end of the list.
    listed = Answer("q", "- Ash Ward [1]\n- Beech Ward [1]\n- Cedar Ward [1]", False, (citation,))
    shown = answer_markdown(listed).split("\n\n")[0]
    assert shown.count('class="cb-ref"') == 1 and shown.startswith("- Ash Ward\n- Beech Ward\n- Cedar Ward ")


def test_source_card_shows_its_facts_and_only_web_originals() -> None:
    web = _citation(1, publisher="NHS Improvement", date="2019-03-01", original_url="https://example.org/a")
    script = _citation(2, original_url="javascript:alert(1)")
    cards = sources_html(Answer("q", "x [1] [2]", False, (web, script)))

    assert "NHS Improvement · 2019-03-01 · page 4, What the trust did" in cards
    assert '<a class="cb-original" href="https://example.org/a"' in cards
    assert "javascript:" not in cards and "/srv/library" not in cards
    assert "<mark>The trust opened a crisis house.</mark>" in cards


def test_source_card_shows_list_items_as_bullets_not_dashes() -> None:
    text = "The cohort named by NHSI is:\n- Oxleas NHS Foundation Trust\n- 2018-19 figures - see annex"
    card = Citation(
        1, "Cohort", "/x.pdf", 2, None, text, 0.5, "abc", "abc:0001", {}, ("- Oxleas NHS Foundation Trust",)
    )
    cards = sources_html(Answer("q", "x [1]", False, (card,)))
    assert "is:<br>• Oxleas NHS Foundation Trust" in cards.replace("<mark>", "").replace("</mark>", "")
    assert "<br>• 2018-19 figures - see annex</blockquote>" in cards  # only a line's leading dash
    assert "<br>-" not in cards and "<mark>-" not in cards


def test_conversation_export_has_every_turn_and_no_server_path() -> None:
    first = Answer("How?", "It opened a crisis house [1].", False, (_citation(1, publisher="NHSI"),))
    second = Answer("and Leeds?", NOT_IN_LIBRARY, True, search_query="Leeds crisis house")
    text = conversation_markdown([Turn("How?", first), Turn("and Leeds?", second)])

    assert text.startswith("# Casebook conversation\n")
    assert "## How?\n\nIt opened a crisis house [1].\n\n### References\n\n" in text
    assert "1. Crisis house · NHSI · page 4, What the trust did" in text
    assert "## and Leeds?\n\n*Searched for: Leeds crisis house*" in text
    assert "/srv/library" not in text

    # The documents an abstention names are not references for an answer.
    named = Answer("Beds?", "Not in the library: ... mentions Oxleas in 1 document", True, (_citation(1),))
    assert f"### Documents that mention it\n\n{MENTIONS}\n\n1. Crisis house" in conversation_markdown(
        [Turn("Beds?", named)]
    )
    assert MENTIONS in sources_html(named) and MENTIONS not in sources_html(first)

    # What the library lacks reads as the chat shows it, on one line after the answer.
    text = "It saved £3.5m [1].\n\nThe library does not answer “How much did it cost?”."
    partial = Answer("q", text, False, (_citation(1),), unanswered=("the cost of the crisis line",))
    exported = conversation_markdown([Turn("How much did it cost and save?", partial)])
    gap = "Not in the library: the cost of the crisis line"
    assert f"It saved £3.5m [1].\n\n{gap}\n\n### References" in exported
    assert "does not answer" not in exported


def test_searched_for_shows_only_a_real_rewrite_not_appended_acronym_meanings() -> None:
    question = "What themes drove improvement in the trusts CQC studied?"
    expanded = f"{question} (Care Quality Commission)"
    first = Answer(question, "Leadership [1].", False, (_citation(1),), search_query=expanded)
    assert "Searched for" not in answer_markdown(first)
    assert not rewritten(question, expanded) and not rewritten(question, question)
    assert not rewritten(question, "") and not rewritten("What is (x)?", "What is (x)?")

    follow = "and what did East London do?"
    query = "East London crisis line (East London NHS Foundation Trust)"
    second = Answer(follow, "It opened a crisis cafe [1].", False, (_citation(1),), search_query=query)
    assert f"*Searched for: {query}*".replace("(", "\\(").replace(")", "\\)") in answer_markdown(second)
    assert rewritten(follow, query) and rewritten(question, f"{question} crisis line")


def test_a_reloaded_page_resumes_a_conversation_only_for_the_user_who_had_it(tmp_path: Path) -> None:
    from assistant.web.sessions import ChatSessions, ChatState

    sessions = ChatSessions(tmp_path)
    asked = Answer("How did NTW cut bed costs?", "...", False)
    sessions.save("page-1", ChatState(answers=[asked], owner="nina"))
    # Another user at the same browser (a shared ward computer) starts afresh.
    assert sessions.resume("page-1", "page-2", "fred") is None
    assert sessions.load("page-2").answers == []
    resumed = sessions.resume("page-1", "page-2", "nina")
    assert resumed is not None and resumed.answers[0].question == "How did NTW cut bed costs?"
    assert sessions.load("page-2").owner == "nina"
    assert sessions.load("page-1").answers  # copied: another tab still on page-1 keeps its own
    assert sessions.resume("", "page-3", None) is None
    assert sessions.resume("page-2", "page-2", "nina") is None  # the same page: nothing to do
