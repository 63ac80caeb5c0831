"""Evaluation metrics: SQuAD 2.0 answer scores, retrieval hit@k/MRR, best threshold and calibration.

Definitions (shared with any independent scorer):
- normalise: lower case, punctuation removed (ASCII and Unicode, so curly quotes go too), the articles
  a/an/the removed, whitespace collapsed; as the SQuAD evaluation script does.
- exact match / F1: best over the acceptable answers; an unanswerable question (no answers) scores 1 when
  the system abstains and 0 when it answers (SQuAD 2.0).
- correct (for calibration and abstention): token F1 >= 0.5 on an answerable question.
- retrieval: the first passage that contains the evidence fragment (normalised) in a document of the
  gold year; hit@k when its rank <= k; reciprocal rank 1/rank, 0 when not found.
"""
from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass

ARTICLES = re.compile(r"\b(a|an|the)\b")
CORRECT_F1 = 0.5


def _is_punctuation(char: str) -> bool:
    return char in string.punctuation or unicodedata.category(char).startswith("P")


def normalise_answer(text: str) -> str:
    """SQuAD normalisation: 'The  Onwards-and-Upwards!' -> 'onwardsandupwards'."""
    text = text.lower()
    text = "".join(ch for ch in text if not _is_punctuation(ch))
    text = ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str | None, answers: list[str]) -> float:
    if not answers:
        return float(not prediction)
    if not prediction:
        return 0.0
    return max(float(normalise_answer(prediction) == normalise_answer(a)) for a in answers)


def _f1(prediction: str, answer: str) -> float:
    pred_tokens = normalise_answer(prediction).split()
    gold_tokens = normalise_answer(answer).split()
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str | None, answers: list[str]) -> float:
    if not answers:
        return float(not prediction)
    if not prediction:
        return 0.0
    return max(_f1(prediction, a) for a in answers)


def _squash(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.lower().split())


def evidence_rank(passages: list[dict], evidence: str, year: int | None) -> int | None:
    """1-based rank of the first passage holding the evidence in a document of the right year."""
    needle = _squash(evidence)
    for rank, passage in enumerate(passages, start=1):
        document = passage.get("document") or {}
        years = {document.get("year"), int((document.get("date") or "0")[:4]) or None}
        if year is not None and year not in years:
            continue
        if needle and needle in _squash(passage["text"]):
            return rank
    return None


def hit_at(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr(ranks: list[int | None]) -> float:
    return sum(1 / r for r in ranks if r) / len(ranks) if ranks else 0.0


def best_threshold(confidences: list[float], answered_f1: list[float], has_answer: list[bool]) -> tuple[float, float]:
    """SQuAD 2.0's best threshold: the confidence cut that maximises mean F1 when all below it abstain,
    placed halfway between the last question it answers and the first it does not.

    `answered_f1` is each question's F1 if the system answers; abstaining scores 1 on unanswerable
    questions and 0 on answerable ones. Returns (threshold, F1 at that threshold).
    """
    n = len(confidences)
    if n == 0:
        return 1.0, 0.0
    score = sum(0.0 if has else 1.0 for has in has_answer)  # everything abstained
    order = sorted(range(n), key=lambda j: -confidences[j])
    best, answered = score, 0
    for count, i in enumerate(order, start=1):
        score += answered_f1[i] - (0.0 if has_answer[i] else 1.0)
        if score > best:
            best, answered = score, count
    if answered == 0:
        return float(confidences[order[0]] + 1e-6), best / n
    # halfway to the next confidence down: a cut on a question's own confidence would let the last
    # decimal of a float decide whether a question just like it is answered
    last = confidences[order[answered - 1]]
    below = confidences[order[answered]] if answered < n else 0.0
    return float((last + below) / 2), best / n


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


def reliability(confidences: list[float], correct: list[bool], bins: int = 10) -> list[ReliabilityBin]:
    """Equal-width confidence bins with mean confidence and share correct in each."""
    table = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if idx:
            table.append(ReliabilityBin(low, high, len(idx), sum(confidences[i] for i in idx) / len(idx),
                                        sum(correct[i] for i in idx) / len(idx)))
        else:
            table.append(ReliabilityBin(low, high, 0, 0.0, 0.0))
    return table


def expected_calibration_error(confidences: list[float], correct: list[bool], bins: int = 10) -> float:
    """Sum over bins of |accuracy - confidence| weighted by the bin's share of answers."""
    n = len(confidences)
    if n == 0:
        return 0.0
    return sum(b.count / n * abs(b.accuracy - b.confidence) for b in reliability(confidences, correct, bins))


def ece_if_calibrated(confidences: list[float], bins: int = 10, draws: int = 2000, seed: int = 0) -> dict[str, float]:
    """The ECE a perfectly calibrated reader would show on answers given at these confidences: each answer
    drawn right with exactly the probability its confidence states, `draws` times (seeded, so the figure
    is repeatable). ECE is biased upwards on few answers (about 0.14 on 40 answers, 0.05 on 300), so a
    batch's ECE means miscalibration only when it is well above this reference's mean; above its 90th
    percentile ('p90'), a calibrated reader would show it in fewer than 1 batch in 10."""
    if not confidences:
        return {"mean": 0.0, "p90": 0.0}
    import numpy as np

    p = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    which = np.minimum((p * bins).astype(int), bins - 1)  # the same bins as reliability(): 1.0 in the last
    right = np.random.default_rng(seed).random((draws, len(p))) < p
    error = np.zeros(draws)
    for b in range(bins):
        members = which == b
        if members.any():
            error += np.abs(right[:, members].sum(axis=1) - p[members].sum()) / len(p)
    return {"mean": float(error.mean()), "p90": float(np.percentile(error, 90))}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def holds(prediction: str | None, answers: list[str]) -> bool:
    """The prediction is a right answer or contains one (normalised): a sentence holding the asked name."""
    if not prediction or not answers:
        return False
    said = f" {normalise_answer(prediction)} "
    return any(normalise_answer(a) and f" {normalise_answer(a)} " in said for a in answers)


def risk_coverage(confidences: list[float], correct: list[bool], total: int | None = None) -> list[tuple[float, float, float]]:
    """(threshold, coverage, accuracy) answering everything at or above each confidence, most confident
    first; coverage is the share of `total` questions (all asked, default the answers given)."""
    total = total or len(confidences)
    order = sorted(range(len(confidences)), key=lambda i: -confidences[i])
    curve, right = [], 0
    for count, i in enumerate(order, start=1):
        right += bool(correct[i])
        curve.append((float(confidences[i]), count / total, right / count))
    return curve


def aurc(confidences: list[float], correct: list[bool], total: int | None = None) -> float:
    """Area under the risk-coverage curve (risk = 1 - accuracy of the answers above each threshold), over
    the answers given: lower is better; 0 when every answer is right."""
    curve = risk_coverage(confidences, correct, total)
    if not curve:
        return 0.0
    return sum(1.0 - accuracy for _, _, accuracy in curve) / len(curve)
