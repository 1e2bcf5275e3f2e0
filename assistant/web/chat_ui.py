"""The Gradio chat window: conversation, source cards, filters, feedback, export, examples."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import html
import json
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answers import Answer
from assistant.conversation import Conversation, leans_on
from assistant.engine import Casebook
from assistant.export import conversation_markdown
from assistant.feedback import FeedbackLog
from assistant.rendering import (
    SEARCHING,
    answer_markdown,
    catalogue_html,
    escape_markdown,
    rewritten,
    sources_html,
)
from assistant.web.audit import AuditLog
from assistant.web.auth import address_of, groups_of, identity_of
from assistant.web.guard import text_problem
from assistant.web.sessions import ChatSessions, ChatState
from vectorstore import CasebookError, Filter

log = logging.getLogger(__name__)

INTRO = (
    "Questions on NHS mental-health service improvement, answered in quotes from your library: "
    "each [n] opens its passage; gaps are said plainly."
)
FOOTER = (
    '<footer class="cb-footer">Casebook - answers quoted from your library; nothing leaves this '
    'computer. · <a href="api/docs" target="_blank" rel="noopener">API</a></footer>'
)
CSS_PATH = Path(__file__).with_name("chat.css")
_EXPORT_SECONDS = 3600
_THUMBS = {"up": "Like", "down": "Dislike"}  # a rating as the chat's thumbs show it
_PICKERS = (("trust", "Trust"), ("document_type", "Document type"), ("publisher", "Publisher"))
ANY_YEAR = "Any year"  # the year picker's first choice, so a year once picked can be unpicked
_PLACEHOLDERS = {"trust": "Any trust", "document_type": "Any type", "publisher": "Any publisher"}
# After an answer: its question at the top of the conversation, so a long answer reads from the
# start (the chat follows the stream down to its end while it arrives).
_SCROLL_JS = """() => {
  const top = () => {
    const asked = document.querySelectorAll('#cb-chat [data-testid="user"]');
    const wrap = document.querySelector('#cb-chat .bubble-wrap');
    if (!asked.length || !wrap) { return; }
    const question = asked[asked.length - 1];
    // 36px: below the conversation's clear button, which sits over its top right corner.
    wrap.scrollTop += question.getBoundingClientRect().top - wrap.getBoundingClientRect().top - 36;
    question.scrollIntoView({ block: "nearest" });
  };
  for (const wait of [80, 400]) { setTimeout(top, wait); }  // after the chat's own scroll to the end
  // The sources column shows the new answer's sources from their start (desktop: it scrolls alone).
  const right = document.querySelector('#cb-right');
  if (right && window.innerWidth >= 900) { right.scrollTop = 0; }
  return [];
}"""
# The status line says what happened: a copy gives no other sign.
_COPY_JS = """(text) => {
  if (!text) { return "Nothing to copy yet: ask a question first."; }
  navigator.clipboard.writeText(text);
  return "The conversation was copied, with its references, as Markdown.";
}"""
# Run whenever the page is redrawn (one observer): Gradio 6's Dropdown has no placeholder, so
# each filter's input gets one; and Gradio labels each message with its raw Markdown and HTML
# ("<a class=...>[1]</a> **Sources**"), which a screen reader reads out, so each is labelled
# with the words shown instead.
_PAGE_JS = """() => {
  const words = WORDS;
  const placeholders = () => { for (const [name, text] of Object.entries(words)) {
    const input = document.querySelector(`#cb-filter-${name} input`);
    if (input && input.placeholder !== text) { input.placeholder = text; }
  } };
  const labels = () => {
    const labelled = '#cb-chat [aria-label*="s message: "], #cb-chat [data-cb-who]';
    for (const el of document.querySelectorAll(labelled)) {
      if (!el.dataset.cbWho || el.getAttribute('aria-label').includes("s message: ")) {
        el.dataset.cbWho = el.getAttribute('aria-label').startsWith('user') ? 'Your question' : 'Answer';
      }
      const label = `${el.dataset.cbWho}: ${el.innerText.replace(/\\s+/g, ' ').trim()}`;
      if (el.getAttribute('aria-label') !== label) { el.setAttribute('aria-label', label); }
    }
  };
  const refs = () => {  // a [n] marker is named by its title ("Source 1: ..."), not "[1]"
    for (const a of document.querySelectorAll('#cb-chat a.cb-ref[title]')) {
      if (a.getAttribute('aria-label') !== a.title) { a.setAttribute('aria-label', a.title); }
    }
  };
  const apply = () => { placeholders(); labels(); refs(); };
  apply();
  new MutationObserver(apply).observe(document.body, { childList: true, subtree: true, characterData: true });
}""".replace("WORDS", json.dumps(_PLACEHOLDERS))


class Sessions:
    """Each browser session's conversation, kept in ``chat.db`` so any worker can answer any turn.

    Each session's export file lives in its own folder under one temporary folder per process;
    files older than an hour are removed as new ones are written, and all when the process exits.
    """

    def __init__(self, casebook: Casebook, llm: Any, exports: Path) -> None:
        self.casebook, self.llm, self.exports = casebook, llm, exports
        self.store = ChatSessions(casebook.settings.data_dir)

    @staticmethod
    def key(request: gr.Request | None) -> str:
        return getattr(request, "session_hash", None) or "default"

    def load(self, request: gr.Request | None) -> ChatState:
        return self.store.load(self.key(request))

    def save(self, request: gr.Request | None, state: ChatState) -> None:
        self.store.save(self.key(request), state)

    def conversation(self, state: ChatState) -> Conversation:
        return Conversation(self.casebook, self.llm, state.turns)

    def folder(self, request: gr.Request | None) -> Path:
        """Return this session's export folder (named by a digest: the key is the client's)."""
        digest = hashlib.sha256(self.key(request).encode("utf-8", "surrogatepass")).hexdigest()[:24]
        return self.exports / f"session-{digest}"

    def write_export(self, request: gr.Request | None, text: str) -> str:
        """Write the session's export (its one file), drop stale ones, and return its path."""
        cutoff = time.time() - _EXPORT_SECONDS
        for old in self.exports.glob("session-*/casebook-conversation.md"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    shutil.rmtree(old.parent, ignore_errors=True)
        return _write(self.folder(request), text)

    def resume(self, previous: str | None, request: gr.Request | None) -> ChatState | None:
        """Return the conversation this browser had on its last page, now this page's, if any."""
        return self.store.resume(previous or "", self.key(request), _user(request))

    def reset(self, request: gr.Request | None) -> None:
        """Forget the conversation, its answers, ratings and exported file."""
        self.store.forget(self.key(request))
        shutil.rmtree(self.folder(request), ignore_errors=True)


def mount(app: Any, casebook: Casebook, llm: Any = None, path: str = "/") -> Any:
    """Mount the chat window on the FastAPI ``app`` with its stylesheet and without Gradio's footer.

    Gradio 6 reads the page's CSS and footer links from ``mount_gradio_app`` (or ``launch``);
    CSS set on the Blocks after construction never reaches the page.
    """
    css = CSS_PATH.read_text(encoding="utf-8")
    exports = export_folder()
    ui = build_ui(
        casebook,
        llm,
        exports,
        audit=getattr(app.state, "audit", None),
        uploads=getattr(app.state, "uploads", None),
    )
    app = gr.mount_gradio_app(app, ui, path=path, css=css, footer_links=[])
    # uvicorn re-raises SIGTERM after its graceful shutdown, so atexit alone is not enough.
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        try:
            async with inner(served) as state:
                yield state
        finally:
            shutil.rmtree(exports, ignore_errors=True)

    app.router.lifespan_context = lifespan
    return app


def export_folder() -> Path:
    """Return a new temporary folder for exported conversations, removed when the process exits."""
    folder = Path(tempfile.mkdtemp(prefix="casebook-export-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def example_questions(path: Path | None) -> list[str]:
    """Return the example questions in a YAML list file (none when unset, missing or unreadable):
    they belong to a library, so they live in a file beside it, not in code."""
    import yaml

    if path is None or not Path(path).is_file():
        return []
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        log.warning("example questions unreadable path=%s", path)
        return []
    return [str(q).strip() for q in data if str(q).strip()][:8] if isinstance(data, list) else []


def build_ui(
    casebook: Casebook,
    llm: Any = None,
    exports: Path | None = None,
    audit: AuditLog | None = None,
    uploads: Any = None,
) -> gr.Blocks:
    """Return the chat window bound to ``casebook`` (and an LLM, when one is configured).

    Exported conversations are written under ``exports`` (a new temporary folder by default);
    questions, answers and ratings are recorded in ``audit`` when given.
    """
    audit = audit or AuditLog(casebook.settings.data_dir, enabled=False)
    sessions = Sessions(casebook, llm, exports or export_folder())
    feedback = FeedbackLog(casebook.settings.data_dir)
    questions = example_questions(casebook.settings.example_questions)
    limit = casebook.settings.max_question_chars
    with gr.Blocks(title="Casebook", delete_cache=(3600, 3600)) as ui:
        gr.HTML(f'<header class="cb-header"><h1>Casebook</h1><p>{html.escape(INTRO)}</p></header>')
        if _count(casebook) == 0:
            gr.Markdown(
                "**The library is empty.** Add documents with `casebook ingest <folder>`, then reload.",
                elem_id="cb-empty-library",
            )
        with gr.Row(equal_height=False, elem_id="cb-main"):
            with gr.Column(scale=3, min_width=320, elem_id="cb-left"):
                chat = gr.Chatbot(
                    label="Conversation",
                    show_label=False,
                    elem_id="cb-chat",
                    height="100%",
                    min_height=260,
                    buttons=["copy"],
                    placeholder="Ask a question below, or pick an example.",
                )
                # Right under the conversation: the rating's note (the box's label) and its comment.
                with gr.Row(visible=False, elem_id="cb-comment-row") as comment_row:
                    comment = gr.Textbox(
                        label="Thank you: your rating was saved.",
                        placeholder="Add a comment to your rating (optional)",
                        elem_id="cb-comment",
                        max_lines=1,
                        submit_btn="Save",
                    )
                status = gr.Markdown("", elem_id="cb-status")
                standalone = gr.Button(
                    "Search as a new question", size="sm", visible=False, elem_id="cb-standalone"
                )
                # No max_length: the browser would cut a long paste silently; the server says why.
                box = gr.Textbox(
                    label="Your question",
                    placeholder="Ask a question, e.g. how did trusts reduce out-of-area placements?",
                    show_label=False,
                    elem_id="cb-question",
                    submit_btn="Ask",
                    max_lines=6,
                )
                with gr.Row(elem_id="cb-actions"):
                    new = gr.Button("New conversation", size="sm", elem_id="cb-new")
                    export = gr.DownloadButton(
                        "Export conversation (.md)", size="sm", elem_id="cb-export", interactive=False
                    )
                    copy = gr.Button("Copy conversation", size="sm", elem_id="cb-copy")
                markdown = gr.Textbox(visible=False, elem_id="cb-markdown")
                asked = gr.Textbox(visible=False, elem_id="cb-asked")  # the question being answered
            with gr.Column(scale=2, min_width=300, elem_id="cb-right"):
                with gr.Accordion("Filters", open=False, elem_id="cb-filters"):
                    # The page itself lists only open documents' values; each user's own are
                    # filled in when their page loads (another group's trust must not show).
                    pickers = _filter_pickers(_facets(casebook, ()))
                # What a user may read, filled in per user when the page loads.
                with gr.Accordion("Documents in the library", open=False, elem_id="cb-catalogue") as holdings:
                    catalogue = gr.HTML("", elem_id="cb-catalogue-list")
                if uploads is not None:  # editors add and remove documents (assistant.web.library_panel)
                    from assistant.web.library_panel import library_panel

                    library_panel(ui, casebook, uploads, audit)
                gr.HTML('<h2 class="cb-sources-title">Sources</h2>', elem_id="cb-sources-head")
                sources = gr.HTML(sources_html(None), elem_id="cb-sources")
                # Last in the sources column: on a phone the sources come right after the answer.
                # Buttons, not a gr.Dataset: its chips cut a question at 60 characters.
                with gr.Column(elem_id="cb-examples", visible=bool(questions)):
                    gr.HTML('<h2 class="cb-examples-title">Example questions</h2>')
                    with gr.Row(elem_id="cb-example-chips"):
                        examples = [
                            gr.Button(q, size="sm", scale=0, min_width=0, elem_classes="cb-example")
                            for q in questions
                        ]
        gr.HTML(FOOTER)
        # This page's session key, kept in the browser so a reload resumes the conversation.
        # Key and secret are the same in every worker and after a restart (from session.key).
        secret = _browser_secret(casebook)
        last_page = gr.BrowserState(None, storage_key="casebook-conversation", secret=secret)

        outputs = [box, chat, sources, export, markdown, standalone, comment_row, status]

        def respond(message, history, picked, request, alone=False):
            message = (message or "").strip()
            if not message:
                yield (gr.skip(),) * len(outputs)
                return
            # The page's max_length binds only the page: the queue takes what any client sends.
            problem = text_problem(message, "question", limit)
            if problem:
                yield *(gr.skip(),) * (len(outputs) - 1), problem[1]
                return
            state = sessions.load(request)
            conversation = sessions.conversation(state)
            pending = {"role": "assistant", "content": SEARCHING}
            history = [*history, {"role": "user", "content": message}, pending]
            hide = gr.Button(visible=False)
            yield "", history, gr.skip(), gr.skip(), gr.skip(), hide, gr.Row(visible=False), ""
            answer, streamed = None, ""
            try:
                groups = groups_of(identity_of(request))
                stream = conversation.stream(message, _filters(picked), standalone=alone, groups=groups)
                for item in stream:
                    if isinstance(item, Answer):
                        answer = item
                    else:
                        streamed += item
                        history[-1] = {"role": "assistant", "content": escape_markdown(streamed)}
                        yield "", history, *(gr.skip(),) * 6
            except CasebookError as exc:
                answer = Answer(message, f"Casebook could not answer: {exc}", True)
            state.turns = list(conversation.turns)
            state.answers.append(answer)
            state.answer_ids.append(
                audit.answered(identity_of(request), answer, channel="chat", address=address_of(request))
            )
            history[-1] = {"role": "assistant", "content": answer_markdown(answer)}
            # "Search as a new question" only for a question read with the earlier subject: not for
            # the first one (a misspelling read right), nor for "tell me more" or "why?".
            followed = (
                len(state.turns) > 1 and rewritten(message, answer.search_query) and not leans_on(message)
            )
            state.follow_up = message if followed else None
            state.owner = _user(request)
            sessions.save(request, state)
            text = conversation_markdown(state.turns)
            yield (
                "",
                history,
                sources_html(answer),
                gr.DownloadButton(value=sessions.write_export(request, text), interactive=True),
                text,
                gr.Button(f"Search “{message}” as a new question", visible=followed),
                gr.skip(),
                gr.skip(),
            )

        def answer_question(message, history, trust, kind, publisher, year, request: gr.Request):
            yield from respond(message, history, (trust, kind, publisher, year), request)

        def ask_standalone(history, trust, kind, publisher, year, request: gr.Request):
            message = sessions.load(request).follow_up
            yield from respond(message, history, (trust, kind, publisher, year), request, alone=True)

        def restart(request: gr.Request):
            """Start a new conversation, from the whole library: the filters are reset too."""
            sessions.reset(request)
            empty = gr.DownloadButton(value=None, interactive=False)
            unfiltered = [*(gr.Dropdown(value=[]) for _ in _PICKERS), gr.Dropdown(value=ANY_YEAR)]
            hidden = gr.Button(visible=False), gr.Row(visible=False)
            return "", [], sources_html(None), empty, "", *hidden, "", *unfiltered

        def rate(data: gr.LikeData, history: list[dict[str, Any]], request: gr.Request):
            state = sessions.load(request)
            index = data.index if isinstance(data.index, int) else data.index[0]
            position = sum(1 for m in history[: index + 1] if m["role"] == "assistant") - 1
            if not 0 <= position < len(state.answers):
                return gr.Row(visible=False), gr.skip(), "Only answers from this conversation can be rated."
            rated = state.answers[position]
            # The thumb clicked again to undo it comes with neither True nor False.
            rating = "up" if data.liked is True else "down" if data.liked is False else "withdrawn"
            state.rated, state.rating = (position, rating) if rating != "withdrawn" else (None, "")
            if rating == "withdrawn":
                state.ratings.pop(position, None)
            else:
                state.ratings[position] = rating
            sessions.save(request, state)
            feedback.record(rated, rating, "", _user(request))
            audit.record(
                "feedback", identity_of(request), channel="chat", address=address_of(request),
                question=rated.question, answer_id=state.answer_ids[position], detail=rating,
            )  # fmt: skip
            if rating == "withdrawn":
                return (
                    gr.Row(visible=False),
                    gr.skip(),
                    f"Your rating of “{_short(rated.question)}” was withdrawn.",
                )
            note = f"Thank you: your rating of the answer to “{_short(rated.question)}” was saved."
            return gr.Row(visible=True), gr.Textbox(label=note, value=""), ""

        def remark(note: str, request: gr.Request):
            state = sessions.load(request)
            if state.rated is None or state.rated >= len(state.answers) or not (note or "").strip():
                return note, gr.skip(), gr.skip()
            rated = state.answers[state.rated]
            feedback.record(rated, state.rating, note, _user(request))
            saved = (
                f"Thank you: your comment on the answer to “{_short(rated.question)}” was saved "
                f"with your rating ({state.rating})."
            )
            return "", gr.Row(visible=False), saved

        pick = [box, chat, *pickers]
        # Nothing here needs Gradio's queue but streaming: without it every event is one request,
        # which any worker can answer (the session lives in chat.db), and the answer shows whole.
        private = {"api_visibility": "private", "queue": False}
        # The bubble shows "Searching the library..." itself: no Gradio overlay on every output.
        asking = {"show_progress": "hidden", "api_visibility": "private"}
        scroll = {"fn": None, "js": _SCROLL_JS, **private}
        if streaming(casebook.settings):
            asking |= {"concurrency_limit": 4}
            box.submit(answer_question, pick, outputs, **asking).then(**scroll)
            for example in examples:
                example.click(lambda q: q, example, box, **private).then(
                    answer_question, pick, outputs, **asking
                ).then(**scroll)
            standalone.click(ask_standalone, [chat, *pickers], outputs, **asking).then(**scroll)
        else:
            # Two plain requests: the question and its pending bubble at once, then the answer.
            asking |= {"queue": False}

            def answer_pending(message, history, trust, kind, publisher, year, request: gr.Request):
                before = _without_pending(history)
                done = _whole(respond(message, before, (trust, kind, publisher, year), request))
                return done[0], before if _skipped(done[1]) else done[1], *done[2:]

            def standalone_whole(history, trust, kind, publisher, year, request: gr.Request):
                return _whole(ask_standalone(history, trust, kind, publisher, year, request))

            for trigger, given in [(box.submit, box), *((e.click, e) for e in examples)]:
                trigger(_show_pending(limit), [given, chat], [box, chat, asked], **private).then(
                    answer_pending, [asked, chat, *pickers], outputs, **asking
                ).then(**scroll)
            standalone.click(standalone_whole, [chat, *pickers], outputs, **asking).then(**scroll)

        # A new conversation starts from the whole library: its filters are reset too.
        new.click(restart, None, [*outputs, *pickers], **private)
        chat.clear(restart, None, [*outputs, *pickers], **private)
        chat.like(rate, [chat], [comment_row, comment, status], **private)
        comment.submit(remark, [comment], [comment, comment_row, status], **private)
        copy.click(None, [markdown], [status], js=_COPY_JS)
        ui.load(None, None, None, js=_PAGE_JS)

        def on_load(previous: str | None, request: gr.Request):
            """Fill the filters with this user's values; show the conversation of this browser's
            last page (a reload) and remember this page's. One request per page load."""
            groups = groups_of(identity_of(request))
            facets = _facets(casebook, groups)
            filled = [gr.Dropdown(choices=choices) for choices in _choices(facets)]
            documents = _catalogue(casebook, groups)
            filled += [
                gr.Accordion(label=f"Documents in the library ({len(documents)})"),
                catalogue_html(documents),
            ]
            key = sessions.key(request)
            state = sessions.resume(previous, request)
            if state is None:
                return *filled, *(gr.skip(),) * 4, key
            history: list[dict[str, Any]] = []
            for answer in state.answers:
                history += [
                    {"role": "user", "content": answer.question},
                    {"role": "assistant", "content": answer_markdown(answer)},
                ]
            text = conversation_markdown(state.turns)
            download = gr.DownloadButton(value=sessions.write_export(request, text), interactive=True)
            thumbs = [_THUMBS.get(state.ratings.get(n, "")) for n in range(len(state.answers))]
            chat_shown = gr.Chatbot(value=history, feedback_value=thumbs)
            return *filled, chat_shown, sources_html(state.answers[-1]), download, text, key

        loaded = [*pickers, holdings, catalogue, chat, sources, export, markdown, last_page]
        ui.load(on_load, last_page, loaded, **private)

        def ask_api(question: str, request: gr.Request) -> dict[str, Any]:
            """Answer a question from the library; returns the JSON answer with citations."""
            problem = text_problem(question or "", "question", limit)
            if problem:
                raise gr.Error(problem[1], print_exception=False)
            try:
                answer = casebook.ask(question, groups=groups_of(identity_of(request)))
            except CasebookError as exc:
                return Answer(question, f"Casebook could not answer: {exc}", True).to_json()
            where = address_of(request)
            answer_id = audit.answered(identity_of(request), answer, channel="gradio-api", address=where)
            return {**answer.to_json(), "answer_id": answer_id}

        # Without streaming, one plain request (POST /gradio_api/run/ask) that any worker answers.
        gr.api(ask_api, api_name="ask", queue=streaming(casebook.settings))
    return ui


def streaming(settings: Any) -> bool:
    """Return whether the chat streams answers through Gradio's queue (see Settings.stream_chat)."""
    return settings.workers == 1 if settings.stream_chat is None else bool(settings.stream_chat)


def _show_pending(limit: int) -> Callable[..., tuple[Any, Any, str]]:
    """Return the event that shows a question and its pending bubble, and passes the question on."""

    def show(message: str | None, history: list[dict[str, Any]]) -> tuple[Any, Any, str]:
        message = (message or "").strip()
        if not message or text_problem(message, "question", limit):
            return gr.skip(), gr.skip(), message  # the answering step says what is wrong
        pending = [{"role": "user", "content": message}, {"role": "assistant", "content": SEARCHING}]
        return "", [*history, *pending], message

    return show


def _without_pending(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return ``history`` without the question and pending bubble ``_show_pending`` added."""
    if len(history) >= 2 and history[-2]["role"] == "user" and SEARCHING in str(history[-1]["content"]):
        return history[:-2]
    return history


def _skipped(value: Any) -> bool:
    return isinstance(value, dict) and value == {"__type__": "update"}


def _whole(updates: Iterator[tuple[Any, ...]]) -> tuple[Any, ...]:
    """Return the updates a streaming event yields merged into one: the last that sets each output."""
    merged: list[Any] = []
    for update in updates:
        merged = (
            list(update)
            if not merged
            else [m if _skipped(u) else u for m, u in zip(merged, update, strict=True)]
        )
    return tuple(merged)


def _write(folder: Path, text: str) -> str:
    """Write the session's export (its one file) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "casebook-conversation.md"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _short(question: str, limit: int = 60) -> str:
    """Return ``question`` cut at a word to about ``limit`` characters, for a one-line note."""
    question = " ".join(question.split())
    if len(question) <= limit:
        return question
    return question[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _user(request: gr.Request | None) -> str | None:
    """Return the signed-in user (never a header a client could send: the sign-in gate decides)."""
    identity = identity_of(request)
    return identity.user if identity else None


def _browser_secret(casebook: Casebook) -> str:
    """Return the key the browser's stored session key is encrypted with, the same in every worker."""
    from assistant.web.auth import session_secret

    try:
        key = session_secret(casebook.settings).encode("utf-8")
    except OSError:  # a read-only data directory without a key yet: stable for its path
        key = str(Path(casebook.settings.data_dir).resolve()).encode("utf-8")
    return hashlib.sha256(b"casebook-browser-state:" + key).hexdigest()[:32]


def _count(casebook: Casebook) -> int:
    try:
        return casebook.store.count()
    except CasebookError:
        return 0


def _catalogue(casebook: Casebook, groups: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Return the documents ``groups`` may read (none when there is no index yet)."""
    try:
        return casebook.catalogue(groups=groups) if _count(casebook) else []
    except CasebookError:
        return []


def _facets(casebook: Casebook, groups: tuple[str, ...] | None) -> dict[str, list[Any]]:
    """Return the filter values of the documents ``groups`` may read (None: all of them)."""
    try:
        return casebook.facets(groups) if _count(casebook) else {}
    except CasebookError:
        return {}


def _choices(facets: dict[str, list[Any]]) -> list[list[str]]:
    """Return each picker's choices: trust, document type, publisher, then years."""
    return [[str(v) for v in facets.get(name, [])] for name, _ in _PICKERS] + [
        [ANY_YEAR, *(str(int(y)) for y in facets.get("year", []))]
    ]


def _filter_pickers(facets: dict[str, list[Any]]) -> list[gr.components.Component]:
    *named, years = _choices(facets)
    pickers: list[gr.components.Component] = [
        gr.Dropdown(choices=choices, multiselect=True, label=label, elem_id=f"cb-filter-{name}")
        for (name, label), choices in zip(_PICKERS, named, strict=True)
    ]
    pickers.append(
        gr.Dropdown(choices=years, value=ANY_YEAR, label="Published in or after", elem_id="cb-filter-year")
    )
    return pickers


def _filters(picked: tuple[Any, ...]) -> list[Filter]:
    filters = [
        Filter(name, "=", tuple(values))
        for (name, _), values in zip(_PICKERS, picked[: len(_PICKERS)], strict=True)
        if values
    ]
    year = picked[len(_PICKERS)] if len(picked) > len(_PICKERS) else None
    if year and year != ANY_YEAR:
        filters.append(Filter("year", ">=", (int(year),)))
    return filters
