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
COUNCILS = ROOT / "tests" / "fixtures" / "councils"


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


@pytest.mark.parametrize("path", sorted(str(p.relative_to(ROOT / "eval")) for p in (ROOT / "eval").rglob("*.jsonl")
                                         if p.name != "gold.jsonl"))
def test_every_other_question_set_is_well_formed_and_grounded(documents, path):
    """The fresh, training and untouched sets are in the gold format: each evidence is in the report of its
    year as published (they were copied from the files, before cleaning), each answer in the reports, and
    none repeats a gold question's id."""
    from qa.metrics import _squash, normalise_answer

    items = load_gold(ROOT / "eval" / path)
    assert len(items) >= 40 and len({i.id for i in items}) == len(items)
    assert sum(1 for i in items if not i.answers) >= 10
    assert not {i.id for i in items} & {i.id for i in load_gold(GOLD)}
    folders = {d: ROOT / "corpus" for d in documents}
    if "councils" in path:  # written over the bundled reports and the fixture councils' reports together
        from qa.ingest import load_corpus

        fixtures = {d.id: d for d in load_corpus(COUNCILS).documents}
        documents = documents | fixtures
        folders |= {d: COUNCILS for d in fixtures}
    by_year: dict = {}
    for d in documents.values():
        by_year[d.year] = by_year.get(d.year, "") + "\n" + (folders[d.id] / f"{d.id}.txt").read_text(encoding="utf-8")
    # an answer may be said in several reports, and copied from the file as published or as cleaned
    everything = normalise_answer(" ".join(by_year.values())) + " " + normalise_answer(
        " ".join(d.text for d in documents.values()))
    for item in items:
        if not item.answers:
            assert item.evidence == ""
            continue
        cleaned = " ".join(d.text for d in documents.values() if d.year == item.year)
        assert _squash(item.evidence) in _squash(by_year.get(item.year, "")) + _squash(cleaned), item.id
        found = [normalise_answer(answer) in everything for answer in item.answers]
        if "councils" not in path:
            assert all(found), (item.id, item.answers)
        elif item.kind == "across":  # council names (or a count) gathered from several reports' judgements
            assert all(w in everything for a in item.answers for w in normalise_answer(a).split() if not w.isdigit()
                       and w not in ("and", "two", "three", "four", "one", "none")), item.id
        else:  # one acceptable form at least is the reports' own ('Good'; 'Yes, Good' beside it)
            assert any(found), (item.id, item.answers)


def test_the_untouched_batches_are_never_fitted_on():
    from eval.runner import training_sets

    names = [p.name for p in training_sets()]
    assert "gold.jsonl" in names and "fresh.jsonl" in names
    assert not [n for n in names if n.startswith("unseen-")]


def test_calibrate_fits_a_reader_that_ranks_and_is_calibrated_out_of_sample(pipeline, tmp_path):
    """`qa calibrate`'s fit on the gold set alone, saved elsewhere: it loads, and its cross-validated
    figures say the ranker and the confidence learnt something (a broken feature or label fails this)."""
    from qa.reader.model import ReaderModel
    from qa.reader.train import fit_and_save

    path = tmp_path / "model.json"
    report = fit_and_save(pipeline, [GOLD], path)
    assert "cross-validated" in report
    model = ReaderModel.load(path)
    assert model.fitted and 0 < model.threshold < 1
    figures = model.about["cross_validated"]
    assert max(model.about["ranker_top1_cross_validated"].values()) >= 0.6
    assert figures["auroc"] >= 0.7 and figures["ece"] <= 0.15


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
            ems.append(float(not pred))
            f1s.append(float(not pred))
        else:
            ems.append(max(float(norm(pred) == norm(a)) for a in item.answers) if pred else 0.0)
            f1s.append(max(f1(pred, a) for a in item.answers) if pred else 0.0)
    return sum(ems) / len(ems), sum(f1s) / len(f1s)


@pytest.fixture(scope="module")
def evaluated(pipeline):
    items = load_gold(GOLD)
    summary, scored = evaluate(items, pipeline, (GOLD.stem,))
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
    for needle in ("holds", "confidently wrong", "AURC"):
        assert needle in text
    report = write_report(summary, scored, tmp_path / "report")
    assert report.exists() and (tmp_path / "report" / "hit_at_k.png").stat().st_size > 1000
    assert (tmp_path / "report" / "reliability.png").stat().st_size > 1000
    assert (tmp_path / "report" / "risk_coverage.png").stat().st_size > 1000
    failures = check_floors(summary, json.loads(FLOORS_FILE.read_text()))
    assert not failures, failures


def test_holds_and_confidently_wrong_agree_with_the_replies(evaluated):
    """Recounted from the replies alone: an answer holds when it is right (F1 >= 0.5) or contains a right
    answer; it is confidently wrong when shown at >= 0.7 and not right, or given to an unanswerable question."""
    from qa.metrics import f1_score, normalise_answer

    items, summary, scored = evaluated

    def right(text, answers):
        said = f" {normalise_answer(text)} "
        return f1_score(text, answers) >= 0.5 or any(f" {normalise_answer(a)} " in said for a in answers)

    answers = [(i, s.reply["answer"]) for i, s in zip(items, scored)]
    holds = [bool(a) and right(a["text"], i.answers) for i, a in answers if i.answers]
    wrong = [i.id for i, a in answers if a and (not i.answers or (a["confidence"] >= 0.7 and not right(a["text"], i.answers)))]
    assert summary["holds"] == pytest.approx(sum(holds) / len(holds))
    assert summary["confidently_wrong"]["ids"] == wrong
    curve = summary["risk_coverage"]["curve"]
    assert curve[-1]["coverage"] == pytest.approx(sum(1 for _, a in answers if a) / len(items), abs=1e-4)


def test_qa_eval_runs_another_gold_file_from_the_command_line(index_dir, tmp_path):
    gold = tmp_path / "other.jsonl"
    gold.write_text("\n".join(json.dumps(row) for row in [
        {"id": "a", "question": "What grade did care leavers' services receive in 2024?", "answers": ["Good"],
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


def test_a_set_is_scored_without_its_own_questions_in_the_readers_memory(pipeline, monkeypatch):
    """The training sets are also the reader's question memory: scoring one of them, `evaluate` leaves its own
    questions out of it (else gold would be answered from gold), and leaves the pipeline as it found it."""
    seen = []
    ask_with = pipeline.prepare

    def spy(*args, **kwargs):
        seen.append(pipeline.memory_exclude)
        return ask_with(*args, **kwargs)

    monkeypatch.setattr(pipeline, "prepare", spy)
    evaluate(load_gold(GOLD)[:2], pipeline, (GOLD.stem,))
    assert seen and all(GOLD.stem in excluded for excluded in seen)
    assert pipeline.memory_exclude == frozenset()
