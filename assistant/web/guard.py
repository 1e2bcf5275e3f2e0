"""The web app's guard: body size limit, per-client rate limits, security headers and JSON errors.

``Guard`` is a plain ASGI middleware, so it sees every request, Gradio's routes included, before
any of them reads a byte of the body, and every response, so each carries the same headers.
``install`` puts it on the app with the JSON error handlers; ``allow_origins`` adds CORS for
``--allowed-origins`` outside everything else.

Rate limits are counted per identity: ``identity`` gives the signed-in user when sign-in has put
one the sign-in gate left on the request (``request.state.identity``), else the client's address.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vectorstore import CasebookError, IndexMissingError, StoreError

log = logging.getLogger(__name__)

Identity = Callable[[Scope], str]
_COSTLY = {"POST", "PUT", "PATCH", "DELETE"}
_ENVELOPE = 64 * 1024  # room for an upload's multipart headers and form fields
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
# Gradio 6 runs an event's ``js=`` through the AsyncFunction constructor, which CSP counts as eval;
# its page styles elements inline. Inline <script> blocks are allowed one by one, by hash.
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors {ancestors}"
)
_HEADERS = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}


def identity(scope: Scope) -> str:
    """Return whom a request counts against: the signed-in user, else the client's address."""
    user = getattr((scope.get("state") or {}).get("identity"), "user", None)
    if user and user != "anonymous":
        return f"user:{user}"
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


@dataclass(frozen=True)
class GuardPolicy:
    """What the guard enforces; built from the settings by ``install``."""

    max_request_bytes: int
    rate_limit: str  # in the `limits` notation, e.g. "60/minute"; empty: no limit
    rate_limit_storage: str  # a `limits` storage URI: memory:// or redis://host:6379
    allowed_origins: tuple[str, ...]
    identity: Identity = identity
    # Editors' uploads get their own, larger limit on these paths (CASEBOOK_MAX_UPLOAD_BYTES).
    max_upload_bytes: int = 0
    upload_paths: tuple[str, ...] = ("/api/documents", "/gradio_api/upload")

    def limit(self, scope: Scope) -> tuple[int, str]:
        """Return the body limit of this request and the setting that sets it."""
        path, root = scope.get("path", ""), scope.get("root_path", "")
        path = path[len(root) :] if root and path.startswith(root) else path
        who = scope.get("state", {}).get("identity")
        if path in self.upload_paths and who is not None and who.allows("editor"):
            # The file plus its multipart envelope; the upload route checks the file itself.
            return self.max_upload_bytes + _ENVELOPE, "CASEBOOK_MAX_UPLOAD_BYTES"
        return self.max_request_bytes, "CASEBOOK_MAX_REQUEST_BYTES"


def json_error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Return the one error shape every endpoint uses: ``{"detail": "..."}``."""
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class _Limiter:
    """A moving-window limit per identity, on requests that change or compute something."""

    def __init__(self, spec: str, storage: str) -> None:
        from limits import parse_many, strategies
        from limits.storage import storage_from_string

        self.items = parse_many(spec) if spec.strip() else []
        self.strategy = strategies.MovingWindowRateLimiter(storage_from_string(storage))

    def refused(self, key: str) -> JSONResponse | None:
        """Return a 429 when ``key`` is over a limit (each hit counts), else None."""
        for item in self.items:
            if not self.strategy.hit(item, key):
                reset = self.strategy.get_window_stats(item, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                detail = (
                    f"Too many requests: the limit is {item.amount} per {item.multiples} "
                    f"{item.GRANULARITY.name}. Try again in {wait} s."
                )
                return json_error(429, detail, {"Retry-After": str(wait)})
        return None


class Guard:
    """ASGI middleware: refuse too-large bodies (413) and too many requests (429); add headers."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy, limiter: _Limiter) -> None:
        self.app, self.policy, self.limiter = app, policy, limiter
        ancestors = " ".join(["'self'", *policy.allowed_origins])
        self.csp = _CSP.replace("{ancestors}", ancestors)
        self.frame_options = None if policy.allowed_origins else b"SAMEORIGIN"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _drain(receive)
            await refusal(scope, receive, self._with_headers(send))
            return
        (limit, setting), seen = self.policy.limit(scope), 0
        state = {"too_large": False, "done": False}

        async def counted_receive() -> Message:
            nonlocal seen
            if state["too_large"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                state["done"] = not message.get("more_body", False)
                if seen > limit:
                    # The app sees a client that went away; the guard answers 413 in its place.
                    state["too_large"] = True
                    return {"type": "http.disconnect"}
            return message

        headed = self._with_headers(send)

        async def guarded_send(message: Message) -> None:
            if not state["too_large"]:
                await headed(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not state["too_large"]:
                raise
        if state["too_large"]:
            if not state["done"]:
                await _drain(receive)
            await self._too_large(limit, setting)(scope, receive, headed)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        """Return the response refusing this request before the app sees it, if any."""
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    return json_error(400, "Content-Length is not a number.")
                limit, setting = self.policy.limit(scope)
                if declared > limit:
                    return self._too_large(limit, setting)
        if scope["method"] in _COSTLY and self.limiter.items:
            return self.limiter.refused(self.policy.identity(scope))
        return None

    def _too_large(self, limit: int, setting: str) -> JSONResponse:
        return json_error(413, f"Request body too large: the limit is {limit:,} bytes ({setting}).")

    def _with_headers(self, send: Send) -> Send:
        """Wrap ``send`` so every response carries the security headers and, for a page, its CSP
        with the hash of each inline script (the page is held until its last chunk to hash it)."""
        start: Message | None = None
        body: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])]
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS.items() if k not in present]
                if self.frame_options and b"x-frame-options" not in present:
                    headers.append((b"x-frame-options", self.frame_options))
                message = {**message, "headers": headers}
                if b"content-security-policy" in present:  # a page with its own, stricter policy
                    await send(message)
                    return
                if b"text/html" not in dict(headers).get(b"content-type", b""):
                    message["headers"].append((b"content-security-policy", self._policy(b"")))
                    await send(message)
                    return
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            start["headers"].append((b"content-security-policy", self._policy(page)))
            await send(start)
            await send({"type": "http.response.body", "body": page, "more_body": False})

        return send_with_headers

    def _policy(self, page: bytes) -> bytes:
        hashes = "".join(
            f" 'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
            for script in _INLINE_SCRIPT.findall(page)
        )
        return self.csp.replace("{hashes}", hashes).encode()


async def _drain(receive: Receive, cap: int = 64 * 1024 * 1024) -> None:
    """Read and drop what is left of a refused body (up to ``cap`` bytes), so the client, still
    sending, reads the refusal instead of a connection reset."""
    read = 0
    while read <= cap:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        read += len(message.get("body", b""))


def _validation_detail(exc: RequestValidationError) -> tuple[int, str]:
    """Return the status and a message for a rejected body that never repeats what was sent."""
    first = exc.errors()[0]
    kind = first.get("type", "")
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    if kind == "json_invalid":
        return 400, "The request body is not valid JSON."
    if kind == "string_unicode":
        return 400, f"{where}: not valid Unicode (a lone UTF-16 surrogate?); send valid Unicode text."
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    given = first.get("input")
    if kind in ("string_too_long", "too_long"):
        size = f" (got {len(given):,})" if isinstance(given, str | list) else ""
        return 413, f"{where}: {message}{size}."
    return 400, f"{where}: {message}."


def install(app: FastAPI, policy: GuardPolicy) -> FastAPI:
    """Put the guard and the JSON error handlers on ``app``; return it."""

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return json_error(*_validation_detail(exc))

    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return json_error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed path=%s", request.url.path)
        return json_error(500, "Casebook hit an internal error; the server log has the details.")

    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, crashed)
    # Built here, not on the first request, so a bad storage URI stops `serve` at start.
    app.add_middleware(Guard, policy=policy, limiter=_Limiter(policy.rate_limit, policy.rate_limit_storage))
    return app


def allow_origins(app: FastAPI, policy: GuardPolicy) -> FastAPI:
    """Put CORS for ``--allowed-origins`` outermost on ``app`` (added last), so a page of an allowed
    origin can read every answer, a 401 from sign-in or a 413 or 429 from the guard included."""
    from starlette.middleware.cors import CORSMiddleware

    # Configuring CORS also stops Gradio adding its own, looser, localhost rule.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(policy.allowed_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["authorization", "content-type"],
        max_age=600,
    )
    return app


def text_problem(text: str, name: str, limit: int) -> tuple[int, str] | None:
    """Return the status and reason ``text`` cannot be answered (too long: 413, a lone surrogate:
    400), else None. The message gives sizes and positions, never the text itself."""
    if len(text) > limit:
        return 413, f"The {name} is {len(text):,} characters; the limit is {limit:,}. Shorten it."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return 400, (
            f"The {name} contains a lone UTF-16 surrogate at character {exc.start + 1}; "
            "send valid Unicode text."
        )
    return None


def error_status(exc: CasebookError) -> int:
    """Return the HTTP status for a Casebook error: 503 when the library cannot be read, else 400."""
    return 503 if isinstance(exc, StoreError | IndexMissingError) else 400
