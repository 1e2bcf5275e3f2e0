"""Build the Casebook sample library from its Markdown sources.

Every file in ``examples/sources/`` is Markdown with YAML front matter. The
``format`` key (default ``md``) decides what is written to ``examples/library/``:

* ``md``   - the source file is copied unchanged;
* ``html`` - a standalone page with ``<title>``, one ``<meta>`` per front-matter
  key, ``<h1>``/``<h2>`` headings, paragraphs and bullet lists;
* ``pdf``  - rendered with fpdf2 in a core font (titles and author in the PDF
  metadata); documents listed in ``SECTION_PAGE_BREAKS`` start each ``##``
  section on a new page;
* ``docx`` - rendered with python-docx (title and author in the core properties).

PDF and DOCX files get a sidecar ``NAME.pdf.meta.yaml`` / ``NAME.docx.meta.yaml``
holding the full front matter, because those formats cannot carry every key.

Output is deterministic: dates embedded in PDF and DOCX files come from the
document's ``date`` key, and DOCX zip entries use a fixed timestamp, so
rebuilding gives byte-identical files.

Run from the repository root::

    python examples/build_library.py
"""

from __future__ import annotations

import html
import io
import shutil
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml
from docx import Document
from fpdf import FPDF

EXAMPLES_DIR = Path(__file__).resolve().parent
SOURCES_DIR = EXAMPLES_DIR / "sources"
LIBRARY_DIR = EXAMPLES_DIR / "library"

FORMATS = ("md", "html", "pdf", "docx")
SIDECAR_FORMATS = ("pdf", "docx")
# Documents whose "##" sections each start on a new PDF page.
SECTION_PAGE_BREAKS = {"driving-improvement-report"}
# Timestamp written into every DOCX zip entry (the zip format starts at 1980).
ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
# Characters the PDF core fonts (latin-1) cannot encode, mapped to ASCII.
PDF_CHAR_MAP = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2022": "-",
    "\u2212": "-",
}


@dataclass(frozen=True)
class Block:
    """One structural piece of a document body."""

    kind: str  # "h1", "h2", "p" or "li"
    text: str


@dataclass(frozen=True)
class Source:
    """A parsed source document."""

    name: str
    meta: dict[str, Any]
    blocks: list[Block]
    path: Path

    @property
    def fmt(self) -> str:
        return str(self.meta.get("format", "md"))

    @property
    def title(self) -> str:
        return str(self.meta["title"])

    @property
    def author(self) -> str:
        return str(self.meta.get("publisher", ""))

    @property
    def timestamp(self) -> datetime:
        """Fixed creation time derived from the document's date key."""
        value = self.meta["date"]
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
        return datetime(day.year, day.month, day.day, tzinfo=UTC)


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Return the YAML front matter and the Markdown body of a source."""
    if not text.startswith("---\n"):
        raise ValueError("source must start with YAML front matter")
    header, _, body = text[4:].partition("\n---\n")
    return yaml.safe_load(header) or {}, body


def parse_body(body: str) -> list[Block]:
    """Split a simple Markdown body into headings, paragraphs and list items."""
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("p", " ".join(paragraph)))
            paragraph.clear()

    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("## "):
            flush()
            blocks.append(Block("h2", line[3:].strip()))
        elif line.startswith("# "):
            flush()
            blocks.append(Block("h1", line[2:].strip()))
        elif line.startswith("- "):
            flush()
            blocks.append(Block("li", line[2:].strip()))
        else:
            paragraph.append(line)
    flush()
    return blocks


def load_source(path: Path) -> Source:
    """Read and validate one source file."""
    meta, body = split_front_matter(path.read_text(encoding="utf-8"))
    source = Source(name=path.stem, meta=meta, blocks=parse_body(body), path=path)
    if source.fmt not in FORMATS:
        raise ValueError(f"{path.name}: unknown format {source.fmt!r}")
    return source


def meta_text(value: Any) -> str:
    """Render a front-matter value as plain text."""
    return value.isoformat() if isinstance(value, date) else str(value)


def render_html(source: Source) -> str:
    """Render a source as a standalone HTML page."""
    esc = html.escape
    head = [
        '<meta charset="utf-8">',
        f"<title>{esc(source.title, quote=False)}</title>",
        *(
            f'<meta name="{esc(str(key))}" content="{esc(meta_text(value))}">'
            for key, value in source.meta.items()
        ),
    ]
    body: list[str] = []
    in_list = False
    for block in source.blocks:
        if block.kind == "li" and not in_list:
            body.append("<ul>")
            in_list = True
        elif block.kind != "li" and in_list:
            body.append("</ul>")
            in_list = False
        tag = "li" if block.kind == "li" else block.kind
        body.append(f"<{tag}>{esc(block.text, quote=False)}</{tag}>")
    if in_list:
        body.append("</ul>")
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        "<head>",
        *(f"  {line}" for line in head),
        "</head>",
        "<body>",
        *(f"  {line}" for line in body),
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"


def pdf_safe(text: str) -> str:
    """Map text onto characters a latin-1 core font can draw."""
    mapped = "".join(PDF_CHAR_MAP.get(char, char) for char in text)
    return mapped.encode("latin-1", errors="replace").decode("latin-1")


def render_pdf(source: Source) -> bytes:
    """Render a source as a PDF document."""
    pdf = FPDF(format="A4")
    pdf.set_title(pdf_safe(source.title))
    pdf.set_author(pdf_safe(source.author))
    pdf.set_creator("Casebook examples/build_library.py")
    pdf.set_creation_date(source.timestamp)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    page_breaks = source.name in SECTION_PAGE_BREAKS
    seen_section = False
    for block in source.blocks:
        text = pdf_safe(block.text)
        if block.kind == "h1":
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
        elif block.kind == "h2":
            if page_breaks and seen_section:
                pdf.add_page()
            else:
                pdf.ln(2)
            seen_section = True
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif block.kind == "li":
            pdf.set_font("Helvetica", "", 11)
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(0, 6, f"- {text}", new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    return bytes(pdf.output())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip archive with fixed entry timestamps for reproducibility."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


def render_docx(source: Source) -> bytes:
    """Render a source as a Word document."""
    document = Document()
    props = document.core_properties
    props.title = source.title
    props.author = source.author
    props.last_modified_by = source.author
    props.revision = 1
    created = source.timestamp.replace(tzinfo=None)
    props.created = created
    props.modified = created
    props.last_printed = created
    for block in source.blocks:
        if block.kind == "h1":
            document.add_heading(block.text, level=1)
        elif block.kind == "h2":
            document.add_heading(block.text, level=2)
        elif block.kind == "li":
            document.add_paragraph(block.text, style="List Bullet")
        else:
            document.add_paragraph(block.text)
    buffer = io.BytesIO()
    document.save(buffer)
    return normalise_zip(buffer.getvalue())


def write_sidecar(source: Source, target: Path) -> None:
    """Write the front matter next to a PDF or DOCX file."""
    sidecar = target.with_name(target.name + ".meta.yaml")
    text = yaml.safe_dump(source.meta, sort_keys=False, allow_unicode=True)
    sidecar.write_text(text, encoding="utf-8")


def build_one(source: Source) -> Path:
    """Write one library document (and its sidecar) and return its path."""
    target = LIBRARY_DIR / f"{source.name}.{source.fmt}"
    if source.fmt == "md":
        shutil.copyfile(source.path, target)
    elif source.fmt == "html":
        target.write_text(render_html(source), encoding="utf-8", newline="\n")
    elif source.fmt == "pdf":
        target.write_bytes(render_pdf(source))
    else:
        target.write_bytes(render_docx(source))
    if source.fmt in SIDECAR_FORMATS:
        write_sidecar(source, target)
    return target


def clean_library() -> None:
    """Remove previously built files so renamed sources leave nothing behind."""
    LIBRARY_DIR.mkdir(parents=True, exist_ok=True)
    for path in LIBRARY_DIR.iterdir():
        if path.is_file():
            path.unlink()


def main() -> None:
    sources = [load_source(path) for path in sorted(SOURCES_DIR.glob("*.md"))]
    clean_library()
    counts = {fmt: 0 for fmt in FORMATS}
    for source in sources:
        build_one(source)
        counts[source.fmt] += 1
    summary = ", ".join(f"{n} {fmt}" for fmt, n in counts.items() if n)
    print(f"Built {len(sources)} documents in {LIBRARY_DIR.relative_to(EXAMPLES_DIR.parent)} ({summary})")


if __name__ == "__main__":
    main()
