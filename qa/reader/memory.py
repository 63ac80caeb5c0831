"""The question memory: questions answered before, and what answered them, recalled for a new question.

A question typed today is often one somebody asked before in other words ('how did ofsted rate care
leavers in 2024' / 'what grade did the care leaver service get last time'). The memory holds every
question the reader was fitted on, its answers as its writer gave them and the passage text that holds
them (`qa calibrate` writes it with the model; staff feedback can add to it the same way). For a new
question it recalls the nearest earlier questions by the bundled model's sentence embedding.

What a recollection is worth is fitted, never assumed:
- a candidate sentence that holds a recalled answer, in the passage the earlier question was answered
  from, gets the similarity of that earlier question as a ranker feature (`recalled`);
- how close the nearest answered and the nearest unanswerable earlier questions are are confidence
  features: a question like one the reports could not answer is likely not answerable now;
- the reader narrows a chosen sentence to the part an earlier, similar question was answered with, when that
  question asked for the same kind of thing (`Question.type`: 'Why was it rated inadequate?' is not answered by
  what answered 'How was it rated?') and the similarity reaches a cut chosen out of fold
  (`ReaderModel.recall_min`).

A recollection only ever points into the reports as they are now: an answer counts only where its text and
its evidence are found among the passages retrieved for this question, so a removed report or a year the
question filters out recalls nothing. That the reports could not answer a question holds only for the reports
they were then: when the question's scope takes in a report the memory was not fitted with (a new council's),
questions nobody could answer are not recalled, since the new report may answer them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

from qa.metrics import normalise_answer

MEMORY_FILE = Path(__file__).with_name("memory.npz")
FLOOR = 0.6  # earlier questions less similar than this are not recalled
NEIGHBOURS = 8


@dataclass(frozen=True)
class Recall:
    """One earlier question recalled: how similar it is, what answered it and where."""

    similarity: float
    answers: tuple[str, ...]  # empty: the reports could not answer it
    evidence: str  # normalised (qa.metrics.normalise_answer)
    kind: str = ""  # what it asked for (qa.question.Question.type); "" not known

    def supports(self, sentence: str, passage: str) -> str | None:
        """The recalled answer this sentence of this passage holds, if the earlier question was answered from
        this passage; else None."""
        if not self.answers:
            return None
        if self.evidence and self.evidence not in _normalised(passage) and _normalised(sentence) not in self.evidence:
            return None
        held = _normalised(sentence)
        for answer in self.answers:
            if _normalised(answer) and _normalised(answer) in held:
                return answer
        return None


@lru_cache(maxsize=8192)
def _normalised(text: str) -> str:
    return normalise_answer(text)


class Memory:
    """Earlier questions' unit vectors with their answers, evidence and the set each came from."""

    def __init__(self, vectors: np.ndarray, answers: list[tuple[str, ...]], evidence: list[str],
                 sources: list[str], documents: Iterable[str] = (), kinds: Iterable[str] = ()) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32).reshape(len(answers), -1) if answers \
            else np.zeros((0, 0), dtype=np.float32)
        self.answers, self.evidence, self.sources = answers, evidence, np.asarray(sources, dtype=str)
        self.documents = frozenset(documents)  # the reports its questions were asked of
        self.kinds = list(kinds) or [""] * len(answers)  # what each question asked for (Question.type)

    def __len__(self) -> int:
        return len(self.answers)

    @classmethod
    def fit(cls, vectors: Iterable[np.ndarray], answers: Iterable[Iterable[str]], evidence: Iterable[str],
            sources: Iterable[str], documents: Iterable[str] = (), kinds: Iterable[str] = ()) -> "Memory":
        """A memory of these questions (unit vectors, each one's answers, evidence, set and what it asked for),
        asked of the reports `documents` (ids)."""
        rows = np.stack([np.asarray(v, dtype=np.float32) for v in vectors])
        rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)
        return cls(rows, [tuple(a) for a in answers], [normalise_answer(e or "") for e in evidence], list(sources),
                   documents, kinds)

    @classmethod
    def empty(cls) -> "Memory":
        return cls(np.zeros((0, 0), dtype=np.float32), [], [], [])

    def save(self, path: Path = MEMORY_FILE) -> None:
        np.savez_compressed(path, vectors=self.vectors.astype(np.float16), sources=self.sources,
                            answers=np.asarray([json.dumps(list(a)) for a in self.answers], dtype=str),
                            evidence=np.asarray(self.evidence, dtype=str),
                            documents=np.asarray(sorted(self.documents), dtype=str),
                            kinds=np.asarray(self.kinds, dtype=str))

    @classmethod
    def load(cls, path: Path = MEMORY_FILE) -> "Memory":
        """The memory `qa calibrate` wrote; an empty one (recalling nothing) when there is none."""
        if not Path(path).exists():
            return cls.empty()
        with np.load(path, allow_pickle=False) as data:
            return cls(data["vectors"].astype(np.float32), [tuple(json.loads(a)) for a in data["answers"]],
                       [str(e) for e in data["evidence"]], [str(s) for s in data["sources"]],
                       [str(d) for d in data["documents"]] if "documents" in data else (),
                       [str(k) for k in data["kinds"]] if "kinds" in data else ())

    def recall(self, vector: np.ndarray | None, exclude: frozenset[str] = frozenset(),
               documents: Iterable[str] | None = None) -> list[Recall]:
        """The earlier questions nearest `vector` (the question as typed, a unit vector), most similar first,
        those from the sets in `exclude` left out (a question set is never scored on its own memory). When the
        reports in the question's scope (`documents`, ids) include one the memory's questions were not asked
        of, those the reports could not answer are left out too."""
        if vector is None or not len(self) or self.vectors.shape[1] != len(vector):
            return []
        unanswerable_hold = documents is None or set(documents) <= self.documents
        # einsum, not BLAS: a matrix-vector product this size wakes BLAS's threads, which then spin against
        # the encoder's on a small machine (ask took four times as long)
        similarity = np.einsum("ij,j->i", self.vectors, np.asarray(vector, dtype=np.float32))
        for source in exclude:
            similarity[self.sources == source] = -1.0
        order = np.argsort(-similarity)[:NEIGHBOURS]
        if not unanswerable_hold:
            order = [i for i in np.argsort(-similarity) if self.answers[i]][:NEIGHBOURS]
        return [Recall(float(similarity[i]), self.answers[i], self.evidence[i], self.kinds[i]) for i in order
                if similarity[i] >= FLOOR]


def answered_by(recalled: list[Recall], sentence: str, passage: str) -> list[tuple[Recall, str]]:
    """The recalled questions this sentence of this passage answers, with the answer each was given, most
    similar first: each recollection is checked once, and `support`, `votes` and the reader's narrowing read
    the list."""
    found = []
    for r in recalled:
        answer = r.supports(sentence, passage)
        if answer is not None:
            found.append((r, answer))
    return found


def support(recalled: list[Recall], sentence: str, passage: str,
            answered: list[tuple[Recall, str]] | None = None) -> tuple[float, str | None]:
    """How similar the nearest recalled question this sentence answers is, and the answer it was given."""
    answered = answered_by(recalled, sentence, passage) if answered is None else answered
    return (answered[0][0].similarity, answered[0][1]) if answered else (0.0, None)


def votes(recalled: list[Recall], sentence: str, passage: str,
          answered: list[tuple[Recall, str]] | None = None) -> float:
    """How many earlier questions this sentence of this passage answers, each counted by its similarity: one
    question at 0.9 that it answers is weaker backing than three at 0.85."""
    answered = answered_by(recalled, sentence, passage) if answered is None else answered
    return float(sum(r.similarity for r, _ in answered))


def agreement(recalled: list[Recall], backing: float) -> float:
    """The share of the recalled answered questions' weight (their similarities) that a sentence with this
    `backing` (`votes`) answers: 1 when every earlier question like this one was answered from it, 0 when none
    was or none was recalled."""
    total = sum(r.similarity for r in recalled if r.answers)
    return float(backing / total) if total > 0 else 0.0


def nearest(recalled: list[Recall], answerable: bool) -> float:
    """The similarity of the nearest recalled question the reports answered (or could not answer)."""
    return max((r.similarity for r in recalled if bool(r.answers) == answerable), default=0.0)
