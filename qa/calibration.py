"""Reader features -> probability that the answer is right, fitted on the gold set.

A logistic regression (scikit-learn) over the reader's features of its best answer (raw score, sentence
similarity, coverage of the question's words, margin over the best rival answer, answer type, rank...),
fitted on (features, correct) pairs from the gold questions. It is saved as plain numbers in
qa/calibration.json with the abstention threshold chosen the SQuAD 2.0 way (the confidence that
maximises F1 when everything below it abstains). `qa calibrate` refits it and reports cross-validated
figures beside the in-sample ones, so overfitting shows. Without a fitted model an isotonic map of the raw
score (or, before any fit, a rough logistic) is used.
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


FEATURES = ("score", "sentence_similarity", "coverage", "local_coverage", "unknown_words", "margin",
            "is_grade", "is_short_span", "is_list", "reciprocal_rank")


@dataclass(frozen=True)
class Calibration:
    xs: tuple[float, ...]  # raw scores, increasing (isotonic fallback)
    ys: tuple[float, ...]  # probabilities at those scores
    threshold: float  # abstain below this probability
    means: tuple[float, ...] = ()  # logistic model over FEATURES, standardised
    scales: tuple[float, ...] = ()
    coef: tuple[float, ...] = ()
    intercept: float = 0.0

    def probability(self, score: float, features: tuple[float, ...] = ()) -> float:
        if self.coef and len(features) == len(self.coef):
            z = self.intercept + sum(c * (f - m) / s for c, f, m, s in zip(self.coef, features, self.means, self.scales))
            return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))
        if not self.xs:
            return 1 / (1 + math.exp(-4 * (score - 1.2)))  # before any fit: a rough logistic
        return float(np.clip(np.interp(score, self.xs, self.ys), 0.0, 1.0))

    @classmethod
    def load(cls, path: Path = CALIBRATION_FILE) -> "Calibration":
        if not path.exists():
            log.warning("no calibration at %s: confidences are uncalibrated until `qa calibrate` runs", path)
            return cls((), (), 0.5)
        data = json.loads(path.read_text(encoding="utf-8"))
        model = data.get("model") or {}
        if model and tuple(model.get("features", ())) != FEATURES:
            log.warning("calibration model in %s was fitted on other features: run `qa calibrate`", path)
            model = {}
        return cls(tuple(data["xs"]), tuple(data["ys"]), float(data["threshold"]), tuple(model.get("means", ())),
                   tuple(model.get("scales", ())), tuple(model.get("coef", ())), float(model.get("intercept", 0.0)))

    def save(self, path: Path = CALIBRATION_FILE, **about) -> None:
        data = {"threshold": self.threshold,
                "model": {"features": list(FEATURES), "means": list(self.means), "scales": list(self.scales),
                          "coef": list(self.coef), "intercept": self.intercept},
                "xs": list(self.xs), "ys": list(self.ys)} | about
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def fit_logistic(features: list[tuple[float, ...]], correct: list[bool], c: float = 0.5) -> dict:
    """Standardised L2 logistic regression; returns plain numbers for calibration.json."""
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(features, dtype=float)
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - means) / scales, np.asarray(correct, dtype=int))
    return {"means": tuple(means.tolist()), "scales": tuple(scales.tolist()),
            "coef": tuple(model.coef_[0].tolist()), "intercept": float(model.intercept_[0])}


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
    """Run the gold set, fit the confidence model on each question's best candidate, choose the threshold, save."""
    from qa import metrics

    pipeline.warm_up()
    rows = []  # (features or None, raw score, correct, F1 if answered, has answer)
    for item in items:
        best = pipeline.best_candidate(item.question)
        if best is None:
            rows.append((None, -1.0, False, 0.0 if item.answers else 1.0, bool(item.answers)))
            continue
        f1 = metrics.f1_score(best.text, item.answers)
        rows.append((best.features, best.score, bool(item.answers) and f1 >= metrics.CORRECT_F1,
                     f1, bool(item.answers)))
    answered = [r for r in rows if r[0] is not None]
    xs, ys = fit([r[1] for r in rows], [r[2] for r in rows])
    model = fit_logistic([r[0] for r in answered], [r[2] for r in answered])

    def evaluate(calibration: Calibration, subset) -> tuple[float, float, float]:
        confidences = [calibration.probability(r[1], r[0]) if r[0] is not None else 0.0 for r in subset]
        threshold, best_f1 = metrics.best_threshold(confidences, [r[3] for r in subset], [r[4] for r in subset])
        given = [(c, r[2]) for c, r in zip(confidences, subset) if r[0] is not None]
        ece = metrics.expected_calibration_error([c for c, _ in given], [k for _, k in given])
        return threshold, best_f1, ece

    calibration = Calibration(xs, ys, 0.5, **model)
    threshold, best_f1, ece = evaluate(calibration, rows)
    cross = _cross_validated(rows, evaluate)
    calibration = Calibration(xs, ys, round(threshold, 4), **model)
    calibration.save(questions=len(items), best_f1=round(best_f1, 4), in_sample_ece=round(ece, 4),
                     cross_validated=cross,
                     note="fitted by `qa calibrate` on eval/gold.jsonl; do not edit by hand")
    return CALIBRATION_FILE, (f"{len(items)} questions, threshold {threshold:.3f}, F1 at threshold {best_f1:.3f}, "
                              f"ECE {ece:.3f}; 5-fold cross-validated: {cross}")


def _cross_validated(rows, evaluate, folds: int = 5) -> dict:
    """Fit on four fifths, measure on the held-out fifth: how the fit would do on questions it never saw."""
    confidences_f1, eces = [], []
    for k in range(folds):
        train = [r for i, r in enumerate(rows) if i % folds != k and r[0] is not None]
        test = [r for i, r in enumerate(rows) if i % folds == k]
        if len({r[2] for r in train}) < 2:
            continue
        model = fit_logistic([r[0] for r in train], [r[2] for r in train])
        _, f1, ece = evaluate(Calibration((), (), 0.5, **model), test)
        confidences_f1.append(f1)
        eces.append(ece)
    return {"best_f1": round(float(np.mean(confidences_f1)), 4), "ece": round(float(np.mean(eces)), 4)}
