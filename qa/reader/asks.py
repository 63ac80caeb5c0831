"""Whether a question asks for a grade, or only names one.

'How was adoption graded?' asks for a grade; 'What did the council say about caseloads after the
inadequate rating?' names one and asks something else. The question-type rules (qa.question) see a grade
word in both. This is a logistic regression over the bundled model's embedding of the question's frame (its
words without the judgement area, the councils and the years it names: `frame`), fitted by `qa calibrate`
on every training question: the label is whether a grade answers it (its gold answer is one of the grades,
alone or after its judgement's name). It decides only among the questions the rules type as grade
questions, so a plain-English 'how did Barnet do' is left to the sentence reader as before.

Why the frame: whether a grade is asked lies in how the question asks ('How were ... judged?'), not in what
about. Fitted on the whole question, the model learnt from one council's questions that 'care leavers ...
judged' was usually asked of something else (when, who, after), and a new council's plain 'How were care
leavers in Eastmoor judged?' fell under its cut. Out of fold on the 3,114 answerable training questions of
session 17 the frame erred on 16 of the 274 rule-typed ones where the whole question erred on 20, with log
loss 0.43 against 0.65 (docs/reader.md). A model's file says what it reads (`GradeAsked.reads`): the one
shipped today was fitted before the frame and reads the whole question; `qa calibrate` fits on frames.

Without a fitted model every grade-worded question is taken to ask for a grade, as the rules alone did.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.reader.model import Linear
from qa.text import WORD, stems
from qa.types import GRADES

log = logging.getLogger(__name__)

GRADE_ASKED_FILE = Path(__file__).resolve().parent / "grade_asked.json"
REGULARISATION = 3.0  # C of the logistic regression (classes weighted to balance); 0.03-3 differ by 3 errors in 123
CUTS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)  # the cut is the one that errs least out of fold
GRADE_ANSWER = re.compile(r"^(?:.{0,120}[:\t]\s*)?(?:" + "|".join(re.escape(g) for g in (*GRADES, "requires improvement"))
                          + r")\.?$", re.I | re.S)


YEAR = re.compile(r"^(?:19|20)\d\d$")


def frame(question: str, area: str | None, authorities: frozenset[str] = frozenset()) -> str:
    """The question's words without those of the judgement `area` it names, the councils (`authorities`,
    stems) and the years: 'How were care leavers in Eastmoor judged in 2024?' -> 'How were in judged in'."""
    drop = set(authorities) | (set(stems(area)) if area else set())
    kept = [w for w in WORD.findall(question) if not YEAR.match(w) and not (set(stems(w)) & drop)]
    return " ".join(kept) or question


def is_grade(answer: str) -> bool:
    """Whether a gold answer is a grade: 'Good', 'The experiences and progress of care leavers: good'."""
    return bool(GRADE_ANSWER.match(answer.strip()))


@dataclass(frozen=True)
class GradeAsked:
    """Whether a question asks for a grade, from its embedding by the bundled model (as the index has it)."""

    model: Linear | None = None
    cut: float = 0.5
    # what it was fitted on, and so must be asked on: "frame" (the question's frame, `frame`) or "question"
    # (the whole question's embedding, as models fitted before the frame read; their files name nothing)
    reads: str = "frame"

    def vector(self, question: str, area: str | None, authorities: frozenset[str], embedder,
               whole: np.ndarray | None) -> np.ndarray | None:
        """The embedding this model is asked on: of the question's frame, or the whole question's (`whole`)."""
        return embedder.encode([frame(question, area, authorities)])[0] if self.reads == "frame" else whole

    def probability(self, vector: np.ndarray | None) -> float:
        if self.model is None or vector is None:
            return 1.0
        return float(self.model.probability(np.asarray(vector, dtype=np.float64))[0])

    def asks(self, vector: np.ndarray | None) -> bool:
        return self.probability(vector) >= self.cut

    def save(self, path: Path = GRADE_ASKED_FILE, about: dict | None = None) -> None:
        if self.model is None:
            raise ValueError("no fitted model to save")
        data = {"model": self.model.to_json(), "cut": self.cut, "reads": self.reads,
                "note": "fitted by `qa calibrate`; do not edit by hand"} | (about or {})
        path.write_text(json.dumps(data) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = GRADE_ASKED_FILE) -> "GradeAsked":
        if not path.exists():
            log.warning("no grade-asked model at %s: run `qa calibrate`; every grade-worded question asks for a grade",
                        path)
            return cls()
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(Linear.from_json(data["model"]), float(data["cut"]), data.get("reads", "question"))


def fit(vectors: np.ndarray, labels: np.ndarray, groups: list[str], ruled: np.ndarray,
        folds: int = 5) -> tuple[GradeAsked, np.ndarray, dict]:
    """The model fitted on every question, each question's probability from a model fitted without its fold
    (grouped, so paraphrases of one answer stay on one side), and the figures out of fold among the questions
    the rules type as grade questions (`ruled`), where the cut that errs least there is chosen. `qa calibrate`
    reads the training questions with the out-of-fold judgements, so nothing downstream sees a question's
    grade decision made in sample."""
    from sklearn.model_selection import GroupKFold

    vectors = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(labels, dtype=int)
    ruled = np.asarray(ruled, dtype=bool)
    names = tuple(f"e{i}" for i in range(vectors.shape[1]))
    if len(set(labels.tolist())) < 2:
        return GradeAsked(), np.ones(len(labels)), {"fitted": False}
    out_of_fold = np.ones(len(labels))
    for train, test in GroupKFold(n_splits=folds).split(vectors, labels, groups):
        if len(set(labels[train].tolist())) == 2:
            model = Linear.fit(vectors[train], labels[train], names, c=REGULARISATION, balanced=True)
            out_of_fold[test] = model.probability(vectors[test])
    asked, other = ruled & (labels == 1), ruled & (labels == 0)

    def errors(cut: float) -> int:
        return int((out_of_fold[asked] < cut).sum() + (out_of_fold[other] >= cut).sum())

    cut = min(CUTS, key=lambda c: (errors(c), c))
    report = {"answerable": int(len(labels)), "grade_answers": int(labels.sum()), "typed_grade_by_rules": int(ruled.sum()),
              "cut": cut, "grade_answers_kept": round(float((out_of_fold[asked] >= cut).mean()), 3) if asked.any() else None,
              "other_answers_retyped": round(float((out_of_fold[other] < cut).mean()), 3) if other.any() else None}
    final = Linear.fit(vectors, labels, names, c=REGULARISATION, balanced=True)
    return GradeAsked(final, cut), out_of_fold, report
