"""``casebook eval``: score Casebook on a question set, or its retrieval on a BEIR dataset.

Registered on the ``casebook`` group by ``assistant.cli``; ``eval`` and ``ingest`` are imported
inside the command, as the composition root does for every command that needs them.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from vectorstore import CasebookError

# --min-* flag (as a parameter name) -> the metric it bars; the flag text is in eval.metrics.METRICS.
GATES = {
    "min_hit1": "hit@1",
    "min_hit3": "hit@3",
    "min_mrr": "mrr",
    "min_ndcg10": "ndcg@10",
    "min_fact_recall": "fact_recall",
    "min_citation_correctness": "citation_correctness",
    "min_lead_rate": "lead_rate",
    "min_partial_answer_rate": "partial_answer_rate",
    "min_abstention_precision": "abstention_precision",
    "min_abstention_recall": "abstention_recall",
}
METHODS = ("hybrid", "rrf", "dense", "bm25")


def _gate_options(func: Any) -> Any:
    for name, metric in reversed(GATES.items()):
        flag = "--" + name.replace("_", "-")
        func = click.option(
            flag, name, type=click.FloatRange(0.0, 1.0), default=None, metavar="X",
            help=f"Exit 1 when {metric} is below X.",
        )(func)  # fmt: skip
    return func


def _methods(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    methods = tuple(m.strip() for m in value.split(",") if m.strip())
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise click.BadParameter(
            f"unknown method {unknown[0] if unknown else value!r}; use some of {','.join(METHODS)}"
        )
    return methods


@click.command("eval")
@click.argument("questions", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index folder. Env: CASEBOOK_DATA_DIR. Default: data/ in the checkout.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for report.md and results.json. Default: DATA_DIR/eval/<questions>-<UTC time>.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="results.json of an earlier run: show each metric's change.",
)
@click.option(
    "--library",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Ingest this folder first (unchanged files are skipped).",
)
@_gate_options
@click.option(
    "--beir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Benchmark retrieval on a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) instead.",
)
@click.option(
    "--methods",
    default="bm25,dense,hybrid",
    show_default=True,
    callback=_methods,
    help=f"With --beir: retrieval methods to score, from {','.join(METHODS)}.",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --beir: keep the corpus index here and reuse it next time (default: a temporary folder).",
)
@click.option(
    "--candidates",
    type=click.IntRange(10, 5000),
    default=100,
    show_default=True,
    help="With --beir: passages each signal ranks (and z-scores) per query; as in `casebook ask`.",
)
def eval_command(
    questions: Path | None,
    data_dir: Path | None,
    as_json: bool,
    out: Path | None,
    baseline: Path | None,
    library: Path | None,
    beir: Path | None,
    methods: tuple[str, ...],
    cache: Path | None,
    candidates: int,
    **gates: float | None,
) -> None:
    """Score Casebook on QUESTIONS (YAML or JSONL), or its retrieval on a BEIR dataset.

    Writes report.md and results.json, prints the metrics, and exits 1 when a metric is below
    its --min-* bar.

    \b
    casebook eval eval/questions/library.yaml --library examples/library
    casebook eval eval/questions/library.yaml --baseline prev/results.json --min-hit3 0.85
    casebook eval --beir ../shared/bench/scifact --cache /tmp/scifact-index --json
    """
    bars = {GATES[name]: bar for name, bar in gates.items() if bar is not None}
    if (questions is None) == (beir is None):
        raise click.UsageError("Give a QUESTIONS file, or --beir DIR (not both).")
    try:
        if beir is not None:
            if bars:
                raise click.UsageError("The --min-* gates apply to a QUESTIONS file, not --beir.")
            _run_beir(beir, data_dir, methods, cache, candidates, as_json)
        else:
            assert questions is not None
            _run_questions(questions, data_dir, as_json, out, baseline, library, bars)
    except CasebookError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)


def _run_questions(
    path: Path,
    data_dir: Path | None,
    as_json: bool,
    out: Path | None,
    baseline_path: Path | None,
    library: Path | None,
    bars: dict[str, float],
) -> None:
    from assistant.cli import build_settings, run_ingest
    from assistant.engine import Casebook
    from eval.metrics import failed_gates
    from eval.questions import load_questions
    from eval.report import deltas, format_table, load_baseline, write_results
    from eval.runner import default_out_dir, run_eval

    questions = load_questions(path)
    baseline = load_baseline(baseline_path) if baseline_path else None
    casebook = Casebook(build_settings(data_dir=data_dir))
    if library is not None:
        report = run_ingest(casebook, [library], progress=True)
        for failure in report.failed:
            click.echo(f"Failed: {failure}", err=True)
        click.echo(f"Library {library}: {report.summary()}", err=True)
    results = run_eval(casebook, questions, questions_file=str(path), progress=True)
    report_md, results_json = write_results(results, out or default_out_dir(casebook.settings.data_dir, path))
    if as_json:
        data = results.to_json()
        if baseline is not None:
            data["baseline_deltas"] = deltas(results.metrics, baseline)
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        counts = results.to_json()["counts"]
        click.echo(
            f"{counts['questions']} questions ({counts['answerable']} answerable, "
            f"{counts['unanswerable']} unanswerable) on {casebook.settings.data_dir}"
        )
        if baseline is not None:
            click.echo(f"Compared with {baseline_path}")
        click.echo(format_table(results.metrics, baseline))
        click.echo(f"{len(results.failures)} questions with problems; see {report_md}")
    click.echo(f"Wrote {report_md} and {results_json}", err=True)
    failed = failed_gates(results.metrics, bars)
    for line in failed:
        click.echo(line, err=True)
    if failed:
        sys.exit(1)


def _run_beir(
    folder: Path,
    data_dir: Path | None,
    methods: tuple[str, ...],
    cache: Path | None,
    candidates: int,
    as_json: bool,
) -> None:
    from assistant.cli import build_settings
    from assistant.engine import Casebook
    from eval.beir import BeirResults, build_index, load_beir, run_beir

    dataset = load_beir(folder)
    settings = build_settings(data_dir=data_dir)
    embedder = Casebook(settings).embedder
    with tempfile.TemporaryDirectory(prefix="casebook-beir-", ignore_cleanup_errors=True) as tmp:
        index_dir = cache or Path(tmp)
        store, seconds, cached = build_index(dataset, index_dir, embedder, progress=True)
        runs, latency = run_beir(dataset, store, embedder, methods, candidates=candidates, progress=True)
        chunks = store.count()
    results = BeirResults(
        dataset=dataset.name,
        runs=runs,
        latency=latency,
        index_seconds=seconds,
        index_cached=cached,
        documents=len(dataset.corpus),
        chunks=chunks,
        queries=sum(1 for q in dataset.queries if q in dataset.qrels),
        candidates=candidates,
    )
    if as_json:
        click.echo(json.dumps(results.to_json()))
        return
    built = f"index reused from {cache}" if cached else f"index built in {seconds:.1f}s"
    click.echo(
        f"{dataset.name}: {results.documents} documents ({chunks} chunks), {results.queries} queries; {built}"
    )
    click.echo(f"{'method':<8} {'nDCG@10':>8} {'Recall@100':>10} {'MRR@10':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for method, scores in runs.items():
        lat = latency[method]
        click.echo(
            f"{method:<8} {scores['ndcg@10']:>8.4f} {scores['recall@100']:>10.4f} {scores['mrr@10']:>7.4f} "
            f"{lat['p50_ms'] or 0:>7.1f} {lat['p95_ms'] or 0:>7.1f}"
        )
