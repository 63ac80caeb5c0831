"""Raw answer score -> probability that the answer is right, fitted on the gold set.

Isotonic regression (scikit-learn) on (best raw score, correct) pairs from the gold questions; the fit is
saved as plain points in qa/calibration.json with the abstention threshold chosen the SQuAD 2.0 way
(the confidence that maximises F1 when everything below it abstains). `qa calibrate` refits it.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"


@dataclass(frozen=True)
class Calibration:
    xs: tuple[float, ...]  # raw scores, increasing
    ys: tuple[float, ...]  # probabilities at those scores
    threshold: float  # abstain below this probability

    def probability(self, score: float) -> float:
        if not self.xs:
            return 1 / (1 + math.exp(-4 * (score - 1.2)))  # before any fit: a rough logistic
        return float(np.clip(np.interp(score, self.xs, self.ys), 0.0, 1.0))

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> "Calibration":
        if not path.exists():
            log.warning("no calibration at %s: confidences are uncalibrated until `qa calibrate` runs", path)
            return cls((), (), 0.5)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(data["xs"]), tuple(data["ys"]), float(data["threshold"]))

    def save(self, path: Path = CALIBRATION_FILE, **about) -> None:
        data = {"xs": list(self.xs), "ys": list(self.ys), "threshold": self.threshold} | about
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def fit(scores: list[float], correct: list[bool], smoothing: float = 1.0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Isotonic fit of correctness on score, shrunk towards 0.5 by `smoothing` pseudo-counts per step."""
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(scores)
    x = np.asarray(scores, dtype=float)[order]
    y = np.asarray(correct, dtype=float)[order]
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
    fitted = model.predict(x)
    # shrink each constant block towards 0.5 by its size, so a block of 2 questions cannot claim certainty
    xs, ys = [], []
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or fitted[i] != fitted[start]:
            n = i - start
            p = (fitted[start] * n + 0.5 * smoothing) / (n + smoothing)
            xs += [x[start], x[i - 1]]
            ys += [p, p]
            start = i
    return tuple(float(v) for v in xs), tuple(float(v) for v in ys)


def fit_and_save(items, pipeline) -> tuple[Path, str]:
    """Run the gold set, fit the calibration on each question's best candidate, choose the threshold, save."""
    from qa import metrics

    pipeline.warm_up()
    raw, correct, answer_f1, has_answer = [], [], [], []
    for item in items:
        best = pipeline.best_candidate(item.question)
        if best is None:
            raw.append(-1.0)
            correct.append(False)
            answer_f1.append(0.0 if item.answers else 1.0)
        else:
            f1 = metrics.f1_score(best.text, item.answers)
            raw.append(best.score)
            correct.append(bool(item.answers) and f1 >= metrics.CORRECT_F1)
            answer_f1.append(f1)
        has_answer.append(bool(item.answers))
    xs, ys = fit(raw, correct)
    calibration = Calibration(xs, ys, 0.5)
    confidences = [calibration.probability(s) if s > -1 else 0.0 for s in raw]
    threshold, best_f1 = metrics.best_threshold(confidences, answer_f1, has_answer)
    calibration = Calibration(xs, ys, round(threshold, 4))
    calibration.save(questions=len(items), best_f1=round(best_f1, 4),
                     note="fitted by `qa calibrate` on eval/gold.jsonl; do not edit by hand")
    return CALIBRATION_FILE, f"{len(items)} questions, threshold {threshold:.3f}, F1 at threshold {best_f1:.3f}"
