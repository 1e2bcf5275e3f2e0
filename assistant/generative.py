"""Answers written by a language model from the retrieved passages, checked before they are shown.

The model sees the passages numbered inside a ``<passages>`` block (``prompts/answer.txt``) and
must cite each sentence as ``[n]``. Its reply is then checked: a marker that points to no passage
is dropped, the passages it does cite become the citations, renumbered 1..m in order of first use.
A reply that cites nothing is replaced by the extractive answer, and so is the answer when the
model cannot be reached, fails or times out; a notice says which. A failing model never reaches
the user as an exception. llama-index objects stay in this module: callers get ``Answer``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx

import prompts
from assistant.answers import Answer, Citation, abstain
from assistant.extractive import ExtractiveAnswerer
from assistant.settings import Settings
from vectorstore import ConfigError, LLMError, Passage

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

log = logging.getLogger(__name__)

NO_CITATION_NOTICE = (
    "The language model's answer cited no passage, so this answer quotes the library directly."
)
FALLBACK_SUFFIX = "; this answer quotes the library directly."
_EXAMPLES = {
    "openai": ("http://127.0.0.1:8000/v1", "the name the server lists at /v1/models"),
    "ollama": ("http://127.0.0.1:11434", "e.g. llama3.1:8b"),
}
# A run of citation markers, "[3]", "[1, 2]", "[1][4]", with the spaces around it (so that a
# run whose every number is dropped can take one side's spaces with it).
_MARKERS = re.compile(r"([ \t]*)((?:\[\d+(?:\s*,\s*\d+)*\])+)([ \t]*)")
# An opening or closing tag of the blocks the prompts quote material in.
_TAG = re.compile(r"<(\s*/?\s*(?:passages|conversation)\b)", re.IGNORECASE)
# How a model says the passages do not answer (the prompt asks for the first form).
_DECLINES = re.compile(
    r"\b(?:passages?|library|documents?|sources?|context|texts?)\b[^.]{0,60}?"
    r"\b(?:do|does|did|can)\s*(?:not|n't)\b[^.]{0,40}?"
    r"\b(?:answer|say|mention|contain|cover|include|address|provide|discuss|describe)"
    r"|\bnot (?:answered|covered|mentioned|addressed|described) (?:in|by) the\b"
    r"|\b(?:cannot|can't|unable to) (?:answer|find)\b"
    r"|\bno (?:information|mention)\b",
    re.IGNORECASE,
)


def build_llm(settings: Settings) -> LLM | None:
    """Return the language model ``settings.llm`` names, or None when it is "none"."""
    if settings.llm == "none":
        return None
    _require(settings)
    if settings.llm == "openai":
        from llama_index.llms.openai_like import OpenAILike

        return OpenAILike(
            model=settings.llm_model,
            api_base=settings.llm_base_url,
            api_key=settings.llm_api_key or "none",
            is_chat_model=True,
            timeout=settings.llm_timeout,
            # One attempt: a user waiting on a dead server gets the quoted answer, not a backoff.
            max_retries=0,
        )
    from llama_index.llms.ollama import Ollama

    return Ollama(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        request_timeout=settings.llm_timeout,
        context_window=settings.llm_context_window,
    )


def _require(settings: Settings) -> None:
    """Raise ConfigError naming every variable the chosen backend still needs."""
    url, model = _EXAMPLES[settings.llm]
    missing = []
    if not settings.llm_base_url:
        missing.append(f"CASEBOOK_LLM_BASE_URL, e.g. {url}")
    if not settings.llm_model:
        missing.append(f"CASEBOOK_LLM_MODEL, {model}")
    if missing:
        raise ConfigError(f"CASEBOOK_LLM={settings.llm} needs " + " and ".join(missing))


def cite(reply: str, passages: Sequence[Passage]) -> tuple[str, tuple[Citation, ...]]:
    """Return the reply with its markers checked and renumbered, and the citations they point to.

    Passage i (1-based, as numbered in the prompt) becomes citation n, where n counts the
    distinct passages in order of first citation; markers to no passage are removed, and so is
    a sentence whose every marker pointed to no passage (it claims a source that is not there).
    """
    reply = _drop_unsupported(reply, len(passages))
    numbers: dict[int, int] = {}

    def renumber(match: re.Match[str]) -> str:
        before, group, after = match.groups()
        kept: set[int] = set()
        for raw in re.findall(r"\d+", group):
            i = int(raw) - 1
            if 0 <= i < len(passages):
                kept.add(numbers.setdefault(i, len(numbers) + 1))
        if kept:
            return before + "".join(f"[{n}]" for n in sorted(kept)) + after
        at_line_start = match.start() == 0 or reply[match.start() - 1] == "\n"
        return "" if at_line_start else after

    text = _MARKERS.sub(renumber, reply).strip()
    return text, tuple(Citation.from_passage(n, passages[i]) for i, n in numbers.items())


def _drop_unsupported(reply: str, count: int) -> str:
    """Return ``reply`` without the sentences whose markers all point past the ``count`` passages."""
    kept = []
    for sentence in re.split(r"(?<=[.!?])[ \t]+", reply):
        cited = [int(n) for group in _MARKERS.findall(sentence) for n in re.findall(r"\d+", group[1])]
        if cited and not any(1 <= n <= count for n in cited):
            continue
        kept.append(sentence)
    return " ".join(kept)


def declines(reply: str) -> bool:
    """Return whether the reply says the passages do not answer the question."""
    return bool(_DECLINES.search(reply.replace("\u2019", "'")))


def neutralise(text: str) -> str:
    """Return ``text`` unable to open or close a quoting block (``<passages>``) of the prompt."""
    return _TAG.sub(r"&lt;\1", text)


def passages_block(passages: Sequence[Passage]) -> str:
    """Return the passages as the prompt numbers them: "[n] title (page, section)" then the text."""
    entries = []
    for n, passage in enumerate(passages, start=1):
        chunk = passage.chunk
        page = f"page {chunk.page}" if chunk.page is not None else ""
        where = ", ".join(part for part in (page, chunk.section or "") if part)
        head = f"[{n}] {chunk.title}" + (f" ({where})" if where else "")
        entries.append(neutralise(f"{head}\n{chunk.text.strip()}"))
    return "\n\n".join(entries)


class GenerativeAnswerer:
    """Answers with a language model from the passages, falling back to quoting them."""

    def __init__(self, llm: LLM, extractive: ExtractiveAnswerer) -> None:
        self.llm = llm
        self.extractive = extractive
        self.url = str(getattr(llm, "api_base", None) or getattr(llm, "base_url", None) or type(llm).__name__)
        self.timeout = getattr(llm, "timeout", None) or getattr(llm, "request_timeout", None)

    def answer(self, question: str, passages: Sequence[Passage], *, search_query: str = "") -> Answer:
        """Return the model's checked answer to ``question`` from ``passages`` (best first).

        The prompt asks ``search_query`` when given (a follow-up rewritten to stand alone);
        the answer records ``question``, what the user asked.
        """
        query = search_query or question
        try:
            reply = self.reply("answer", passages=passages_block(passages), question=neutralise(query))
        except LLMError as exc:
            return self._quoted(question, passages, query, f"{exc}{FALLBACK_SUFFIX}")
        return self._checked(question, passages, reply, query)

    def stream(
        self, question: str, passages: Sequence[Passage], *, search_query: str = ""
    ) -> Iterator[str | Answer]:
        """Yield the reply's text as it arrives, then the checked Answer.

        The Answer supersedes the streamed text: its markers are renumbered, and when the reply
        cites nothing or the stream breaks off it is the extractive answer with a notice.
        """
        query = search_query or question
        chat = self._chat_messages("answer", passages=passages_block(passages), question=neutralise(query))
        parts: list[str] = []
        try:
            with closing(self.llm.stream_chat(chat)) as chunks:
                for chunk in chunks:
                    if chunk.delta:
                        parts.append(chunk.delta)
                        yield chunk.delta
        except Exception as exc:  # any failure of the backend: the user still gets an answer
            yield self._quoted(question, passages, query, f"{self._failure(exc)}{FALLBACK_SUFFIX}")
            return
        yield self._checked(question, passages, "".join(parts), query)

    def reply(self, template: str, **values: str) -> str:
        """Return the model's reply to prompt ``template`` filled with ``values``; LLMError if none."""
        chat = self._chat_messages(template, **values)
        try:
            return self.llm.chat(chat).message.content or ""
        except Exception as exc:  # any failure of the backend becomes the one error callers handle
            raise LLMError(self._failure(exc)) from exc

    def _chat_messages(self, template: str, **values: str) -> list[Any]:
        from llama_index.core.llms import ChatMessage, MessageRole

        try:
            filled = prompts.messages(template, **values)
        except prompts.PromptError as exc:
            raise ConfigError(str(exc)) from exc
        return [ChatMessage(role=MessageRole(role), content=text) for role, text in filled]

    def _checked(self, question: str, passages: Sequence[Passage], reply: str, query: str) -> Answer:
        text, citations = cite(reply, passages)
        if citations:
            return Answer(question, text, False, citations, query)
        if declines(reply):
            log.info("llm_declined query=%r", query)
            return abstain(question, query)
        log.warning("llm_uncited query=%r reply=%r", query, reply[:200])
        return self._quoted(question, passages, query, NO_CITATION_NOTICE)

    def _quoted(self, question: str, passages: Sequence[Passage], query: str, notice: str) -> Answer:
        """Return the extractive answer from the same passages, carrying ``notice``."""
        answer = self.extractive.answer(question, passages, search_query=query)
        return replace(answer, notice=notice)

    def _failure(self, exc: Exception) -> str:
        reason = failure_reason(exc, self.timeout)
        log.warning("llm_failed url=%s reason=%r", self.url, reason)
        return f"The language model at {self.url} did not answer ({reason})"


def failure_reason(exc: BaseException, timeout: float | None = None) -> str:
    """Return a short reason a backend call failed: no reply in time, no connection, HTTP status."""
    import openai

    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException | TimeoutError):
        return f"no reply within {timeout:g}s" if timeout else "timed out"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status > 0:
        return f"HTTP {status}"
    if isinstance(exc, openai.APIConnectionError | httpx.ConnectError | ConnectionError):
        return "could not connect"
    if isinstance(exc, httpx.TransportError):
        return "the connection broke off"
    return f"{type(exc).__name__}: {exc}"[:200]
