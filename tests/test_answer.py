"""The structured readers on the real model and corpus: grades with their history from the judgement
tables, when an area was graded, what needs to improve from the reports' own lists, what an abbreviation
stands for, a report's headline; and typed spans a report states. Questions are written for these tests
(none is in eval/); the sentence reader's own tests are in tests/test_reader.py."""
from __future__ import annotations

import pytest


def check_offsets(reply):
    for answer in filter(None, (reply["answer"], reply.get("candidate"))):
        cited = next(p for p in reply["passages"] if p["id"] == answer["passage_id"])
        assert cited["text"][answer["start"]:answer["end"]] == answer["text"]
        assert cited["text"][answer["sentence"]["start"]:answer["sentence"]["end"]] == answer["sentence"]["text"]
        assert 0 <= answer["confidence"] <= 1


def answered(pipeline, question):
    """The reply to a question the reports answer: not an abstention, its offsets holding."""
    reply = pipeline.ask(question)
    assert not reply["abstained"], reply.get("candidate")
    check_offsets(reply)
    return reply


def test_a_grade_with_a_year_comes_from_that_inspection(pipeline):
    reply = answered(pipeline, "What grade did the 2024 inspection give care leavers?")
    answer = reply["answer"]
    assert answer["text"] == "Good" and answer["type"] == "grade" and answer["granularity"] == "span"
    cited = reply["passages"][0]
    assert cited["id"] == answer["passage_id"] and cited["document"]["date"] == "2024-06-14"
    assert answer["sentence"]["text"] == "The experiences and progress of care leavers: Good"
    assert answered(pipeline, "How was the experience of children in care graded in 2024?")["answer"]["text"] == "Outstanding"
    # 2019 graded children in care and care leavers together
    reply = answered(pipeline, "What grade did care leavers get in 2019?")
    assert reply["answer"]["text"] == "Good" and reply["passages"][0]["document"]["year"] == 2019


def test_a_grade_without_a_year_is_the_latest_with_its_history(pipeline):
    reply = answered(pipeline, "What is Barnet's overall grade now?")
    answer = reply["answer"]
    assert answer["text"] == "Good" and reply["passages"][0]["document"]["year"] == 2024
    assert [(s["year"], s["grade"]) for s in answer["history"]] == [(2017, "Inadequate"), (2019, "Good"), (2024, "Good")]
    ids = {p.id for p in pipeline.index.passages}
    assert all(s["passage_id"] in ids for s in answer["history"])


def test_a_visit_that_grades_nothing_is_never_reported_as_a_grade(pipeline):
    reply = pipeline.ask("What grade did the 2021 visit give children in care?")
    assert reply["abstained"] and reply["answer"] is None
    assert reply["passages"]  # the closest passages still come back


def test_when_an_area_was_graded_is_the_date_of_the_inspection_that_graded_it(pipeline):
    reply = answered(pipeline, "When was the help and protection of children last graded?")
    assert reply["answer"]["text"] == "10 to 14 June 2024" and reply["answer"]["type"] == "date"


def test_what_needs_to_improve_is_the_latest_report_s_own_list(pipeline):
    reply = answered(pipeline, "What must the council improve?")
    check_offsets(reply)
    answer = reply["answer"]
    assert answer["type"] == "list" and answer["granularity"] == "sentence"
    assert reply["passages"][0]["document"]["id"] == "2024-06-barnet-ilacs-inspection-report"
    assert answer["text"].startswith("Return home interviews") and len(answer["text"].split("\n")) == 4
    assert ":" not in answer["text"].split("\n")[0]  # the lead line is not an item


def test_what_needs_to_improve_about_a_topic_is_the_items_about_it(pipeline):
    reply = answered(pipeline, "What needs to improve for care leavers in Barnet?")
    assert reply["answer"]["type"] == "list"
    assert reply["answer"]["text"] == "Communication about living arrangements for care leavers."


def test_an_abbreviation_is_spelled_out_from_the_report_that_defines_it(pipeline):
    reply = answered(pipeline, "What does MASH stand for?")
    assert reply["answer"]["type"] == "expansion"
    assert reply["answer"]["text"].lower() == "multi-agency safeguarding hub"


def test_a_question_about_a_report_as_a_whole_is_its_headline(pipeline):
    reply = answered(pipeline, "What did the inspectors conclude in 2024?")
    assert reply["answer"]["type"] == "summary" and reply["passages"][0]["document"]["year"] == 2024


@pytest.mark.parametrize("question", [
    "How was adoption in Barnet graded in 2024?",
    "What is the salary of a newly qualified social worker in Barnet?",
    "What email address do families use to reach the virtual school?",
    "Which grade did care leavers receive in 2020?",
])
def test_abstains_when_the_reports_do_not_answer(pipeline, question):
    reply = pipeline.ask(question)
    assert reply["abstained"] and reply["answer"] is None
    check_offsets(reply)


@pytest.mark.parametrize("question, named", [
    ("How did inspectors grade the youth offending team in 2024?", "youth offending team"),
    ("What rating did the fostering panel get?", "panel"),
])
def test_a_grade_of_something_no_judgement_grades_is_not_given(pipeline, question, named):
    """The reports grade five areas; asked for the grade of anything else, the reply says the reports give it
    none, rather than offering a sentence about it as its grade."""
    reply = pipeline.ask(question)
    assert reply["abstained"] and reply["answer"] is None
    assert reply["notice"] == f"The reports give no grade for {named}."


def test_the_no_grade_notice_is_kept_for_when_the_sentence_reader_finds_nothing_unless_a_grade_is_named():
    """When the grade-asked model reads a grade-worded question as asking something else, the sentence reader
    tries it; if it finds nothing, the reply still says why: no judgement grades what was named. A question that
    names a grade asks about something else, and no grade is missing."""
    from qa.question import analyse
    from qa.reader.read import ungraded_unless_answered

    assert ungraded_unless_answered(analyse("What rating did the school nurses get?")) == \
        "The reports give no grade for school nurses."
    assert ungraded_unless_answered(analyse("What did the school nurses say after the inadequate rating?")) is None
    assert ungraded_unless_answered(analyse("How were care leavers rated?")) is None  # a graded area


@pytest.mark.parametrize("question", [
    "Honestly, how were care leavers graded in 2024? Just curious",
    "I'm new here - what did Ofsted rate care leavers in the summer 2024 inspection?",
])
def test_a_grade_question_in_everyday_words_gets_the_grade(pipeline, question):
    """Words that only phrase or date a question ('just curious', 'in the summer') name nothing the reports
    would have to grade: the grade is still answered from the judgement table."""
    reply = answered(pipeline, question)
    assert reply["answer"]["type"] == "grade" and reply["answer"]["text"].lower() == "good"
    assert reply["passages"][0]["document"]["year"] == 2024


def test_offsets_hold_for_every_gold_question(pipeline):
    """Across the gold set, every answer and candidate given is cut from the passage it cites, inside its
    sentence; and most questions are answered, so the check is not vacuous."""
    from eval.runner import load_gold
    from tests.conftest import ROOT

    items = load_gold(ROOT / "eval" / "gold.jsonl")
    replies = [pipeline.ask(item.question, top_k=10) for item in items]
    for reply in replies:
        check_offsets(reply)
    assert sum(1 for r in replies if r["answer"]) >= len(items) // 2


@pytest.fixture(scope="module")
def with_testshire(tmp_path_factory, index_dir, embedder):
    """The bundled index plus a second council's report, added with `qa add`'s code."""
    from tests.conftest import pipeline_with_report

    return pipeline_with_report(tmp_path_factory, index_dir, embedder, "testshire-2025.txt", (
        "Inspection of Testshire local authority children's services\n\nInspection dates: 3 to 7 March 2025\n\n"
        "Judgement\tGrade\nThe experiences and progress of care leavers\tInadequate\n"
        "Overall effectiveness\tInadequate\n\n"
        "1. Care leavers in Testshire do not get the help they need from personal advisers.\n\n"
        "2. The council has invested £2.4 million in two new children's homes in Testshire.\n\n"
        "3. Professionals and families reach the Testshire front door on 01632 960 777 at any time.\n\n"
        "4. Referrals to the Testshire front door are decided within 24 hours.\n"))


def test_grades_come_from_the_council_asked_about(with_testshire):
    """With a second council in the index, a grade question gets that council's grade only when it names it
    (or its passages rank first), and the history never mixes councils."""
    pipeline = with_testshire
    testshire = pipeline.ask("How were care leavers in Testshire rated?")
    assert testshire["answer"]["text"] == "Inadequate"
    assert [s["document_id"] for s in testshire["answer"]["history"]] == ["testshire-2025"]
    barnet = pipeline.ask("How were care leavers in Barnet rated?")
    assert barnet["answer"]["text"] == "Good"  # Barnet's latest (2024), not Testshire's newer 2025 grade
    assert all(s["document_id"] != "testshire-2025" for s in barnet["answer"]["history"])
    assert [s["year"] for s in barnet["answer"]["history"]] == [2019, 2024]


@pytest.mark.parametrize("question, expected, kind", [
    ("How much did Testshire spend on its new children's homes?", "£2.4 million", "money"),
    ("What is the phone number of the Testshire front door?", "01632 960 777", "contact"),
    ("How long does the Testshire front door take to decide on referrals?", "within 24 hours", "duration"),
])
def test_money_contact_and_duration_answers(with_testshire, question, expected, kind):
    """Asked for a sum, a phone number or a duration, the reader answers with exactly that when a report
    states it (the bundled reports state none, so there it abstains)."""
    reply = answered(with_testshire, question)
    assert reply["answer"]["text"] == expected and reply["answer"]["type"] == kind
    assert reply["passages"][0]["document"]["id"] == "testshire-2025"



