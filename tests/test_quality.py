"""Quality gates: `casebook eval` on the frozen test split (sample library) and the seed questions.

The answerer's constants were calibrated on the development questions (library.yaml and
dev.yaml); the gates run on questions written before that tuning and never tuned on. Their
hashes are pinned here, so editing a frozen file fails this test instead of quietly moving the
goalposts. The bars sit a little under the values measured when they were set
(docs/benchmarks.md), so a change that makes answers worse fails CI.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from tests.conftest import LIBRARY, ROOT

QUESTIONS = ROOT / "eval" / "questions"
FROZEN = {
    "test.yaml": "90a9d54d5e66f191a30bec8a62e8d543088644cbc477d84e99fdfd56802d8852",
    "seeds.yaml": "b83cf8134d34b9c9fa105df1771e1c70712b10cbba39a1dc46a884afa51b9b81",
}
TEST_GATES = {
    "--min-hit1": "0.97",
    "--min-mrr": "0.97",
    "--min-fact-recall": "0.77",
    "--min-citation-correctness": "0.90",
    "--min-lead-rate": "0.78",
    "--min-partial-answer-rate": "0.66",
    "--min-abstention-precision": "0.80",
    "--min-abstention-recall": "0.80",
}
SEED_GATES = {
    "--min-hit1": "0.90",
    "--min-fact-recall": "0.73",
    "--min-lead-rate": "0.70",
    "--min-partial-answer-rate": "0.80",
    "--min-abstention-precision": "0.72",
    "--min-abstention-recall": "0.84",
}


@pytest.mark.parametrize("name", sorted(FROZEN))
def test_frozen_question_files_are_unchanged(name: str) -> None:
    digest = hashlib.sha256((QUESTIONS / name).read_bytes()).hexdigest()
    assert digest == FROZEN[name], f"{name} is frozen: write new questions into dev.yaml instead"


def _run(tmp_path: Path, questions: Path, library: Path, gates: dict[str, str]) -> dict[str, float]:
    out = tmp_path / "out"
    args = ["eval", str(questions), "--library", str(library)]
    args += ["--data-dir", str(tmp_path / "data"), "--out", str(out), "--json"]
    for flag, bar in gates.items():
        args += [flag, bar]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr or result.output
    return json.loads((out / "results.json").read_text())["metrics"]


def test_frozen_test_split_meets_its_gates(tmp_path: Path) -> None:
    metrics = _run(tmp_path, QUESTIONS / "test.yaml", LIBRARY, TEST_GATES)
    assert metrics["false_gap_rate"] <= 0.2
    assert (tmp_path / "out" / "report.md").read_text().startswith("# Casebook evaluation: test.yaml")


def test_seed_questions_meet_their_gates(tmp_path: Path, seeds: Path) -> None:
    metrics = _run(tmp_path, QUESTIONS / "seeds.yaml", seeds, SEED_GATES)
    assert metrics["false_gap_rate"] <= 0.2
