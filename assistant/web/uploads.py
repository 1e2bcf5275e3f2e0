"""Editors add and remove documents while Casebook serves: ``POST /api/documents`` and the chat's
"Add a document" panel, ``DELETE /api/documents/<id>``.

An upload is checked before anything is kept (size: ``CASEBOOK_MAX_UPLOAD_BYTES``; type: the
extension must be one Casebook reads and the bytes must look like it), then written under
``DATA_DIR/uploads/<job>/`` with a sidecar holding its ``access`` groups, and ingested in the
background by the same pipeline as ``casebook ingest`` (under the writers' lock). Its progress
is a small JSON file per job under ``DATA_DIR/uploads/jobs/``, so any worker can report it at
``GET /api/documents/jobs/<id>``. A file that fails leaves nothing behind: its folder is removed
and the job says why in one line.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile

from assistant.engine import Casebook
from assistant.web.audit import AuditLog
from assistant.web.auth import Editor, address_of, groups_of
from assistant.web.users import Identity
from vectorstore import CasebookError, DocumentError
from vectorstore.files import write_json_atomic

log = logging.getLogger(__name__)

_JOB_ID = re.compile(r"[a-z0-9]{16}")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()-]+")
# What the first bytes of each format look like; text formats must hold no NUL byte.
_MAGIC = {".pdf": b"%PDF-", ".docx": b"PK\x03\x04"}


class UploadError(Exception):
    """An upload refused before anything was stored: the HTTP status and a one-line reason."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Job:
    """One upload's ingestion: queued, ingesting, done or failed (with the reason)."""

    id: str
    file: str
    user: str
    state: str = "queued"
    detail: str = ""
    doc_id: str | None = None
    chunks: int = 0
    access: tuple[str, ...] = ()
    created: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "access": list(self.access)}


class Uploads:
    """Checks, stores and ingests uploaded documents of one Casebook, one at a time."""

    def __init__(self, casebook: Casebook) -> None:
        self.casebook = casebook
        self.folder = Path(casebook.settings.data_dir) / "uploads"
        self.jobs_folder = self.folder / "jobs"
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="casebook-upload")
        self._lock = threading.Lock()

    def check(self, name: str, data: bytes, access: str) -> tuple[str, tuple[str, ...]]:
        """Return the safe file name and the access groups, or raise UploadError (nothing stored)."""
        from ingest.access import parse_access
        from ingest.loaders import LOADERS, supported

        limit = self.casebook.settings.max_upload_bytes
        if len(data) > limit:
            raise UploadError(
                413, f"{name} is larger than the upload limit of {limit:,} bytes (CASEBOOK_MAX_UPLOAD_BYTES)."
            )
        safe = _SAFE_NAME.sub("-", Path(name.replace("\\", "/")).name).strip(" .-")[:120]
        suffix = Path(safe).suffix.lower()
        if not safe or not Path(safe).stem:
            raise UploadError(400, f"{name!r} is not a usable file name; name the file, e.g. report.pdf")
        if suffix not in LOADERS:
            raise UploadError(
                415, f"{safe}: unsupported file type {suffix or '(none)'}; Casebook reads {supported()}"
            )
        if not data.strip():
            raise UploadError(400, f"{safe}: the file is empty; add text or choose another file")
        magic = _MAGIC.get(suffix)
        if (magic is not None and not data.startswith(magic)) or (magic is None and b"\x00" in data[:65536]):
            raise UploadError(415, f"{safe}: the content is not {suffix} (is it another format renamed?)")
        try:
            groups = parse_access([g for g in access.split(",") if g.strip()], Path(safe)) if access else ()
        except DocumentError as exc:
            raise UploadError(400, str(exc)) from None
        return safe, groups

    def submit(self, name: str, data: bytes, access: str, identity: Identity) -> Job:
        """Store the checked upload and queue its ingestion; return the queued job."""
        safe, groups = self.check(name, data, access)
        job = Job(secrets.token_hex(8), safe, identity.user, access=groups, created=time.time())
        target = self.folder / job.id / safe
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if groups:
            import yaml

            sidecar = target.with_name(target.name + ".meta.yaml")
            sidecar.write_text(yaml.safe_dump({"access": list(groups)}), encoding="utf-8")
        self._save(job)
        self._pool.submit(self._run, job, target)
        return job

    def _run(self, job: Job, path: Path) -> None:
        from ingest import ChunkingParams, doc_id_for, ingest

        settings = self.casebook.settings
        self._save(job := replace(job, state="ingesting"))
        try:
            report = ingest(
                [path],
                self.casebook.store,
                self.casebook.embedder,
                chunking=ChunkingParams(settings.chunk_tokens, settings.chunk_overlap),
                access_policy=settings.access_policy,
            )
        except CasebookError as exc:
            shutil.rmtree(path.parent, ignore_errors=True)
            self._save(replace(job, state="failed", detail=str(exc)))
            return
        except Exception as exc:  # never leave a job "ingesting" forever
            log.exception("upload failed job=%s", job.id)
            shutil.rmtree(path.parent, ignore_errors=True)
            self._save(
                replace(job, state="failed", detail=f"{job.file}: ingestion failed ({type(exc).__name__})")
            )
            return
        if report.failed:
            shutil.rmtree(path.parent, ignore_errors=True)
            error = report.failed[0]
            self._save(replace(job, state="failed", detail=f"{Path(error.path).name}: {error.reason}"))
            return
        source = str(path.resolve())
        self._save(replace(job, state="done", doc_id=doc_id_for(source), chunks=report.chunks_written))
        log.info("upload ingested job=%s file=%s chunks=%d", job.id, job.file, report.chunks_written)

    def job(self, job_id: str) -> Job | None:
        """Return the job with this id (written by any worker), or None."""
        if not _JOB_ID.fullmatch(job_id):
            return None
        try:
            data = json.loads((self.jobs_folder / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Job(**{**data, "access": tuple(data.get("access", ()))})

    def wait(self, job_id: str, timeout: float = 300.0) -> Job | None:
        """Return the job once it is done or failed (or as it is after ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        job = self.job(job_id)
        while job is not None and job.state in ("queued", "ingesting") and time.monotonic() < deadline:
            time.sleep(0.25)
            job = self.job(job_id)
        return job

    def remove(self, doc_id: str, groups: tuple[str, ...] | None) -> str:
        """Remove a document ``groups`` may read and return its title; raise KeyError when it is
        absent or hidden from them. An uploaded file is deleted too."""
        store = self.casebook.store
        if not self.casebook.document_chunks(doc_id, groups=groups):
            raise KeyError(doc_id)
        with store.writer_lock():
            stored = next((d for d in store.documents().values() if d.doc_id == doc_id), None)
            if stored is None:
                raise KeyError(doc_id)
            store.delete_document(stored)
            store.update_derived()
        source = Path(stored.source)
        if self.folder.resolve() in source.resolve().parents:
            shutil.rmtree(source.parent, ignore_errors=True)
        return stored.title

    def _save(self, job: Job) -> None:
        with self._lock:
            write_json_atomic(self.jobs_folder / f"{job.id}.json", job.to_json())


def add_routes(app: FastAPI, casebook: Casebook, audit: AuditLog) -> Uploads:
    """Serve ``POST /api/documents``, its jobs and ``DELETE /api/documents/<id>`` (editors only)."""
    uploads = Uploads(casebook)
    app.state.uploads = uploads

    @app.post("/api/documents", status_code=202)
    async def upload_document(
        request: Request,
        identity: Editor,
        file: Annotated[UploadFile, File(description="The document: .pdf, .docx, .md, .txt or .html")],
        access: Annotated[
            str, Form(max_length=2000, description="Groups that may read it, e.g. finance,board")
        ] = "",
    ) -> dict[str, Any]:
        data = await file.read(casebook.settings.max_upload_bytes + 1)
        name = file.filename or ""
        try:
            job = uploads.submit(name, data, access, identity)
        except UploadError as exc:
            audit.record(
                "upload", identity, channel="api", address=address_of(request), status=exc.status,
                detail=exc.detail[:300],
            )  # fmt: skip
            raise HTTPException(exc.status, exc.detail) from None
        audit.record(
            "upload", identity, channel="api", address=address_of(request), status=202,
            detail=f"{job.file} job={job.id} access={','.join(job.access)}",
        )  # fmt: skip
        root = request.scope.get("root_path", "").rstrip("/")
        return {**job.to_json(), "status_url": f"{root}/api/documents/jobs/{job.id}"}

    @app.get("/api/documents/jobs/{job_id}")
    def upload_job(job_id: str, identity: Editor) -> dict[str, Any]:
        job = uploads.job(job_id)
        # Another editor's job names a file and its groups: only its uploader and admins see it.
        if job is None or (job.user != identity.user and not identity.allows("admin")):
            raise HTTPException(404, f"No upload job {job_id[:40]!r}")
        return job.to_json()

    @app.delete("/api/documents/{doc_id}")
    def remove_document(doc_id: str, request: Request, identity: Editor) -> dict[str, Any]:
        try:
            title = uploads.remove(doc_id[:64], groups_of(identity))
        except KeyError:
            raise HTTPException(404, f"No document {doc_id[:64]!r} in the library") from None
        except CasebookError as exc:
            raise HTTPException(503, str(exc)) from exc
        audit.record(
            "remove", identity, channel="api", address=address_of(request), status=200,
            detail=f"{doc_id} {title}",
        )  # fmt: skip
        return {"removed": doc_id, "title": title}

    return uploads
