"""The web app: the Gradio chat at ``/``, a JSON API under ``/api``, documents under ``/documents``.

One FastAPI app serves all three, so an intranet can put the whole of Casebook behind its own
reverse proxy and sign-on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from assistant import viewer
from assistant.audit import AuditLog, parse_since
from assistant.auth import Admin, AuthConfig, Editor, Gate, Reader, address_of, auth_config
from assistant.engine import Casebook
from vectorstore import CasebookError, Chunk

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

    question: str = Field(min_length=1, max_length=2000, description="The question to answer.")
    filters: list[str] = Field(default_factory=list, description='e.g. ["year>=2017"]')
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve.")


def create_app(casebook: Casebook, llm: Any = None, *, auth: AuthConfig | None = None) -> FastAPI:
    """Return the FastAPI app serving the chat UI, the JSON API and the documents.

    ``auth`` says how requests sign in (default: from the settings, as on loopback).
    """
    from assistant.chat_ui import mount

    auth = auth or auth_config(casebook.settings)
    audit = AuditLog.from_settings(casebook.settings)
    app = FastAPI(title="Casebook", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.audit = audit

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "chunks": casebook.store.count()}

    @app.post("/api/ask")
    def ask(request: AskRequest, http: Request, identity: Reader) -> dict[str, Any]:
        try:
            filters = casebook.parse_filters(request.filters)
            answer = casebook.ask(request.question, k=request.k, filters=filters)
        except CasebookError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        answer_id = audit.answered(identity, answer, channel="api", address=address_of(http))
        return {**answer.to_json(), "answer_id": answer_id}

    @app.post("/api/documents", status_code=501)
    def upload_document(identity: Editor) -> dict[str, Any]:
        return {"detail": "Uploading through the API is not built yet: use casebook ingest FILE"}

    @app.delete("/api/documents/{doc_id}", status_code=501)
    def remove_document(doc_id: str, identity: Editor) -> dict[str, Any]:
        return {"detail": "Removing through the API is not built yet: delete the file, then ingest --prune"}

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

    def stored_chunks(doc_id: str) -> list[Chunk]:
        # Only ingested files can be shown: the id is looked up in the index, never used as a path.
        return casebook.store.document_chunks(doc_id) if viewer.DOC_ID.fullmatch(doc_id) else []

    @app.get("/documents/{doc_id}", response_class=HTMLResponse)
    def document(doc_id: str, passage: str | None = None, q: str | None = None) -> Response:
        chunks = stored_chunks(doc_id)
        if not chunks:
            return viewer.not_found_response(doc_id)
        return viewer.document_response(chunks, passage, q)

    @app.get("/documents/{doc_id}/file")
    def document_file(doc_id: str) -> Response:
        chunks = stored_chunks(doc_id)
        path = Path(chunks[0].source) if chunks else None
        if path is None or not path.is_file():
            return viewer.not_found_response(doc_id)
        media = _MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return FileResponse(
            path,
            media_type=media,
            filename=path.name if media.startswith("application/vnd") else None,
            content_disposition_type="attachment" if media.startswith("application/vnd") else "inline",
            headers={"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"},
        )

    from assistant import signin

    signin.add_routes(app, casebook.settings, auth, audit)
    app = mount(app, casebook, llm)
    app.add_middleware(Gate, config=auth, audit=audit)
    signin.add_sessions(app, casebook.settings)  # outermost: the gate reads the session
    _prune_while_serving(app, audit)
    return app


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


def run(casebook: Casebook, *, host: str, port: int, llm: Any = None, auth: AuthConfig | None = None) -> None:
    """Serve the app until interrupted."""
    import uvicorn

    app = create_app(casebook, llm, auth=auth)
    print(f"Casebook is running at http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    if auth is not None and auth.insecure:
        print(f"Warning: no sign-in on {host} (--insecure-no-auth): anyone who can reach it can use it.")
    # The sign-in gate must see the connecting address itself: uvicorn would otherwise take it from
    # X-Forwarded-For, which any local client can send, and a spoofed proxy address would be believed.
    uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
