"""Reports of an evaluation run: report.md for people, results.json for machines, terminal tables."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval.metrics import LOWER_IS_BETTER, METRIC_INFO, METRICS
from eval.runner import EvalResults, QuestionResult
from vectorstore import DataError

KIND_COLUMNS = ("hit@1", "hit@3", "mrr", "fact_recall", "abstention_accuracy")


def write_results(results: EvalResults, out_dir: Path) -> tuple[Path, Path]:
    """Write report.md and results.json into ``out_dir`` and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report, data = out_dir / "report.md", out_dir / "results.json"
    report.write_text(render_markdown(results), encoding="utf-8")
    data.write_text(json.dumps(results.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report, data


def load_baseline(path: Path) -> dict[str, float | None]:
    """Return the metrics of a previous results.json; raise DataError when it is not one."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file. Pass the results.json of an earlier casebook eval") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not valid JSON ({exc.msg}, line {exc.lineno}). Pass a results.json"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise DataError(f"{path}: no 'metrics' object. Pass the results.json written by casebook eval")
    return data["metrics"]


def fmt(value: float | None, key: str = "") -> str:
    """Return a metric as shown in tables: ms with one decimal, shares with three, n/a for None."""
    if value is None:
        return "n/a"
    return f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}"


def format_table(metrics: Mapping[str, float | None], baseline: Mapping[str, Any] | None = None) -> str:
    """Return the metrics as an aligned terminal table, with the change vs ``baseline`` if given."""
    width = max(len(info.label) for info in METRICS)
    lines = []
    for info in METRICS:
        line = f"{info.label:<{width}}  {fmt(metrics.get(info.key), info.key):>7}"
        if baseline is not None:
            line += "  " + delta(metrics.get(info.key), baseline.get(info.key), info.key)
        lines.append(line.rstrip())
    return "\n".join(lines)


def delta(value: float | None, before: Any, key: str) -> str:
    """Return the change from ``before`` to ``value``, e.g. ``(was 0.780, +0.034 better)``."""
    if not isinstance(before, int | float):
        return "(not in baseline)"
    if value is None:
        return f"(was {fmt(before, key)})"
    change = value - before
    if abs(change) < (0.05 if key.endswith("_ms") else 5e-4):
        return f"(was {fmt(before, key)}, unchanged)"
    better = (change < 0) if key in LOWER_IS_BETTER else (change > 0)
    shown = f"{change:+.1f}" if key.endswith("_ms") else f"{change:+.3f}"
    return f"(was {fmt(before, key)}, {shown} {'better' if better else 'worse'})"


def deltas(metrics: Mapping[str, float | None], baseline: Mapping[str, Any]) -> dict[str, float | None]:
    """Return each metric's change vs ``baseline`` (None where either side is missing)."""
    out: dict[str, float | None] = {}
    for info in METRICS:
        now, before = metrics.get(info.key), baseline.get(info.key)
        ok = now is not None and isinstance(before, int | float)
        out[info.key] = round(now - before, 4) if ok else None
    return out


def render_markdown(results: EvalResults) -> str:
    """Return report.md: what was run, the metrics with their meaning, per kind, and the failures."""
    setup, rows = results.settings, results.rows
    answerable = sum(1 for r in rows if r.answerable)
    index = setup.get("index") or {}
    retrieval = setup.get("retrieval") or {}
    lines = [
        f"# Casebook evaluation: {Path(results.questions_file).name}",
        "",
        f"- **Questions**: `{results.questions_file}`: {len(rows)} questions, {answerable} answerable, "
        f"{len(rows) - answerable} unanswerable (the library should abstain).",
        f"- **Index**: `{setup.get('data_dir')}`: {setup.get('documents')} documents, "
        f"{setup.get('chunks')} chunks, embedded with {index.get('embedding_model')} "
        f"({index.get('dimension')} dimensions), chunks of {index.get('chunk_tokens')} wordpieces "
        f"with {index.get('chunk_overlap')} overlap.",
        f"- **Answering**: `casebook ask` as configured (answerer: {_answerer(setup)}), top_k "
        f"{setup.get('top_k')}, abstains below similarity {setup.get('min_similarity')}.",
        "- **Retrieval**: "
        + ", ".join(f"{k} {v}" for k, v in retrieval.items())
        + f"; ranking scored on the top {setup.get('search_k')} passages, one entry per document.",
        f"- **Run**: {results.started}, Casebook {setup.get('casebook_version')}. Latency is the "
        "time of one `ask` call, after one warm-up question.",
        "",
        "## Metrics",
        "",
        "Retrieval metrics and fact recall are over answerable questions; abstention over all.",
        "",
        "| metric | value | what it measures |",
        "|---|---:|---|",
    ]
    lines += [f"| {i.label} | {fmt(results.metrics.get(i.key), i.key)} | {i.meaning} |" for i in METRICS]
    lines += ["", "## By kind of question", "", _kind_table(results), ""]
    failures = results.failures
    lines += [f"## What went wrong ({len(failures)} of {len(rows)} questions)", ""]
    if failures:
        lines += ["| id | kind | question | what went wrong |", "|---|---|---|---|"]
        lines += [
            f"| {r.id} | {r.kind} | {_cell(r.question)} | {_cell('; '.join(r.problems))} |" for r in failures
        ]
    else:
        lines.append("Nothing: every question was answered or abstained on as expected.")
    lines += ["", "## Every question", "", _rows_table(rows), ""]
    return "\n".join(lines)


def _kind_table(results: EvalResults) -> str:
    labels = [METRIC_INFO[k].label for k in KIND_COLUMNS]
    lines = ["| kind | questions | " + " | ".join(labels) + " |", "|---|---:|" + "---:|" * len(labels)]
    for kind, values in results.by_kind.items():
        cells = [fmt(values.get(k), k) for k in KIND_COLUMNS]
        lines.append(f"| {kind} | {int(values['questions'] or 0)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _rows_table(rows: tuple[QuestionResult, ...]) -> str:
    lines = [
        "| id | kind | hit rank | abstained | fact recall | cited | ms |",
        "|---|---|---:|---|---:|---|---:|",
    ]
    for r in rows:
        abstained = ("yes" if r.abstained else "no") + ("" if r.abstention_correct else " (wrong)")
        rank = "-" if not r.answerable else str(r.hit_rank or "none")
        cited = ", ".join(r.cited) or "-"
        lines.append(
            f"| {r.id} | {r.kind} | {rank} | {abstained} | {fmt(r.fact_recall)} | {_cell(cited)} | "
            f"{r.latency_ms:.0f} |"
        )
    return "\n".join(lines)


def _answerer(setup: Mapping[str, Any]) -> str:
    if setup.get("llm") in (None, "none"):
        return "extractive, no language model"
    return f"{setup.get('llm')} {setup.get('llm_model') or ''}".strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
