"""The Gradio chat window: conversation, source cards, filters, example questions."""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr

from assistant.answers import Answer
from assistant.engine import Casebook
from assistant.rendering import answer_markdown, sources_html
from vectorstore import CasebookError, Filter

EXAMPLES = [
    "How did trusts reduce out-of-area placements?",
    "What did Northumberland, Tyne and Wear do about its crisis line?",
    "Which trusts went from requires improvement to good?",
    "What themes drove improvement in the trusts CQC studied?",
    "What is the Carter review of mental health trusts looking at?",
]

CSS = """
.cb-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 12px;
           margin-bottom: 10px; background: var(--background-fill-secondary); }
.cb-card-head { font-weight: 600; }
.cb-n { color: var(--color-accent); margin-right: 4px; }
.cb-meta { font-size: 0.85em; opacity: 0.8; margin: 2px 0 6px; }
.cb-passage { margin: 0; padding-left: 10px; border-left: 3px solid var(--border-color-accent);
              font-size: 0.92em; white-space: normal; }
.cb-passage mark { background: #fff3b0; color: inherit; padding: 0 1px; }
.cb-empty { opacity: 0.7; font-style: italic; padding: 8px 0; }
#cb-sources { max-height: 75vh; overflow-y: auto; }
"""

INTRO = (
    "Ask about NHS mental-health service improvement. Every sentence of an answer is quoted from "
    "the library and cited **[n]**; the cited passages appear under **Sources**. When the library "
    "does not cover a question, Casebook says so instead of guessing."
)


def build_ui(casebook: Casebook, lock: threading.Lock) -> gr.Blocks:
    """Return the chat window bound to ``casebook``."""
    facets = _facets(casebook)
    with gr.Blocks(title="Casebook", fill_height=True) as ui:
        gr.Markdown(f"# Casebook\n{INTRO}")
        if casebook.store.count() == 0:
            gr.Markdown(
                "**The library is empty.** Add documents with `casebook ingest <folder>`, then reload.",
                elem_id="cb-empty-library",
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(label="Conversation", elem_id="cb-chat", height=520)
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Ask a question, e.g. how did trusts reduce out-of-area placements?",
                        show_label=False,
                        scale=5,
                        elem_id="cb-question",
                        submit_btn=True,
                    )
                with gr.Row():
                    new = gr.Button("New conversation", size="sm", elem_id="cb-new")
                gr.Examples(EXAMPLES, inputs=box, label="Example questions")
            with gr.Column(scale=2, min_width=280):
                with gr.Accordion("Filters", open=False, elem_id="cb-filters"):
                    pickers = _filter_pickers(facets)
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html(None), elem_id="cb-sources")

        def respond(message: str, history: list[dict[str, Any]], *picked: Any):
            message = (message or "").strip()
            if not message:
                return "", history, gr.skip()
            answer = _ask(casebook, lock, message, _filters(picked))
            history = [
                *history,
                {"role": "user", "content": message},
                {"role": "assistant", "content": answer_markdown(answer)},
            ]
            return "", history, sources_html(answer)

        box.submit(respond, [box, chat, *pickers], [box, chat, sources], api_visibility="private")
        new.click(lambda: ([], sources_html(None)), None, [chat, sources], api_visibility="private")

        def ask_api(question: str) -> dict[str, Any]:
            """Answer a question from the library; returns the JSON answer with citations."""
            return _ask(casebook, lock, question, []).to_json()

        gr.api(ask_api, api_name="ask")
    ui.css = CSS
    return ui


def _ask(casebook: Casebook, lock: threading.Lock, question: str, filters: list[Filter]) -> Answer:
    try:
        with lock:
            return casebook.ask(question, filters=filters)
    except CasebookError as exc:
        return Answer(question, f"Casebook could not answer: {exc}", True)


def _facets(casebook: Casebook) -> dict[str, list[Any]]:
    try:
        return casebook.store.facets() if casebook.store.count() else {}
    except CasebookError:
        return {}


_PICKERS = (
    ("trust", "Trust"),
    ("document_type", "Document type"),
    ("publisher", "Publisher"),
)


def _filter_pickers(facets: dict[str, list[Any]]) -> list[gr.components.Component]:
    pickers: list[gr.components.Component] = [
        gr.Dropdown(
            choices=[str(v) for v in facets.get(field, [])],
            multiselect=True,
            label=label,
            elem_id=f"cb-filter-{field}",
        )
        for field, label in _PICKERS
    ]
    years = [int(y) for y in facets.get("year", [])]
    pickers.append(
        gr.Dropdown(
            choices=[str(y) for y in years],
            value=None,
            label="Published in or after",
            elem_id="cb-filter-year",
        )
    )
    return pickers


def _filters(picked: tuple[Any, ...]) -> list[Filter]:
    filters = [
        Filter(field, "=", tuple(values))
        for (field, _), values in zip(_PICKERS, picked[: len(_PICKERS)], strict=True)
        if values
    ]
    year = picked[len(_PICKERS)] if len(picked) > len(_PICKERS) else None
    if year:
        filters.append(Filter("year", ">=", (int(year),)))
    return filters
