"""Answers as HTML and Markdown for the chat window.

Everything that comes from a document (titles, passages, quoted sentences, metadata) is escaped
here, so a document holding ``<script>`` or ``<img onerror=...>`` shows that text and runs nothing.
The answer keeps its structure: paragraphs, ``- `` list lines, ``[n]`` markers (made links to the
cited passage) and a last paragraph of gap notes (shown as a calm "Not in the library" note).

Links are relative to the app's root (``documents/...``, no leading slash), so Casebook works
mounted under a sub-path of an intranet.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

from assistant.answers import Answer, Citation
from assistant.glossary import unexpanded

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")
_MARKER = re.compile(r"\\\[(\d+)\\\]")
_RAW_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_LINE_MARKER = re.compile(r"\s*\[(\d+)\]\s*$")  # the marker ending a list line
SEARCHING = '<span class="cb-spinner" aria-hidden="true"></span> Searching the library...'


def escape_markdown(text: str) -> str:
    """Return ``text`` safe to show in a Markdown view: HTML escaped, Markdown syntax inert."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def rewritten(question: str, search_query: str) -> bool:
    """Return True when ``search_query`` is a rewrite of ``question`` (e.g. a follow-up given its
    subject), not just the question with acronym meanings appended as one trailing "(...)"."""
    if not search_query or not search_query.strip():
        return False
    query = " ".join(search_query.split())
    if query != " ".join(question.split()):
        query = unexpanded(query)
    return query.casefold() != " ".join(question.split()).casefold()


def document_url(citation: Citation) -> str:
    """Return the link that opens the cited passage, relative to the app's root."""
    return citation.url.lstrip("/")


def web_url(url: str | None) -> str | None:
    """Return ``url`` when it is a web address (never ``javascript:`` or a file path), else None."""
    return url if url and url.strip().lower().startswith(("https://", "http://")) else None


GAPS = "Not in the library: "  # before the parts of a question the answer leaves unanswered


def answer_paragraphs(answer: Answer) -> list[str]:
    """Return the answer's paragraphs without its notes of what is unanswered (the chat and the
    export show those as one line, ``GAPS`` and the parts)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", answer.text.strip()) if p.strip()]
    if answer.unanswered and paragraphs and not answer.abstained and not _RAW_MARKER.search(paragraphs[-1]):
        paragraphs.pop()
    return paragraphs


def answer_markdown(answer: Answer) -> str:
    """Return the chat bubble for an answer: its paragraphs and lists with linked [n], then sources."""
    links = {c.n: (document_url(c), c.title) for c in answer.citations}
    paragraphs = answer_paragraphs(answer)
    gaps = ""
    if answer.unanswered:
        parts = "; ".join(escape_markdown(u) for u in answer.unanswered)
        gaps = _boxed(f"{GAPS}{parts}")
    blocks = []
    if answer.notice:
        blocks.append(f"*{escape_markdown(answer.notice)}*")
    for number, paragraph in enumerate(paragraphs):
        text = _paragraph(paragraph, links)
        blocks.append(_boxed(text) if answer.abstained and number == 0 else text)
    if gaps:
        blocks.append(gaps)
    if rewritten(answer.question, answer.search_query):
        blocks.append(f"*Searched for: {escape_markdown(answer.search_query)}*")
    if answer.citations:
        sources = ["**Sources**"]
        for c in answer.citations:
            where = f" — {escape_markdown(c.location)}" if c.location else ""
            sources.append(f"{c.n}. [{escape_markdown(c.title)}]({links[c.n][0]}){where}")
        blocks.append("\n".join(sources))
    return "\n\n".join(blocks)


def _boxed(markdown: str) -> str:
    """Return ``markdown`` in the note box; the blank lines let it be read as Markdown, not as the
    raw text of an HTML block (which would show its escapes: "out\\-of\\-area")."""
    return f'<div class="cb-gap">\n\n{markdown}\n\n</div>'


def _paragraph(paragraph: str, links: dict[int, tuple[str, str]]) -> str:
    """Return one paragraph escaped, its "- " lines kept as a list and its markers as links.

    A run of list lines citing one source shows its marker once, on the run's last line (a list
    of 23 trusts from one passage is not 23 "[1]"s); ``Answer.text`` keeps one on every line.
    """
    raw = paragraph.strip().splitlines()
    ends = [_LINE_MARKER.search(line) if line.lstrip().startswith("- ") else None for line in raw]
    for k, end in enumerate(ends[:-1]):
        if end and ends[k + 1] and end.group(1) == ends[k + 1].group(1):
            raw[k] = raw[k][: end.start()]
    lines = []
    for line in raw:
        item = line.lstrip()
        if item.startswith("- "):
            lines.append("- " + _linked(escape_markdown(item[2:].strip()), links))
        else:
            lines.append(_linked(escape_markdown(line.strip()), links))
    if any(line.startswith("- ") for line in lines) and not lines[0].startswith("- "):
        first = next(i for i, line in enumerate(lines) if line.startswith("- "))
        lines.insert(first, "")  # a list needs a blank line after the sentence that leads it
    return "\n".join(lines)


def _linked(escaped: str, links: dict[int, tuple[str, str]]) -> str:
    """Return escaped text with each known ``[n]`` marker made a link to its passage, titled by its
    document ("Source 1: Cutting out-of-area placements"); the chat page makes the title the
    link's name for a screen reader (Gradio's sanitiser drops an aria-label written here)."""

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in links:
            return match.group(0)
        url, title = links[n]
        name = html.escape(f"Source {n}: {title}")
        return f'<a class="cb-ref" href="{html.escape(url)}" title="{name}">[{n}]</a>'

    return _MARKER.sub(link, escaped)


MENTIONS = "Documents that mention the subject; none of them answers the question."


def sources_html(answer: Answer | None) -> str:
    """Return the source cards of an answer: title, metadata, location, passage, quoted part."""
    if answer is None:
        return '<div class="cb-empty cb-waiting">The passages an answer quotes appear here.</div>'
    if not answer.citations:
        return '<div class="cb-empty">No passage is quoted for this message.</div>'
    asked = " ".join(answer.question.split())
    asked = asked if len(asked) <= 160 else asked[:160].rsplit(" ", 1)[0] + "…"
    head = f'<div class="cb-sources-for">For: {html.escape(asked)}</div>'
    if answer.abstained:  # the documents that name the subject: not evidence of an answer
        head += f'<div class="cb-sources-for">{MENTIONS}</div>'
    return head + "\n".join(_card(c) for c in answer.citations)


def catalogue_html(documents: list[dict[str, Any]]) -> str:
    """Return the list of the documents a user may read: title (opening the document), then its
    publisher, year, trust and type."""
    if not documents:
        return '<div class="cb-empty">The library is empty.</div>'
    items = []
    for d in documents:
        url = html.escape(f"documents/{quote(str(d['doc_id']))}")
        year = int(d["year"]) if isinstance(d.get("year"), int | float) else d.get("year")
        facts = [d.get("publisher"), year, d.get("trust"), d.get("document_type")]
        shown = " · ".join(html.escape(str(f)) for f in dict.fromkeys(f for f in facts if f))
        items.append(
            f'<li><a href="{url}" target="_blank" rel="noopener">{html.escape(str(d["title"]))}</a>'
            + (f'<span class="cb-meta">{shown}</span>' if shown else "")
            + "</li>"
        )
    return f'<ul class="cb-catalogue">{"".join(items)}</ul>'


def _card(c: Citation) -> str:
    url = html.escape(document_url(c))
    meta = [c.metadata.get("trust"), c.publisher, c.date, c.metadata.get("document_type"), c.location]
    facts = [html.escape(str(m)) for m in dict.fromkeys(m for m in meta if m)]
    original = web_url(c.original_url)
    if original:
        facts.append(
            f'<a class="cb-original" href="{html.escape(original)}" target="_blank" '
            'rel="noopener noreferrer">original</a>'
        )
    return (
        f'<article class="cb-card" id="source-{c.n}" data-n="{c.n}">'
        f'<div class="cb-card-head"><span class="cb-n">{c.n}</span>'
        f'<a class="cb-title" href="{url}" target="_blank" rel="noopener">{html.escape(c.title)}</a></div>'
        f'<div class="cb-meta">{" · ".join(facts)}</div>'
        f'<blockquote class="cb-passage">{highlight(c.text, c.quoted)}</blockquote>'
        f'<a class="cb-open" href="{url}" target="_blank" rel="noopener">Open the passage in its document</a>'
        "</article>"
    )


_LIST_DASH = re.compile(r"^(\s*(?:<mark>)?)[-*] (?=\S)")


def highlight(text: str, quoted: tuple[str, ...]) -> str:
    """Return ``text`` escaped, with the sentences the answer quoted wrapped in <mark>."""
    out = html.escape(text)
    for sentence in sorted(set(quoted), key=len, reverse=True):
        escaped = html.escape(sentence)
        out = out.replace(escaped, f"<mark>{escaped}</mark>", 1)
    # A list item's "- " (as extracted from a PDF or Markdown list) shows as a bullet.
    return "<br>".join(_LIST_DASH.sub(r"\1• ", line) for line in out.split("\n"))
