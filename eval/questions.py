"""Question sets: the YAML or JSONL files of questions an evaluation asks, checked on load.

Each item::

    - id: oap-crisis-house                 # unique
      question: How did trusts reduce out-of-area placements?
      sources: [crisis-house-out-of-area.md]   # file names or document ids; [] = unanswerable
      facts: [[crisis house], [third sector, voluntary sector]]   # optional; inner lists = alternatives
      filters: ['trust=East London']       # optional, as `casebook ask --filter` takes them
      kind: direct                         # optional; default answerable / unanswerable
      unanswered: [the cost of the line]   # optional: parts the library does not answer (kind: partial)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorstore import DataError

KEYS = ("id", "question", "sources", "facts", "filters", "kind", "unanswered")
SUFFIXES = (".yaml", ".yml", ".jsonl")


@dataclass(frozen=True)
class Question:
    """One evaluation question and what a right answer needs."""

    id: str
    question: str
    sources: tuple[str, ...]
    facts: tuple[tuple[str, ...], ...] = ()
    filters: tuple[str, ...] = ()
    kind: str = ""
    unanswered: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """Return True when the library holds the answer (some source is expected)."""
        return bool(self.sources)

    @property
    def partial(self) -> bool:
        """Return True when the library answers only some parts of the question."""
        return bool(self.unanswered)


def load_questions(path: Path) -> list[Question]:
    """Return the questions in a YAML or JSONL file; raise DataError naming the item and the fix."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(
            f"{path}: unknown question file type '{path.suffix or '(none)'}'. "
            "Use a .yaml, .yml or .jsonl file"
        )
    if not path.is_file():
        raise DataError(f"{path}: no such file. Give a question file, e.g. eval/questions/library.yaml")
    text = path.read_text(encoding="utf-8")
    items = _read_jsonl(path, text) if path.suffix.lower() == ".jsonl" else _read_yaml(path, text)
    if not items:
        raise DataError(f"{path}: no questions. Add at least one item with id, question and sources")
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for n, item in enumerate(items, start=1):
        question = _question(path, n, item)
        if question.id in seen:
            raise DataError(
                f"{path}: item {n} (id '{question.id}'): the id is also used by item {seen[question.id]}; "
                "give every question its own id"
            )
        seen[question.id] = n
        questions.append(question)
    return questions


def _read_yaml(path: Path, text: str) -> list[Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(f"{path}: not valid YAML ({where}{problem}). Fix the syntax there") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise DataError(
            f"{path}: expected a list of questions ('- id: ...' items), got a {_kind_of(data)}. "
            "Make each question a '- ' item at the top level"
        )
    return data


def _read_jsonl(path: Path, text: str) -> list[Any]:
    items = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}: line {line_no} is not valid JSON ({exc.msg}). Put one JSON object per line"
            ) from None
    return items


def _question(path: Path, n: int, item: Any) -> Question:
    if not isinstance(item, Mapping):
        raise DataError(
            f"{path}: item {n}: expected a mapping with id, question and sources, got a {_kind_of(item)}"
        )
    raw_id = item.get("id")
    where = f"{path}: item {n}" + (f" (id '{raw_id}')" if raw_id not in (None, "") else "")
    unknown = sorted(str(k) for k in item if k not in KEYS)
    if unknown:
        raise DataError(f"{where}: unknown key '{unknown[0]}'; the keys are {', '.join(KEYS)}")
    if raw_id in (None, ""):
        raise DataError(f"{where}: 'id' is missing; give every question a short unique id")
    question = item.get("question")
    if question is None:
        raise DataError(f"{where}: 'question' is missing; add the question to ask")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: 'question' must be non-empty text, got {question!r}")
    if "sources" not in item:
        raise DataError(f"{where}: 'sources' is missing; list the expected file names, or [] if unanswerable")
    sources = _strings(where, "sources", item["sources"], "a list of file names or document ids, e.g. [a.md]")
    filters = _strings(where, "filters", item.get("filters") or [], "a list of filter expressions")
    facts = _facts(where, item.get("facts") or [])
    unanswered = _strings(
        where, "unanswered", item.get("unanswered") or [], "a list of the parts not answered"
    )
    kind = item.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise DataError(f"{where}: 'kind' must be text, got {kind!r}")
    default_kind = "answerable" if sources else "unanswerable"
    return Question(str(raw_id), question.strip(), sources, facts, filters, kind or default_kind, unanswered)


def _strings(where: str, key: str, value: Any, expected: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise DataError(f"{where}: '{key}' must be {expected}; got {value!r}")
    return tuple(str(v).strip() for v in value)


def _facts(where: str, value: Any) -> tuple[tuple[str, ...], ...]:
    hint = "a list whose items are a phrase or a list of alternative phrases, e.g. [[crisis house], [3.5m]]"
    if not isinstance(value, list):
        raise DataError(f"{where}: 'facts' must be {hint}; got {value!r}")
    groups = []
    for group in value:
        alternatives = group if isinstance(group, list) else [group]
        if not alternatives or not all(isinstance(a, str | int | float) for a in alternatives):
            raise DataError(f"{where}: 'facts' must be {hint}; got the item {group!r}")
        groups.append(tuple(str(a) for a in alternatives))
    return tuple(groups)


def _kind_of(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string"}.get(type(value), type(value).__name__)
