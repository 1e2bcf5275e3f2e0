"""A scripted language-model server for tests: OpenAI-compatible and Ollama endpoints over real HTTP.

Tests queue replies with :meth:`LLMStub.reply`; each request takes the next one, so the code
under test talks to it through its real client (``OpenAILike``, ``Ollama``) exactly as it would
to a real server. Every request body is recorded for assertions on the prompt.

Endpoints: ``POST /v1/chat/completions`` and ``POST /v1/completions`` (JSON or SSE streaming),
``POST /api/chat`` (Ollama: JSON or NDJSON streaming). An empty queue answers HTTP 500.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted reply: its text, the pieces it streams in, and delays before and between them."""

    text: str
    pieces: tuple[str, ...] = ()
    delay: float = 0.0
    piece_delay: float = 0.0
    fail_after: int | None = None

    def chunks(self) -> tuple[str, ...]:
        """Return the streamed pieces: as scripted, or the text word by word."""
        if self.pieces:
            return self.pieces
        words = self.text.split(" ")
        return tuple(w if i == len(words) - 1 else w + " " for i, w in enumerate(words))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LLMStub:
    """The server: start with ``with LLMStub() as stub:``; ``stub.url`` is the OpenAI base URL."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        """Return the server's address, the Ollama base URL, e.g. http://127.0.0.1:54321."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """Return the OpenAI-compatible base URL, ``<root>/v1``."""
        return f"{self.root}/v1"

    def reply(self, text: str, **options: Any) -> None:
        """Queue the reply to the next request (``pieces``, ``delay``, ``piece_delay``, ``fail_after``)."""
        self.replies.append(Reply(text, **options))

    def __enter__(self) -> LLMStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(stub: LLMStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # chunked streams, so a dropped stream is seen as broken

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            stub.requests.append({"path": self.path, **body})
            if not stub.replies:
                return self._send(500, {"error": {"message": "the stub has no scripted reply left"}})
            reply = stub.replies.popleft()
            time.sleep(reply.delay)
            # The client may have given up (timeout, closed stream): then there is no one to answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(body, reply)

        def _answer(self, body: dict[str, Any], reply: Reply) -> None:
            ollama = self.path == "/api/chat"
            kind = {"/v1/chat/completions": "chat", "/v1/completions": "text", "/api/chat": "ollama"}
            if self.path not in kind:
                return self._send(404, {"error": {"message": f"no endpoint {self.path}"}})
            if body.get("stream", ollama):
                return self._stream(kind[self.path], body.get("model", ""), reply)
            self._send(200, _document(kind[self.path], body.get("model", ""), reply.text, done=True))

        def _stream(self, kind: str, model: str, reply: Reply) -> None:
            self.send_response(200)
            self.send_header(
                "Content-Type", "application/x-ndjson" if kind == "ollama" else "text/event-stream"
            )
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for i, piece in enumerate(reply.chunks()):
                if i == reply.fail_after:
                    # Drop the connection without the closing chunk: the client sees a broken stream.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._event(kind, _document(kind, model, piece, done=False, delta=True))
                time.sleep(reply.piece_delay)
            self._event(kind, _document(kind, model, "", done=True, delta=True))
            if kind != "ollama":
                self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")

        def _event(self, kind: str, document: dict[str, Any]) -> None:
            line = json.dumps(document)
            self._chunk((f"{line}\n" if kind == "ollama" else f"data: {line}\n\n").encode())

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _send(self, status: int, document: dict[str, Any]) -> None:
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _document(kind: str, model: str, text: str, *, done: bool, delta: bool = False) -> dict[str, Any]:
    """Return one response (or streamed chunk) in the endpoint's own JSON shape."""
    if kind == "ollama":
        message = {"role": "assistant", "content": text}
        return {"model": model, "created_at": "2025-01-01T00:00:00Z", "message": message, "done": done}
    finish = "stop" if done else None
    if kind == "text":
        choice: dict[str, Any] = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        return {
            "id": "cmpl-stub",
            "object": "text_completion",
            "created": 0,
            "model": model,
            "choices": [choice],
        }
    content = {"role": "assistant", "content": text}
    choice = {"index": 0, "finish_reason": finish, ("delta" if delta else "message"): content}
    kind_name = "chat.completion.chunk" if delta else "chat.completion"
    return {"id": "chatcmpl-stub", "object": kind_name, "created": 0, "model": model, "choices": [choice]}


def messages_of(request: dict[str, Any]) -> dict[str, str]:
    """Return the recorded chat request's messages by role (system, user)."""
    return {m["role"]: m["content"] for m in request["messages"]}


def running() -> Iterator[LLMStub]:
    """Yield a started stub, stopped afterwards (the body of each test file's fixture)."""
    with LLMStub() as stub:
        yield stub
