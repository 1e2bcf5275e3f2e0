"""PDF layout: text lines with their font size and weight, turned into headed sections.

Library choice: pdfminer.six (MIT) reads each character's font name and size, which is what
heading detection needs. PyMuPDF would do the same faster, but it is AGPL-licensed, a problem for
NHS trusts that redistribute Casebook; pdfplumber is a thin MIT wrapper over pdfminer.six that
adds nothing needed here. pypdf (BSD) still opens the file first, so that the errors for a
renamed, encrypted or corrupt file stay exactly as they were.

A line is a heading when its font is larger than the body text (the size most characters are
set in), or when it is wholly bold, short and without closing punctuation. Larger sizes are
higher levels. Each heading starts a new :class:`Section` carrying the heading path and the page;
body lines are rejoined into sentences and a heading is never glued into one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from ingest.documents import Section

_LIST_ITEM = re.compile(r"^\s*(?:[-•*–▪]|\d+[.)])\s+")
_SIZE_STEP = 0.5  # points larger than the body text that make a heading
_MAX_BOLD_HEADING = 120  # characters: a longer bold line is emphasis, not a heading
_PARAGRAPH_GAP = 1.3  # a step down this many times the usual line pitch starts a paragraph


@dataclass(frozen=True)
class Line:
    """One text line of a PDF page with the font it is mostly set in."""

    text: str
    page: int
    size: float
    bold: bool
    top: float
    bottom: float
    left: float


def read_lines(path: Path) -> list[Line]:
    """Return the text lines of the PDF at ``path`` in reading order."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTChar, LTTextContainer, LTTextLine

    lines: list[Line] = []
    for number, page in enumerate(extract_pages(str(path), laparams=LAParams()), start=1):
        for box in page:
            if not isinstance(box, LTTextContainer):
                continue
            for item in box:
                if not isinstance(item, LTTextLine):
                    continue
                chars = [c for c in item if isinstance(c, LTChar) and c.get_text().strip()]
                text = " ".join(item.get_text().split())
                if not chars or not text:
                    continue
                sizes = Counter(round(c.size, 1) for c in chars)
                bold = sum(_is_bold(c.fontname) for c in chars) == len(chars)
                size = sizes.most_common(1)[0][0]
                lines.append(Line(text, number, size, bold, item.y1, item.y0, item.x0))
    return lines


def _is_bold(fontname: str) -> bool:
    name = fontname.lower()
    return any(mark in name for mark in ("bold", "black", "heavy", "semibold", "demi"))


def headed_blocks(lines: list[Line]) -> Iterator[tuple[int, str] | tuple[None, str, int]]:
    """Yield ``(level, heading)`` for headings and ``(None, paragraph, page)`` for body text."""
    if not lines:
        return
    body = Counter()
    for line in lines:
        body[line.size] += len(line.text)
    body_size = body.most_common(1)[0][0]
    heading_sizes = sorted({ln.size for ln in lines if ln.size >= body_size + _SIZE_STEP}, reverse=True)
    pitch = _line_pitch(lines, body_size)

    heading: list[str] = []
    heading_level = 0
    paragraph: list[Line] = []

    def flush() -> Iterator[tuple[None, str, int]]:
        if paragraph:
            yield None, _rejoin([ln.text for ln in paragraph]), paragraph[0].page
            paragraph.clear()

    previous: Line | None = None
    for line in lines:
        level = _heading_level(line, body_size, heading_sizes)
        if level:
            yield from flush()
            continues = previous is not None and heading and previous.page == line.page
            if continues and level == heading_level and line.top <= previous.bottom + 2 * pitch:
                heading.append(line.text)  # a heading wrapped over two lines
            else:
                if heading:
                    yield heading_level, " ".join(heading)
                heading, heading_level = [line.text], level
        else:
            if heading:
                yield heading_level, " ".join(heading)
                heading = []
            new_page = previous is not None and previous.page != line.page
            gap = previous is not None and previous.top - line.top > pitch * _PARAGRAPH_GAP
            if paragraph and _starts_paragraph(line, paragraph, gap=gap, new_page=new_page):
                yield from flush()
            paragraph.append(line)
        previous = line
    yield from flush()
    if heading:
        yield heading_level, " ".join(heading)


def _starts_paragraph(line: Line, paragraph: list[Line], *, gap: bool, new_page: bool) -> bool:
    if gap or _LIST_ITEM.match(line.text):
        return True
    # A line left of a list item's marker ends the item: it is the next paragraph.
    if _LIST_ITEM.match(paragraph[0].text) and line.left < paragraph[0].left - 1:
        return True
    return new_page and paragraph[-1].text.endswith((".", "!", "?", ":"))


def _heading_level(line: Line, body_size: float, heading_sizes: list[float]) -> int:
    if line.size in heading_sizes:
        return heading_sizes.index(line.size) + 1
    if (
        line.bold
        and len(line.text) <= _MAX_BOLD_HEADING
        and not line.text.endswith((".", ",", ";"))
        and not _LIST_ITEM.match(line.text)
    ):
        return len(heading_sizes) + 1
    return 0


def _line_pitch(lines: list[Line], body_size: float) -> float:
    """Return the usual distance from one body line's top to the next one's."""
    steps = Counter(
        round(a.top - b.top)
        for a, b in pairwise(lines)
        if a.page == b.page and a.size == b.size == body_size and 0 < a.top - b.top < 4 * body_size
    )
    return float(steps.most_common(1)[0][0]) if steps else body_size * 1.4


def _rejoin(texts: list[str]) -> str:
    """Join wrapped lines of one paragraph into running text."""
    out = ""
    for text in texts:
        if not out:
            out = text
        elif re.search(r"[A-Za-z]-$", out) and text[:1].islower():
            out += text  # a word hyphenated across the line break
        else:
            out += " " + text
    return out


def pdf_sections(path: Path, pages: list[str]) -> list[Section]:
    """Return one section per heading path and page, from the layout (see ingest.layout)."""
    try:
        lines = read_lines(path)
    except Exception:  # pdfminer fails on some files pypdf reads: keep pypdf's plain text
        lines = []
    if not lines:
        return [Section(_tidy(text), page=n) for n, text in enumerate(pages, start=1)]
    sections: list[Section] = []
    trail: list[tuple[int, str]] = []
    paragraphs: list[str] = []
    page: int | None = None

    def flush() -> None:
        if paragraphs:
            heading = " > ".join(t for _, t in trail) or None
            sections.append(Section("\n\n".join(paragraphs), heading=heading, page=page))
            paragraphs.clear()

    for block in headed_blocks(lines):
        if block[0] is not None:
            flush()
            level, text = block[0], block[1]
            trail = [(lvl, t) for lvl, t in trail if lvl < level] + [(level, text)]
        else:
            if paragraphs and block[2] != page:
                flush()
            if paragraphs and _LIST_ITEM.match(paragraphs[-1]) and _LIST_ITEM.match(block[1]):
                paragraphs[-1] += "\n" + block[1]  # one list, one item a line
            else:
                paragraphs.append(block[1])
            page = block[2]
    flush()
    return sections


def _tidy(text: str) -> str:
    """Rejoin PDF lines broken mid-sentence, keeping paragraph breaks and list items apart."""
    out: list[str] = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if not line:
            if out and out[-1]:
                out.append("")
        elif not out or not out[-1] or _LIST_ITEM.match(line) or _ends_block(out[-1]):
            out.append(line)
        else:
            out[-1] += " " + line
    return "\n".join(out).strip()


def _ends_block(previous: str) -> bool:
    # A short line without closing punctuation is a heading or a table cell, not a wrapped line.
    return len(previous) < 60 and not previous.endswith((".", ",", ";", ":", "-"))
