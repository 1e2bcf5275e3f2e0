"""Quality gates: the shipped question set, run through `casebook eval` on the sample library.

The bars sit a little under the measured values (docs/benchmarks.md), so a change that makes
retrieval, citations or abstention worse fails CI.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from assistant.cli import main
from tests.conftest import LIBRARY, ROOT

GATES = {
    "--min-hit1": "0.90",
    "--min-hit3": "0.93",
    "--min-mrr": "0.93",
    "--min-ndcg10": "0.93",
    "--min-fact-recall": "0.52",
    "--min-citation-correctness": "0.80",
    "--min-abstention-precision": "0.70",
    "--min-abstention-recall": "0.35",
}


def test_library_question_set_meets_its_gates(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["eval", str(ROOT / "eval/questions/library.yaml"), "--library", str(LIBRARY)]
    args += ["--data-dir", str(tmp_path / "data"), "--out", str(out), "--json"]
    for flag, bar in GATES.items():
        args += [flag, bar]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr or result.output
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    assert metrics["hit@1"] >= 0.90
    assert (out / "report.md").read_text().startswith("# Casebook evaluation: library.yaml")
