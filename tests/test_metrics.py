"""Metric functions against hand-computed values."""
from __future__ import annotations

import pytest

from qa import metrics


@pytest.mark.parametrize("raw, normalised", [
    ("The Onwards and Upwards Service", "onwards and upwards service"),
    ("  A  very small   number. ", "very small number"),
    ("‘All about me’ plans", "all about me plans"),
    ("an apple, the pear!", "apple pear"),
    ("Requires improvement to be good", "requires improvement to be good"),
])
def test_squad_normalisation(raw, normalised):
    assert metrics.normalise_answer(raw) == normalised


def test_exact_match_and_f1_by_hand():
    assert metrics.exact_match("the Good", ["Good"]) == 1.0
    assert metrics.exact_match("Good", ["Outstanding", "good."]) == 1.0
    assert metrics.exact_match("Good", ["Outstanding"]) == 0.0
    # prediction 'tara geere' vs gold 'tara geere and christine kennet': P=2/2, R=2/5, F1=2*1*0.4/1.4
    assert metrics.f1_score("Tara Geere", ["Tara Geere and Christine Kennet"]) == pytest.approx(0.8 / 1.4)
    # best over the acceptable answers
    assert metrics.f1_score("daily meetings", ["daily", "weekly meetings"]) == pytest.approx(2 / 3)
    # unanswerable: abstaining scores 1, answering 0 (SQuAD 2.0)
    assert metrics.exact_match(None, []) == 1.0 and metrics.f1_score("Good", []) == 0.0
    assert metrics.f1_score(None, ["Good"]) == 0.0


def test_retrieval_metrics_by_hand():
    ranks = [1, 3, None, 2]
    assert metrics.hit_at(ranks, 1) == 0.25
    assert metrics.hit_at(ranks, 3) == 0.75
    assert metrics.mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)


def test_evidence_rank_needs_the_right_year():
    passages = [
        {"text": "Good support for care leavers.", "document": {"year": 2019, "date": "2019-07-01"}},
        {"text": "Good   support for care leavers!", "document": {"year": 2024, "date": "2024-06-14"}},
    ]
    assert metrics.evidence_rank(passages, "good support for care leavers", 2024) == 2
    assert metrics.evidence_rank(passages, "good support for care leavers", None) == 1
    assert metrics.evidence_rank(passages, "not there", None) is None


def test_best_threshold_by_hand():
    # two answerable (F1 1.0 at conf 0.9, F1 0.0 at conf 0.4) and one unanswerable (conf 0.6)
    confidences, f1s, has = [0.9, 0.4, 0.6], [1.0, 0.0, 0.0], [True, True, False]
    threshold, f1 = metrics.best_threshold(confidences, f1s, has)
    # answering only the 0.9 one: 1 (right) + 0 (answerable abstained) + 1 (unanswerable abstained) = 2/3;
    # the cut lies halfway between it and the next confidence down (0.6), not on a question's own confidence
    assert threshold == pytest.approx(0.75) and f1 == pytest.approx(2 / 3)
    assert metrics.best_threshold([0.5], [1.0], [True])[0] == pytest.approx(0.25)  # all answered: halfway to 0


def test_calibration_error_by_hand():
    confidences = [0.95, 0.95, 0.55, 0.55]
    correct = [True, True, True, False]
    # bin 0.9-1.0: conf .95, acc 1.0 -> .05 * 2/4; bin 0.5-0.6: conf .55, acc .5 -> .05 * 2/4
    assert metrics.expected_calibration_error(confidences, correct) == pytest.approx(0.05)
    table = metrics.reliability(confidences, correct)
    assert [b.count for b in table if b.count] == [2, 2]


def test_percentile():
    assert metrics.percentile([1, 2, 3, 4], 0.5) == 2.5
    assert metrics.percentile([10], 0.95) == 10


def test_an_answer_holds_when_it_contains_a_right_answer():
    from qa.metrics import holds

    assert holds("The lead inspector was Naintara Khosla.", ["Naintara Khosla"])
    assert not holds("The lead inspector was Naintara.", ["Naintara Khosla"])
    assert not holds("Goodwin", ["Good"])  # whole words only
    assert not holds(None, ["Good"]) and not holds("Good", [])


def test_risk_coverage_and_its_area():
    from qa.metrics import aurc, risk_coverage

    curve = risk_coverage([0.9, 0.8, 0.3], [True, False, True], total=4)
    assert [(round(c, 2), round(a, 2)) for _, c, a in curve] == [(0.25, 1.0), (0.5, 0.5), (0.75, 0.67)]
    assert aurc([0.9, 0.8], [True, True]) == 0.0
    # confidence that orders right answers first has the smaller area
    assert aurc([0.9, 0.1], [True, False]) < aurc([0.1, 0.9], [True, False])


def test_the_threshold_answers_when_an_answer_is_worth_its_risk():
    from qa.reader.train import choose_threshold

    probabilities = [0.95, 0.9, 0.6, 0.4, 0.2]
    right = [True, True, False, True, False]
    # a wrong answer costing half a right one: answering down to 0.4 gains 3 - 0.5; at 0.2 it would lose
    assert choose_threshold(probabilities, right, cost=0.5) == pytest.approx(0.3)
    # costing as much: the 0.6 mistake is not worth the 0.4 answer after it
    assert choose_threshold(probabilities, right, cost=1.0) == pytest.approx(0.75)


def test_a_weighted_threshold_counts_each_answer_by_its_weight():
    from qa.reader.train import choose_threshold, set_weights

    probabilities = [0.9, 0.6, 0.5, 0.4]
    right = [True, False, False, True]
    # alike: answering down to 0.4 gains 2 - 1 = 1, as much as stopping at 0.9, which is reached first
    assert choose_threshold(probabilities, right, cost=0.5) == pytest.approx(0.75)
    # the last answer's set is small, so it counts for more: answering down to 0.4 is now worth it
    assert choose_threshold(probabilities, right, cost=0.5, weights=[1, 1, 1, 3]) == pytest.approx(0.2)
    assert set_weights(["a", "a", "b", "a"]) == pytest.approx([1 / 3, 1 / 3, 1, 1 / 3])


def test_the_calibrated_reference_says_what_ece_a_few_answers_show_by_chance():
    import numpy as np

    rng = np.random.default_rng(1)
    confidences = list(rng.uniform(0.4, 1.0, 40))
    reference = metrics.ece_if_calibrated(confidences)
    assert reference == metrics.ece_if_calibrated(confidences)  # seeded: the same figure every run
    # forty answers: a perfectly calibrated reader still shows an ECE near 0.14, so 0.14 on such a batch is no evidence
    assert 0.08 < reference["mean"] < reference["p90"] < 0.3
    assert metrics.ece_if_calibrated(confidences * 10)["mean"] < reference["mean"] / 2  # it shrinks as answers grow
    # most batches drawn from calibrated confidences fall under the 90th percentile; an overconfident reader does not
    drawn = [metrics.expected_calibration_error(confidences, list(rng.random(40) < np.asarray(confidences)))
             for _ in range(200)]
    assert 0.8 <= np.mean([e <= reference["p90"] for e in drawn]) <= 0.97
    overconfident = list(rng.random(40) < np.asarray(confidences) - 0.3)
    assert metrics.expected_calibration_error(confidences, overconfident) > reference["p90"]
    assert metrics.ece_if_calibrated([]) == {"mean": 0.0, "p90": 0.0}
