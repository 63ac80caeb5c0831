"""Abbreviations and glosses the reports define: read from the text, used in both directions."""
from __future__ import annotations

import pytest

from qa.glossary import Definition, Glossary, definitions
from qa.text import tokens

TEXT = """An impressive multi-agency safeguarding hub (MASH) is overseen by a manager. Personal advisers (PAs)
keep in touch. Inspectors spoke to the Children and Family Court Advisory and Support Service (Cafcass).
Cases are rated with the BRAG (blue, red, amber, green) system. During the COVID-19 (coronavirus) pandemic,
most case types: financial remedy (76%). You may reuse this information (not including logos). Children were
adopted through a regional adoption agency (Adopt London North). See the plan (paragraph 12)."""


def test_definitions_are_read_from_the_text_and_nothing_else():
    found = list(definitions(TEXT))
    assert found == [
        Definition("MASH", "multi-agency safeguarding hub"),
        Definition("PAs", "Personal advisers"),
        Definition("Cafcass", "Children and Family Court Advisory and Support Service"),
        Definition("BRAG", "blue red amber green"),
        Definition("COVID-19", "coronavirus"),
    ]


def test_a_question_using_either_form_gets_the_other_as_an_alias():
    glossary = Glossary.from_definitions(definitions(TEXT))
    assert glossary.aliases(tokens("What did inspectors say about the MASH?")) == {
        "mash": (("multi agenc safeguard hub", 0.95),)}
    long_form = glossary.aliases(tokens("How good is the multi-agency safeguarding hub?"))
    assert set(long_form) == {"multi", "agenc", "safeguard", "hub"}
    assert all(near == (("mash", 0.95),) for near in long_form.values())
    # part of a long form is not the term: 'safeguarding' alone does not mean the MASH
    assert glossary.aliases(tokens("How is safeguarding managed?")) == {}
    assert glossary.aliases(tokens("What about coronavirus?")) == {"coronavirus": (("covid", 0.95),)}


def test_abbreviations_are_spelled_out_once_for_the_embedding_model():
    glossary = Glossary.from_definitions(definitions(TEXT))
    assert (glossary.spell_out("Do PAs and the MASH help? PAs again.")
            == "Do PAs (Personal advisers) and the MASH (multi-agency safeguarding hub) help? PAs again.")
    # already spelled out, part of another word, or a one-word gloss the model knows: left alone
    assert glossary.spell_out("Personal advisers (PAs) help.") == "Personal advisers (PAs) help."
    assert glossary.spell_out("A MASH-like team") == "A MASH-like team"
    assert glossary.spell_out("After COVID-19, what changed?") == "After COVID-19, what changed?"
    assert Glossary().spell_out("Do PAs help?") == "Do PAs help?"


def test_the_index_keeps_the_corpus_definitions(pipeline):
    terms = {(t.short, t.long) for t in pipeline.index.glossary.terms}
    assert {("LADO", "local authority designated officer"), ("PAs", "Personal advisers"),
            ("IROs", "Independent reviewing officers"), ("COVID-19", "coronavirus")} <= terms
    assert pipeline.index.manifest["glossary"] == len(pipeline.index.glossary.terms)


def test_an_abbreviation_in_the_question_finds_passages_that_spell_it_out(pipeline):
    """The model does not know 'IROs'; spelled out, the question meets the passages about reviewing officers."""
    reply = pipeline.ask("Do IROs challenge social workers?")
    assert "IROs" in reply["passages"][0]["text"]


# 'personal advisers' is written 'PAs' after its first use
PA_QUESTION = "Do personal advisers keep in touch with young people?"
PA_ANSWER = "PAs ensure that they keep in touch with their young people"


def test_a_long_form_in_the_question_counts_where_the_reports_use_the_abbreviation(pipeline):
    """'personal advisers' is written 'PAs' after its first use: the answer's words count as matched (the
    reader's coverage of the question by that sentence rises with the glossary, whatever weight the fitted
    models give it)."""
    from qa.reader import features as F
    from qa.reader.sentences import gather

    def coverage() -> float:
        ctx, _, _ = pipeline.prepare(PA_QUESTION, top_k=5)
        found = [c for c in gather(ctx) if c.text.startswith(PA_ANSWER)]
        assert found, "the answering sentence is among the candidates"
        return float(found[0].features[F.SENTENCE_FEATURES.index("coverage")])

    covered = coverage()
    glossary, pipeline.index.glossary = pipeline.index.glossary, Glossary()
    try:
        uncovered = coverage()
    finally:
        pipeline.index.glossary = glossary
    assert covered > uncovered


def test_the_sentence_written_with_the_abbreviation_answers_a_question_in_the_long_form(pipeline):
    reply = pipeline.ask(PA_QUESTION)
    assert not reply["abstained"]
    assert reply["answer"]["text"].startswith(PA_ANSWER)


def test_a_term_is_found_by_its_abbreviation_whatever_the_case_or_plural():
    glossary = Glossary.from_definitions([Definition("IROs", "Independent reviewing officers"),
                                          Definition("MASH", "multi-agency safeguarding hub")])
    assert glossary.term("IRO").long == glossary.term("iros").long == "Independent reviewing officers"
    assert glossary.term("mash").short == "MASH"
    assert glossary.term("DCS") is None


@pytest.mark.parametrize("question, expected", [
    ("What does IRO stand for?", "Independent reviewing officers"),
    ("What is LADO short for?", "local authority designated officer"),
    ("What does BRAG mean?", "blue, red, amber, green"),  # 'BRAG (blue, red, amber, green)': after it
    # its definition is not among the passages retrieved: the expansion is as likely right as expansions were
    ("What is a PA?", "Personal advisers"),
    ("What are IROs?", "Independent reviewing officers"),
])
def test_what_an_abbreviation_stands_for_is_answered_from_the_report_that_defines_it(pipeline, question, expected):
    reply = pipeline.ask(question)
    assert not reply["abstained"] and reply["answer"]["type"] == "expansion"
    assert reply["answer"]["text"] == expected
    cited = next(p for p in reply["passages"] if p["id"] == reply["answer"]["passage_id"])
    assert cited["text"][reply["answer"]["start"]:reply["answer"]["end"]] == expected


def test_an_abbreviation_the_reports_never_define_is_not_spelled_out(pipeline):
    assert pipeline.ask("What does XYZ stand for?")["abstained"]
