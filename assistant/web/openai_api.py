"""``POST /v1/chat/completions``: Casebook's cited answer in the OpenAI chat-completions shape.

Existing chat clients and bots can point at ``<casebook>/v1`` as their base URL. The last user
message is answered as ``/api/ask`` answers it; the reply's text carries the ``[n]`` markers and
a numbered source list, and ``citations`` carries the same sources as data. With ``"stream":
true`` the reply comes as server-sent ``chat.completion.chunk`` events ending in ``[DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.answers import Answer
from assistant.engine import Casebook
from assistant.web.auth import Reader, address_of, groups_of
from assistant.web.guard import error_status, text_problem
from vectorstore import CasebookError

MODEL = "casebook"


class ChatMessage(BaseModel):
    """One message of the conversation a client sends."""

    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=32)
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """Return the message's text (the text parts of a multi-part message, joined)."""
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """Body of ``POST /v1/chat/completions``; sampling options clients send are accepted and unused."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(default=MODEL, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


def router(casebook: Casebook) -> APIRouter:
    """Return the router serving ``/v1/chat/completions`` and ``/v1/models`` for ``casebook``."""
    api = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

    @api.get("/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "casebook"}]}

    @api.post("/chat/completions", response_model=None)
    def completions(
        body: ChatRequest, request: Request, identity: Reader
    ) -> dict[str, Any] | StreamingResponse:
        question = _last_question(body.messages)
        problem = text_problem(question, "question", casebook.settings.max_question_chars)
        if problem:
            raise HTTPException(*problem)
        try:
            answer = casebook.ask(question, groups=groups_of(identity))
        except CasebookError as exc:
            raise HTTPException(error_status(exc), str(exc)) from exc
        audit = getattr(request.app.state, "audit", None)
        if audit is not None:
            audit.answered(identity, answer, channel="openai", address=address_of(request))
        base = str(request.base_url).rstrip("/")
        reply = Reply(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), body.model, answer, base)
        if body.stream:
            return StreamingResponse(reply.chunks(), media_type="text/event-stream")
        return reply.completion()

    return api


def _last_question(messages: list[ChatMessage]) -> str:
    for message in reversed(messages):
        if message.role == "user":
            text = message.text().strip()
            if text:
                return text
            break
    raise HTTPException(400, "messages: the last user message is empty or missing; send the question.")


class Reply:
    """One answer, shaped as a completion or as a stream of chunks."""

    def __init__(self, id: str, created: int, model: str, answer: Answer, base: str) -> None:
        self.id, self.created, self.model, self.answer, self.base = id, created, model, answer, base

    def citations(self) -> list[dict[str, Any]]:
        """Return the answer's citations with links made absolute."""
        return [{**c, "url": self.base + c["url"]} for c in self.answer.to_json()["citations"]]

    def text(self) -> str:
        """Return the answer with its numbered sources, each with a link to the cited passage."""
        lines = [self.answer.text]
        if self.answer.citations:
            lines.append("\nSources:")
            for c in self.citations():
                facts = " · ".join(str(f) for f in (c.get("publisher"), c.get("date")) if f)
                lines.append(f"[{c['n']}] {c['title']}" + (f" ({facts})" if facts else "") + f" {c['url']}")
        return "\n".join(lines)

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def completion(self) -> dict[str, Any]:
        """Return the non-streaming ``chat.completion`` object."""
        message = {"role": "assistant", "content": self.text()}
        return {
            **self._envelope("chat.completion"),
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "citations": self.citations(),
            "abstained": self.answer.abstained,
        }

    def chunks(self) -> Iterator[str]:
        """Yield the answer as ``chat.completion.chunk`` events: role, text by paragraph, the end."""

        def event(delta: dict[str, Any], finish: Literal["stop"] | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            chunk = {**self._envelope("chat.completion.chunk"), "choices": [choice], **extra}
            return f"data: {json.dumps(chunk)}\n\n"

        yield event({"role": "assistant", "content": ""})
        pieces = self.text().split("\n")
        for i, piece in enumerate(pieces):
            yield event({"content": piece + ("\n" if i < len(pieces) - 1 else "")})
        yield event({}, "stop", citations=self.citations(), abstained=self.answer.abstained)
        yield "data: [DONE]\n\n"
