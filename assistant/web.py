"""The web app: the Gradio chat at ``/``, a JSON API under ``/api``, documents under ``/documents``.

One FastAPI app serves all three, so an intranet can put the whole of Casebook behind its own
reverse proxy and sign-on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from assistant import viewer
from assistant.engine import Casebook
from assistant.guard import GuardPolicy, error_status, install, text_problem
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

    question: str = Field(min_length=1, description="The question to answer (CASEBOOK_MAX_QUESTION_CHARS).")
    filters: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20, description='e.g. ["year>=2017"]'
    )
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve.")


def create_app(casebook: Casebook, llm: Any = None, api_guards: Sequence[Any] = ()) -> FastAPI:
    """Return the FastAPI app serving the chat UI, the JSON API and the documents.

    ``api_guards`` are FastAPI dependencies (e.g. sign-in) run before every answering endpoint:
    ``/api/ask`` and ``/v1/chat/completions`` alike.
    """
    from assistant import embed, openai_api
    from assistant.chat_ui import mount

    settings = casebook.settings
    guards = [g if hasattr(g, "dependency") else Depends(g) for g in api_guards]
    app = FastAPI(title="Casebook", docs_url=None, openapi_url="/api/openapi.json")
    offline_docs(app)

    @app.get("/api/health")
    def health() -> Response:
        try:
            return JSONResponse({"status": "ok", "chunks": casebook.store.count()})
        except CasebookError as exc:
            return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)

    @app.post("/api/ask", dependencies=guards)
    def ask(request: AskRequest) -> dict[str, Any]:
        for text, name in [(request.question, "question"), *((f, "filter") for f in request.filters)]:
            problem = text_problem(text, name, settings.max_question_chars)
            if problem:
                raise HTTPException(*problem)
        try:
            filters = casebook.parse_filters(request.filters)
            answer = casebook.ask(request.question, k=request.k, filters=filters)
        except CasebookError as exc:
            raise HTTPException(status_code=error_status(exc), detail=str(exc)) from exc
        return answer.to_json()

    app.include_router(openai_api.router(casebook), dependencies=guards)
    app.include_router(embed.router())

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

    app = mount(app, casebook, llm)
    policy = GuardPolicy(
        max_request_bytes=settings.max_request_bytes,
        rate_limit=settings.rate_limit,
        rate_limit_storage=settings.rate_limit_storage,
        allowed_origins=settings.allowed_origins,
    )
    return install(app, policy)


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


def run(casebook: Casebook, *, host: str, port: int, llm: Any = None) -> None:
    """Serve the app until interrupted (under ``settings.root_path`` behind a reverse proxy)."""
    import uvicorn

    app = create_app(casebook, llm)
    root = casebook.settings.root_path
    print(f"Casebook is running at http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    if root:
        print(f"Served under {root}/ by the reverse proxy in front of it", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", root_path=root)
