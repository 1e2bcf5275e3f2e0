"""Metrics: retrieval ranks, fact recall, abstention and latency, and the ``--min-*`` gates.

A ranking is a list of document keys, best first, each document once; ``relevant`` is the set
of keys a right answer comes from. Gains are binary and nDCG is the linear-gain form trec_eval
computes, so the numbers match ranx (checked in tests/test_metrics.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MetricInfo:
    """How one metric is named in tables, what it means, and the gate flag that bars it."""

    key: str
    label: str
    meaning: str
    gate: str | None = None


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("hit@1", "hit@1", "share of answerable questions whose top document is an expected source",
               "--min-hit1"),
    MetricInfo("hit@3", "hit@3", "share with an expected source among the top 3 documents", "--min-hit3"),
    MetricInfo("hit@5", "hit@5", "share with an expected source among the top 5 documents"),
    MetricInfo("mrr", "MRR", "mean of 1/rank of the first expected source (0 when not in the top 10)",
               "--min-mrr"),
    MetricInfo("ndcg@10", "nDCG@10", "ranking quality of the top 10 documents against all expected sources",
               "--min-ndcg10"),
    MetricInfo("recall@10", "recall@10", "share of expected sources found in the top 10 documents"),
    MetricInfo("fact_recall", "fact recall",
               "share of expected facts (any alternative, case-insensitive) found in the answer text",
               "--min-fact-recall"),
    MetricInfo("citation_correctness", "citation correctness",
               "share of citations in answers to answerable questions that point into an expected source",
               "--min-citation-correctness"),
    MetricInfo("lead_rate", "lead rate",
               "share of answered answerable questions whose first quoted sentence holds an expected fact",
               "--min-lead-rate"),
    MetricInfo("partial_answer_rate", "partial-answer rate",
               "share of partly answerable questions whose answer lists an unanswered part",
               "--min-partial-answer-rate"),
    MetricInfo("false_gap_rate", "false-gap rate",
               "share of answered answerable questions whose answer calls more parts unanswered "
               "than the question set expects (any part, when the library answers it all)"),
    MetricInfo("abstention_precision", "abstention precision",
               "share of abstentions that were on unanswerable questions", "--min-abstention-precision"),
    MetricInfo("abstention_recall", "abstention recall",
               "share of unanswerable questions on which Casebook abstained", "--min-abstention-recall"),
    MetricInfo("abstention_accuracy", "abstention accuracy",
               "share of all questions where answering or abstaining was the right call"),
    MetricInfo("latency_p50_ms", "latency p50 (ms)", "median time to answer one question"),
    MetricInfo("latency_p95_ms", "latency p95 (ms)", "95th-percentile time to answer one question"),
)  # fmt: skip
METRIC_INFO = {m.key: m for m in METRICS}
LOWER_IS_BETTER = frozenset({"latency_p50_ms", "latency_p95_ms", "false_gap_rate"})


def first_hit_rank(ranking: Sequence[str], relevant: set[str]) -> int | None:
    """Return the 1-based rank of the first relevant document, or None when none is ranked."""
    return next((rank for rank, key in enumerate(ranking, start=1) if key in relevant), None)


def hit_at(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    """Return 1.0 when a relevant document is in the top ``k``, else 0.0."""
    return float(any(key in relevant for key in ranking[:k]))


def reciprocal_rank(ranking: Sequence[str], relevant: set[str], k: int | None = None) -> float:
    """Return 1/rank of the first relevant document within the top ``k`` (all when None), or 0."""
    rank = first_hit_rank(ranking[:k] if k else ranking, relevant)
    return 1.0 / rank if rank else 0.0


def ndcg_at(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    """Return nDCG@k with binary gains: DCG over the ideal DCG of ``len(relevant)`` hits."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, key in enumerate(ranking[:k], start=1) if key in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def recall_at(ranking: Sequence[str], relevant: set[str], k: int) -> float:
    """Return the share of relevant documents found in the top ``k``."""
    if not relevant:
        return 0.0
    return len(set(ranking[:k]) & relevant) / len(relevant)


def missing_facts(text: str, facts: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """Return the fact groups none of whose alternatives appears in ``text`` (case-insensitive)."""
    lowered = text.lower()
    return [tuple(group) for group in facts if not any(alt.lower() in lowered for alt in group)]


def first_sentence(answer_text: str) -> str:
    """Return the first quoted sentence of an answer: the text up to its first ``[n]`` marker."""
    head, marker, _ = answer_text.partition("[")
    return head if marker else ""


def fact_recall(text: str, facts: Sequence[Sequence[str]]) -> float | None:
    """Return the share of fact groups found in ``text``, or None when there are no facts."""
    if not facts:
        return None
    return 1.0 - len(missing_facts(text, facts)) / len(facts)


@dataclass(frozen=True)
class Abstention:
    """Abstention as a classifier whose positive is "abstained"."""

    precision: float | None
    recall: float | None
    accuracy: float | None


def abstention(decisions: Sequence[tuple[bool, bool]]) -> Abstention:
    """Score (should abstain, did abstain) pairs; a share with nothing to divide by is None."""
    tp = sum(1 for should, did in decisions if should and did)
    abstained = sum(1 for _, did in decisions if did)
    should = sum(1 for s, _ in decisions if s)
    right = sum(1 for s, did in decisions if s == did)
    return Abstention(
        precision=tp / abstained if abstained else None,
        recall=tp / should if should else None,
        accuracy=right / len(decisions) if decisions else None,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the ``q``-th percentile (linear interpolation), or None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def mean(values: Sequence[float]) -> float | None:
    """Return the mean, or None for no values."""
    return sum(values) / len(values) if values else None


def failed_gates(metrics: Mapping[str, float | None], bars: Mapping[str, float]) -> list[str]:
    """Return one line per metric below its bar, e.g. ``hit@3 0.81 < 0.85 (--min-hit3)``."""
    lines = []
    for key, bar in bars.items():
        info = METRIC_INFO[key]
        value = metrics.get(key)
        if value is None:
            lines.append(f"{key} n/a < {bar:.2f} ({info.gate}): nothing to measure it on")
        elif value < bar:
            shown = f"{value:.2f}" if f"{value:.2f}" != f"{bar:.2f}" else f"{value:.4f}"
            lines.append(f"{key} {shown} < {bar:.2f} ({info.gate})")
    return lines
