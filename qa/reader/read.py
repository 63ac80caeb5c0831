"""The extractive reader: read a sentence first, then narrow; say how likely the answer is right.

1. Grades, what an abbreviation stands for, what needs to improve and a report's headline come from
   the reports' own data (qa.answer: judgement tables, the glossary, improvement lists, headlines); a
   grade asked of something no judgement grades gets a notice saying so, and no answer.
2. Otherwise every sentence of the top passages is scored by a fitted ranker (qa.reader.sentences for
   the features, qa.reader.model for the ranker) and the best one is chosen.
3. Only when the question asks for a typed thing (who, when, how many, what is X called) and the
   chosen sentence holds a span of that type in its part that matches the question, the fitted span
   scorer may narrow the answer to it (qa.reader.narrow). Otherwise, when an earlier question at least
   as similar as the fitted cut was answered with a part of the chosen sentence (qa.reader.memory), the
   answer is that part; otherwise the sentence is the answer.
4. A confidence model fitted on out-of-fold answers over every question set says how likely the
   answer shown is right; an answer from the reports' own data is as likely right as answers of its kind
   were out of fold (qa.reader.model.Rate). Below the fitted threshold the reader abstains.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from qa import answer as structured
from qa import across
from qa.reader import features as F
from qa.reader.memory import agreement, nearest
from qa.reader.model import ReaderModel
from qa.reader.narrow import span_rows
from qa.reader.sentences import TYPED, Context, SentenceCandidate, gather, typed_spans
from qa.question import GRADE_NAMES, Question
from qa.text import tokens
from qa.types import GRADE_MENTION, Answer, Hit

SPAN_ANSWERS = ("grade", "expansion", "date", "rows")  # structured answers that are spans, not sentences


@dataclass(frozen=True)
class Reading:
    """What the reader made of the hits: its best answer (confident or not) and the hit it cites."""

    answer: Answer | None
    hit: Hit | None
    accepted: bool
    notice: str | None = None  # what a reader should know when nothing fits ('No council ... was judged ...')


class Reader:
    """Holds the fitted models; `read` is pure and thread-safe."""

    def __init__(self, model: ReaderModel) -> None:
        self.model = model

    @classmethod
    def load(cls) -> "Reader":
        return cls(ReaderModel.load())

    def read(self, ctx: Context) -> Reading:
        if ctx.question.across is not None:  # 'Which councils were rated inadequate?': the judgement data answers
            result = across.across_answer(ctx, ctx.question.across)
            if result.answer is None:
                return Reading(None, None, False, result.notice)
            answer, hit = result.answer
            a, b = _sentence_around(hit, answer.start, answer.end)
            answer = replace(answer, confidence=across.CONFIDENCE, granularity="span", sentence_start=a, sentence_end=b)
            return Reading(answer, hit, True)
        ungraded = not_graded(ctx.question)
        if ungraded:  # 'How was adoption graded?': no judgement grades it, and no sentence is its grade
            return Reading(None, None, False, ungraded)
        found = self.best(ctx)
        if found is None:
            return Reading(None, None, False, ctx.ungraded)
        answer, hit = found
        if lacks_asked_type(ctx.question, answer, self.model.type_gates):
            # a question asking for a grade, a number, an amount or a contact detail is not answered by a sentence
            # that holds none ('What grade did the 2021 visit give?': a focused visit grades nothing)
            return Reading(answer, hit, False, f"The reports searched give no {ASKED_FOR[ctx.question.type]} for this.")
        # a question that names something no report in scope names ('Camden', 'Manchester') is about
        # something else: whatever sentence comes closest is offered as a candidate, never as the answer
        given = answer.confidence >= self.model.threshold and not ctx.unknown_name
        return Reading(answer, hit, given, None if given else ctx.ungraded)

    def best(self, ctx: Context) -> tuple[Answer, Hit] | None:
        """The best answer with its confidence (threshold not applied)."""
        return self.decide(ctx, gather(ctx), structured.structured_answer(ctx))

    def decide(self, ctx: Context, candidates: list[SentenceCandidate],
               given: tuple[Answer, Hit] | None) -> tuple[Answer, Hit] | None:
        scores = self.model.ranker.score(np.stack([c.features for c in candidates])) if candidates else np.zeros(0)
        for c, s in zip(candidates, scores):
            c.score = float(s)
        top = int(np.argmax(scores)) if len(scores) else None
        ranking = _ranking(scores, candidates, top)
        if given is not None:
            answer, hit = given
            granularity = "span" if answer.type in SPAN_ANSWERS else "sentence"
            a, b = _sentence_around(hit, answer.start, answer.end)
            row = self._confidence_row(ctx, candidates[top] if top is not None else None, ranking, 1.0, True)
            return self._finish(answer, hit, granularity, a, b, row, judged_as(answer.type)), hit
        if top is None:
            return None
        chosen = candidates[top]
        passage = chosen.hit.passage
        span_probability, span = 0.0, None
        if ctx.question.type in TYPED and chosen.typed and self.model.span is not None:
            weights = {t: ctx.index.idf(t) for t in ctx.question.content}
            rows = span_rows(ctx, chosen, weights, structured.written(chosen.hit.document))
            if rows:
                probabilities = self.model.span.probability(np.stack([r for _, r in rows]))
                best = int(np.argmax(probabilities))
                span_probability, span = float(probabilities[best]), rows[best][0]
        row = self._confidence_row(ctx, chosen, ranking, span_probability, False)
        recalled = None if span is not None and span_probability >= self.model.span_min \
            else recalled_part(chosen, self.model.recall_min)
        if span is not None and span_probability >= self.model.span_min:
            start, end = chosen.start + span.start, chosen.start + span.end
            kind, granularity = span.type, "span"
        elif recalled is not None:
            start, end = chosen.start + recalled[0], chosen.start + recalled[1]
            kind, granularity = "phrase", "span"
            row[F.CONFIDENCE_FEATURES.index("span_prob")] = 0.0
            row[F.CONFIDENCE_FEATURES.index("recall_part")] = chosen.recalled_similarity
        else:
            start, end = chosen.start, chosen.end
            kind, granularity = ("list" if passage.kind == "list" else "sentence"), "sentence"
            row[F.CONFIDENCE_FEATURES.index("span_prob")] = 0.0
            row[F.CONFIDENCE_FEATURES.index("is_span")] = 0.0
        answer = Answer(passage.text[start:end], 0.0, passage.id, start, end, kind, float(scores[top]))
        return self._finish(answer, chosen.hit, granularity, chosen.start, chosen.end, row), chosen.hit

    def _confidence_row(self, ctx: Context, chosen: SentenceCandidate | None, ranking: tuple[float, float, float],
                        span_probability: float, is_structured: bool) -> np.ndarray:
        values = dict.fromkeys(F.CONFIDENCE_FEATURES, 0.0)
        values["rank_score"], values["rank_prob"], values["rank_margin"] = ranking
        if chosen is not None:
            for name in F.CHOSEN_SENTENCE:
                values[name] = float(chosen.features[F.SENTENCE_FEATURES.index(name)])
        values["unknown_share"] = ctx.unknown_share
        values["unknown_name"] = ctx.unknown_name
        values["span_prob"] = span_probability
        values["is_span"] = float(span_probability >= self.model.span_min or is_structured)
        values["structured"] = float(is_structured)
        values["typed_question"] = float(ctx.question.type in TYPED)
        values["yesno_question"] = float(ctx.question.type == "yesno")
        values["reason_question"] = float(ctx.question.type == "reason")
        values["description_question"] = float(ctx.question.type in ("description", "quote"))
        values["candidates"] = math.log1p(len(ctx.hits))
        values["recall_answered"] = nearest(ctx.recalled, True)
        values["recall_unanswerable"] = nearest(ctx.recalled, False)
        if chosen is not None:
            values["recall_agreement"] = agreement(ctx.recalled, values["recall_votes"])
        return np.asarray([values[n] for n in F.CONFIDENCE_FEATURES], dtype=np.float32)

    def _finish(self, answer: Answer, hit: Hit, granularity: str, sentence_start: int, sentence_end: int,
                row: np.ndarray, data_kind: str | None = None) -> Answer:
        confidence = self.model.confidence_of(row, granularity, data_kind)
        return replace(answer, confidence=confidence, features=tuple(float(v) for v in row),
                       granularity=granularity, sentence_start=sentence_start, sentence_end=sentence_end)


def judged_as(answer_type: str) -> str:
    """The confidence entry of an answer from the reports' own data ('data:grade', 'data:expansion', ...): the
    rate at which answers of its kind were right out of fold (qa.reader.model.Rate), when `qa calibrate` saw
    enough of them; its granularity's model otherwise."""
    return f"data:{answer_type}"


# what a typed question asks for, as a notice names it
ASKED_FOR = {"grade": "grade", "date": "date", "duration": "length of time", "money": "amount", "contact": "contact details",
             "quantity": "number", "frequency": "frequency", "identity": "name", "person": "name", "named": "name",
             "place": "place"}


def lacks_asked_type(q: Question, answer: Answer, gated: frozenset[str]) -> bool:
    """Does the answer hold nothing of what its question asks for? A grade question's answer must name a grade
    (over the 2,800 training questions of the eleventh session no answer without one was right); a typed
    question of a `gated` type (fitted by `qa calibrate`: one asking for a number, say) must hold a span of its
    type. Answers from the reports' own data (judgement tables, the glossary) are not gated by type."""
    if q.type != "grade" and not answer.features:
        return False
    structured = bool(answer.features) and bool(answer.features[F.CONFIDENCE_FEATURES.index("structured")])
    return withheld_by_type(q, answer.text, structured, gated)


def withheld_by_type(q: Question, text: str, structured: bool, gated: frozenset[str]) -> bool:
    """Whether an answer's text holds nothing of what its question asks for: no grade for a grade question, no
    span of the type for a question of a `gated` type. The reader withholds such answers, and `qa calibrate`
    scores its out-of-fold answers the same way (qa.reader.train.gate)."""
    if q.type == "grade":
        return not GRADE_MENTION.search(text)
    return q.type in gated and holds_nothing_asked(q, text, structured)


def holds_nothing_asked(q: Question, text: str, structured: bool) -> bool:
    """An answer to a typed question, not from the reports' own data, that holds no span of the type asked for."""
    return q.type in TYPED and not structured and not typed_spans(q, text)


def recalled_part(chosen: SentenceCandidate, cut: float) -> tuple[int, int] | None:
    """Where in the chosen sentence the answer an earlier question of the same type got from it stands (offsets
    into the sentence), when that question is at least `cut` similar and its answer is a proper part of the
    sentence."""
    if chosen.recalled is None or chosen.recalled_similarity < cut:
        return None
    words = re.findall(r"\w+", chosen.recalled)
    if not words:
        return None
    found = re.search(r"(?<!\w)" + r"\W+".join(re.escape(w) for w in words) + r"(?!\w)", chosen.text, re.IGNORECASE)
    if found is None or found.end() - found.start() >= len(chosen.text.strip(" .;:")):
        return None
    return found.start(), found.end()


def not_graded(q: Question) -> str | None:
    """What to say when a question asks for the grade of something no judgement grades ('How was adoption
    graded?'): it asks for a grade (the grade-asked model agrees with the rules), names no judgement area,
    and names a topic that is not a grade. None otherwise: the readers answer."""
    if q.type not in ("grade", "history") or q.area is not None:
        return None
    topics = [t for t in q.area_extra if t not in GRADE_NAMES]
    if not topics:
        return None
    return f"The reports give no grade for {_phrase_of(q.text, set(topics))}."


def ungraded_unless_answered(q: Question) -> str | None:
    """The notice `not_graded` gives for a question the rules read as asking for a grade ('What rating did the
    fostering panel get?'), kept for when the grade-asked model reads it as asking something else and the
    sentence reader then finds no answer: the reply says why there is none. None when the question names a
    grade ('after the inadequate rating'): it asks about something else, and no grade is missing."""
    return None if q.words & GRADE_NAMES else not_graded(q)


def _phrase_of(text: str, stems: set[str]) -> str:
    """The question's words that carry `stems`, as it wrote them, a word between two of them kept ('youth
    offending team'), separate phrases joined with 'or'."""
    written = re.findall(r"[\w'’-]+", text)
    marked = [i for i, w in enumerate(written) if set(tokens(w)) & stems]
    phrases: list[list[int]] = []
    for i in marked:
        if phrases and i - phrases[-1][-1] <= 2:
            phrases[-1].append(i)
        else:
            phrases.append([i])
    return " or ".join(" ".join(written[p[0]:p[-1] + 1]) for p in phrases)


def _ranking(scores: np.ndarray, candidates: list[SentenceCandidate], top: int | None) -> tuple[float, float, float]:
    """The top sentence's score, its softmax share among all candidates, and its margin over the best
    sentence that says something else (another sentence)."""
    if top is None:
        return 0.0, 0.0, 0.0
    shifted = np.exp(scores - scores.max())
    share = float(shifted[top] / shifted.sum())
    others = np.delete(scores, top)
    margin = float(scores[top] - others.max()) if len(others) else 1.0
    return float(scores[top]), share, min(margin, 3.0)


def _sentence_around(hit: Hit, start: int, end: int) -> tuple[int, int]:
    """The passage sentence (or list item, table row) holding [start, end); the span itself when none does."""
    for a, b in hit.passage.sentences:
        if a <= start and end <= b:
            return a, b
    return start, end
