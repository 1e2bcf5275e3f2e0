"""The web app: the Gradio chat at ``/``, a JSON API under ``/api``, documents under ``/documents``.

One FastAPI app serves all three, so an intranet can put the whole of Casebook behind its own
reverse proxy and sign-on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from assistant.engine import Casebook
from assistant.web import viewer
from assistant.web.audit import AuditLog, parse_since
from assistant.web.auth import (
    Admin,
    AuthConfig,
    Gate,
    Reader,
    address_of,
    auth_config,
    groups_of,
    identity_of,
    require,
)
from assistant.web.guard import GuardPolicy, allow_origins, error_status, install, text_problem
from vectorstore import CasebookError, Chunk
from vectorstore.access import Access

log = logging.getLogger(__name__)

_MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".md": "text/plain; charset=utf-8",
    ".markdown": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    # HTML documents are sent as text: a library file must never run script in our origin.
    ".html": "text/plain; charset=utf-8",
    ".htm": "text/plain; charset=utf-8",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


class AskRequest(BaseModel):
    """Body of ``POST /api/ask``."""

    question: str = Field(min_length=1, description="The question to answer (CASEBOOK_MAX_QUESTION_CHARS).")
    filters: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20, description='e.g. ["year>=2017"]'
    )
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve.")


def create_app(casebook: Casebook, llm: Any = None, *, auth: AuthConfig | None = None) -> FastAPI:
    """Return the FastAPI app serving the chat UI, the JSON API and the documents.

    ``auth`` says how requests sign in (default: from the settings, as on loopback). Every
    answering endpoint (``/api/ask``, ``/v1/chat/completions``) needs the reader role.
    """
    from assistant.web import embed, openai_api, uploads
    from assistant.web.chat_ui import mount

    settings = casebook.settings
    auth = auth or auth_config(settings)
    audit = AuditLog.from_settings(settings)
    guards = [Depends(require("reader"))]
    app = FastAPI(title="Casebook", docs_url=None, openapi_url="/api/openapi.json")
    app.state.audit = audit
    offline_docs(app)

    @app.get("/api/health")
    def health(request: Request) -> Response:
        # Public, so a load balancer can call it: the chunk count is of what the caller may read,
        # and given to no one when sign-in is on and the caller did not sign in.
        identity = identity_of(request)
        try:
            if identity is None:
                return JSONResponse({"status": "ok"})
            chunks = casebook.store.count(Access.of(groups_of(identity)))
            return JSONResponse({"status": "ok", "chunks": chunks})
        except CasebookError as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)

    @app.post("/api/ask")
    def ask(request: AskRequest, http: Request, identity: Reader) -> dict[str, Any]:
        for text, name in [(request.question, "question"), *((f, "filter") for f in request.filters)]:
            problem = text_problem(text, name, settings.max_question_chars)
            if problem:
                raise HTTPException(*problem)
        try:
            groups = groups_of(identity)
            filters = casebook.parse_filters(request.filters, groups=groups)
            answer = casebook.ask(request.question, k=request.k, filters=filters, groups=groups)
        except CasebookError as exc:
            raise HTTPException(status_code=error_status(exc), detail=str(exc)) from exc
        answer_id = audit.answered(identity, answer, channel="api", address=address_of(http))
        return {**answer.to_json(), "answer_id": answer_id}

    uploads.add_routes(app, casebook, audit)

    @app.get("/api/users")
    def users(identity: Admin) -> list[dict[str, Any]]:
        return [token.to_json() for token in auth.tokens.tokens()]

    @app.get("/api/audit")
    def audit_export(identity: Admin, since: str, format: str = "jsonl") -> Response:
        if format not in ("jsonl", "csv"):
            raise HTTPException(400, f"format {format!r} is not jsonl or csv")
        try:
            moment = parse_since(since)
        except CasebookError as exc:
            raise HTTPException(400, str(exc)) from exc
        media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
        return StreamingResponse(audit.export(moment, format), media_type=media)

    app.include_router(openai_api.router(casebook), dependencies=guards)
    app.include_router(embed.router())

    def stored_chunks(doc_id: str, request: Request) -> list[Chunk]:
        # Only ingested files can be shown: the id is looked up in the index, never used as a path.
        # A document the user may not read is "not found", exactly as an absent one.
        if not viewer.DOC_ID.fullmatch(doc_id):
            return []
        return casebook.document_chunks(doc_id, groups=groups_of(identity_of(request)))

    @app.get("/documents/{doc_id}", response_class=HTMLResponse)
    def document(doc_id: str, request: Request, passage: str | None = None, q: str | None = None) -> Response:
        chunks = stored_chunks(doc_id, request)
        if not chunks:
            return viewer.not_found_response(doc_id, origins=settings.allowed_origins)
        return viewer.document_response(chunks, passage, q, origins=settings.allowed_origins)

    @app.get("/documents/{doc_id}/file")
    def document_file(doc_id: str, request: Request) -> Response:
        chunks = stored_chunks(doc_id, request)
        path = Path(chunks[0].source) if chunks else None
        if path is None or not path.is_file():
            return viewer.not_found_response(doc_id, origins=settings.allowed_origins)
        media = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return FileResponse(
            path,
            media_type=media,
            filename=path.name if media.startswith("application/vnd") else None,
            content_disposition_type="attachment" if media.startswith("application/vnd") else "inline",
            headers={"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"},
        )

    from assistant.web import signin

    signin.add_routes(app, settings, auth, audit)
    app = mount(app, casebook, llm)
    policy = GuardPolicy(
        max_request_bytes=settings.max_request_bytes,
        rate_limit=settings.rate_limit,
        rate_limit_storage=settings.rate_limit_storage,
        allowed_origins=settings.allowed_origins,
        max_upload_bytes=settings.max_upload_bytes,
    )
    install(app, policy)
    # Outside the guard, so rate limits count per signed-in user; sessions outermost: the gate reads them.
    app.add_middleware(Gate, config=auth, audit=audit)
    signin.add_sessions(app, settings)
    allow_origins(app, policy)
    _prune_while_serving(app, audit)
    if settings.prepare_answers:
        _prepare_while_serving(app, casebook)
    return app


def _prepare_while_serving(app: FastAPI, casebook: Casebook) -> None:
    """Make the index's answer vectors in the background while the app serves (assistant.prepare)."""
    from assistant.prepare import Preparer

    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        preparer = Preparer(casebook.store, lambda: casebook.embedder)
        preparer.start()
        try:
            async with inner(served) as state:
                yield state
        finally:
            await asyncio.to_thread(preparer.stop)

    app.router.lifespan_context = lifespan


def _prune_while_serving(app: FastAPI, audit: AuditLog) -> None:
    """Prune the audit log and feedback on start and daily, for as long as the app serves."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        task = asyncio.create_task(audit.prune_daily())
        try:
            async with inner(served) as state:
                yield state
        finally:
            task.cancel()

    app.router.lifespan_context = lifespan


def offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/api/docs`` from the files fastapi-offline ships, so it works offline."""
    import fastapi_offline
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount("/api/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/api/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}/api/openapi.json",
            title="Casebook API",
            swagger_js_url=f"{root}/api/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/api/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/api/docs-assets/favicon.png",
            oauth2_redirect_url=None,
        )


SERVE_HOST_ENV = "CASEBOOK_HOST"
INSECURE_ENV = "CASEBOOK_SERVE_INSECURE_NO_AUTH"
_WARM_QUESTION = "how did services improve care for patients"


def app_from_env() -> FastAPI:
    """Return the app one worker of ``casebook serve --workers N`` serves, from ``CASEBOOK_*``.

    uvicorn starts each worker as a new process and calls this there (``--factory``); the parent
    has put every flag in the environment, checked the port and sign-in, and ingested the sample
    library, so a worker only loads its model and serves.
    """
    from assistant.generative import build_llm
    from assistant.settings import Settings
    from assistant.web.auth import auth_config

    settings = Settings()
    host = os.environ.get(SERVE_HOST_ENV, "127.0.0.1")
    auth = auth_config(settings, host=host, insecure=os.environ.get(INSECURE_ENV) == "1")
    casebook = Casebook(settings)
    warm(casebook)
    return create_app(casebook, build_llm(settings), auth=auth)


def warm(casebook: Casebook) -> None:
    """Load the model and the index's side parts now, so the first question is not the slow one."""
    import torch

    # Threads of one process spinning against each other, and against the other workers, cost
    # ten times the work itself on a shared machine (docs/benchmarks.md, "Load").
    torch.set_num_threads(casebook.settings.model_threads)
    try:
        if casebook.store.count():
            casebook.ask(_WARM_QUESTION)
    except CasebookError as exc:  # no index yet: the page says so, and the first ask will too
        log.info("warm-up skipped reason=%s", exc)


def run(
    casebook: Casebook,
    *,
    host: str,
    port: int,
    llm: Any = None,
    auth: AuthConfig | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve the app until interrupted, under ``settings.root_path`` behind a reverse proxy, on
    ``sock`` when given (bound already, so a port in use was reported before anything loaded)."""
    import uvicorn

    warm(casebook)
    app = create_app(casebook, llm, auth=auth)
    config = _config(app, host, port, casebook.settings)
    sock = sock or config.bind_socket()
    _announce(host, sock, casebook.settings, auth)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(settings: Any, *, host: str, sock: socket.socket, auth: AuthConfig) -> None:
    """Serve ``settings.workers`` processes on the bound ``sock`` until interrupted.

    Each worker builds its app with ``app_from_env`` from the environment, which must hold the
    settings (``casebook serve`` exports its flags); the kernel hands each connection to one.
    """
    from uvicorn.supervisors import Multiprocess

    os.environ[SERVE_HOST_ENV] = host
    os.environ[INSECURE_ENV] = "1" if auth.insecure else ""
    config = _config("assistant.web.app:app_from_env", host, sock.getsockname()[1], settings)
    config.factory, config.workers = True, settings.workers
    _announce(host, sock, settings, auth)
    Multiprocess(config, sockets=[sock]).run()


def _config(app: Any, host: str, port: int, settings: Any) -> Any:
    import uvicorn

    # The sign-in gate must see the connecting address itself: uvicorn would otherwise take it from
    # X-Forwarded-For, which any local client can send, and a spoofed proxy address would be believed.
    # A backlog beyond the default 2048 is not needed: the thread pool is what bounds the work.
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", proxy_headers=False, root_path=settings.root_path
    )


def _announce(host: str, sock: socket.socket, settings: Any, auth: AuthConfig | None) -> None:
    port = sock.getsockname()[1]
    workers = f" with {settings.workers} workers" if settings.workers > 1 else ""
    print(f"Casebook is running at http://{host}:{port}/{workers}  (Ctrl+C to stop)", flush=True)
    if settings.root_path:
        print(f"Served under {settings.root_path}/ by the reverse proxy in front of it", flush=True)
    if auth is not None and auth.insecure:
        print(f"Warning: no sign-in on {host} (--insecure-no-auth): anyone who can reach it can use it.")
