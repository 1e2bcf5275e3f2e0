"""Answers as HTML and Markdown for the chat window.

Everything that comes from a document (titles, passages, quoted sentences) is escaped here, so
a document holding ``<script>`` or ``<img onerror=...>`` shows that text and runs nothing.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

from assistant.answers import Answer, Citation

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def escape_markdown(text: str) -> str:
    """Return ``text`` safe to show in a Markdown view: HTML escaped, Markdown syntax inert."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def document_url(citation: Citation) -> str:
    """Return the link that opens the cited document (a PDF at the cited page)."""
    url = f"documents/{quote(citation.doc_id)}"
    return f"{url}#page={citation.page}" if citation.page else url


def answer_markdown(answer: Answer) -> str:
    """Return the chat bubble for an answer: the text with [n] markers, then its sources."""
    body = _MARKER.sub(lambda m: f"[{m.group(1)}]", escape_markdown(answer.text))
    lines = []
    if answer.notice:
        lines.append(f"*{escape_markdown(answer.notice)}*\n")
    lines.append(body)
    if answer.search_query and answer.search_query.strip() != answer.question.strip():
        lines.append(f"\n*Searched for: {escape_markdown(answer.search_query)}*")
    if answer.citations:
        lines.append("\n**Sources**")
        for c in answer.citations:
            where = f" — {escape_markdown(c.location)}" if c.location else ""
            lines.append(f"{c.n}. [{escape_markdown(c.title)}]({document_url(c)}){where}")
    return "\n".join(lines)


_MARKER = re.compile(r"\\\[(\d+)\\\]")


def sources_html(answer: Answer | None) -> str:
    """Return the source cards of an answer: title, metadata, location, passage, quoted part."""
    if answer is None:
        return '<div class="cb-empty">Sources of the latest answer appear here.</div>'
    if not answer.citations:
        return '<div class="cb-empty">No sources: the library does not answer this question.</div>'
    return "\n".join(_card(c) for c in answer.citations)


def _card(c: Citation) -> str:
    meta = [c.metadata.get(k) for k in ("trust", "publisher", "date", "document_type")]
    facts = " · ".join(html.escape(str(m)) for m in meta if m)
    where = html.escape(c.location) if c.location else ""
    return (
        f'<div class="cb-card" id="source-{c.n}" data-n="{c.n}">'
        f'<div class="cb-card-head"><span class="cb-n">[{c.n}]</span> '
        f'<a href="{html.escape(document_url(c))}" target="_blank" rel="noopener">'
        f"{html.escape(c.title)}</a></div>"
        f'<div class="cb-meta">{facts}{" · " if facts and where else ""}{where}</div>'
        f'<blockquote class="cb-passage">{highlight(c.text, c.quoted)}</blockquote>'
        "</div>"
    )


def highlight(text: str, quoted: tuple[str, ...]) -> str:
    """Return ``text`` escaped, with the sentences the answer quoted wrapped in <mark>."""
    out = html.escape(text)
    for sentence in sorted(set(quoted), key=len, reverse=True):
        escaped = html.escape(sentence)
        out = out.replace(escaped, f"<mark>{escaped}</mark>", 1)
    return out.replace("\n", "<br>")
