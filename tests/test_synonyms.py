"""Everyday phrases standing for the sector's terms: parsed, matched word by word, used only to bridge a gap."""
from __future__ import annotations

import pytest

from qa.synonyms import SIMILARITY, Thesaurus, default_thesaurus
from qa.text import stems

SETS = """
# a comment line, then sets
homeless, homelessness, nowhere to live   # trailing comment
go missing, going missing, run away
advocacy, speak up for
children in care, looked after children
lonely
"""


def corpus_using(*phrases: str):
    """A stand-in for Index.uses_phrase over a corpus that uses exactly these phrases."""
    used = {tuple(stems(p)) for p in phrases}
    return lambda phrase: phrase in used


def test_sets_are_parsed_without_comments_or_single_phrases():
    thesaurus = Thesaurus.parse(SETS.splitlines())
    assert [[p.text for p in s] for s in thesaurus.sets] == [
        ["homeless", "homelessness", "nowhere to live"], ["go missing", "going missing", "run away"],
        ["advocacy", "speak up for"], ["children in care", "looked after children"]]
    nowhere = thesaurus.sets[0][2]
    assert nowhere.stems == ("nowher", "to", "live") and nowhere.content == ("nowher", "live")


def test_phrases_match_in_order_whatever_the_inflection():
    thesaurus = Thesaurus.parse(SETS.splitlines())
    for question in ("Why do children run away?", "What happens when a child ran away?", "Who runs away most?"):
        assert [p.text for p, _ in thesaurus.matches(question)] == ["run away"], question
    # the words must stand side by side, in the phrase's order
    assert thesaurus.matches("Did they run far away?") == []
    assert thesaurus.matches("Is there somewhere to live away from home?") == []


def test_a_phrase_the_corpus_never_uses_takes_the_phrases_it_does_use():
    thesaurus = Thesaurus.parse(SETS.splitlines())
    used = corpus_using("homeless", "go missing", "advocacy")
    assert thesaurus.aliases("Is there help for teenagers with nowhere to live?", used) == {
        "nowher": (("homeless", SIMILARITY),), "live": (("homeless", SIMILARITY),)}
    assert thesaurus.aliases("Do children who run away get help?", used) == {
        "run": (("go miss", SIMILARITY),), "away": (("go miss", SIMILARITY),)}
    assert thesaurus.bridges("Could anyone speak up for them?", used) == [("speak up for", ["advocacy"])]


def test_a_phrase_the_corpus_uses_itself_is_left_alone():
    thesaurus = Thesaurus.parse(SETS.splitlines())
    used = corpus_using("homeless", "nowhere to live", "children in care", "looked after children")
    assert thesaurus.aliases("Is there help for young people with nowhere to live?", used) == {}
    assert thesaurus.aliases("How are children in care doing?", used) == {}
    # nor does a phrase get aliases the corpus would not find
    assert thesaurus.aliases("Could anyone speak up for them?", corpus_using("homeless")) == {}


def test_the_longest_phrase_wins_where_two_overlap():
    thesaurus = Thesaurus.parse(["return home interview, return interview", "going back home, return home"])
    assert [p.text for p, _ in thesaurus.matches("Were return home interviews done?")] == ["return home interview"]


def test_the_shipped_thesaurus_parses_and_bridges_everyday_words(pipeline):
    thesaurus = default_thesaurus()
    assert len(thesaurus.sets) >= 20  # each set changes an answer or the top passages on some question set
    texts = [p.text for s in thesaurus.sets for p in s]
    assert len(texts) == len(set(texts)), "a phrase listed twice belongs to two sets"
    uses = pipeline.index.uses_phrase
    assert uses(tuple(stems("going missing"))) and uses(tuple(stems("children in care")))
    assert not uses(tuple(stems("run away"))) and not uses(tuple(stems("care in children")))  # word order counts
    aliases = pipeline.retriever.aliases("Can teenagers who have nowhere to live get support?")
    assert ("homeless", SIMILARITY) in aliases["nowher"]
    assert ("young peopl", SIMILARITY) in aliases["teenag"]


def test_everyday_words_find_and_answer_from_the_reports_terms(pipeline):
    """Neither 'sleeping rough' nor 'run away' is in the reports; 'homeless' and 'going missing' are: the
    passages that use them come first, and the answer offered is read from the reports' words for the topic.
    (Whether it is sure enough to stand behind is the confidence's call, not the thesaurus's: a question near
    it in the reader's memory asked for something the reports do not hold.)"""
    reply = pipeline.ask("Is there anything for young people sleeping rough?")
    assert "homeless" in reply["passages"][0]["text"]
    offered = reply["answer"] or reply["candidate"]
    assert "homeless" in offered["text"]
    reply = pipeline.ask("Do children who run away get asked why when they come back?")
    assert "return home interviews" in reply["passages"][0]["text"]
    offered = reply["answer"] or reply["candidate"]
    assert "missing" in offered["text"] or "return home" in offered["text"]


@pytest.mark.parametrize("question, found, bridged", [
    ("Are children asked what they think before their care reviews?", "wishes and feelings", "what they think"),
    ("Are children who cannot stay at home brought into care quickly enough?", "timely manner", "quickly enough"),
])
def test_how_a_social_worker_would_say_it_plainly(pipeline, question, found, bridged):
    """Jargon busters' plain words: 'paperwork' or 'passports' for 'necessary documents', 'what they think' for
    'wishes and feelings', 'quickly enough' for 'timely'. Each finds the passage that says it in the reports'
    words, and the reply says what was searched."""
    reply = pipeline.ask(question)
    assert any(found in p["text"] for p in reply["passages"][:3])
    assert bridged in [searched["asked"] for searched in reply.get("searched_for", [])]


def test_a_local_file_adds_a_councils_own_names(tmp_path, monkeypatch, pipeline):
    """$QA_SYNONYMS adds sets to the shipped ones: 'leaving care team' is Barnet's Onwards and Upwards Service."""
    local = tmp_path / "barnet.txt"
    local.write_text("# Barnet's own names\nOnwards and Upwards Service, leaving care team\n", encoding="utf-8")
    monkeypatch.setenv("QA_SYNONYMS", str(local))
    default_thesaurus.cache_clear()
    try:
        thesaurus = default_thesaurus()
        assert [p.text for p in thesaurus.sets[-1]] == ["Onwards and Upwards Service", "leaving care team"]
        bridged = thesaurus.bridges("What does the leaving care team do?", pipeline.index.uses_phrase)
        assert bridged == [("leaving care team", ["Onwards and Upwards Service"])]
        monkeypatch.setenv("QA_SYNONYMS", str(tmp_path / "missing.txt"))
        default_thesaurus.cache_clear()
        with pytest.raises(ValueError, match="QA_SYNONYMS=.*missing.txt cannot be read"):
            default_thesaurus()
    finally:
        monkeypatch.delenv("QA_SYNONYMS")
        default_thesaurus.cache_clear()
