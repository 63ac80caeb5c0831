"""The question memory (qa.reader.memory): what it recalls, where a recollection counts, and how the reader
narrows to a recalled answer. The questions here are written for the tests; none is an evaluation question."""
from __future__ import annotations

import numpy as np
import pytest

from qa.reader import features as F
from qa.reader.memory import FLOOR, Memory, Recall, agreement, nearest, support, votes
from qa.reader.read import recalled_part
from qa.reader.sentences import SentenceCandidate

PASSAGE = ("Leaders have built a stable workforce. Caseloads are manageable, so social workers know their "
           "children well. The family hub in Colindale opened in 2023.")


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def small_memory() -> Memory:
    return Memory.fit([unit(1, 0, 0), unit(0.9, 0.1, 0), unit(0, 1, 0), unit(0, 0, 1)],
                      [["manageable"], ["Caseloads are manageable"], [], ["the family hub in Colindale"]],
                      ["Caseloads are manageable, so social workers know their children well.", "Caseloads are",
                       "", "The family hub in Colindale opened in 2023."],
                      ["set-a", "set-b", "set-a", "set-b"], ["report-2023"], ["yesno", "description", "quantity", "place"])


def test_recall_is_most_similar_first_above_the_floor_and_leaves_out_excluded_sets():
    memory = small_memory()
    recalled = memory.recall(unit(1, 0.05, 0))
    assert [r.answers for r in recalled[:2]] == [("manageable",), ("Caseloads are manageable",)]
    assert all(r.similarity >= FLOOR for r in recalled)
    assert len(recalled) == 2  # the other two are too far
    assert [r.answers for r in memory.recall(unit(1, 0.05, 0), frozenset({"set-a"}))] == [("Caseloads are manageable",)]


def test_a_question_nobody_could_answer_is_recalled_only_of_the_reports_it_was_asked_of(tmp_path):
    """'The reports could not answer it' held for the reports then: asked of a new report too (a new
    council's), such a question is not recalled; answered ones still are."""
    memory = small_memory()
    memory.save(tmp_path / "memory.npz")
    for kept in (memory, Memory.load(tmp_path / "memory.npz")):
        assert [r.answers for r in kept.recall(unit(0, 1, 0), documents=["report-2023"])] == [()]
        assert kept.recall(unit(0, 1, 0), documents=["report-2023", "new-council-2025"]) == []
        assert kept.recall(unit(0, 1, 0)) != []
        assert [r.answers for r in kept.recall(unit(1, 0.05, 0), documents=["new-council-2025"])][0] == ("manageable",)


def test_an_empty_or_mismatched_memory_recalls_nothing(tmp_path):
    assert Memory.load(tmp_path / "absent.npz").recall(unit(1, 0, 0)) == []
    assert small_memory().recall(unit(1, 0)) == []  # a vector of another model's width
    assert small_memory().recall(None) == []


def test_saved_and_loaded_it_recalls_the_same(tmp_path):
    memory = small_memory()
    memory.save(tmp_path / "memory.npz")
    loaded = Memory.load(tmp_path / "memory.npz")
    assert len(loaded) == 4
    before, after = memory.recall(unit(1, 0.05, 0)), loaded.recall(unit(1, 0.05, 0))
    assert [r.answers for r in before] == [r.answers for r in after]
    assert [round(r.similarity, 2) for r in before] == [round(r.similarity, 2) for r in after]
    assert [r.kind for r in after] == [r.kind for r in before] == ["yesno", "description"]


def test_a_recollection_counts_only_in_the_passage_it_was_answered_from():
    recall = Recall(0.9, ("manageable",), "caseloads are manageable so social workers know their children well")
    sentence = "Caseloads are manageable, so social workers know their children well."
    assert recall.supports(sentence, PASSAGE) == "manageable"
    other = "In another council, caseloads are manageable but rising."
    assert recall.supports(other, other) is None  # the word is there, the evidence is not
    assert recall.supports("Leaders have built a stable workforce.", PASSAGE) is None  # the answer is not there
    assert Recall(0.9, (), "").supports(sentence, PASSAGE) is None  # an unanswerable question answers nothing


def test_support_takes_the_most_similar_recollection_that_the_sentence_answers():
    recalled = [Recall(0.95, ("Colindale",), ""), Recall(0.8, ("manageable",), ""), Recall(0.7, ("stable",), "")]
    assert support(recalled, "Caseloads are manageable.", PASSAGE) == (0.8, "manageable")
    assert support(recalled, "Nothing here.", PASSAGE) == (0.0, None)
    assert nearest(recalled + [Recall(0.85, (), "")], answerable=False) == 0.85
    assert nearest(recalled, answerable=False) == 0.0


def test_votes_count_every_earlier_question_a_sentence_answers_and_agreement_shares_them():
    recalled = [Recall(0.9, ("manageable",), ""), Recall(0.8, ("caseloads are manageable",), ""),
                Recall(0.7, ("stable",), ""), Recall(0.6, (), "")]
    backing = votes(recalled, "Caseloads are manageable.", PASSAGE)
    assert backing == pytest.approx(1.7)  # two earlier questions were answered from it
    assert votes(recalled, "Nothing here.", PASSAGE) == 0.0
    assert agreement(recalled, backing) == pytest.approx(1.7 / 2.4)  # the unanswerable one does not count
    assert agreement(recalled, 2.4) == pytest.approx(1.0)
    assert agreement([Recall(0.9, (), "")], 0.0) == 0.0  # nothing answered was recalled


def candidate(sentence: str, recalled: str | None, similarity: float) -> SentenceCandidate:
    features = np.zeros(len(F.SENTENCE_FEATURES), dtype=np.float32)
    features[F.SENTENCE_FEATURES.index("recalled")] = similarity
    start = PASSAGE.index(sentence)
    return SentenceCandidate(hit=type("H", (), {"passage": type("P", (), {"text": PASSAGE})()})(), position=0,
                             start=start, end=start + len(sentence), features=features, typed=[], recalled=recalled,
                             recalled_similarity=similarity)


@pytest.mark.parametrize("recalled, found", [
    ("the family hub in Colindale", "family hub in Colindale"),  # case and the link word as written
    ("family  hub in\nColindale", "family hub in Colindale"),  # whitespace as the writer typed it
])
def test_the_reader_narrows_to_the_recalled_answer_as_the_sentence_writes_it(recalled, found):
    sentence = "The family hub in Colindale opened in 2023."
    part = recalled_part(candidate(sentence, recalled, 0.9), 0.8)
    assert part is not None and found in sentence[part[0]:part[1]]
    assert sentence[part[0]:part[1]] != sentence


def test_the_reader_keeps_the_sentence_below_the_cut_or_when_the_answer_is_the_sentence():
    sentence = "The family hub in Colindale opened in 2023."
    assert recalled_part(candidate(sentence, "family hub in Colindale", 0.7), 0.8) is None
    assert recalled_part(candidate(sentence, sentence, 0.95), 0.8) is None
    assert recalled_part(candidate(sentence, "opened in 2024", 0.95), 0.8) is None  # not in this sentence
    assert recalled_part(candidate(sentence, None, 0.95), 0.8) is None


def test_the_pipeline_recalls_an_earlier_question_only_where_its_report_is_searched(pipeline):
    """A memory of one question written for this test: a reworded question recalls it and the sentence that
    answered it is marked; the same question about a year whose reports do not hold that sentence is not."""
    saved, pipeline.memory = pipeline.memory, Memory.empty()
    try:
        earlier = "How manageable were social workers' caseloads when inspectors visited in 2024?"
        vector = pipeline.prepare(earlier)[0].question_vector
        hits = pipeline.prepare(earlier)[0].hits
        sentence = next(hits[0].passage.text[a:b] for a, b in hits[0].passage.sentences)
        answer = max(sentence.split(), key=len).strip(".,;:()")
        asked = "In 2024, were caseloads for social workers manageable?"
        kind = pipeline.prepare(asked)[0].question.type
        pipeline.memory = Memory.fit([vector], [[answer]], [sentence], ["written-for-the-test"], kinds=[kind])
        context = pipeline.prepare(asked)[0]
        assert context.recalled and context.recalled[0].similarity >= FLOOR
        from qa.reader.sentences import gather

        recalled = F.SENTENCE_FEATURES.index("recalled")
        marked = [c for c in gather(context) if c.features[recalled] > 0]
        assert marked and all(c.text == sentence for c in marked)
        assert all(c.features[recalled] >= FLOOR and c.recalled == answer for c in marked)
        other_year = pipeline.prepare("In 2017, were caseloads for social workers manageable?")[0]
        assert not [c for c in gather(other_year) if c.features[recalled] > 0 or c.recalled]
        # an earlier question that asked for another kind of thing still backs the sentence, but its answer is
        # not one the reader may narrow to
        other_kind = "reason" if kind != "reason" else "date"
        pipeline.memory = Memory.fit([vector], [[answer]], [sentence], ["written-for-the-test"], kinds=[other_kind])
        backed = [c for c in gather(pipeline.prepare(asked)[0]) if c.features[recalled] > 0]
        assert backed and all(c.text == sentence and c.recalled is None for c in backed)
        pipeline.memory_exclude = frozenset({"written-for-the-test"})
        assert pipeline.prepare("In 2024, were caseloads for social workers manageable?")[0].recalled == []
    finally:
        pipeline.memory, pipeline.memory_exclude = saved, frozenset()


def test_calibrate_reads_each_question_without_its_own_sets_questions():
    from qa.reader.train import forgotten

    assert forgotten(["a", "b", "a"]) == [{"a"}, {"b"}, {"a"}]
