"""Markup: HTML (and Markdown rendered to HTML) turned into sections under heading paths.

Headings give the path (``"Parent > Child"``), list items become ``- item`` lines grouped per
list, table rows become ``cell | cell`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.documents import Section

_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = ("p", "li", "tr", "td", "th", "pre", "blockquote", "dd", "dt", "figcaption", "caption")


class SectionBuilder:
    """Collects paragraphs under a heading path as headings come and go."""

    def __init__(self) -> None:
        self._path: list[tuple[int, str]] = []
        self._paragraphs: list[str] = []
        self._sections: list[Section] = []
        self._in_list = False

    def heading(self, level: int, text: str) -> None:
        self._flush()
        self._path = [(lvl, t) for lvl, t in self._path if lvl < level] + [(level, text)]

    def add(self, text: str) -> None:
        if text:
            self._paragraphs.append(text)
        self._in_list = False

    def add_item(self, text: str) -> None:
        """Add a list item as a ``- item`` line, grouped with the items before it."""
        if not text:
            return
        if self._in_list and self._paragraphs:
            self._paragraphs[-1] += "\n- " + text
        else:
            self._paragraphs.append("- " + text)
        self._in_list = True

    def finish(self) -> list[Section]:
        self._flush()
        return self._sections

    def _flush(self) -> None:
        self._in_list = False
        if self._paragraphs:
            heading = " > ".join(t for _, t in self._path) or None
            self._sections.append(Section("\n\n".join(self._paragraphs), heading=heading))
        self._paragraphs = []


@dataclass(frozen=True)
class Row:
    """A table row as a line of the passage, and the cells it was made from."""

    text: str
    cells: tuple[str, ...]


def table_row(tr: Any, headers: dict[int, list[str]]) -> Row | None:
    """Return a table row as one line, ``cell | cell``; a row under a header row (its cells all
    ``<th>``, or in ``<thead>``) names each cell's column, ``Column: cell | Column: cell``, so that
    the row says what its figures are when quoted alone ("Median wait: referral to start of
    treatment: 11 weeks"). A header row gives no line of its own (None), nor does an empty row."""
    table = tr.find_parent("table")
    key = id(table)
    found = tr.find_all(["td", "th"])
    cells = [element_text(c) for c in found]
    if not any(cells):
        return None
    in_head = tr.find_parent("thead") is not None
    if key not in headers and (in_head or all(c.name == "th" for c in found)):
        headers[key] = cells
        return None
    columns = headers.get(key, [])
    if len(columns) == len(cells):
        parts = [
            f"{column}: {cell}" if column else cell
            for column, cell in zip(columns, cells, strict=True)
            if cell
        ]
    else:
        parts = [cell for cell in cells if cell]
    return Row(" | ".join(parts), tuple(cell for cell in cells if cell))


# The space get_text puts between an inline tag and the punctuation after it: "<b>Debriefs</b>: a".
_TAG_GAP = re.compile(r"(?<=\S) (?=[,.;:!?)\]](?:\s|$))|(?<=[(\[]) (?=\S)")


def element_text(element: Any) -> str:
    """Return an element's text on one line, its tags' words apart ("<li>a</li><li>b</li>": "a b")
    but no space before the punctuation after a tag ("<strong>Debriefs</strong>: a debrief ...")."""
    return _TAG_GAP.sub("", " ".join(element.get_text(" ", strip=True).split()))


# A comment standing alone on its lines (as an HTML block of CommonMark): one comment, never text
# between two ("<!-- a --> text\ntext <!-- b -->" keeps its text).
_COMMENT_BLOCK = re.compile(r"^[ ]{0,3}<!--(?:(?!-->).)*-->[ \t]*$", re.MULTILINE | re.DOTALL)


def render_markdown(content: str) -> str:
    """Return Markdown as HTML, tables included; raw HTML in it is escaped (shown as text, never
    run). Ingestion and the source viewer both render with this, so a passage matches its page."""
    from markdown_it import MarkdownIt

    content = _COMMENT_BLOCK.sub("", content)  # an author's note: no Markdown viewer shows it
    return MarkdownIt("commonmark", {"html": False}).enable("table").render(content)


def sections_from_html(
    html: str, keep: Callable[[str], bool] | None = None
) -> tuple[str, list[Section], dict[str, Any]]:
    """Return (first h1, sections, {}) of an HTML fragment or page.

    ``keep`` says which text blocks belong to the article (default: every block); headings are
    kept only where some kept block follows them.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript", "template"]):
        tag.decompose()
    builder = SectionBuilder()
    first_h1 = ""
    headers: dict[int, list[str]] = {}  # each table's column headings, once its header row is read
    wanted = set(_HEADINGS + _BLOCKS)
    for element in soup.find_all(list(wanted)):
        if any(parent.name in _BLOCKS for parent in element.parents):
            continue  # its text is already part of the enclosing block
        if element.name == "tr":
            row = table_row(element, headers)
            if row and (keep is None or all(keep(c) for c in row.cells)):
                builder.add(row.text)
            continue
        text = element_text(element)
        if keep is not None and element.name not in _HEADINGS and not (text and keep(text)):
            continue
        if element.name in _HEADINGS:
            first_h1 = first_h1 or (text if element.name == "h1" else "")
            builder.heading(int(element.name[1]), text)
        elif element.name == "li":
            builder.add_item(text)
        else:
            builder.add(text)
    sections = builder.finish()
    if not sections and soup.get_text(strip=True):
        sections = [Section(" ".join(soup.get_text(" ", strip=True).split()))]
    return first_h1, sections, {}


def html_metadata(soup: Any) -> dict[str, Any]:
    meta = {
        str(tag.get("name")).lower(): str(tag.get("content")).strip()
        for tag in soup.find_all("meta")
        if tag.get("name") and tag.get("content")
    }
    og_url = soup.find("meta", attrs={"property": "og:url"})
    canonical = soup.find("link", rel="canonical")
    for found in (canonical.get("href") if canonical else None, og_url.get("content") if og_url else None):
        if found and str(found).startswith(("http://", "https://")):
            meta.setdefault("original_url", str(found).strip())
            break
    return meta
