"""The chat's "Manage the library" panel: editors add a document or remove one, from the browser.

Shown only to editors and admins (and everyone when sign-in is off); every event checks the role
again on the server, since a page's hidden panel binds nothing. Uploads go through the same
checks, storage and background ingestion as ``POST /api/documents`` (see :mod:`assistant.web.uploads`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.engine import Casebook
from assistant.web.audit import AuditLog
from assistant.web.auth import address_of, groups_of, identity_of
from assistant.web.uploads import UploadError, Uploads
from vectorstore import CasebookError

_TYPES = [".pdf", ".docx", ".md", ".markdown", ".txt", ".html", ".htm"]


def library_panel(ui: gr.Blocks, casebook: Casebook, uploads: Uploads, audit: AuditLog) -> gr.Accordion:
    """Build the panel inside the current Blocks and wire its events; return it (hidden at first)."""
    with gr.Accordion("Manage the library", open=False, visible=False, elem_id="cb-library") as panel:
        upload = gr.File(label="Add a document", file_types=_TYPES, type="filepath", elem_id="cb-upload-file")
        access = gr.Textbox(
            label="Who may read it (groups, comma-separated; empty: everyone)",
            max_lines=1,
            elem_id="cb-upload-access",
        )
        add = gr.Button("Add to the library", size="sm", elem_id="cb-upload")
        documents = gr.Dropdown(choices=[], label="Remove a document", elem_id="cb-remove-choice")
        remove = gr.Button("Remove", size="sm", variant="stop", elem_id="cb-remove")
        status = gr.Markdown("", elem_id="cb-library-status")
    private = {"api_visibility": "private"}

    def editor(request: gr.Request | None) -> Any:
        identity = identity_of(request)
        return identity if identity is not None and identity.allows("editor") else None

    def choices(request: gr.Request | None) -> list[tuple[str, str]]:
        listed = casebook.documents(groups=groups_of(identity_of(request)))
        return [(title, doc_id) for doc_id, title in sorted(listed.items(), key=lambda item: item[1])]

    def show(request: gr.Request):
        allowed = editor(request) is not None
        return gr.Accordion(visible=allowed), gr.Dropdown(choices=choices(request) if allowed else [])

    def add_document(path: str | None, groups: str, request: gr.Request) -> Iterator[Any]:
        identity = editor(request)
        if identity is None:
            yield gr.skip(), gr.skip(), "Adding documents needs the editor role."
            return
        if not path:
            yield gr.skip(), gr.skip(), "Choose a file first."
            return
        name = Path(path).name
        try:
            job = uploads.submit(name, Path(path).read_bytes(), groups or "", identity)
        except UploadError as exc:
            audit.record("upload", identity, channel="chat", address=address_of(request), status=exc.status,
                         detail=exc.detail[:300])  # fmt: skip
            yield gr.skip(), gr.skip(), exc.detail
            return
        audit.record("upload", identity, channel="chat", address=address_of(request), status=202,
                     detail=f"{job.file} job={job.id} access={','.join(job.access)}")  # fmt: skip
        yield gr.skip(), gr.skip(), f"Adding {job.file} to the library…"
        done = uploads.wait(job.id)
        if done is None or done.state != "done":
            yield gr.skip(), gr.skip(), (done.detail if done else "The upload was lost; try again.")
            return
        yield None, gr.Dropdown(choices=choices(request)), f"Added {done.file} ({done.chunks} passages)."

    def remove_document(doc_id: str | None, request: gr.Request):
        identity = editor(request)
        if identity is None:
            return gr.skip(), "Removing documents needs the editor role."
        if not doc_id:
            return gr.skip(), "Choose a document to remove."
        try:
            title = uploads.remove(doc_id, groups_of(identity))
        except KeyError:
            return gr.Dropdown(
                choices=choices(request), value=None
            ), "That document is no longer in the library."
        except CasebookError as exc:
            return gr.skip(), str(exc)
        audit.record("remove", identity, channel="chat", address=address_of(request), status=200,
                     detail=f"{doc_id} {title}")  # fmt: skip
        return gr.Dropdown(choices=choices(request), value=None), f"Removed {title}."

    add.click(add_document, [upload, access], [upload, documents, status], **private)
    remove.click(remove_document, [documents], [documents, status], **private)
    ui.load(show, None, [panel, documents], **private)
    return panel
