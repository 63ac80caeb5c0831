"""Parts of speech from the bundled spaCy pipeline: which question words only phrase the question."""
from __future__ import annotations

from qa.tagger import phrasing_stems, verb_stems


def test_pronouns_and_adverbs_phrase_a_question_nouns_and_names_do_not():
    stems = phrasing_stems("In 2024, did managers already know their weak spots?")
    assert "alreadi" in stems
    assert not {"manag", "weak", "spot"} & stems
    stems = phrasing_stems("Could children in care get someone to speak up for them?")
    assert "someon" in stems and "children" not in stems
    stems = phrasing_stems("Who was the Mayor of London in 2024?")
    assert not {"mayor", "london"} & stems


def test_verbs_the_question_turns_on_are_not_phrasing():
    """'wait' is what 'how long do care leavers wait for housing?' asks about."""
    assert "wait" not in phrasing_stems("How long do care leavers wait for council housing?")


def test_the_verbs_of_a_question():
    assert "wait" in verb_stems("How long do children wait for CAMHS?")
    assert "see" in verb_stems("How often do social workers see children?")
    assert not {"children", "camh"} & verb_stems("How long do children wait for CAMHS?")
