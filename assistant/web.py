"""The web app: the Gradio chat at ``/``, a JSON API under ``/api``, documents under ``/documents``.

One FastAPI app serves all three, so an intranet can put the whole of Casebook behind its own
reverse proxy and sign-on.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, Field

from assistant import viewer
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


def create_app(casebook: Casebook, llm: Any = None) -> FastAPI:
    """Return the FastAPI app serving the chat UI, the JSON API and the documents."""
    from assistant.chat_ui import mount

    app = FastAPI(title="Casebook", docs_url="/api/docs", openapi_url="/api/openapi.json")

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "chunks": casebook.store.count()}

    @app.post("/api/ask")
    def ask(request: AskRequest) -> dict[str, Any]:
        try:
            filters = casebook.parse_filters(request.filters)
            answer = casebook.ask(request.question, k=request.k, filters=filters)
        except CasebookError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from exc
        return answer.to_json()

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

    return mount(app, casebook, llm)


def run(
    casebook: Casebook, *, host: str, port: int, llm: Any = None, sock: socket.socket | None = None
) -> None:
    """Serve the app until interrupted, on ``sock`` when given (bound already, so a port in use
    was reported before anything loaded), else on a socket bound here to ``host:port``."""
    import uvicorn

    app = create_app(casebook, llm)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    sock = sock or config.bind_socket()
    port = sock.getsockname()[1]
    print(f"Casebook is running at http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    uvicorn.Server(config).run(sockets=[sock])
