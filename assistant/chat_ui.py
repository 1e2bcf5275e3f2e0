"""The Gradio chat window: conversation, source cards, filters, feedback, export, examples."""

from __future__ import annotations

import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answers import Answer
from assistant.conversation import Conversation
from assistant.engine import Casebook
from assistant.feedback import FeedbackLog
from assistant.rendering import answer_markdown, escape_markdown, sources_html
from vectorstore import CasebookError, Filter

EXAMPLES = [
    "How did trusts reduce out-of-area placements?",
    "What did Northumberland, Tyne and Wear do about its crisis line?",
    "Which trusts went from requires improvement to good?",
    "What themes drove improvement in the trusts CQC studied?",
    "What is the Carter review of mental health trusts looking at?",
]
INTRO = (
    "Ask about NHS mental-health service improvement. Every sentence of an answer comes from the "
    "library and is cited **[n]**; the cited passages appear under **Sources**. When the library "
    "does not cover a question, Casebook says so instead of guessing."
)
CSS_PATH = Path(__file__).with_name("chat.css")
_MAX_SESSIONS = 500
_PICKERS = (("trust", "Trust"), ("document_type", "Document type"), ("publisher", "Publisher"))


@dataclass
class _Session:
    conversation: Conversation
    answers: list[Answer] = field(default_factory=list)


class Sessions:
    """One conversation per browser session, the oldest dropped past a bound."""

    def __init__(self, casebook: Casebook, llm: Any = None) -> None:
        self.casebook, self.llm = casebook, llm
        self._items: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, request: gr.Request | None) -> _Session:
        key = getattr(request, "session_hash", None) or "default"
        with self._lock:
            if key not in self._items:
                self._items[key] = _Session(Conversation(self.casebook, self.llm))
                while len(self._items) > _MAX_SESSIONS:
                    self._items.popitem(last=False)
            self._items.move_to_end(key)
            return self._items[key]


def build_ui(casebook: Casebook, llm: Any = None) -> gr.Blocks:
    """Return the chat window bound to ``casebook`` (and an LLM, when one is configured)."""
    sessions = Sessions(casebook, llm)
    feedback = FeedbackLog(casebook.settings.data_dir)
    exports = Path(tempfile.mkdtemp(prefix="casebook-export-"))
    with gr.Blocks(title="Casebook", fill_height=True) as ui:
        gr.Markdown(f"# Casebook\n{INTRO}")
        if _count(casebook) == 0:
            gr.Markdown(
                "**The library is empty.** Add documents with `casebook ingest <folder>`, then reload.",
                elem_id="cb-empty-library",
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                chat = gr.Chatbot(label="Conversation", elem_id="cb-chat", height=480, buttons=["copy"])
                box = gr.Textbox(
                    placeholder="Ask a question, e.g. how did trusts reduce out-of-area placements?",
                    show_label=False,
                    elem_id="cb-question",
                    submit_btn=True,
                )
                with gr.Row():
                    new = gr.Button("New conversation", size="sm", elem_id="cb-new")
                    export = gr.DownloadButton(
                        "Export answer (.md)", size="sm", elem_id="cb-export", interactive=False
                    )
                    copy = gr.Button("Copy answer", size="sm", elem_id="cb-copy")
                comment = gr.Textbox(
                    placeholder="Optional comment, then rate an answer with the thumbs under it",
                    show_label=False,
                    elem_id="cb-comment",
                )
                status = gr.Markdown("", elem_id="cb-status")
                markdown = gr.Textbox(visible=False, elem_id="cb-markdown")
                gr.Examples(EXAMPLES, inputs=box, label="Example questions")
            with gr.Column(scale=2, min_width=280):
                with gr.Accordion("Filters", open=True, elem_id="cb-filters"):
                    pickers = _filter_pickers(_facets(casebook))
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None), elem_id="cb-sources")

        def respond(
            message: str,
            history: list[dict[str, Any]],
            trust: list[str],
            document_type: list[str],
            publisher: list[str],
            year: str | None,
            request: gr.Request,
        ):
            message = (message or "").strip()
            if not message:
                yield "", history, gr.skip(), gr.skip(), gr.skip()
                return
            session = sessions.get(request)
            history = [*history, {"role": "user", "content": message}, {"role": "assistant", "content": ""}]
            yield "", history, gr.skip(), gr.skip(), gr.skip()
            answer = None
            streamed = ""
            try:
                chosen = _filters((trust, document_type, publisher, year))
                for item in session.conversation.stream(message, chosen):
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        streamed += item
                        history[-1] = {"role": "assistant", "content": escape_markdown(streamed)}
                        yield "", history, gr.skip(), gr.skip(), gr.skip()
            except CasebookError as exc:
                answer = Answer(message, f"Casebook could not answer: {exc}", True)
            session.answers.append(answer)
            history[-1] = {"role": "assistant", "content": answer_markdown(answer)}
            path = exports / f"casebook-answer-{len(session.answers)}-{id(session)}.md"
            path.write_text(answer.to_markdown(), encoding="utf-8")
            yield (
                "",
                history,
                sources_html(answer),
                gr.DownloadButton(value=str(path), interactive=True),
                answer.to_markdown(),
            )

        def restart(request: gr.Request):
            session = sessions.get(request)
            session.conversation.reset()
            session.answers.clear()
            return [], sources_html(None), gr.DownloadButton(value=None, interactive=False), "", ""

        def rate(data: gr.LikeData, note: str, history: list[dict[str, Any]], request: gr.Request):
            session = sessions.get(request)
            position = sum(1 for m in history[: data.index + 1] if m["role"] == "assistant") - 1
            if not 0 <= position < len(session.answers):
                return note, "Only answers from this conversation can be rated."
            rating = "up" if data.liked else "down"
            feedback.record(session.answers[position], rating, note or "", _user(request))
            return "", f"Thank you: your rating ({rating}) was saved."

        outputs = [box, chat, sources, export, markdown]
        box.submit(respond, [box, chat, *pickers], outputs, api_visibility="private", concurrency_limit=4)
        new.click(restart, None, [chat, sources, export, markdown, status], api_visibility="private")
        chat.like(rate, [comment, chat], [comment, status], api_visibility="private")
        copy.click(
            None,
            [markdown],
            None,
            js="(text) => { if (text) { navigator.clipboard.writeText(text); } return []; }",
        )

        def ask_api(question: str) -> dict[str, Any]:
            """Answer a question from the library; returns the JSON answer with citations."""
            try:
                return casebook.ask(question).to_json()
            except CasebookError as exc:
                return Answer(question, f"Casebook could not answer: {exc}", True).to_json()

        gr.api(ask_api, api_name="ask")
    ui.css = CSS_PATH.read_text(encoding="utf-8")
    return ui


def _user(request: gr.Request | None) -> str | None:
    """Return the signed-in user a trust's reverse proxy names, if any."""
    headers = getattr(request, "headers", None) or {}
    return headers.get("x-forwarded-user") or headers.get("x-remote-user") or None


def _count(casebook: Casebook) -> int:
    try:
        return casebook.store.count()
    except CasebookError:
        return 0


def _facets(casebook: Casebook) -> dict[str, list[Any]]:
    try:
        return casebook.store.facets() if _count(casebook) else {}
    except CasebookError:
        return {}


def _filter_pickers(facets: dict[str, list[Any]]) -> list[gr.components.Component]:
    pickers: list[gr.components.Component] = [
        gr.Dropdown(
            choices=[str(v) for v in facets.get(name, [])],
            multiselect=True,
            label=label,
            elem_id=f"cb-filter-{name}",
        )
        for name, label in _PICKERS
    ]
    years = [str(int(y)) for y in facets.get("year", [])]
    pickers.append(
        gr.Dropdown(choices=years, value=None, label="Published in or after", elem_id="cb-filter-year")
    )
    return pickers


def _filters(picked: tuple[Any, ...]) -> list[Filter]:
    filters = [
        Filter(name, "=", tuple(values))
        for (name, _), values in zip(_PICKERS, picked[: len(_PICKERS)], strict=True)
        if values
    ]
    year = picked[len(_PICKERS)] if len(picked) > len(_PICKERS) else None
    if year:
        filters.append(Filter("year", ">=", (int(year),)))
    return filters
