"""Loaders: one function per file format, each turning a file into a :class:`Document`.

A loader raises :class:`DocumentError` naming the file and the reason for anything it cannot
read (empty, corrupt, encrypted, binary data under a text name, a different format under a .pdf
name). Text is read as UTF-8 first, then in the encoding charset-normalizer detects
(Windows-1252 and Latin-1 exports are common). HTML keeps only the main content, found by
trafilatura; PDF headings come from the page layout (see :mod:`ingest.layout`). :func:`load`
then takes page furniture out (see :mod:`ingest.cleaning`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from ingest.access import POLICY_NAME, AccessPolicies, parse_access
from ingest.cleaning import Boilerplate, clean_sections, date_from_lines, merge_date
from ingest.documents import Document, Section
from ingest.layout import pdf_sections
from ingest.markup import SectionBuilder, html_metadata, render_markdown, sections_from_html
from vectorstore.access import access_metadata
from vectorstore.errors import DocumentError

METADATA_KEYS = ("publisher", "date", "trust", "document_type", "original_url")
# Other names a sidecar, front matter or <meta> tag may give the original page's address.
URL_ALIASES = ("original_url", "url", "source_url")
SIDECAR_SUFFIX = ".meta.yaml"


def load(
    path: Path, boilerplate: Boilerplate | None = None, *, policy: AccessPolicies | None = None
) -> Document:
    """Return the document at ``path`` without page furniture; raise :class:`DocumentError`.

    ``boilerplate`` holds the furniture patterns (default: the shipped ``ingest/boilerplate.txt``).
    A date line in the text becomes the ``date`` when the file's metadata gives none. Who may
    read it is its own ``access`` (front matter or sidecar), else ``policy``'s folder rule.
    """
    reader = LOADERS.get(path.suffix.lower())
    if reader is None:
        raise DocumentError(
            path, f"unsupported file type {path.suffix or '(none)'}; Casebook reads {supported()}"
        )
    raw = path.read_bytes()
    if not raw.strip():
        raise DocumentError(path, "the file is empty; add text or remove it from the folder")
    sidecar = _read_sidecar(path)
    ruled = policy.groups_for(path) if policy is not None else None
    digest = fingerprint(path, ruled)
    title, sections, meta = reader(path, raw)
    sections = [s for s in sections if s.text.strip()]
    meta = {**meta, **sidecar}
    where = path.with_name(path.name + SIDECAR_SUFFIX) if "access" in sidecar else path
    groups = parse_access(meta.pop("access"), where) if "access" in meta else ruled
    title = str(meta.pop("title", "") or title or _title_from_name(path)).strip()
    sections, found_date = clean_sections(title, sections, boilerplate or Boilerplate.load())
    if not sections:
        raise DocumentError(path, "no text could be extracted (a scanned PDF needs OCR first)")
    meta = merge_date(meta, found_date)
    metadata = {**_normalise(meta, path), **access_metadata(groups)}
    return Document(str(path), title, tuple(sections), digest, metadata)


# How files are read into passages. Raise it when a change to reading gives a file other passages
# or other sentences (2: Markdown tables, table columns, plain-text headings; 3: a list item's
# label, "B1.", kept in its first sentence): the next ingest re-reads every file.
READER_VERSION = 3


def fingerprint(path: Path, ruled: tuple[str, ...] | None = None) -> str:
    """Return the content hash of a file, its metadata sidecar and the groups a folder rule gives
    it (``ruled``), under this reader (``READER_VERSION``): what decides re-ingestion, so a changed
    rule re-ingests what it covers, and a better reader re-reads what it reads differently."""
    digest = hashlib.sha256(path.read_bytes())
    digest.update(f"\0reader\0{READER_VERSION}".encode())
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        digest.update(b"\0sidecar\0" + sidecar.read_bytes())
    if ruled is not None:
        digest.update(b"\0access\0" + "\n".join(ruled).encode("utf-8"))
    return digest.hexdigest()


def supported() -> str:
    """Return the supported extensions as a readable list."""
    return ", ".join(sorted(LOADERS))


# -- formats -----------------------------------------------------------------------------------

Loaded = tuple[str, list[Section], dict[str, Any]]


def _load_text(path: Path, raw: bytes) -> Loaded:
    text = _decode(path, raw)
    return _title_from_text(text) or _title_from_last_line(text), _text_sections(text), {}


# A plain-text heading: a line of its own in capitals ("FINDINGS AND REQUIRED ACTIONS"), perhaps
# numbered ("2. BEECH WARD (adult acute, 16 beds)", a level below); a parenthesis may follow.
_NUMBERED = re.compile(r"^\d{1,2}[.)]\s+")
_TRAILING_PARENTHESIS = re.compile(r"\s*\([^()]*\)$")


def _text_heading(block: str) -> int | None:
    """Return the level of ``block`` as a plain-text heading (1, or 2 when numbered), or None."""
    if "\n" in block:
        return None
    body = _NUMBERED.sub("", block, count=1)
    level = 2 if body != block else 1
    body = _TRAILING_PARENTHESIS.sub("", body)
    letters = [c for c in body if c.isalpha()]
    if len(letters) < 3 or any(c.islower() for c in letters) or len(body.split()) > 10:
        return None
    return None if body.endswith((".", ",", ";", ":", "!", "?")) else level


def _text_sections(text: str) -> list[Section]:
    """Return the sections of plain text: paragraphs (blocks between blank lines) under the
    capitalised headings standing alone between them; the whole text when it has none."""
    blocks = [b.strip("\n") for b in re.split(r"\n[ \t]*\n", text) if b.strip()]
    levels = [_text_heading(b.strip()) for b in blocks]
    if not any(levels[1:]):  # a first line in capitals alone is the title, not a section
        return [Section(text)]
    builder = SectionBuilder()
    for n, (block, level) in enumerate(zip(blocks, levels, strict=True)):
        if level is not None and n > 0:
            builder.heading(level, block.strip())
        else:
            builder.add(block)
    return builder.finish()


def _load_markdown(path: Path, raw: bytes) -> Loaded:
    import frontmatter

    try:
        post = frontmatter.loads(_decode(path, raw))
    except yaml.YAMLError as exc:
        raise DocumentError(path, f"front matter is not valid YAML ({_first_line(exc)})") from exc
    html = render_markdown(post.content)  # raw HTML in Markdown is shown as text, never run
    first_h1, sections, _ = sections_from_html(html)
    return first_h1, sections, dict(post.metadata)


def _load_html(path: Path, raw: bytes) -> Loaded:
    """Read the page's metadata, then only its main content (trafilatura), headings kept."""
    import trafilatura
    from bs4 import BeautifulSoup

    page = _decode(path, raw)
    soup = BeautifulSoup(page, "html.parser")
    meta = html_metadata(soup)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    # trafilatura decides what is the article; the page's own tags give its structure, since
    # trafilatura sometimes drops the headings of short pages.
    main = trafilatura.extract(
        page,
        output_format="txt",
        include_tables=True,
        include_comments=False,
        include_images=False,
        include_links=False,
        include_formatting=False,
        favor_recall=True,
        deduplicate=False,
    )
    # Compared without spaces: the page's tags and trafilatura may space a block's words apart differently.
    article = "".join((main or "").split())
    first_h1, sections, _ = sections_from_html(page, keep=lambda text: "".join(text.split()) in article)
    if not article or not sections:  # tiny pages: trafilatura finds no article
        first_h1, sections, _ = sections_from_html(page)
    if not meta.get("date"):  # a byline such as "Published: 4 October 2019" outside the article
        meta = merge_date(meta, date_from_lines(soup.get_text("\n").splitlines()))
    return meta.pop("title", "") or title or first_h1, sections, meta


def _load_pdf(path: Path, raw: bytes) -> Loaded:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if b"%PDF-" not in raw[:1024]:
        raise DocumentError(path, "not a PDF (no %PDF header); is it another format renamed .pdf?")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(path, "the PDF is encrypted; save an unprotected copy and ingest that")
        pages = [page.extract_text() or "" for page in reader.pages]
        info = reader.metadata or {}
    except DocumentError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(path, f"the PDF is corrupt or unreadable ({_first_line(exc)})") from exc
    except Exception as exc:  # pypdf raises assorted errors on damaged files
        if "decrypt" in str(exc).lower() or "crypt" in type(exc).__name__.lower():
            raise DocumentError(
                path, "the PDF is encrypted; save an unprotected copy and ingest that"
            ) from exc
        raise DocumentError(path, f"the PDF is corrupt or unreadable ({_first_line(exc)})") from exc
    sections = pdf_sections(path, pages)
    meta: dict[str, Any] = {}
    if info.get("/Author"):
        meta["publisher"] = str(info["/Author"])
    first_heading = next((s.heading.split(" > ")[0] for s in sections if s.heading), "")
    first = next((s.text for s in sections if s.text.strip()), "")
    title = str(info.get("/Title") or "") or first_heading or _title_from_text(first)
    return title, sections, meta


def _load_docx(path: Path, raw: bytes) -> Loaded:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError) as exc:
        raise DocumentError(path, f"not a readable Word document ({_first_line(exc)})") from exc
    except Exception as exc:  # zipfile.BadZipFile and lxml errors on damaged files
        raise DocumentError(path, f"not a readable Word document ({_first_line(exc)})") from exc
    builder = SectionBuilder()
    title = ""
    for para in document.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        text = para.text.strip()
        if not text:
            continue
        if style == "Title":
            title = title or text
        elif style.startswith("Heading"):
            level = int(style.split()[-1]) if style.split()[-1].isdigit() else 1
            title = title or (text if level == 1 else "")
            builder.heading(level, text)
        else:
            builder.add(text)
    for table in document.tables:
        for row in table.rows:
            builder.add(" | ".join(cell.text.strip() for cell in row.cells))
    props = document.core_properties
    meta: dict[str, Any] = {}
    if props.author:
        meta["publisher"] = props.author
    return props.title or title, builder.finish(), meta


LOADERS: dict[str, Callable[[Path, bytes], Loaded]] = {
    ".docx": _load_docx,
    ".htm": _load_html,
    ".html": _load_html,
    ".markdown": _load_markdown,
    ".md": _load_markdown,
    ".pdf": _load_pdf,
    ".txt": _load_text,
}


# -- shared pieces -----------------------------------------------------------------------------


def _decode(path: Path, raw: bytes) -> str:
    """Return the text of ``raw``: UTF-8 first, then the encoding charset-normalizer detects."""
    from charset_normalizer import from_bytes

    utf16 = raw.startswith((b"\xff\xfe", b"\xfe\xff"))
    if b"\x00" not in raw:
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            pass
    best = None if b"\x00" in raw and not utf16 else from_bytes(raw).best()
    if best is None:
        raise DocumentError(
            path,
            "not text: the file holds binary data (NUL or control bytes); "
            f"export it as one of {supported()} and ingest that",
        )
    return str(best)


def _read_sidecar(path: Path) -> dict[str, Any]:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        data = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DocumentError(sidecar, f"not valid YAML ({_first_line(exc)})") from exc
    if not isinstance(data, dict):
        raise DocumentError(sidecar, "must be a YAML mapping such as 'trust: East London'")
    return data


def _normalise(meta: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """Keep the known metadata keys as strings, and derive ``year`` from ``date``."""
    out: dict[str, Any] = {}
    url = next((meta[k] for k in URL_ALIASES if meta.get(k)), None)
    meta = {**meta, "original_url": url}
    for key in METADATA_KEYS:
        value = meta.get(key)
        if value is None or value == "":
            continue
        if key == "date":
            value = _parse_date(value, path)
            out["year"] = int(value[:4])
        out[key] = " ".join(str(value).split())
    return out


def _parse_date(value: Any, path: Path) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", text):
        return text
    raise DocumentError(path, f"date {text!r} is not a date; write it as YYYY-MM-DD")


def _title_from_text(text: str) -> str:
    for line in _lines(text)[:4]:
        if line.startswith(("•", "* ", "- ")):
            continue  # a standfirst bullet, not a headline
        candidate = line.lstrip("•*-# ").strip()
        if len(candidate.split()) >= 4 and len(candidate) <= 150:
            return candidate
    return ""


def _title_from_last_line(text: str) -> str:
    """Return the last line when it reads as a headline (scraped pages often end with one)."""
    lines = _lines(text)
    last = lines[-1] if len(lines) > 1 else ""
    headline = 4 <= len(last.split()) <= 16 and last[:1].isupper()
    return last if headline and not last.endswith((".", ",", ";", ":", "”", '"')) else ""


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.name


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def iter_files(root: Path) -> Iterator[Path]:
    """Yield the files under ``root`` that Casebook can read, in a stable order."""
    readable, _ = walk(root)
    yield from readable


def walk(root: Path) -> tuple[list[Path], list[Path]]:
    """Return the readable files under ``root`` and the other files found there.

    Hidden files and folders, metadata sidecars and the folder's access policy are neither.
    """
    readable: list[Path] = []
    unsupported: list[Path] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel) or not path.is_file():
            continue
        if path.name.endswith(SIDECAR_SUFFIX) or rel == (POLICY_NAME,):
            continue
        (readable if path.suffix.lower() in LOADERS else unsupported).append(path)
    return readable, unsupported
