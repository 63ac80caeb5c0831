"""Retrieval: years in the question as filters, metadata filters, hybrid ranking on the real index."""
from __future__ import annotations

import numpy as np
import pytest

from qa.retrieve import question_filters, rerank, retrieval_query, validate_filters


@pytest.mark.parametrize("question, expected", [
    ("What grade did care leavers' services receive in 2024?", {"year": 2024}),
    ("What did the 2019 inspection say?", {"year": 2019}),
    ("Has the grade improved since 2017?", {"date_from": "2017-01-01"}),
    ("How did things change between 2019 and 2024?", {"date_from": "2019-01-01", "date_to": "2024-12-31"}),
    ("What happened before 2020?", {"date_to": "2019-12-31"}),
    ("Can families get help in an emergency outside office hours?", {}),
    ("According to the 2019 letter, how had services changed since 2017?", {"year": 2019}),
    ("What does the press article say about early help?", {"kind": "news"}),
    ("What did social workers say about their caseloads during the 2017 monitoring visit?",
     {"year": 2017, "kind": "monitoring visit"}),
])
def test_years_in_the_question(question, expected):
    assert question_filters(question) == expected


def test_stated_years_leave_the_retrieval_query():
    assert retrieval_query("What grade did care leavers' services receive in 2024?") == (
        "What grade did care leavers' services receive?")
    assert retrieval_query("What did the team find in November 2017?") == "What did the team find?"
    assert retrieval_query("In 2024, were leaders aware of their weaknesses?") == "were leaders aware of their weaknesses?"


def test_the_report_a_question_is_set_in_leaves_the_retrieval_query():
    """'During the 2021 visit, ...' says where to look (a filter), not what to look for: as words it would
    favour the passages that describe the visit itself."""
    assert retrieval_query("During the 2021 visit, were disabled children in care well supported?") == (
        "were disabled children in care well supported?")
    assert retrieval_query("How was the front door doing in the 2017 monitoring visit?") == "How was the front door doing?"
    assert retrieval_query("Who carried out the visit?") == "Who carried out the visit?"  # the visit is what is asked


def test_the_kind_of_report_named_in_the_question_is_a_filter(pipeline):
    reply = pipeline.ask("According to the news article, when was Barnet's previous inspection?")
    assert reply["filters_applied"] == {"kind": "news", "authority": "Barnet"}
    assert all(p["document"]["kind"] == "news" for p in reply["passages"])
    assert reply["answer"] and reply["answer"]["text"] == "2012"


def test_a_period_asked_about_beside_a_named_reports_year_stays_in_the_query():
    """The 2019 letter is the filter; 'since 2017' is what the question asks about."""
    assert retrieval_query("According to the 2019 letter, how had services changed since 2017?") == (
        "how had services changed since 2017?")


def test_what_changed_since_a_year_is_answered_from_the_named_report(pipeline):
    reply = pipeline.ask("According to the 2019 letter, how had services changed since 2017?")
    assert reply["filters_applied"] == {"year": 2019}
    assert not reply["abstained"], reply.get("candidate")
    assert "improved a lot since the last inspection in 2017" in reply["answer"]["text"]
    assert reply["passages"][0]["document"]["date"].startswith("2019")


def test_filter_validation_names_the_bad_value():
    with pytest.raises(ValueError, match="filters.year"):
        validate_filters({"year": "2024"})
    with pytest.raises(ValueError, match="unknown filter"):
        validate_filters({"colour": "red"})
    with pytest.raises(ValueError, match="after date_to"):
        validate_filters({"date_from": "2024-01-01", "date_to": "2019-01-01"})


def test_year_filter_applies(pipeline):
    reply = pipeline.ask("What grade did care leavers' services receive in 2024?")
    assert reply["filters_applied"] == {"year": 2024}
    assert reply["passages"] and all(p["document"]["year"] == 2024 for p in reply["passages"])
    top = reply["passages"][0]
    assert "care leavers" in top["text"] and top["document"]["date"] == "2024-06-14"


def test_kind_document_and_date_filters(pipeline):
    reply = pipeline.ask("What did inspectors find about supervision?", filters={"kind": "monitoring visit"})
    assert {p["document"]["kind"] for p in reply["passages"]} == {"monitoring visit"}
    reply = pipeline.ask("supervision", filters={"document": "2021-08-barnet-focused-visit-children-in-care"})
    assert {p["document"]["id"] for p in reply["passages"]} == {"2021-08-barnet-focused-visit-children-in-care"}
    reply = pipeline.ask("supervision", filters={"date_from": "2021-01-01", "date_to": "2021-12-31"})
    assert {p["document"]["year"] for p in reply["passages"]} == {2021}


def test_hybrid_finds_paraphrased_question(pipeline):
    reply = pipeline.ask("Can families get help in an emergency outside office hours?")
    assert "emergency duty service" in reply["passages"][0]["text"]
    assert reply["passages"][0]["citation"].endswith("para 21")


def test_a_question_that_is_a_heading_finds_what_sits_under_it(pipeline):
    """The 2024 list of what needs to improve says neither 'need' nor 'improve' itself: its heading does."""
    retriever = pipeline.retriever
    hits = retriever.search("What needs to improve?", top_k=3)
    assert hits[0].passage.section == "What needs to improve?"
    assert hits[0].passage.text.startswith("Return home interviews informing safety plans")
    index = retriever.index
    assert index.heading_vectors.shape[0] == index.manifest["headings"] < len(index.passages)
    assert index.passages[hits[0].row].heading() == "What needs to improve?"


def test_a_year_no_report_covers_returns_closest_passages_and_abstains(pipeline):
    reply = pipeline.ask("What grade did care leavers' services get in 2023?")
    assert reply["abstained"] and reply["answer"] is None
    assert reply["filters_relaxed"] == ["year"] and reply["passages"]


def test_modes_rank_differently_but_all_return_cited_passages(pipeline):
    for mode in ("dense", "lexical", "hybrid"):
        reply = pipeline.ask("return home interviews", top_k=3, mode=mode)
        assert len(reply["passages"]) == 3
        assert [p["rank"] for p in reply["passages"]] == [1, 2, 3]


def test_words_the_reports_never_use_stand_for_their_nearest_corpus_words(pipeline):
    """'kids' and 'doctors' are not in the reports; 'children' and 'medical' are. Another council's name
    or a role the reports never mention has no close neighbour and stays unknown."""
    retriever = pipeline.retriever
    aliases = retriever.aliases("Did kids see doctors?")
    assert [alias for alias, _ in aliases["kid"]][0] == "children"
    assert [alias for alias, _ in aliases["doctor"]] == ["medic"]
    assert retriever.aliases("How were Camden's services rated by the mayor?") == {}
    assert retriever.aliases("What grade did the care leavers' service get?") == {}  # every word is in the reports
    # 'dads' is the everyday word for 'fathers' (qa/synonyms.txt); 'siblings' has no line there, and the
    # words nearest it in meaning stand for it
    aliases = retriever.aliases("Were dads and siblings asked for their views?")
    assert [alias for alias, _ in aliases["dad"]] == ["father"]
    assert {"brother", "sister"} & {alias for alias, _ in aliases["sibl"]}
    # BM25 alone now finds the passage about fathers from a question that says 'dads'
    hits = retriever.search("Did assessments include the views of dads?", 3, {"year": 2017}, "lexical")
    assert "fathers" in hits[0].passage.text


def test_a_paraphrase_with_an_unknown_word_is_answered_from_its_alias(pipeline):
    reply = pipeline.ask("How are autistic children supported?")
    assert not reply["abstained"], reply.get("candidate")
    assert "autism" in reply["answer"]["text"]


def test_the_shown_passages_rise_by_their_sentences_answer_vectors(pipeline):
    """A question vector pointing at the last hit's first sentence in the answer encoder's space brings that
    passage to the top; all are numbered again in their new order, scores falling and within [0, 1]."""
    ctx, _, _ = pipeline.prepare("How quickly do children get help when they first need it?")
    hits = ctx.hits
    last = hits[-1]
    reranked = rerank(pipeline.index, hits, pipeline.index.answer_vectors_of(last.row)[0])
    assert reranked[0].row == last.row
    assert [h.rank for h in reranked] == list(range(1, len(hits) + 1))
    assert all(0.0 <= h.score <= 1.0 for h in reranked)
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)
    assert rerank(pipeline.index, hits, None) == hits


def test_the_service_shows_passages_in_the_answer_encoders_order(pipeline):
    """The reader's passage first, then the rest as the answer encoder re-ranks them; the reader itself read
    them as search ranked them. On the real index that order differs from search's for some questions
    (questions written for this test)."""
    changed = 0
    for question in ("How quickly do children get help when they first need it?",
                     "Do young people leaving care have somewhere safe to live?",
                     "What happens when a child goes missing from home?"):
        reply = pipeline.ask(question, top_k=5)
        ctx, _, _ = pipeline.prepare(question, top_k=5)
        shown = [p["id"] for p in reply["passages"]]
        expected = [h.passage.id for h in rerank(pipeline.index, ctx.hits, ctx.answer_vector)]
        if reply["answer"]:
            expected = [reply["answer"]["passage_id"]] + [i for i in expected if i != reply["answer"]["passage_id"]]
        assert shown == expected[:5]
        changed += shown[1:] != [h.passage.id for h in ctx.hits if h.passage.id != shown[0]][:4]
    assert changed


def test_the_answer_search_ranks_passages_by_their_best_sentence(pipeline):
    """Index.search_answers (FAISS over every sentence's answer vector) gives the passages whose best sentence
    sits closest to the question in the answer encoder's space, best first, as a look at every sentence ranks
    them; a filter keeps it to the filter's passages."""
    index = pipeline.index
    vector = pipeline.answer_encoder.encode(["can a teenager who was in care get help paying for university"])[0]
    rows, scores = index.search_answers(vector, 5)
    offsets = index.sentence_offsets
    every = index.answer_vectors.rows(0, int(offsets[-1])).astype(np.float32) @ vector
    best = np.asarray([every[offsets[r]:offsets[r + 1]].max() if offsets[r + 1] > offsets[r] else -np.inf
                       for r in range(len(offsets) - 1)])
    assert len(rows) == 5
    np.testing.assert_allclose(scores, np.sort(best)[::-1][:5], atol=1e-3)
    np.testing.assert_allclose(best[rows], scores, atol=1e-3)
    allowed = pipeline.retriever.allowed_rows({"year": 2021})
    filtered, _ = index.search_answers(vector, 5, allowed)
    assert len(filtered) and set(filtered.tolist()) <= set(allowed.tolist())
    assert set(filtered.tolist()) != set(rows.tolist())


def test_a_filters_passages_expand_to_exactly_their_sentences():
    """The answer search keeps to a filter by the sentence ids of the passages it allows: every sentence of
    each allowed passage, none of another, passages without sentences adding nothing."""
    from qa.index import sentence_rows

    offsets = np.asarray([0, 3, 3, 4, 9, 11])  # five passages; the second has no sentences
    np.testing.assert_array_equal(sentence_rows(offsets, np.asarray([0, 1, 3])), [0, 1, 2, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(sentence_rows(offsets, np.asarray([4, 2])), [9, 10, 3])
    assert len(sentence_rows(offsets, np.asarray([1]))) == 0 and len(sentence_rows(offsets, np.asarray([], int))) == 0


# everyday wording, written for these tests
EVERYDAY = ("can a teenager who was in care get help paying for university",
            "is anyone checking that the bosses know what is going on at ground level",
            "what happens when a child turns up at hospital with bruises",
            "is there help for kids whose mum drinks too much")


def test_the_reader_also_reads_the_passages_only_the_answer_encoder_finds(pipeline):
    """Besides the search's first READ_DEPTH passages, the reader reads those of the answer encoder's best
    WIDER_DEPTH that the search left out, ranked after them with no search score; their sentences are
    candidates. `widen=False` (what calibrate asks before it widens with an encoder not fitted on the
    question) leaves them out. The shipped reader was fitted reading them (its model says how many)."""
    from qa.reader import READ_DEPTH, WIDER_DEPTH
    from qa.reader.sentences import gather

    assert pipeline.reader.model.wider_depth == WIDER_DEPTH
    widened = 0
    for question in EVERYDAY:
        ctx, _, _ = pipeline.prepare(question)
        searched = [h.row for h in ctx.hits[:READ_DEPTH]]
        best, _ = pipeline.index.search_answers(ctx.answer_vector, WIDER_DEPTH)
        assert [h.row for h in ctx.wider] == [r for r in best.tolist() if r not in searched]
        assert [h.rank for h in ctx.wider] == list(range(READ_DEPTH + 1, READ_DEPTH + 1 + len(ctx.wider)))
        assert all(h.score == 0.0 for h in ctx.wider)
        read = {c.hit.row for c in gather(ctx)}
        assert {h.row for h in ctx.wider} <= read
        widened += bool(ctx.wider)
        narrow, _, _ = pipeline.prepare(question, widen=False)
        assert narrow.wider == [] and [h.row for h in narrow.hits] == [h.row for h in ctx.hits]
    assert widened  # the encoder finds passages the search does not for some everyday questions


def test_calibrate_widens_a_questions_reading_as_the_service_does(pipeline):
    """qa calibrate asks without widening, then widens with an encoder's vectors for the question and every
    sentence of the index (out of fold there; here the shipped encoder's): the same passages the service
    reads, their candidates gathered and labelled again."""
    from eval.runner import GoldItem
    from qa.reader import train

    index = pipeline.index
    corpus = pipeline.answer_encoder.encode(train.sentence_texts(index))
    assert len(corpus) == int(index.sentence_offsets[-1])
    for question in EVERYDAY:
        example = train.collect(pipeline, [GoldItem("t", question, [], "", None, "other")])[0]
        assert example.ctx.wider == []
        before = len(example.candidates)
        served, _, _ = pipeline.prepare(question)
        added = train.widen(example, pipeline.answer_encoder.encode([question])[0], corpus)
        assert added == bool(served.wider)
        assert [h.row for h in example.ctx.wider] == [h.row for h in served.wider]
        assert len(example.labels) == len(example.candidates) >= before
        assert (len(example.candidates) > before) == added
