"""Evaluation: question sets, metrics, the runner over ``Casebook.ask``, reports and BEIR benchmarks."""

from eval.beir import BeirDataset, BeirResults, build_index, load_beir, run_beir
from eval.metrics import METRICS, failed_gates
from eval.questions import Question, load_questions
from eval.report import format_table, load_baseline, render_markdown, write_results
from eval.runner import EvalResults, QuestionResult, run_eval

__all__ = [
    "METRICS",
    "BeirDataset",
    "BeirResults",
    "EvalResults",
    "Question",
    "QuestionResult",
    "build_index",
    "failed_gates",
    "format_table",
    "load_baseline",
    "load_beir",
    "load_questions",
    "render_markdown",
    "run_beir",
    "run_eval",
    "write_results",
]
