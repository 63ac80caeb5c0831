"""The reader's fitted parts, saved as plain numbers (and LightGBM's own text format) in qa/reader/:

- the sentence ranker: LightGBM lambdarank, or a logistic regression when it ranks better in
  cross-validation (`qa calibrate` fits both and keeps the better);
- the span scorer: a logistic regression giving P(span right | its sentence answers);
- the confidence model: P(answer right), a logistic regression or LightGBM's boosted trees (`qa calibrate`
  fits both and keeps the one that breaks its promise least with each question set held out in turn:
  confidently wrong share plus ECE, AURC breaking ties), fitted on out-of-fold answers over every question
  set pooled, and the abstention threshold;
- for each kind of answer from the reports' own data seen often enough (grades, expansions, improvement
  lists), how often it was right out of fold: such an answer's confidence;
- the answer encoder's adapters (answer_adapters.npz, qa/reader/encoder.py), whose fingerprint the model
  records: a model fitted with other adapters than those beside it is not used;
- beside them, the grade-asked model (grade_asked.json, qa/reader/asks.py), which the question's analysis
  reads and which depends on none of the above.
Nothing here is hand-set: without a fitted model the reader falls back to a plain similarity ranking and
a rough confidence, and says so in the log.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

MODEL_FILE = Path(__file__).resolve().parent / "model.json"
RANKER_FILE = Path(__file__).resolve().parent / "ranker.txt"
CONFIDENCE_FILE = Path(__file__).resolve().parent / "confidence.txt"


@dataclass(frozen=True)
class Linear:
    """A standardised logistic regression as plain numbers."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def decision(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return ((x - np.asarray(self.means)) / np.asarray(self.scales)) @ np.asarray(self.coef) + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.decision(x), -30, 30)))

    def to_json(self) -> dict:
        return {"features": list(self.features), "means": list(self.means), "scales": list(self.scales),
                "coef": list(self.coef), "intercept": self.intercept}

    @classmethod
    def from_json(cls, data: dict) -> "Linear":
        return cls(tuple(data["features"]), tuple(data["means"]), tuple(data["scales"]), tuple(data["coef"]),
                   float(data["intercept"]))

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, names: tuple[str, ...], c: float = 0.5,
            balanced: bool = False) -> "Linear":
        from sklearn.linear_model import LogisticRegression

        x = np.asarray(x, dtype=np.float64)
        means = x.mean(axis=0)
        scales = x.std(axis=0)
        scales[scales == 0] = 1.0
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced" if balanced else None)
        model.fit((x - means) / scales, np.asarray(y, dtype=int))
        return cls(names, tuple(means.tolist()), tuple(scales.tolist()), tuple(model.coef_[0].tolist()),
                   float(model.intercept_[0]))


# the boosted confidence: small trees, slow learning, at least 40 answers a leaf (measured over the training
# sets with each set held out whole, these beat the logistic regression's AURC 0.174 at 0.152-0.160 for 7 to
# 31 leaves and 300 to 600 rounds; the setting is not critical)
CONFIDENCE_BOOSTING = {"objective": "binary", "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 40,
                       "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
                       "verbose": -1, "num_threads": 1, "deterministic": True, "seed": 7}
CONFIDENCE_ROUNDS = 300


@dataclass(frozen=True)
class Boosted:
    """P(answer right) from LightGBM's gradient-boosted trees (binary log loss, so probabilities)."""

    features: tuple[str, ...]
    booster: object

    def probability(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        return np.asarray(self.booster.predict(x, num_threads=1))

    def to_json(self) -> dict:
        return {"kind": "lightgbm", "features": list(self.features)}

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> "Boosted":
        import lightgbm as lgb

        data = lgb.Dataset(np.asarray(x, dtype=np.float64), label=np.asarray(y, dtype=int), feature_name=list(names))
        return cls(names, lgb.train(CONFIDENCE_BOOSTING, data, num_boost_round=CONFIDENCE_ROUNDS))


@dataclass(frozen=True)
class Rate:
    """P(answer right) for every answer of one kind from the reports' own data (a grade from the judgement
    tables, what an abbreviation stands for, an improvement list): how often such answers were right out of
    fold, smoothed (right + 1) / (answers + 2). They are right or wrong for other reasons than a sentence's
    fit, so the sentence features the confidence models read say little about them."""

    answers: int
    right: int

    def probability(self, x: np.ndarray) -> np.ndarray:
        return np.full(len(np.atleast_2d(x)), (self.right + 1) / (self.answers + 2))

    def to_json(self) -> dict:
        return {"kind": "rate", "answers": self.answers, "right": self.right}

    @classmethod
    def from_json(cls, data: dict) -> "Rate":
        return cls(int(data["answers"]), int(data["right"]))


# LambdaMART settings tried by `qa calibrate`: as set (""), slower and longer, or each tree on half the features
LIGHTGBM_SETTINGS: dict[str, dict] = {"": {}, "slow": {"learning_rate": 0.03, "rounds": 300},
                                      "half-features": {"feature_fraction": 0.5, "rounds": 200}}


@dataclass
class Ranker:
    """Scores candidate sentences of one question; higher is more likely the answering sentence."""

    kind: str  # "lightgbm", "linear", "ensemble" (both, standardised and summed) or "fallback"
    linear: Linear | None = None
    booster: object | None = None
    names: tuple[str, ...] = ()

    def score(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        if self.kind == "ensemble":
            parts = [np.asarray(self.booster.predict(np.asarray(x, dtype=np.float64), num_threads=1)),
                     self.linear.decision(x)]
            return sum((p - p.mean()) / (p.std() + 1e-9) for p in parts)
        if self.kind == "lightgbm" and self.booster is not None:
            return np.asarray(self.booster.predict(np.asarray(x, dtype=np.float64), num_threads=1))
        if self.kind == "linear" and self.linear is not None:
            return self.linear.decision(x)
        from qa.reader.features import SENTENCE_FEATURES

        return x[:, SENTENCE_FEATURES.index("maxsim")] + x[:, SENTENCE_FEATURES.index("coverage")]

    @classmethod
    def fit_lightgbm(cls, x: np.ndarray, y: np.ndarray, groups: list[int], names: tuple[str, ...],
                     setting: str = "") -> "Ranker":
        """LambdaMART with one of LIGHTGBM_SETTINGS ('qa calibrate' keeps the one that ranks best out of fold)."""
        import lightgbm as lgb

        data = lgb.Dataset(np.asarray(x, dtype=np.float64), label=np.asarray(y, dtype=int), group=groups,
                           feature_name=list(names), free_raw_data=False)
        params = {"objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [1], "learning_rate": 0.05,
                  "num_leaves": 7, "min_data_in_leaf": 20, "feature_fraction": 0.8, "bagging_fraction": 0.8,
                  "bagging_freq": 1, "lambda_l2": 1.0, "verbose": -1, "num_threads": 1, "deterministic": True,
                  "seed": 7, "lambdarank_truncation_level": 10}
        changes = dict(LIGHTGBM_SETTINGS[setting])
        rounds = changes.pop("rounds", 150)
        booster = lgb.train(params | changes, data, num_boost_round=rounds)
        return cls("lightgbm", booster=booster, names=names)

    @classmethod
    def fit_linear(cls, x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> "Ranker":
        return cls("linear", linear=Linear.fit(x, y, names, c=0.3, balanced=True), names=names)


@dataclass
class ReaderModel:
    ranker: Ranker
    span: Linear | None = None
    # by granularity ("span", "sentence"), and by the kind of an answer from the reports' own data
    # ("data:grade", "data:expansion", ...: qa.reader.read.judged_as), where enough were seen out of fold
    confidence: dict[str, Linear | Boosted | Rate] = field(default_factory=dict)
    threshold: float = 0.5
    span_min: float = 0.5  # narrow to the span when P(span right | sentence right) reaches this
    recall_min: float = 1.01  # narrow to an earlier question's answer when it is this similar (qa.reader.memory)
    about: dict = field(default_factory=dict)
    # question types whose answer must hold a span of the type asked for (qa.reader.read.lacks_asked_type)
    type_gates: frozenset[str] = frozenset()
    # passages of the answer encoder's own search read besides the search's (qa.reader.sentences.WIDER_DEPTH):
    # what the model was fitted reading, so a model fitted without them is served without them
    wider_depth: int = 0

    @property
    def fitted(self) -> bool:
        return self.ranker.kind != "fallback" and bool(self.confidence)

    def confidence_of(self, x: np.ndarray, granularity: str, judged_as: str | None = None) -> float:
        """P(answer right): by the model for `judged_as` (an answer from the reports' own data) when there is
        one, else by its granularity's."""
        model = (self.confidence.get(judged_as) if judged_as else None) or self.confidence.get(granularity) \
            or self.confidence.get("sentence")
        if model is None:
            from qa.reader.features import CONFIDENCE_FEATURES

            z = 4 * (x[CONFIDENCE_FEATURES.index("maxsim")] - 0.6)
            return 1 / (1 + math.exp(-z))
        return float(model.probability(x)[0])

    def save(self, path: Path = MODEL_FILE) -> None:
        ranker_path = path.with_name(RANKER_FILE.name) if path != MODEL_FILE else RANKER_FILE
        data = {"ranker": {"kind": self.ranker.kind, "features": list(self.ranker.names)},
                "span": self.span.to_json() if self.span else None,
                "confidence": {k: v.to_json() for k, v in self.confidence.items()},
                "threshold": self.threshold, "span_min": self.span_min,
                "recall_min": self.recall_min, "type_gates": sorted(self.type_gates),
                "wider_depth": self.wider_depth} | self.about
        if self.ranker.kind in ("linear", "ensemble"):
            data["ranker"]["linear"] = self.ranker.linear.to_json()
        if self.ranker.kind in ("lightgbm", "ensemble"):
            ranker_path.write_text(self.ranker.booster.model_to_string(), encoding="utf-8")
        boosted = {id(m): m for m in self.confidence.values() if isinstance(m, Boosted)}  # spans and sentences
        if len(boosted) > 1:
            raise ValueError("one boosted confidence model at most (spans and sentences pooled)")
        for model in boosted.values():
            path.with_name(CONFIDENCE_FILE.name).write_text(model.booster.model_to_string(), encoding="utf-8")
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> "ReaderModel":
        from qa.reader.features import CONFIDENCE_FEATURES, SENTENCE_FEATURES
        from qa.reader.narrow import SPAN_FEATURES

        if not path.exists():
            log.warning("no reader model at %s: run `qa calibrate`; answers use a plain similarity ranking", path)
            return cls(Ranker("fallback"))
        data = json.loads(path.read_text(encoding="utf-8"))
        ranker_path = path.with_name(RANKER_FILE.name)
        kind = data["ranker"]["kind"]
        names = tuple(data["ranker"].get("features", ()))
        expected = {"ranker": SENTENCE_FEATURES, "span": SPAN_FEATURES, "confidence": CONFIDENCE_FEATURES}
        stale = names != SENTENCE_FEATURES or (data.get("span") and tuple(data["span"]["features"]) != SPAN_FEATURES) \
            or any(tuple(m["features"]) != expected["confidence"] for m in data["confidence"].values()
                   if m.get("kind") != "rate")
        if stale:
            log.warning("reader model in %s was fitted on other features: run `qa calibrate`", path)
            return cls(Ranker("fallback"))
        if "answer_encoder" in data and data["answer_encoder"] != _adapters_fingerprint(path):
            log.warning("reader model in %s was fitted with other answer-encoder adapters than those beside it: "
                        "run `qa calibrate`", path)
            return cls(Ranker("fallback"))
        if kind in ("lightgbm", "ensemble"):
            import lightgbm as lgb

            ranker = Ranker(kind, booster=lgb.Booster(model_str=ranker_path.read_text(encoding="utf-8")),
                            linear=Linear.from_json(data["ranker"]["linear"]) if kind == "ensemble" else None,
                            names=names)
        elif kind == "linear":
            ranker = Ranker("linear", linear=Linear.from_json(data["ranker"]["linear"]), names=names)
        else:
            ranker = Ranker("fallback")
        about = {k: v for k, v in data.items() if k not in ("ranker", "span", "confidence", "threshold", "span_min",
                                                                 "recall_min", "type_gates", "wider_depth")}
        confidence: dict[str, Linear | Boosted | Rate] = {}
        for granularity, saved in data["confidence"].items():
            if saved.get("kind") == "rate":
                confidence[granularity] = Rate.from_json(saved)
            elif saved.get("kind") == "lightgbm":
                import lightgbm as lgb

                shared = next((m for m in confidence.values() if isinstance(m, Boosted)), None)
                confidence[granularity] = shared or Boosted(tuple(saved["features"]), lgb.Booster(
                    model_str=path.with_name(CONFIDENCE_FILE.name).read_text(encoding="utf-8")))
            else:
                confidence[granularity] = Linear.from_json(saved)
        return cls(ranker, Linear.from_json(data["span"]) if data.get("span") else None, confidence,
                   float(data["threshold"]), float(data.get("span_min", 0.5)),
                   float(data.get("recall_min", 1.01)), about, frozenset(data.get("type_gates", ())),
                   int(data.get("wider_depth", 0)))


def _adapters_fingerprint(path: Path) -> str | None:
    """The fingerprint of the answer encoder's adapters saved beside a reader model (None when absent)."""
    from qa.reader.encoder import ADAPTERS_FILE, fingerprint, load_adapters

    adapters = load_adapters(path.with_name(ADAPTERS_FILE.name))
    return fingerprint(adapters) if adapters else None
