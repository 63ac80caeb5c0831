"""What a question asks for, and the typed spans that can answer it: rules, and spaCy's small tagger where
they read parts of speech."""
from __future__ import annotations

import pytest

from qa import spans
from qa.question import analyse, answer_type, grade_area, role_held


@pytest.mark.parametrize("question, kind", [
    ("What grade did care leavers' services receive in 2024?", "grade"),
    ("How has Barnet's overall rating moved on since 2017?", "history"),
    ("When did Ofsted carry out its 2024 inspection?", "date"),
    ("On what dates did inspectors visit?", "date"),
    # a leading 'when' clause sets the scene; the question after it is what is asked
    ("When children go missing, are they asked why on their return?", "yesno"),
    ("Where children cannot live at home, how quickly do they come into care?", "description"),
    ("When did inspectors visit, and who led them?", "date"),
    ("How long ago was Barnet judged inadequate?", "date"),
    ("How long do young people wait for a personal adviser?", "duration"),
    ("For how long have staff worked in Barnet?", "duration"),
    ("How many weeks does an assessment take?", "duration"),
    ("How much money has the council put into foster care?", "money"),
    ("What is the yearly budget for the virtual school?", "money"),
    ("What is the starting wage for a newly qualified social worker?", "money"),
    ("What is the telephone number for the emergency duty service?", "contact"),
    ("What is the street address of the hub?", "contact"),
    ("How can parents contact the front door?", "contact"),
    ("How many foster carers does Barnet recruit each year?", "quantity"),
    ("How much support do care leavers get?", "quantity"),
    ("Do foster carers get extra leave from work?", "yesno"),
    ("How did leaders address the weaknesses?", "description"),
    ("Who leads the virtual school?", "person"),
    ("Who is responsible for care leavers?", "person"),
    ("Who is the lead member for adult social care?", "identity"),
    ("Who were the inspectors from Ofsted in 2017?", "identity"),
    ("Who is Barnet's director of children's services?", "identity"),
    ("Who is the regional adoption agency?", "person"),  # an organisation's name answers it
    ("What is the name of Barnet's head of fostering?", "identity"),
    ("What is the name of the tool social workers use?", "named"),
    ("Which regional agency handles adoptions for Barnet?", "named"),
    ("Why were Barnet's services judged to be inadequate in 2017?", "reason"),  # the reasons, not the grade
    ("What does IRO stand for?", "expansion"),
    ("Who wrote the 2024 report?", "identity"),  # a person, not what 'is written' in it
    ("What were the main weaknesses in 2017?", "list"),
    ("What are the weak points in pathway planning?", "list"),
    ("How often do IROs review children's plans?", "frequency"),
    ("How frequently do managers supervise social workers?", "frequency"),
    ("How was it decided how often to see each family?", "description"),  # asks how it was decided
    ("How many children live in unregistered homes?", "quantity"),
    ("What are the problems with management oversight?", "list"),
    ("What is the full form of LADO?", "expansion"),
    ("What is a PA?", "expansion"),  # the abbreviation alone
    ("what is a  PA ?", "expansion"),
    ("What is the Onwards and Upwards service?", "description"),  # a name, not an abbreviation
    ("What is care?", "description"),
    ("What does the MASH do?", "description"),
    ("What did Chris Munday say about caseloads?", "quote"),
    ("What did children tell inspectors about their carers?", "quote"),
    ("What did the Strategic Director say about the findings?", "quote"),
    ("What did inspectors say about placement stability?", "description"),
    ("What does the 2019 letter say about supervision?", "description"),
    ("What did the monitoring visit say about care leavers?", "description"),
    # a question that opens with 'who' asks for someone, whatever dates or grades its other clauses name
    ("Who chaired the board when the council was judged inadequate?", "person"),
    ("Who was the director when Barnet was rated good?", "identity"),
    ("What were the dates of the last inspection?", "date"),
    ("dates of the focused visit", "date"),
])
def test_answer_type(question, kind):
    assert answer_type(question) == kind


def found(extract, text):
    return [text[c.start:c.end] for c in extract(text)]


def test_durations():
    assert found(spans.durations, "Many have worked in Barnet for several years.") == ["for several years", "several years"]
    assert "within 24 hours" in found(spans.durations, "Referrals are decided within 24 hours of contact.")
    assert found(spans.durations, "Homeless 16- to 17-year-olds are assessed; 17 years old is late.") == []
    assert found(spans.durations, "She stayed with her carers for a long time.") == ["for a long time", "a long time"]


def test_frequencies():
    assert found(spans.frequencies, "They visit children regularly and get to know them well.") == ["regularly"]
    assert found(spans.frequencies, "Children are seen at least every six weeks.") == ["at least every six weeks"]
    assert found(spans.frequencies, "Plans are reviewed twice a year; daily meetings.") == ["twice a year", "daily"]
    assert found(spans.frequencies, "Most children live in stable homes.") == []  # a share is not how often


def test_quantities_in_words():
    """A number written as a word is a quantity, at the start of a sentence too."""
    text = "Two cases were discussed, and three of the five children were seen by twenty staff."
    assert found(spans.quantities, text) == ["Two", "three", "five", "twenty"]
    assert found(spans.quantities, "A one-to-one session and a two-year plan.") == []


def test_a_span_that_only_repeats_the_question_is_not_an_answer():
    from qa.reader.narrow import repeats_question

    assert repeats_question("2019", "When did inspectors visit in 2019?")
    assert repeats_question("the inspectors", "When did the inspectors visit?")
    assert not repeats_question("May 2019", "When did inspectors visit in 2019?")  # 'may' is a stopword, not news
    assert not repeats_question("Priya Lal", "Who chairs the board?")


def test_money():
    assert found(spans.money, "The council invested £2.4 million in homes and £350,000 in training.") == [
        "£2.4 million", "£350,000"]
    assert found(spans.money, "A grant of 500 pounds a year.") == ["500 pounds"]
    assert found(spans.money, "In 2024, 12 children were placed out of area.") == []


def test_contacts():
    text = ("Call 020 8359 4066 or +44 20 7946 0958, email mash@barnet.gov.uk, see www.barnet.gov.uk/children, "
            "or write to 2 Bristol Avenue, Colindale, NW9 4EW.")
    got = found(spans.contacts, text)
    assert "020 8359 4066" in got and "+44 20 7946 0958" in got
    assert "mash@barnet.gov.uk" in got and "www.barnet.gov.uk/children" in got
    assert "2 Bristol Avenue, Colindale, NW9 4EW" in got
    assert found(spans.contacts, "Inspection dates: 10 to 14 June 2024; 2019 and 2021 visits.") == []


def test_a_quotation_is_a_clause_and_its_attribution_is_not():
    text = "Chris Munday, Director, said: “We fully accept the findings; we are committed to act.”"
    assert found(spans.clauses, text)[1:] == ["We fully accept the findings", "we are committed to act"]


def test_the_verb_framing_a_question_is_not_content():
    from qa.question import analyse

    assert analyse("What did inspectors find about supervision?").content == ("supervis",)
    assert analyse("What do young carers think of the help they receive?").content[:2] == ("young", "carer")
    assert "think" not in analyse("What do young carers think of the help they receive?").content
    assert "find" in analyse("Did the visit find that practice had improved?").content  # here it is asked about


def test_irregular_verb_forms_meet_their_base_form():
    from qa.text import tokens

    assert tokens("Who led the visit?")[0] == tokens("Lead inspector")[0]
    assert tokens("inspectors found") == tokens("did the inspectors find")
    assert tokens("the letter was written") == tokens("the letter was wrote") == tokens("letter write")


def test_the_latest_month_a_date_can_mean():
    assert spans.date_month("14 and 15 November 2017") == "2017-11"
    assert spans.date_month("May 2019") == "2019-05"
    assert spans.date_month("2012") == "2012-12"
    assert spans.date_month("last year") is None


@pytest.mark.parametrize("question, role", [
    ("Who is the portfolio holder for education in Barnet?", ("portfolio", "holder", "educ")),
    ("What is the name of Barnet's head of fostering?", ("head", "foster")),
    ("Who was Ofsted's lead inspector for its inspection in 2024?", ("lead", "inspector")),  # 'its inspection' names no role
    ("Who were the inspectors from Ofsted in 2017?", ("inspector",)),
    ("Who is the regional adoption agency?", ()),  # an organisation's role
    ("Who leads the virtual school?", ()),
])
def test_the_role_a_who_question_asks_about(question, role):
    assert role_held(question) == role


def test_a_participle_clause_is_not_a_subject():
    text = "The team is flexible in ensuring support, enabling children to make significant progress."
    assert "enabling children to" not in found(lambda t: spans.role_phrases(t, {"make"}, lambda w: w), text)


@pytest.mark.parametrize("question, area", [
    ("How was leadership rated in 2024?", "impact of leaders"),  # not 'leaders' + an unknown 'hip'
    ("What grade did the leaders get?", "impact of leaders"),
    ("What grade did the care leavers' service get?", "care leavers"),
    ("How was management rated in 2019?", "impact of leaders"),
])
def test_the_judgement_area_a_grade_question_names(question, area):
    assert grade_area(question) == (area, ())


@pytest.mark.parametrize("question, expected", [
    # words that phrase or date the question name nothing graded
    ("Honestly, how were care leavers graded back in the summer of 2024?", ("care leavers", ())),
    ("Just wondering, what rating did the council get overall?", ("overall effectiveness", ())),
    # a topic beyond the judgement areas is named, a noun
    ("What grade did the fostering panel get?", (None, ("panel",))),
    ("How was the youth offending team rated?", (None, ("youth", "team"))),
    # a grade named says which grade: 'which area was judged outstanding' asks for the area, not the overall grade
    ("Which area was judged outstanding?", (None, ("outstand",))),
])
def test_what_else_a_grade_question_names(question, expected):
    assert grade_area(question) == expected


def test_a_word_standing_for_a_generic_one_names_nothing_graded():
    """'kids' is the reports' 'children' (an alias the retriever finds), which says nothing about what is graded."""
    aliases = {"kid": (("children", 0.81),)}
    assert grade_area("How were the kids services rated?") == (None, ("kid",))
    assert grade_area("How were the kids services rated?", aliases=aliases) == ("overall effectiveness", ())


def test_a_question_that_only_names_a_grade_is_typed_by_what_it_asks():
    """The fitted grade-asked model (qa.reader.asks) may find that a grade-worded question asks something else."""
    question = "What happened after the inadequate rating?"
    assert analyse(question).type == "grade"
    assert analyse(question, asks_grade=False).type == "description"


@pytest.mark.parametrize("question, focus", [
    ("How many inspectors carried out the 2024 inspection?", ("inspector",)),  # not '... carried out the'
    ("How many foster carers does Barnet recruit each year?", ("foster", "carer")),
    ("How many children went back home to their families in 2024?", ("children",)),
])
def test_what_a_how_many_question_counts(question, focus):
    assert analyse(question).focus == focus


def test_the_words_asking_for_a_date_are_not_its_topic():
    assert "date" not in analyse("On what dates was the focused visit?").content
    assert "month" not in analyse("In which month of 2017 was Barnet's monitoring visit?").content


def test_a_sentence_about_the_report_itself():
    assert spans.SELF_REFERENCE.search("This letter summarises the findings of the monitoring visit.")
    assert not spans.SELF_REFERENCE.search("During this visit, inspectors found evidence of improving processes.")




def test_a_who_question_about_an_inspection_is_not_one_across_councils_grades():
    """Across councils, any word beyond the grade and its area sends the question to the passages: reading only
    a grade question's nouns there would take 'Who was the senior manager ...?' for 'which councils ...'."""
    from qa.across import parse

    assert parse("Who was the senior manager at the 2024 inspection?") is None
    assert parse("Which councils were rated inadequate?") is not None
