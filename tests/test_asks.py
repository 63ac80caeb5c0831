"""The grade-asked model (qa.reader.asks): what counts as a grade answer, how it is fitted and chosen, and
the shipped model on questions written for these tests."""
from __future__ import annotations

import numpy as np
import pytest

from qa.question import analyse
from qa.reader.asks import GradeAsked, fit, frame, is_grade


@pytest.mark.parametrize("answer, grade", [
    ("Good", True),
    ("inadequate", True),
    ("Requires improvement to be good", True),
    ("The experiences and progress of care leavers: good", True),
    ("The experiences and progress of children in care\tOutstanding", True),
    ("Staff morale was good", False),
    ("the BRAG rating system", False),
])
def test_a_grade_answer_is_a_grade_alone_or_after_its_judgement(answer, grade):
    assert is_grade(answer) is grade


def test_without_a_fitted_model_every_grade_worded_question_asks_for_a_grade(tmp_path):
    model = GradeAsked.load(tmp_path / "absent.json")
    assert model.asks(np.ones(4)) and model.asks(None)


def test_the_fit_separates_what_it_can_and_keeps_its_cut(tmp_path):
    """Two clusters of 'questions' (small fakes): the fitted model tells them apart out of fold, the cut is
    chosen among the rule-typed ones, and the saved model decides as the fitted one does."""
    rng = np.random.default_rng(0)
    asks = rng.normal(1.0, 0.3, (40, 8))
    other = rng.normal(-1.0, 0.3, (40, 8))
    vectors = np.vstack([asks, other])
    labels = np.array([1] * 40 + [0] * 40)
    groups = [str(i) for i in range(80)]
    model, out_of_fold, report = fit(vectors, labels, groups, ruled=np.ones(80, dtype=bool))
    assert (out_of_fold[:40] >= model.cut).all() and (out_of_fold[40:] < model.cut).all()
    assert report["grade_answers_kept"] == 1.0 and report["other_answers_retyped"] == 1.0
    model.save(tmp_path / "grade_asked.json")
    loaded = GradeAsked.load(tmp_path / "grade_asked.json")
    assert loaded.cut == model.cut
    assert [loaded.asks(v) for v in vectors] == [model.asks(v) for v in vectors]


@pytest.mark.parametrize("question, asks", [
    ("What grade did the fostering service get in 2024?", True),
    ("How was the help for children who need protection rated?", True),
    ("What did the council say about staffing after the inadequate rating?", False),
    ("What colours does the BRAG rating use?", False),
])
def test_the_shipped_model_tells_asking_for_a_grade_from_naming_one(embedder, question, asks):
    model = GradeAsked.load()
    vector = model.vector(question, analyse(question).area, frozenset(), embedder, embedder.encode([question])[0])
    assert model.asks(vector) is asks


def test_a_model_is_asked_on_what_it_was_fitted_on(tmp_path, embedder):
    """A model fitted on frames says so in its file and is asked on the frame; a file that says nothing was
    fitted on whole questions (before the frame) and is asked on the whole question."""
    import json

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 4))
    labels = (vectors[:, 0] > 0).astype(int)
    model, _, _ = fit(vectors, labels, [str(i) for i in range(40)], np.ones(40, dtype=bool))
    model.save(tmp_path / "asked.json")
    assert GradeAsked.load(tmp_path / "asked.json").reads == "frame"
    data = json.loads((tmp_path / "asked.json").read_text())
    del data["reads"]
    (tmp_path / "asked.json").write_text(json.dumps(data))
    older = GradeAsked.load(tmp_path / "asked.json")
    assert older.reads == "question"
    whole = np.ones(3)
    assert older.vector("How were care leavers judged?", "care leavers", frozenset(), embedder, whole) is whole
    framed = model.vector("How were care leavers judged?", "care leavers", frozenset(), embedder, whole)
    assert np.allclose(framed, embedder.encode(["How were judged"])[0])


@pytest.mark.parametrize("question, framed", [
    ("How were care leavers in Eastmoor judged in 2024?", "How were in judged in"),
    ("What grade did Barnet's children in care get?", "What grade did get"),
    ("What colours does the BRAG rating use?", "What colours does the BRAG rating use"),
])
def test_the_model_reads_how_a_question_asks_not_which_area_council_or_year(question, framed):
    """The judgement area, the council and the year say what the question is about, not whether it asks for a
    grade: the model is fitted and asked on the rest."""
    assert frame(question, analyse(question).area, frozenset({"eastmoor", "barnet"})) == framed
