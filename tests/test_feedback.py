"""Feedback: ratings are stored with the answer and exported as a runnable question file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assistant import Casebook
from assistant.cli import main
from assistant.feedback import FeedbackLog
from vectorstore import DataError


def test_ratings_are_stored_and_exported_as_questions(library: Casebook, tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path)
    good = library.ask("How did trusts reduce out-of-area placements?")
    bad = library.ask("What themes drove improvement in the trusts CQC studied?")
    log.record(good, "up")
    log.record(bad, "down", "It should quote the themes document")

    stored = [json.loads(line) for line in (tmp_path / "feedback.jsonl").read_text().splitlines()]
    assert [e["rating"] for e in stored] == ["up", "down"]
    assert stored[0]["answer"] == good.text
    assert stored[0]["citations"][0]["text"] == good.citations[0].text
    assert stored[1]["comment"] == "It should quote the themes document"

    result = CliRunner().invoke(
        main, ["feedback", "export", "--data-dir", str(tmp_path), "--out", str(tmp_path / "q.yaml")]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == (
        f"1 questions written to {tmp_path / 'q.yaml'}; 1 answers rated down need a source"
    )
    text = (tmp_path / "q.yaml").read_text()
    items = yaml.safe_load(text)
    assert items == [
        {
            "id": "feedback-1-how-did-trusts-reduce-out-of-area-placem",
            "question": good.question,
            "sources": sorted({Path(c.source).name for c in good.citations}),
            "kind": "feedback",
        }
    ]
    assert "# rated down, add its right sources and move it up: What themes drove" in text


def test_corrupt_feedback_log_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "feedback.jsonl").write_text('{"rating": "up"}\nnot json\n')
    with pytest.raises(DataError, match=r"feedback.jsonl: line 2 is not JSON"):
        FeedbackLog(tmp_path).entries()


def test_a_comment_after_a_rating_is_exported_once(library: Casebook, tmp_path: Path) -> None:
    # The chat writes the rating, then the same rating again with the comment the user adds.
    log = FeedbackLog(tmp_path)
    answer = library.ask("What themes drove improvement in the trusts CQC studied?")
    log.record(answer, "down")
    log.record(answer, "down", "It should quote the themes document")
    text, written, review = log.export_questions()
    assert (written, review) == (0, 1)
    assert text.count("# rated down") == 1
    assert "(It should quote the themes document)" in text
    # A changed mind counts as the last rating given.
    log.record(answer, "up")
    assert log.export_questions()[1:] == (1, 0)
    # A rating clicked again to undo it withdraws the question from the export.
    log.record(answer, "withdrawn")
    assert log.export_questions()[1:] == (0, 0)
