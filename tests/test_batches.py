"""`qa eval` over several question sets: pooled figures with each set's own, intervals, and a paired comparison."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from eval import batches
from eval.batches import Outcome
from eval.runner import load_sets

ROOT = Path(__file__).resolve().parent.parent

# written for these tests over the bundled reports (not questions of any evaluation set)
FIRST = [
    {"id": "t-1", "question": "What grade did care leavers' services receive in 2024?", "answers": ["Good"],
     "evidence": "The experiences and progress of care leavers", "year": 2024, "kind": "rating"},
    {"id": "t-2", "question": "What is the salary of the mayor of Barnet?", "answers": [], "evidence": "",
     "year": None, "kind": "unanswerable"},
]
SECOND = [
    {"id": "t-3", "question": "How was overall effectiveness judged in Barnet's 2024 inspection?", "answers": ["Good"],
     "evidence": "Overall effectiveness", "year": 2024, "kind": "rating"},
    {"id": "t-4", "question": "What colour are the council's recycling bins?", "answers": [], "evidence": "",
     "year": None, "kind": "unanswerable"},
    {"id": "t-5", "question": "What grade did children in care get in 2024?", "answers": ["Outstanding"],
     "evidence": "The experiences and progress of children in care", "year": 2024, "kind": "rating"},
]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def qa_eval(index_dir: Path, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "qa", "eval", "--index", str(index_dir), "--json", *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_two_sets_are_scored_pooled_each_beside_them_and_a_saved_run_compares_question_by_question(index_dir, tmp_path):
    first, second = write(tmp_path / "first.jsonl", FIRST), write(tmp_path / "second.jsonl", SECOND)
    saved = tmp_path / "run.jsonl"
    summary = qa_eval(index_dir, "--gold", str(first), "--gold", str(second), "--save-outcomes", str(saved))

    assert summary["questions"] == 5 and list(summary["by_set"]) == ["first", "second"]
    assert [summary["by_set"][s]["questions"] for s in ("first", "second")] == [2, 3]
    # the pooled figure is the questions' mean, not the sets' mean
    holds = (summary["by_set"]["first"]["holds"] * 1 + summary["by_set"]["second"]["holds"] * 2) / 3
    assert summary["holds"] == pytest.approx(holds, abs=1e-3)
    assert summary["holds"] > 0  # the grades are in the judgement tables: the check is not vacuous
    low, high = summary["intervals"]["holds"]
    assert low <= summary["holds"] <= high

    outcomes = batches.load(saved)
    assert [(o.set, o.id) for o in outcomes] == [("first", "t-1"), ("first", "t-2"), ("second", "t-3"),
                                                  ("second", "t-4"), ("second", "t-5")]
    assert sum(o.right for o in outcomes) == round(summary["holds"] * 3)

    again = qa_eval(index_dir, "--gold", str(first), "--gold", str(second), "--compare", str(saved))
    compared = again["compared"]
    assert compared["questions"] == 5 and compared["turned_right"] == compared["turned_wrong"] == 0
    assert compared["figures"]["holds"]["change"] == 0 and compared["figures"]["holds"]["interval"] == [0, 0]

    # a question that was wrong before and is right now shows as one turned right, and moves holds by 1/3
    right = next(o for o in outcomes if o.right)
    before = [replace(o, right=False) if o == right else o for o in outcomes]
    change = batches.compare(before, outcomes)
    assert change["turned_right"] == 1 and change["turned_wrong"] == 0
    assert change["figures"]["holds"]["change"] == pytest.approx(1 / 3, abs=1e-3)


def test_an_id_given_in_two_sets_is_refused_naming_both(tmp_path):
    first, again = write(tmp_path / "first.jsonl", FIRST), write(tmp_path / "again.jsonl", FIRST[:1])
    with pytest.raises(ValueError, match=r"again\.jsonl.*'t-1'.*first\.jsonl"):
        load_sets([first, again])


def test_a_saved_run_that_is_not_one_is_refused_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=":1:"):
        batches.load(bad)


def outcomes_at(rate: float, n: int) -> list[Outcome]:
    """n answerable questions, answered, right at `rate` (a unit fake)."""
    return [Outcome(str(i), "s", True, True, i < rate * n, float(i < rate * n), 0.9, i >= rate * n)
            for i in range(n)]


def test_the_interval_is_wide_on_a_batch_of_fifty_and_narrows_with_more_questions():
    small, large = batches.intervals(outcomes_at(0.8, 50)), batches.intervals(outcomes_at(0.8, 400))
    assert small["holds"][0] < 0.8 < small["holds"][1] and large["holds"][0] < 0.8 < large["holds"][1]
    width = {k: v["holds"][1] - v["holds"][0] for k, v in (("small", small), ("large", large))}
    assert width["small"] > 0.15  # a batch of 50 cannot tell 0.80 from 0.88
    assert width["large"] < width["small"] / 2
