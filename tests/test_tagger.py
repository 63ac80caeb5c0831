"""Parts of speech from the bundled spaCy pipeline: which question words only phrase the question."""
from __future__ import annotations

from qa.tagger import phrasing_stems, verb_stems


def test_pronouns_and_adverbs_phrase_a_question_nouns_and_names_do_not():
    stems = phrasing_stems("In 2021, did leaders already understand their weaknesses?")
    assert "alreadi" in stems
    assert not {"leader", "understand", "weak"} & stems
    stems = phrasing_stems("Did children in care have someone to share their views with?")
    assert "someon" in stems and not {"children", "view"} & stems
    stems = phrasing_stems("Who was the Bishop of Durham in 2021?")
    assert not {"bishop", "durham"} & stems


def test_verbs_the_question_turns_on_are_not_phrasing():
    """'wait' is what 'how long do families wait for a social worker?' asks about."""
    assert "wait" not in phrasing_stems("How long do families wait for a social worker?")


def test_the_verbs_of_a_question():
    assert "wait" in verb_stems("How long do teenagers wait for speech therapy?")
    assert "see" in verb_stems("How often do IROs see the children they review?")
    assert not {"teenag", "speech", "therapi"} & verb_stems("How long do teenagers wait for speech therapy?")
