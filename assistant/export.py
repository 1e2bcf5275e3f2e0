"""A conversation as a Markdown document: every question, its answer, and the references.

A reference names what a reader can find again — title, publisher, date, page or section, and
the document's own web address — never ``Citation.source``, which is a path on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.answers import Citation
from assistant.conversation import Turn
from assistant.rendering import GAPS, MENTIONS, answer_paragraphs, rewritten

TITLE = "# Casebook conversation"
NOTE = "Answers quoted from the library; each [n] refers to the references under its answer."


def conversation_markdown(turns: Sequence[Turn]) -> str:
    """Return every turn of a conversation as Markdown, oldest first, each with its references."""
    lines = [TITLE, "", NOTE, ""]
    for turn in turns:
        answer = turn.answer
        lines += [f"## {turn.question}", ""]
        if rewritten(turn.question, answer.search_query):
            lines += [f"*Searched for: {answer.search_query}*", ""]
        if answer.notice:
            lines += [f"*{answer.notice}*", ""]
        lines += ["\n\n".join(answer_paragraphs(answer)), ""]
        if answer.unanswered:
            lines += [GAPS + "; ".join(answer.unanswered), ""]
        if answer.citations:  # an answer's sources, or the documents an abstention names
            lines += (
                ["### References", ""]
                if not answer.abstained
                else ["### Documents that mention it", "", MENTIONS, ""]
            )
            lines += [reference(c) for c in answer.citations]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def reference(citation: Citation) -> str:
    """Return one numbered reference: title, publisher, date, location and original address."""
    bits = [citation.title, citation.publisher, citation.date, citation.location]
    line = f"{citation.n}. " + " · ".join(b for b in bits if b)
    original = citation.original_url
    return f"{line} · <{original}>" if original and _is_web(original) else line


def _is_web(url: str) -> bool:
    return url.lower().startswith(("https://", "http://"))
