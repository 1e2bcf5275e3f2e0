"""Cleaning: page furniture, scraping artefacts and date lines taken out of a document's text.

Staff read quoted sentences as evidence, so nothing that is part of a page rather than of the
article may reach a passage. Cleaning works on lines, in this order:

1. scraping artefacts are repaired (a colon glued to the next word, stray ``**``, ``•`` bullets);
2. date lines ("Published: 15 March 2018", "Last updated: - 29 June 2018", a bare "09.02.17" at
   the top) are removed, and give the document's date when it has none (published beats
   updated; day first, as in the UK);
3. lines matching the furniture patterns of a :class:`Boilerplate` file are removed;
4. a trailing line that repeats the document's title is removed.

Across one ingest run, :func:`repeated_lines` finds lines printed by several documents (a site's
footer, a standing pull-quote) and :func:`drop_lines` removes them before chunking.
Nothing here is specific to one site: the patterns live in ``ingest/boilerplate.txt``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vectorstore.errors import DocumentError

if TYPE_CHECKING:  # loaders imports this module; the types are only needed for hints
    from ingest.loaders import Document, Section

DEFAULT_BOILERPLATE = Path(__file__).with_name("boilerplate.txt")
# A line seen in this many documents of one run is site furniture, whatever the folders.
REPEATED_IN_RUN = 3

_LABEL_PREFIX = "label:"
_LIST_MARK = re.compile(r"^(?:[-•*–]|\d+[.)])\s+")
_GLUED_COLON = re.compile(r"(?<=[a-z]):(?=[A-Z][a-z])")
_STRAY_BOLD = re.compile(r"\*{2,}\s*")
_BULLET = re.compile(r"^[•▪●◦‣]\s*")
_DATE_LABEL = re.compile(
    r"\b(?P<label>(?:page\s+)?last\s+(?:updated|reviewed|modified)|(?:first\s+)?published|"
    r"updated|posted)\b\s*(?::|on\b)?\s*[-–]?\s*",
    re.IGNORECASE,
)
_BARE_DATE = re.compile(
    r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}|"
    r"[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{4}-\d{2}-\d{2}"
)
_TOP_LINES = 3  # a bare date counts as the page's date only among its first lines
_MAX_DATE_LINE_WORDS = 14
_BYLINE_SEPARATOR = re.compile(r"\s+[|·•]\s+")
_MAX_BYLINE_FIELD_WORDS = 6
_MONTH_YEAR = re.compile(
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{4}"
)


@dataclass(frozen=True)
class Boilerplate:
    """Furniture line patterns, read from a file the user can edit."""

    source: str
    patterns: tuple[re.Pattern[str], ...]
    labels: tuple[re.Pattern[str], ...]

    @classmethod
    def load(cls, path: Path | None = None) -> Boilerplate:
        """Return the patterns in ``path`` (default: the shipped ``ingest/boilerplate.txt``)."""
        path = Path(path) if path is not None else DEFAULT_BOILERPLATE
        try:
            stat = path.stat()
        except OSError as exc:
            raise DocumentError(path, f"cannot read the boilerplate patterns ({exc.strerror})") from exc
        return _load_boilerplate(path, stat.st_mtime_ns, stat.st_size)

    def is_furniture(self, line: str) -> bool:
        """Return True when ``line`` (list marker aside) is page furniture."""
        bare = _LIST_MARK.sub("", line.strip()).strip()
        return bool(bare) and any(p.fullmatch(bare) for p in self.patterns)

    def is_label(self, line: str) -> bool:
        """Return True when ``line`` is a label whose value is on the next line."""
        bare = _LIST_MARK.sub("", line.strip()).strip()
        return bool(bare) and any(p.fullmatch(bare) for p in self.labels)


@lru_cache(maxsize=8)
def _load_boilerplate(path: Path, mtime_ns: int, size: int) -> Boilerplate:
    """Read a patterns file; cached on its path, time and size so an edited file is re-read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(path, f"cannot read the boilerplate patterns ({exc})") from exc
    patterns: list[re.Pattern[str]] = []
    labels: list[re.Pattern[str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        target = patterns
        if line.lower().startswith(_LABEL_PREFIX):
            target, line = labels, line[len(_LABEL_PREFIX) :].strip()
        try:
            target.append(re.compile(line, re.IGNORECASE))
        except re.error as exc:
            raise DocumentError(
                path, f"line {number} is not a regular expression ({exc}); fix it or start it with #"
            ) from exc
    return Boilerplate(str(path), tuple(patterns), tuple(labels))


# -- one document ------------------------------------------------------------------------------


def clean_sections(
    title: str, sections: Sequence[Section], boilerplate: Boilerplate
) -> tuple[list[Section], str | None]:
    """Return the sections with furniture removed, and the date their date lines gave (ISO)."""
    dates: dict[str, dt.date] = {}
    cleaned = []
    for index, section in enumerate(sections):
        lines = [repair(line) for line in section.text.splitlines()]
        lines = _take_dates(lines, dates, top=index == 0)
        lines = _drop_furniture(lines, boilerplate)
        lines = rejoin_tables(lines)
        cleaned.append(replace(section, text=_join(lines)))
    _drop_trailing_title(cleaned, title)
    found = dates.get("published") or dates.get("updated") or dates.get("bare")
    return [s for s in cleaned if s.text.strip()], found.isoformat() if found else None


def date_from_lines(lines: Iterable[str]) -> str | None:
    """Return the ISO date that labelled date lines among ``lines`` give (published first)."""
    dates: dict[str, dt.date] = {}
    _take_dates([line for line in lines if line.strip()], dates, top=False, bylines=True)
    found = dates.get("published") or dates.get("updated")
    return found.isoformat() if found else None


def repair(line: str) -> str:
    """Return ``line`` with conservative fixes for scraping artefacts."""
    line = _GLUED_COLON.sub(": ", line)
    line = _STRAY_BOLD.sub("", line) if "**" in line else line
    stripped = line.lstrip()
    if _BULLET.match(stripped):
        line = "- " + _BULLET.sub("", stripped)
    return line.rstrip()


def _take_dates(
    lines: list[str], dates: dict[str, dt.date], *, top: bool, bylines: bool = False
) -> list[str]:
    """Remove date lines from ``lines``, recording the first published/updated/bare date; a byline
    only at the top (a table's row may hold a date), or anywhere when ``bylines``."""
    kept: list[str] = []
    skip_next = False
    seen_text = 0
    for i, line in enumerate(lines):
        if skip_next:
            skip_next = False
            continue
        bare = _LIST_MARK.sub("", line.strip()).strip()
        if not bare:
            kept.append(line)
            continue
        seen_text += 1
        labelled = _labelled_dates(bare)
        if labelled is None and (bylines or (top and seen_text <= _TOP_LINES)):
            labelled = _byline_dates(bare)
        if labelled is not None:
            if not any(labelled.values()) and i + 1 < len(lines):
                value = _parse_date(_LIST_MARK.sub("", lines[i + 1].strip()).strip())
                if value is not None:  # "Last updated:" with its date on the next line
                    kind = next(iter(labelled))
                    labelled[kind] = value
                    skip_next = True
            for kind, value in labelled.items():
                if value is not None:
                    dates.setdefault(kind, value)
            if any(labelled.values()) or skip_next:
                continue
        elif top and seen_text <= _TOP_LINES and _BARE_DATE.fullmatch(bare):
            value = _parse_date(bare)
            if value is not None:
                dates.setdefault("bare", value)
                continue
        kept.append(line)
    return kept


def _labelled_dates(line: str) -> dict[str, dt.date | None] | None:
    """Return {"published"|"updated": date or None} for a date line, or None for other text."""
    matches = list(_DATE_LABEL.finditer(line))
    if not matches or matches[0].start() != 0 or len(line.split()) > _MAX_DATE_LINE_WORDS:
        return None
    found: dict[str, dt.date | None] = {}
    for n, match in enumerate(matches):
        end = matches[n + 1].start() if n + 1 < len(matches) else len(line)
        value = line[match.end() : end].strip(" -–|,;")
        date = _BARE_DATE.search(value)
        if value and (date is None or len(_BARE_DATE.sub("", value).split()) > 2):
            return None  # "Published research shows..." is a sentence, not a date line
        kind = "published" if "published" in match.group("label").lower() else "updated"
        parsed = _parse_date(date.group(0)) if date else None
        if found.get(kind) is None:
            found[kind] = parsed
    return found


def _byline_dates(line: str) -> dict[str, dt.date | None] | None:
    """Return the date of a byline, a line of short fields one of which is a date ("Case study |
    Marshbrook NHS Foundation Trust | Published 14 June 2023", "Safer Wards Network | Improvement
    resource | September 2020"), or None for other text: a field with another figure ("Inspection:
    14 to 16 May 2024") is content."""
    fields = [f.strip(" *_") for f in _BYLINE_SEPARATOR.split(line.strip(" *_"))]
    found: dict[str, dt.date | None] = {}
    for field in fields:
        labelled = _labelled_dates(field)
        if labelled and any(labelled.values()):
            found.update({k: v for k, v in labelled.items() if v is not None})
        elif _MONTH_YEAR.fullmatch(field) or _BARE_DATE.fullmatch(field):
            found["bare"] = _parse_date(field) or _month_date(field)
        elif re.search(r"\d", field) or len(field.split()) > _MAX_BYLINE_FIELD_WORDS:
            return None
    return found if len(fields) > 1 and any(found.values()) else None


def _month_date(text: str) -> dt.date | None:
    """Return the first day of a month written "July 2025"."""
    try:
        return dt.datetime.strptime(" ".join(text.split()), "%B %Y").date()
    except ValueError:
        return None


def _parse_date(text: str) -> dt.date | None:
    from dateutil import parser

    if not _BARE_DATE.fullmatch(text.strip()):
        return None
    try:
        return parser.parse(text, dayfirst=True, yearfirst=False).date()
    except (ValueError, OverflowError):
        return None


def _drop_furniture(lines: list[str], boilerplate: Boilerplate) -> list[str]:
    kept: list[str] = []
    after_label = False
    for line in lines:
        if after_label and _is_value(line):
            after_label = False
            continue
        after_label = boilerplate.is_label(line)
        if after_label or boilerplate.is_furniture(line):
            continue
        kept.append(line)
    return kept


_MAX_CELL_WORDS = 8  # a longer line is prose, not a table cell
_MIN_ROWS = 3


def rejoin_tables(lines: list[str]) -> list[str]:
    """Return ``lines`` with each table that was flattened one cell a line (as text scraped from a
    web page prints it) set back as rows, ``cell | cell | cell``, the way HTML tables are read.

    A table is a run of short lines (blank lines between allowed) whose values repeat at a fixed
    lag, the number of columns ("Requires Improvement", "Good" row after row); its rows start
    where the first column holds values that do not repeat (the trusts). Lines before and after
    the rows stay as they were. A run with no such pattern (a list of names) is left alone.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _is_cell(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and (not lines[j].strip() or _is_cell(lines[j])):
            j += 1
        cells = [line.strip() for line in lines[i:j] if line.strip()]
        table = _as_rows(cells)
        if table is None:
            out.extend(lines[i:j])
        else:
            before, rows, after = table
            out += [*before, "", *(" | ".join(row) for row in rows), "", *after, ""]
        i = j
    return out


def _is_cell(line: str) -> bool:
    text = line.strip()
    return (
        0 < len(text.split()) <= _MAX_CELL_WORDS
        and not text.endswith((".", "!", "?", ":", ";", ","))
        and not re.match(r"^(?:[-*•#>]|\d+[.)])\s", text)
        and "|" not in text
    )


def _as_rows(cells: list[str]) -> tuple[list[str], list[list[str]], list[str]] | None:
    n = len(cells)
    best: tuple[int, int] | None = None  # (columns, values repeated at that lag)
    for k in range(2, 7):
        if n < _MIN_ROWS * k:
            break
        repeats = sum(cells[j] == cells[j + k] for j in range(n - k))
        if repeats >= _MIN_ROWS - 1 and (best is None or repeats > best[1]):
            best = (k, repeats)
    if best is None:
        return None
    k = best[0]

    def key_repeats(offset: int) -> int:  # the first column names each row once (a trust)
        firsts = [cells[t] for t in range(offset, n - k + 1, k)]
        return len(firsts) - len(set(firsts))

    offset = min(range(k), key=lambda o: (key_repeats(o), o))
    rows = [cells[t : t + k] for t in range(offset, n - k + 1, k)]
    if len(rows) < _MIN_ROWS:
        return None
    return cells[:offset], rows, cells[offset + len(rows) * k :]


def _is_value(line: str) -> bool:
    words = line.strip().split()
    return 0 < len(words) <= 4 and not line.rstrip().endswith((".", "?", "!", ":"))


def _drop_trailing_title(sections: list[Section], title: str) -> None:
    if not sections or not title:
        return
    lines = sections[-1].text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    others = [line for line in lines[:-1] if line.strip()]
    # A headline repeated at the foot of a page has no full stop; a closing sentence is content.
    headline = not lines[-1].rstrip().endswith((".", "!", "?", "”", '"'))
    if others and headline and _same(lines[-1], title) and (len(sections) > 1 or not _same(others[0], title)):
        sections[-1] = replace(sections[-1], text=_join(lines[:-1]))


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()).strip(" .") == " ".join(b.lower().split()).strip(" .")


def _join(lines: list[str]) -> str:
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# -- one run -----------------------------------------------------------------------------------


def repeated_lines(documents: Iterable[Document]) -> frozenset[str]:
    """Return the lines that are site furniture because several documents of the run print them.

    A line counts when it appears in at least ``REPEATED_IN_RUN`` documents, or in at least half
    of the documents of one folder that holds three or more.
    """
    in_run: Counter[str] = Counter()
    by_folder: dict[str, list[set[str]]] = defaultdict(list)
    for document in documents:
        lines = {_key(line) for s in document.sections for line in s.text.splitlines()}
        lines.discard("")
        in_run.update(lines)
        by_folder[str(Path(document.source).parent)].append(lines)
    repeated = {line for line, n in in_run.items() if n >= REPEATED_IN_RUN}
    for docs in by_folder.values():
        if len(docs) >= 3:
            counts = Counter(line for lines in docs for line in lines)
            repeated |= {line for line, n in counts.items() if n >= 2 and n * 2 >= len(docs)}
    return frozenset(repeated)


def drop_lines(document: Document, lines: frozenset[str]) -> Document:
    """Return ``document`` without the given lines (as found by :func:`repeated_lines`)."""
    if not lines:
        return document
    sections = []
    for section in document.sections:
        kept = [line for line in section.text.splitlines() if _key(line) not in lines]
        if any(line.strip() for line in kept):
            sections.append(replace(section, text=_join(kept)))
    return replace(document, sections=tuple(sections)) if sections else document


def _key(line: str) -> str:
    return " ".join(line.split()).lower()


def merge_date(meta: dict[str, Any], found: str | None) -> dict[str, Any]:
    """Return ``meta`` with ``date`` set from the text when no date was given."""
    if found and not meta.get("date"):
        return {**meta, "date": found}
    return meta
