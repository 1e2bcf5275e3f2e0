"""The evaluation runner: every question through ``Casebook.ask``, scored against its expectations.

Each question is answered exactly as ``casebook ask`` answers it (that call alone is timed), and
the ranking of the query it searched (``retriever.search``, k=10) is scored per document: a passage
belongs to an expected source when its file name, path ending or document id is that source, and
a document counts once, at its first rank.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from assistant import Answer, Casebook
from eval import metrics as m
from eval.questions import Question
from vectorstore import DataError, FilterError, Passage

log = logging.getLogger(__name__)

SEARCH_K = 10


@dataclass(frozen=True)
class QuestionResult:
    """How Casebook did on one question."""

    id: str
    kind: str
    question: str
    sources: tuple[str, ...]
    ranking: tuple[str, ...]
    hit_rank: int | None
    abstained: bool
    fact_recall: float | None
    missing_facts: tuple[tuple[str, ...], ...]
    cited: tuple[str, ...]
    citations: int
    citations_correct: int
    best_similarity: float
    latency_ms: float
    answer: Mapping[str, Any]
    leads: bool | None = None
    expected_gaps: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.sources)

    @property
    def partial(self) -> bool:
        """Return True when the question set marks parts of the question as not in the library."""
        return bool(self.expected_gaps)

    @property
    def false_gaps(self) -> int:
        """Return how many more parts the answer called unanswered than the question set expects."""
        return max(0, len(self.gaps) - len(self.expected_gaps))

    @property
    def abstention_correct(self) -> bool:
        """Return True when Casebook abstained exactly when the library cannot answer."""
        return self.abstained != self.answerable

    @property
    def problems(self) -> list[str]:
        """Return what went wrong, one short phrase each (empty when all went right)."""
        top = self.ranking[0] if self.ranking else "nothing"
        if not self.answerable:
            if self.abstained:
                return []
            return [f"should have abstained (top was {top}, similarity {self.best_similarity:.2f})"]
        expected = " or ".join(self.sources)
        found: list[str] = []
        if self.hit_rank is None:
            found.append(f"expected {expected}, top was {top}")
        elif self.hit_rank > 1:
            found.append(f"expected {expected} first, it ranked {self.hit_rank} (top was {top})")
        if self.abstained:
            found.append(
                f"abstained, but {expected} holds the answer (similarity {self.best_similarity:.2f})"
            )
            return found
        found += [f"missing fact: {' / '.join(group)}" for group in self.missing_facts]
        if self.leads is False:
            found.append("the first sentence holds no expected fact")
        if self.partial and not self.gaps:
            found.append("did not say which part the library does not answer")
        if self.false_gaps:
            expected = f", where {len(self.expected_gaps)} expected" if self.partial else ""
            found.append(f"claimed {len(self.gaps)} gap(s){expected}: {'; '.join(self.gaps)}")
        wrong = [c for c in self.cited if c not in self.sources]
        if wrong:
            found.append(f"cited {', '.join(wrong)}")
        return found

    def to_json(self) -> dict[str, Any]:
        """Return the row as plain JSON types."""
        row = asdict(self)
        row["missing_facts"] = [list(g) for g in self.missing_facts]
        row["answer"] = dict(self.answer)
        row.update(
            answerable=self.answerable,
            abstention_correct=self.abstention_correct,
            partial=self.partial,
            false_gaps=self.false_gaps,
            problem="; ".join(self.problems),
        )
        return row


@dataclass(frozen=True)
class EvalResults:
    """One evaluation run: what was run, the metrics, and the per-question rows."""

    questions_file: str
    started: str
    settings: Mapping[str, Any]
    metrics: Mapping[str, float | None]
    by_kind: Mapping[str, Mapping[str, float | int | None]]
    rows: tuple[QuestionResult, ...]

    @property
    def failures(self) -> list[QuestionResult]:
        """Return the rows where something went wrong."""
        return [r for r in self.rows if r.problems]

    def to_json(self) -> dict[str, Any]:
        """Return the results as written to results.json."""
        answerable = sum(1 for r in self.rows if r.answerable)
        return {
            "questions_file": self.questions_file,
            "started": self.started,
            "counts": {
                "questions": len(self.rows),
                "answerable": answerable,
                "unanswerable": len(self.rows) - answerable,
            },
            "settings": dict(self.settings),
            "metrics": dict(self.metrics),
            "by_kind": {k: dict(v) for k, v in self.by_kind.items()},
            "rows": [r.to_json() for r in self.rows],
        }


def run_eval(
    casebook: Casebook, questions: Sequence[Question], *, questions_file: str = "", progress: bool = False
) -> EvalResults:
    """Ask every question, score each answer and ranking, and return the run's results."""
    casebook.require_index()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    filters = {q.id: _filters(casebook, q, questions_file) for q in questions}
    if questions:
        # The first ask loads the BM25 index and warms the model; keep that out of the latencies.
        casebook.ask(questions[0].question, filters=filters[questions[0].id])
    rows = []
    for q in tqdm(questions, desc="Evaluating", unit="question", disable=not progress):
        began = time.perf_counter()
        answer = casebook.ask(q.question, filters=filters[q.id])
        latency_ms = (time.perf_counter() - began) * 1000
        # Rank what ask searched (e.g. with acronyms expanded), so the ranking is the answer's.
        passages = casebook.retriever.search(answer.search_query or q.question, SEARCH_K, filters[q.id])
        rows.append(score(q, answer, passages, latency_ms, top_k=casebook.settings.top_k))
        log.info("eval id=%s hit_rank=%s abstained=%s", q.id, rows[-1].hit_rank, answer.abstained)
    return EvalResults(
        questions_file=questions_file,
        started=started,
        settings=describe_settings(casebook),
        metrics=summarise(rows),
        by_kind=by_kind(rows),
        rows=tuple(rows),
    )


def score(
    q: Question, answer: Answer, passages: Sequence[Passage], latency_ms: float, *, top_k: int = 5
) -> QuestionResult:
    """Return the row for one question from its answer and its retrieval ranking."""
    ranking: list[str] = []
    for p in passages:
        key = document_key(p.chunk.source, p.chunk.doc_id, q.sources)
        if key not in ranking:
            ranking.append(key)
    cited: list[str] = []
    correct = 0
    for c in answer.citations:
        key = document_key(c.source, c.doc_id, q.sources)
        correct += key in q.sources
        if key not in cited:
            cited.append(key)
    # An abstention on an answerable question states none of its facts.
    missing = list(q.facts) if answer.abstained else m.missing_facts(answer.text, q.facts)
    leads = None
    if q.answerable and q.facts and not answer.abstained:
        leads = len(m.missing_facts(m.first_sentence(answer.text), q.facts)) < len(q.facts)
    return QuestionResult(
        id=q.id,
        kind=q.kind,
        question=q.question,
        sources=q.sources,
        ranking=tuple(ranking),
        hit_rank=m.first_hit_rank(ranking, set(q.sources)),
        abstained=answer.abstained,
        fact_recall=1.0 - len(missing) / len(q.facts) if q.facts else None,
        missing_facts=tuple(missing),
        cited=tuple(cited),
        citations=len(answer.citations),
        citations_correct=correct,
        best_similarity=round(max((p.similarity for p in passages[:top_k]), default=0.0), 4),
        latency_ms=round(latency_ms, 1),
        answer=answer.to_json(),
        leads=leads,
        expected_gaps=q.unanswered,
        gaps=tuple(answer.unanswered),
    )


def document_key(source: str, doc_id: str, expected: Sequence[str]) -> str:
    """Return the expected source a passage's document is, or else its file name."""
    path = source.replace("\\", "/")
    name = path.rsplit("/", 1)[-1]
    for wanted in expected:
        if wanted in (doc_id, name) or path.endswith("/" + wanted.lstrip("./")):
            return wanted
    return name or doc_id


def summarise(rows: Sequence[QuestionResult]) -> dict[str, float | None]:
    """Return every metric of METRICS over ``rows``."""
    answerable = [r for r in rows if r.answerable]
    rankings = [(list(r.ranking), set(r.sources)) for r in answerable]
    answered = [r for r in answerable if not r.abstained]
    cited = sum(r.citations for r in answered)
    decisions = m.abstention([(not r.answerable, r.abstained) for r in rows])
    latencies = [r.latency_ms for r in rows]
    values: dict[str, float | None] = {
        "hit@1": m.mean([m.hit_at(rk, rel, 1) for rk, rel in rankings]),
        "hit@3": m.mean([m.hit_at(rk, rel, 3) for rk, rel in rankings]),
        "hit@5": m.mean([m.hit_at(rk, rel, 5) for rk, rel in rankings]),
        "mrr": m.mean([m.reciprocal_rank(rk, rel, SEARCH_K) for rk, rel in rankings]),
        "ndcg@10": m.mean([m.ndcg_at(rk, rel, 10) for rk, rel in rankings]),
        "recall@10": m.mean([m.recall_at(rk, rel, 10) for rk, rel in rankings]),
        "fact_recall": m.mean([r.fact_recall for r in answerable if r.fact_recall is not None]),
        "citation_correctness": sum(r.citations_correct for r in answered) / cited if cited else None,
        "lead_rate": m.mean([float(r.leads) for r in answered if r.leads is not None]),
        "partial_answer_rate": m.mean([float(bool(r.gaps)) for r in answered if r.partial]),
        "false_gap_rate": m.mean([float(r.false_gaps > 0) for r in answered]),
        "abstention_precision": decisions.precision,
        "abstention_recall": decisions.recall,
        "abstention_accuracy": decisions.accuracy,
        "latency_p50_ms": m.percentile(latencies, 50),
        "latency_p95_ms": m.percentile(latencies, 95),
    }
    return {k: None if v is None else round(v, 4) for k, v in values.items()}


def by_kind(rows: Sequence[QuestionResult]) -> dict[str, dict[str, float | int | None]]:
    """Return per-kind counts and the metrics that matter for a kind, in first-seen order."""
    kinds: dict[str, list[QuestionResult]] = {}
    for r in rows:
        kinds.setdefault(r.kind, []).append(r)
    out: dict[str, dict[str, float | int | None]] = {}
    for kind, group in kinds.items():
        metrics = summarise(group)
        out[kind] = {
            "questions": len(group),
            **{
                k: metrics[k]
                for k in ("hit@1", "hit@3", "mrr", "fact_recall", "lead_rate", "abstention_accuracy")
            },
        }
    return out


def describe_settings(casebook: Casebook) -> dict[str, Any]:
    """Return what the run was run on: index, answering settings and retrieval parameters."""
    from importlib.metadata import version

    s = casebook.settings
    info = casebook.store.info()
    return {
        "casebook_version": version("casebook"),
        "data_dir": str(s.data_dir),
        "chroma_url": s.chroma_url,
        "index": info.to_json() if info else None,
        "documents": len(casebook.store.documents()),
        "chunks": casebook.store.count(),
        "top_k": s.top_k,
        "min_similarity": s.min_similarity,
        "llm": s.llm,
        "llm_model": s.llm_model,
        "retrieval": asdict(casebook.retriever.params),
        "search_k": SEARCH_K,
    }


def _filters(casebook: Casebook, q: Question, questions_file: str) -> list[Any]:
    try:
        return casebook.parse_filters(q.filters)
    except FilterError as exc:
        where = f"{questions_file}: " if questions_file else ""
        raise DataError(f"{where}question '{q.id}': {exc}") from None


def default_out_dir(data_dir: Path, questions_file: Path) -> Path:
    """Return data_dir/eval/<question-file-stem>-<UTC timestamp>."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(data_dir) / "eval" / f"{Path(questions_file).stem}-{stamp}"
