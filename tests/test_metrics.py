"""Metrics: ranks, fact recall, abstention and gates on hand-made runs, checked against ranx."""

from __future__ import annotations

import math

import pytest

from eval import metrics as m

# Three queries: relevant at ranks 2 and 4; relevant never retrieved; relevant first.
RUNS = {
    "q1": (["a", "b", "c", "d"], {"b", "d"}),
    "q2": (["x", "y"], {"z"}),
    "q3": (["m", "n"], {"m"}),
}


def test_rank_metrics_match_hand_computed_values() -> None:
    ranking, relevant = RUNS["q1"]
    assert m.first_hit_rank(ranking, relevant) == 2
    assert m.hit_at(ranking, relevant, 1) == 0.0
    assert m.hit_at(ranking, relevant, 3) == 1.0
    assert m.reciprocal_rank(ranking, relevant) == 0.5
    assert m.reciprocal_rank(ranking, relevant, k=1) == 0.0
    ideal = 1 + 1 / math.log2(3)
    assert m.ndcg_at(ranking, relevant, 10) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert m.ndcg_at(ranking, relevant, 10) == pytest.approx(0.650921, abs=1e-6)
    assert m.recall_at(ranking, relevant, 2) == 0.5
    assert m.recall_at(ranking, relevant, 10) == 1.0

    ranking, relevant = RUNS["q2"]
    assert m.first_hit_rank(ranking, relevant) is None
    assert (m.reciprocal_rank(ranking, relevant), m.ndcg_at(ranking, relevant, 10)) == (0.0, 0.0)
    assert m.ndcg_at(*RUNS["q3"], 10) == 1.0


def test_rank_metrics_agree_with_ranx() -> None:
    from ranx import Qrels, Run, evaluate

    qrels = Qrels({q: dict.fromkeys(relevant, 1) for q, (_, relevant) in RUNS.items()})
    run = Run({q: {doc: 10.0 - i for i, doc in enumerate(ranking)} for q, (ranking, _) in RUNS.items()})
    ranx_scores = evaluate(qrels, run, ["hit_rate@1", "hit_rate@3", "mrr", "ndcg@10", "recall@10"])

    def mean(fn, *args) -> float:
        return sum(fn(ranking, relevant, *args) for ranking, relevant in RUNS.values()) / len(RUNS)

    ours = {
        "hit_rate@1": mean(m.hit_at, 1),
        "hit_rate@3": mean(m.hit_at, 3),
        "mrr": mean(m.reciprocal_rank),
        "ndcg@10": mean(m.ndcg_at, 10),
        "recall@10": mean(m.recall_at, 10),
    }
    assert ours == pytest.approx({k: float(v) for k, v in ranx_scores.items()}, abs=1e-9)
    assert ours["hit_rate@1"] == pytest.approx(1 / 3)
    assert ours["mrr"] == pytest.approx(0.5)


def test_fact_recall_counts_groups_with_any_alternative_case_insensitively() -> None:
    text = "The crisis house was run with the VOLUNTARY sector [1]."
    facts = [["crisis house"], ["third sector", "voluntary sector"], ["3.5m"]]
    assert m.fact_recall(text, facts) == pytest.approx(2 / 3)
    assert m.missing_facts(text, facts) == [("3.5m",)]
    assert m.fact_recall(text, []) is None


def test_abstention_positive_is_abstained() -> None:
    # (should abstain, did abstain): one right abstention, one missed, one wrong, two right answers.
    decisions = [(True, True), (True, False), (False, True), (False, False), (False, False)]
    scores = m.abstention(decisions)
    assert (scores.precision, scores.recall, scores.accuracy) == (0.5, 0.5, 0.6)
    nothing_abstained = m.abstention([(False, False), (True, False)])
    assert (nothing_abstained.precision, nothing_abstained.recall) == (None, 0.0)


def test_gates_give_one_exact_line_per_metric_below_its_bar() -> None:
    metrics = {"hit@3": 0.8136, "mrr": 0.849, "fact_recall": 0.7, "abstention_precision": None}
    bars = {"hit@3": 0.85, "mrr": 0.85, "fact_recall": 0.7, "abstention_precision": 0.9}
    assert m.failed_gates(metrics, bars) == [
        "hit@3 0.81 < 0.85 (--min-hit3)",
        "mrr 0.8490 < 0.85 (--min-mrr)",
        "abstention_precision n/a < 0.90 (--min-abstention-precision): nothing to measure it on",
    ]


def test_percentile_interpolates_and_is_none_without_values() -> None:
    assert m.percentile([10.0, 20.0, 30.0, 40.0], 50) == 25.0
    assert m.percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
    assert m.percentile([], 50) is None
