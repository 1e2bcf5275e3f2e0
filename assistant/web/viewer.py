"""The source viewer: a library document as a readable, sanitised page, scrolled to a cited passage.

A citation links here (``documents/<doc_id>?passage=P&q=i,j#cited``). The page shows the document
as text for every format: Markdown rendered without its front matter, HTML sanitised by nh3, plain
text escaped, PDF and Word as the text Casebook extracted. The quoted sentences of passage P are
wrapped in ``<mark>``, the first with ``id="cited"`` so the link scrolls to it.

Library files are untrusted: every piece of their text is escaped or sanitised, and the page is
sent with a Content-Security-Policy that allows no script at all.
"""

from __future__ import annotations

import bisect
import functools
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag
from fastapi.responses import HTMLResponse

from assistant.evidence import ROW, first_cell
from vectorstore import CasebookError, Chunk
from vectorstore.sentences import split_sentences

log = logging.getLogger(__name__)
_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
)
DOC_ID = re.compile(r"[0-9a-f]{16}")
# Page furniture and anything active: removed with its content (the same furniture ingestion drops).
_DROPPED = {
    "script", "style", "template", "noscript", "nav", "header", "footer", "iframe", "object",
    "embed", "svg", "math", "form", "button", "select", "textarea", "title", "head", "canvas",
}  # fmt: skip
_BLOCKS = (
    "p", "li", "td", "th", "pre", "blockquote", "dd", "dt", "figcaption", "caption",
    "h1", "h2", "h3", "h4", "h5", "h6", "div", "section", "article", "main", "body",
)  # fmt: skip
_CONTAINERS = {"div", "section", "article", "main", "body"}
_FIRST_WORDS = 6


def headers(origins: Sequence[str] = ()) -> dict[str, str]:
    """Return the viewer's headers: a policy allowing no script, framed only by Casebook itself and
    ``origins`` (the intranet pages of ``--allowed-origins``, which embed the chat and its links)."""
    return {
        "Content-Security-Policy": _CSP.format(ancestors=" ".join(["'self'", *origins])),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def document_response(
    chunks: Sequence[Chunk], passage: str | None, q: str | None, *, origins: Sequence[str] = ()
) -> HTMLResponse:
    """Return the viewer page for the document whose stored chunks are ``chunks``, framable by
    ``origins``."""
    first = chunks[0]
    path = Path(first.source)
    if not path.is_file():
        return not_found_response(first.doc_id, origins=origins)
    cited = _cited_chunk(chunks, passage)
    page = cited.page if cited is not None else None
    soup = BeautifulSoup(render_body(path), "html.parser")
    _drop_title(soup, first.title)
    box = _mark(soup, cited, _indexes(q))
    return HTMLResponse(_page(first, str(soup), box, page, path.suffix.lower()), headers=headers(origins))


def not_found_response(doc_id: str, *, origins: Sequence[str] = ()) -> HTMLResponse:
    """Return the 404 page: one line, in the viewer's style."""
    shown = doc_id if DOC_ID.fullmatch(doc_id) else "with that id"
    line = f"No document {shown} in the library: it may have been removed or re-ingested."
    return HTMLResponse(
        _shell("Not found", f'<p class="cb-missing">{html.escape(line)}</p>'), 404, headers(origins)
    )


def render_body(path: Path) -> str:
    """Return the document at ``path`` as a sanitised HTML fragment."""
    stat = path.stat()
    return _render_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _render_cached(source: str, _mtime: int, _size: int) -> str:
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return sanitise(_markdown_html(_read(path)))
    if suffix in (".html", ".htm"):
        return sanitise(_read(path))
    if suffix == ".txt":
        return _paragraphs_html(_read(path))
    return _extracted_html(path)


def sanitise(markup: str) -> str:
    """Return ``markup`` with nothing that can run, load or submit: no script, style, frames, forms,
    event handlers, javascript: URLs or external images; links get rel="noopener noreferrer"."""
    import nh3

    cleaned = nh3.clean(
        markup,
        tags=set(nh3.ALLOWED_TAGS) - _DROPPED,
        clean_content_tags=_DROPPED,
        attribute_filter=_allowed_attribute,
        link_rel="noopener noreferrer",
    )
    soup = BeautifulSoup(cleaned, "html.parser")
    for image in soup.find_all("img"):
        if image.get("src"):
            continue
        # An offline app shows no external images: keep what the image said, if anything.
        alt = str(image.get("alt") or "").strip()
        image.replace_with(f"[image: {alt}]" if alt else "")
    return str(soup)


def _allowed_attribute(tag: str, name: str, value: str) -> str | None:
    if name == "src":
        return value if value.startswith("data:image/") else None
    if name == "href":
        return value if value.lower().startswith(("http://", "https://", "mailto:")) else None
    return value


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig", errors="replace")


def _markdown_html(text: str) -> str:
    import frontmatter

    from ingest.markup import render_markdown

    try:
        content = frontmatter.loads(text).content
    except Exception:  # an unreadable front matter block is still never shown as the document
        content = re.sub(r"\A---\s*\n.*?\n---\s*\n", "", text, flags=re.S)
    # The same renderer as ingestion, so the stored passages match the page; raw HTML is text.
    return render_markdown(content)


def _paragraphs_html(text: str) -> str:
    """Return plain text as paragraphs, its runs of "- " lines as lists."""
    out = []
    for paragraph in (p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()):
        lines = paragraph.splitlines()
        if len(lines) > 1 and all(_ITEM.match(line) for line in lines):
            items = "".join(f"<li>{html.escape(_ITEM.sub('', line))}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        else:
            out.append(f"<p>{html.escape(paragraph)}</p>")
    return "".join(out)


_ITEM = re.compile(r"^\s*[-•*]\s+")


def _extracted_html(path: Path) -> str:
    """Return the text Casebook extracts from a PDF or Word file, under its pages or headings."""
    # The viewer is part of the web app, the composition root: it may read files the ingest way.
    from ingest import load

    try:
        sections = load(path).sections
    except CasebookError as exc:  # changed or damaged since ingestion: the stored passage still shows
        log.warning("viewer_unreadable source=%s error=%s", path, exc)
        return '<p class="cb-missing">Casebook can no longer read this file; open the original above.</p>'
    parts: list[str] = []
    last_heading = last_page = None
    for section in sections:
        # A PDF's page starts where it does; its headings ("Rating changes at the seven trusts",
        # the section an answer cites) show within the pages, as a Word file's do.
        if section.page is not None and section.page != last_page:
            parts.append(f'<h2 class="cb-page">Page {section.page}</h2>')
            last_page = section.page
        if section.heading and section.heading != last_heading:
            trail = section.heading.split(" > ")
            level = 3 if section.page is not None else min(len(trail) + 1, 6)  # under its page's h2
            parts.append(f"<h{level}>{html.escape(trail[-1])}</h{level}>")
        last_heading = section.heading
        parts.append(_paragraphs_html(section.text))
    return "".join(parts)


# -- the cited passage -------------------------------------------------------------------------


def _cited_chunk(chunks: Sequence[Chunk], passage: str | None) -> Chunk | None:
    """Return the cited passage; ``passage=3,5`` (one citation quoting two passages of a
    document) gives them joined, so ``q`` counts sentences across both."""
    wanted = [int(p) for p in (passage or "").split(",") if p.strip().isdigit()][:_MAX_PASSAGES]
    found = [c for p in dict.fromkeys(wanted) for c in chunks if c.position == p]
    if not found:
        return None
    return replace(found[0], text="\n\n".join(c.text for c in found)) if len(found) > 1 else found[0]


def _indexes(q: str | None) -> list[int] | None:
    if not q:
        return None
    found = [int(part) for part in q.split(",") if part.strip().isdigit()]
    return sorted(set(found)) or None


_MAX_PASSAGES = 8


class _Text:
    """The page's text with all whitespace removed, mapped back to its text nodes."""

    def __init__(self, soup: BeautifulSoup) -> None:
        self.nodes: list[NavigableString] = []
        self.starts: list[int] = []
        self.offsets: list[list[int]] = []
        pieces: list[str] = []
        total = 0
        for node in soup.find_all(string=True):
            kept = [i for i, ch in enumerate(node) if not ch.isspace()]
            if not kept:
                continue
            self.nodes.append(node)
            self.starts.append(total)
            self.offsets.append(kept)
            pieces.append("".join(node[i] for i in kept))
            total += len(kept)
        self.flat = "".join(pieces)

    def find(self, text: str, start: int = 0) -> tuple[int, int] | None:
        key = _squeeze(text)
        at = self.flat.find(key, start) if key else -1
        if at < 0 and start:
            at = self.flat.find(key)
        return (at, at + len(key)) if at >= 0 else None

    def node_at(self, flat_index: int) -> int:
        return bisect.bisect_right(self.starts, flat_index) - 1

    def segments(self, begin: int, end: int) -> list[tuple[int, int, int]]:
        """Return (node, raw start, raw end) pieces covering flat text [begin, end)."""
        out = []
        for k in range(self.node_at(begin), len(self.nodes)):
            start = self.starts[k]
            if start >= end:
                break
            kept = self.offsets[k]
            lo, hi = max(begin, start) - start, min(end, start + len(kept)) - start
            if lo < hi:
                # A range that runs on into the next text node takes this node's spaces with it,
                # so a sentence crossing tags reads as one highlight.
                raw_lo = 0 if begin < start else kept[lo]
                raw_hi = len(self.nodes[k]) if end > start + len(kept) else kept[hi - 1] + 1
                out.append((k, raw_lo, raw_hi))
        return out


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _drop_title(soup: BeautifulSoup, title: str) -> None:
    """Remove the document's own first heading when it repeats the title the page already shows."""
    heading = soup.find(["h1", "h2", "h3", "h4", "h5", "h6"])
    if isinstance(heading, Tag) and heading.name == "h1" and _squeeze(heading.get_text()) == _squeeze(title):
        heading.decompose()


def _mark(soup: BeautifulSoup, chunk: Chunk | None, indexes: list[int] | None) -> str:
    """Mark the cited sentences in ``soup``; return the fallback passage box ('' when not needed)."""
    if chunk is None:
        return ""
    sentences = split_sentences(chunk.text) or [chunk.text]
    if indexes is not None:
        chosen = [sentences[i] for i in indexes if i < len(sentences)]
        sentences = chosen or sentences
    text = _Text(soup)
    # Search from where the passage starts, so a sentence repeated elsewhere is marked here.
    anchor = text.find(chunk.text[:200]) or text.find(" ".join(chunk.text.split()[:_FIRST_WORDS]))
    origin = anchor[0] if anchor else 0
    found = [(s, text.find(s, origin)) for s in sentences]
    ranges = [r for _, r in found if r is not None]
    # A quote the page does not hold word for word (a table row, printed with its columns' names)
    # marks its block instead: beside found sentences, only a row, paragraph or item, never a
    # whole container.
    missing = [s for s, r in found if r is None]
    blocks = list(dict.fromkeys(b for b in (_block_of(text, s, origin) for s in missing) if b is not None))
    if ranges:
        blocks = [b for b in blocks if b.name not in _CONTAINERS]
        _wrap(text, _merged(ranges))
    for n, block in enumerate(blocks):
        _mark_block(soup, block, first=n == 0 and not ranges)
    return "" if ranges or blocks else _passage_box(chunk.text, sentences)


def _wrap(text: _Text, ranges: list[tuple[int, int]]) -> None:
    pieces: dict[int, list[tuple[int, int]]] = {}
    first = None
    for begin, end in ranges:
        for k, lo, hi in text.segments(begin, end):
            first = (k, lo) if first is None else first
            pieces.setdefault(k, []).append((lo, hi))
    for k, spans in pieces.items():
        node = text.nodes[k]
        value = str(node)
        out: list[Any] = []
        cursor = 0
        for lo, hi in _merged(spans):
            if lo > cursor:
                out.append(NavigableString(value[cursor:lo]))
            mark = Tag(name="mark")
            if first == (k, lo):
                mark["id"] = "cited"
            mark.string = value[lo:hi]
            out.append(mark)
            cursor = hi
        if cursor < len(value):
            out.append(NavigableString(value[cursor:]))
        node.replace_with(*out)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def _block_of(text: _Text, sentence: str, origin: int) -> Tag | None:
    """Return the closest block element holding the sentence's first words; for a table row
    ("Quarter: Q3 2022/23 | Median wait: 11 weeks"), the row whose first cell it starts with."""
    if ROW in sentence:
        first = first_cell(sentence)
        # The cell follows its column's name, which may itself hold ": ".
        cells = [first] + [first[m.end() :] for m in re.finditer(r": ", first)]
        for cell in cells:
            found = text.find(cell, origin)
            row = text.nodes[text.node_at(found[0])].find_parent("tr") if found else None
            if isinstance(row, Tag):
                return row
    words = sentence.split()
    for count in (_FIRST_WORDS, 3):
        found = text.find(" ".join(words[:count]), origin) if len(words) >= count else None
        if found is not None:
            node = text.nodes[text.node_at(found[0])]
            block = node.find_parent(_BLOCKS)
            return block if isinstance(block, Tag) else None
    return None


def _mark_block(soup: BeautifulSoup, block: Tag, *, first: bool) -> None:
    """Mark the whole of ``block``; a table row is marked cell by cell (a mark may not hold cells)."""
    for n, cell in enumerate(block.find_all(["td", "th"]) if block.name == "tr" else [block]):
        mark = soup.new_tag("mark", attrs={"class": "cb-block"})
        if first and n == 0:
            mark["id"] = "cited"
        for child in list(cell.contents):
            mark.append(child.extract())
        cell.append(mark)


def _passage_box(passage: str, quoted: Sequence[str]) -> str:
    text = html.escape(passage)
    for sentence in quoted:
        escaped = html.escape(sentence)
        text = text.replace(escaped, f"<mark>{escaped}</mark>", 1)
    return (
        '<aside class="cb-passage" id="cited"><p class="cb-passage-head">The cited passage '
        f"(it could not be found in the page below)</p><p>{text}</p></aside>"
    )


# -- the page ----------------------------------------------------------------------------------


@functools.cache
def _css() -> str:
    return files("assistant.web").joinpath("viewer.css").read_text(encoding="utf-8")


def _shell(title: str, main: str, header_extra: str = "") -> str:
    return (
        '<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{html.escape(title)} · Casebook</title><style>{_css()}</style></head><body>"
        '<header class="cb-bar"><a class="cb-brand" href="../">Casebook</a>'
        f'<span class="cb-bar-note">{html.escape(title)}</span></header>'
        f'<main class="cb-main"><h1 class="cb-title">{html.escape(title)}</h1>{header_extra}{main}</main>'
        "</body></html>"
    )


def _page(chunk: Chunk, body: str, box: str, page: int | None, suffix: str) -> str:
    meta = chunk.metadata
    bits = [html.escape(str(meta[k])) for k in ("publisher", "date", "document_type") if meta.get(k)]
    if meta.get("trust"):
        bits.append(html.escape(str(meta["trust"])))
    original = str(meta.get("original_url") or "")
    if original.lower().startswith(("http://", "https://")):
        bits.append(
            f'<a href="{html.escape(original)}" rel="noopener noreferrer" target="_blank">'
            "original web page</a>"
        )
    file_href = f"{chunk.doc_id}/file" + (f"#page={page}" if page and suffix == ".pdf" else "")
    label = {".pdf": "Open the PDF", ".docx": "Download the Word file"}.get(suffix, "Open the original file")
    if page and suffix == ".pdf":
        label += f" at page {page}"
    line = " · ".join(bits)
    extra = (
        (f'<p class="cb-meta">{line}</p>' if line else "")
        + f'<p class="cb-file"><a href="{html.escape(file_href)}" rel="noopener noreferrer" '
        f'target="_blank">{label}</a> <span>({html.escape(Path(chunk.source).name)})</span></p>' + box
    )
    kind = "cb-text" if suffix in (".txt", ".pdf", ".docx") else "cb-rendered"
    article = f'<article class="cb-doc {kind}">{body}</article>'
    return _shell(chunk.title or Path(chunk.source).name, article, extra)
