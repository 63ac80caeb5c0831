"""`qa eval`: runs any gold file, agrees with an independent scorer, and guards the quality floors."""
from __future__ import annotations

import json
import re
import string
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from eval.runner import FLOORS_FILE, check_floors, evaluate, load_gold, render, write_report

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold.jsonl"
FRESH = ROOT / "eval" / "fresh.jsonl"


def test_gold_file_is_well_formed_and_grounded(documents):
    """Each answerable item's evidence is in exactly one passage of its year, and its answers are in that passage."""
    from qa.chunk import split_document
    from qa.metrics import _squash, normalise_answer

    items = load_gold(GOLD)
    assert len(items) >= 100 and len({i.id for i in items}) == len(items)
    kinds = Counter(i.kind for i in items)
    assert kinds["paraphrase"] >= 20 and kinds["unanswerable"] >= 15
    assert {i.year for i in items if i.answers} >= {2017, 2019, 2021, 2024}
    passages = [(p, d) for d in documents.values() for p in split_document(d)]
    covered = set()
    for item in items:
        if not item.answers:
            assert item.evidence == ""
            continue
        homes = [(p, d) for p, d in passages if _squash(item.evidence) in _squash(p.text) and d.year == item.year]
        assert len(homes) == 1, item.id
        covered.add(homes[0][1].id)
        for answer in item.answers:
            assert normalise_answer(answer) in normalise_answer(homes[0][0].text), (item.id, answer)
    assert covered == set(documents)


def test_fresh_questions_are_well_formed_and_grounded(documents):
    """The fresh set (measured, not tuned on) is in the gold format; each evidence is in one passage of its
    year, and each answer somewhere in the reports (a fresh question may have answers in several passages)."""
    from qa.chunk import split_document
    from qa.metrics import _squash, normalise_answer

    items = load_gold(FRESH)
    assert len(items) >= 70 and len({i.id for i in items}) == len(items)
    assert not {i.id for i in items} & {i.id for i in load_gold(GOLD)}
    assert {i.question for i in items}.isdisjoint(i.question for i in load_gold(GOLD))
    passages = [(p, d) for d in documents.values() for p in split_document(d)]
    everything = normalise_answer(" ".join(p.text for p, _ in passages))
    for item in items:
        if not item.answers:
            assert item.evidence == ""
            continue
        homes = [p for p, d in passages if _squash(item.evidence) in _squash(p.text) and d.year == item.year]
        assert len(homes) == 1, item.id
        for answer in item.answers:
            assert normalise_answer(answer) in everything, (item.id, answer)


def test_calibrate_reports_the_fit_on_the_fresh_questions(pipeline):
    """`qa calibrate` prints, beside its in-sample and cross-validated figures, how the fit does on the
    fresh set it is never fitted on."""
    from eval.runner import fresh_figures

    line = fresh_figures(pipeline)
    assert line.startswith("on fresh.jsonl (not fitted on): ECE ")
    figures = [float(x) for x in re.findall(r"\d\.\d{3}", line)]
    assert len(figures) == 4 and all(0 <= f <= 1 for f in figures)


def _independent_scores(items, replies):
    """A separate implementation of the SQuAD 2.0 definitions, from the replies alone."""
    def norm(text):
        text = "".join(c for c in text.lower() if c not in string.punctuation and c not in "‘’“”–")
        return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())

    def f1(pred, gold):
        p, g = norm(pred).split(), norm(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if not p or not g:
            return float(p == g)
        return 0.0 if common == 0 else 2 * common / (len(p) + len(g))

    ems, f1s = [], []
    for item, reply in zip(items, replies):
        pred = reply["answer"]["text"] if reply["answer"] else ""
        if not item.answers:
            ems.append(float(not pred)); f1s.append(float(not pred))
        else:
            ems.append(max(float(norm(pred) == norm(a)) for a in item.answers) if pred else 0.0)
            f1s.append(max(f1(pred, a) for a in item.answers) if pred else 0.0)
    return sum(ems) / len(ems), sum(f1s) / len(f1s)


@pytest.fixture(scope="module")
def evaluated(pipeline):
    items = load_gold(GOLD)
    summary, scored = evaluate(items, pipeline)
    return items, summary, scored


def test_numbers_agree_with_an_independent_scorer(evaluated):
    items, summary, scored = evaluated
    em, f1 = _independent_scores(items, [s.reply for s in scored])
    assert summary["answers"]["overall"]["em"] == pytest.approx(em)
    assert summary["answers"]["overall"]["f1"] == pytest.approx(f1)
    answerable = [s for s in scored if s.item.answerable]
    assert summary["answerable"] == len(answerable)


def test_report_has_everything_and_floors_hold(evaluated, tmp_path):
    items, summary, scored = evaluated
    text = render(summary)
    for needle in ("hit@1", "hit@10", "MRR", "dense", "lexical", "HasAns", "NoAns", "best threshold", "ECE",
                   "By kind", "paraphrase", "p50", "p95"):
        assert needle in text
    report = write_report(summary, scored, tmp_path / "report")
    assert report.exists() and (tmp_path / "report" / "hit_at_k.png").stat().st_size > 1000
    assert (tmp_path / "report" / "reliability.png").stat().st_size > 1000
    failures = check_floors(summary, json.loads(FLOORS_FILE.read_text()))
    assert not failures, failures


def test_qa_eval_runs_another_gold_file_from_the_command_line(index_dir, tmp_path):
    gold = tmp_path / "other.jsonl"
    gold.write_text("\n".join(json.dumps(row) for row in [
        {"id": "a", "question": "How were care leavers rated in 2024?", "answers": ["Good"],
         "evidence": "The experiences and progress of care leavers", "year": 2024, "kind": "rating"},
        {"id": "b", "question": "What is the salary of the mayor of Barnet?", "answers": [], "evidence": "",
         "year": None, "kind": "unanswerable"},
    ]) + "\n")
    result = subprocess.run([sys.executable, "-m", "qa", "eval", "--gold", str(gold), "--index", str(index_dir),
                             "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["questions"] == 2 and summary["retrieval"]["hybrid"]["hit@1"] == 1.0
    assert summary["answers"]["HasAns"]["em"] == 1.0


def test_malformed_gold_file_is_refused_with_its_line(tmp_path):
    gold = tmp_path / "bad.jsonl"
    gold.write_text('{"id": "a", "question": "q", "answers": []}\nnot json\n')
    with pytest.raises(ValueError, match=":2:"):
        load_gold(gold)
