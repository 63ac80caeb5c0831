"""Answers that hold nothing of the type asked for (qa.reader.read.lacks_asked_type, fitted by
qa.reader.train.fit_type_gates): 'How many ...?' answered by a sentence with no number. The questions and
sentences here are written for the tests; none is an evaluation question."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from qa.question import analyse
from qa.reader import features as F
from qa.reader.read import ASKED_FOR, lacks_asked_type
from qa.reader.sentences import TYPED
from qa.reader.train import GATE_MIN, Outcome, fit_type_gates, gate
from qa.types import Answer

HOW_MANY = "How many foster carers did the council recruit last year?"
WITH_NUMBER = "The council recruited 23 new foster carers last year."
WITHOUT = "Recruitment of foster carers has been a priority for leaders."


def answer(text: str, structured: bool = False) -> Answer:
    row = np.zeros(len(F.CONFIDENCE_FEATURES))
    row[F.CONFIDENCE_FEATURES.index("structured")] = float(structured)
    return Answer(text, 0.9, "p1", 0, len(text), features=tuple(row.tolist()))


def test_every_typed_question_has_words_for_its_notice():
    assert set(TYPED) <= set(ASKED_FOR)


def test_a_gated_type_needs_a_span_of_its_type_in_the_answer():
    q = analyse(HOW_MANY)
    assert q.type == "quantity"
    assert lacks_asked_type(q, answer(WITHOUT), frozenset({"quantity"}))
    assert not lacks_asked_type(q, answer(WITH_NUMBER), frozenset({"quantity"}))
    assert not lacks_asked_type(q, answer(WITHOUT), frozenset({"money"}))  # its type is not gated
    assert not lacks_asked_type(q, answer(WITHOUT, structured=True), frozenset({"quantity"}))  # the reports' data
    describe = analyse("What do foster carers say about the training they get?")
    assert not lacks_asked_type(describe, answer(WITHOUT), frozenset({"quantity", describe.type}))


def test_a_grade_question_needs_a_grade_in_the_answer_whatever_the_fitted_gates():
    q = analyse("What grade did inspectors give the council's work with care leavers in 2021?")
    assert q.type == "grade"
    assert lacks_asked_type(q, answer("Inspectors met care leavers and their personal advisers."), frozenset())
    assert not lacks_asked_type(q, answer("Experiences and progress of care leavers: Requires improvement to be good"),
                                frozenset())


def outcome(text: str | None, right: bool) -> Outcome:
    return Outcome(np.zeros(len(F.CONFIDENCE_FEATURES)), "sentence" if text else "none", right, True,
                   float(right), right, text)


def examples_of(questions: list[str]) -> list:
    return [SimpleNamespace(ctx=SimpleNamespace(question=analyse(q))) for q in questions]


def test_a_type_is_gated_when_its_answers_without_it_were_right_less_often_than_a_wrong_answer_costs():
    """'How many' answered without a number: right 1 time in 20 out of fold, so such answers are withheld (one
    right answer does not keep a type open); 'when' answered without a date, right 5 times in 12, stays."""
    many = [HOW_MANY] * 20
    when = ["When did the council open its family hub?"] * 12
    examples = examples_of(many + when + [HOW_MANY])
    outcomes = ([outcome(WITHOUT, False)] * 19 + [outcome(WITHOUT, True)]
                + [outcome(WITHOUT, False)] * 7 + [outcome(WITHOUT, True)] * 5
                + [outcome(WITH_NUMBER, True)])
    gated, counts = fit_type_gates(examples, outcomes)
    assert gated == frozenset({"quantity"})
    assert counts["quantity"] == {"answers": 20, "right": 1}
    assert counts["date"] == {"answers": 12, "right": 5}
    served = gate(examples, outcomes, gated)
    assert all(o.granularity == "none" for o in served[:20])
    assert served[-1] == outcomes[-1]  # its answer holds a number
    assert served[20:-1] == outcomes[20:-1]
    # a dearer wrong answer gates the dates too: 6/14 right, smoothed, is under 2 / (1 + 2)
    assert fit_type_gates(examples, outcomes, cost=2.0)[0] == frozenset({"quantity", "date"})


def test_a_type_is_not_gated_on_too_few_answers():
    examples = examples_of([HOW_MANY] * (GATE_MIN - 1))
    gated, counts = fit_type_gates(examples, [outcome(WITHOUT, False)] * (GATE_MIN - 1))
    assert gated == frozenset() and counts["quantity"] == {"answers": GATE_MIN - 1, "right": 0}


@pytest.mark.parametrize("question, asked_for", [
    ("How many foster carers did the council recruit last year?", "number"),
    ("How much did the council spend on agency social workers?", "amount"),
    ("What is the phone number for the family front door?", "contact details"),
])
def test_the_reply_says_the_reports_give_nothing_of_the_type_asked_for(pipeline, question, asked_for):
    """On the real corpus and the shipped reader: a sentence about recruiting foster carers is no answer to how many
    were recruited; the reply withholds it and says what the reports lack."""
    assert pipeline.reader.model.type_gates >= {"quantity", "money", "contact"}
    reply = pipeline.ask(question)
    assert reply["abstained"] and reply["answer"] is None
    assert reply["notice"] == f"The reports searched give no {asked_for} for this."


def test_training_scores_a_grade_answer_without_a_grade_as_withheld_as_the_service_does():
    """`qa calibrate` fits the confidence on the answers as served: a grade question's answer naming no grade is
    withheld by the reader, so training counts it as no answer, whatever types are gated."""
    examples = examples_of(["What grade did inspectors give the council's adoption work in 2022?"] * 2)
    outcomes = [outcome("Inspectors met adopters and their social workers.", False),
                outcome("Adoption: Good", True)]
    served = gate(examples, outcomes, frozenset())
    assert served[0].granularity == "none" and served[1] == outcomes[1]
