"""The reader's second step: narrow the chosen sentence to a span, only when the question asks for a
typed thing (who, when, how many, what is X called) and such a span sits in the part of the sentence that
matches the question. The span scorer is fitted (qa.reader.train); these are the features it reads.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from qa import spans, tagger
from qa.reader import features as F
from qa.reader.sentences import TYPED, Context, SentenceCandidate
from qa.text import stems, tokens

SPAN_FEATURES = (
    "primary_type", "novelty", "nearness", "clause_coverage", "clause_maxsim", "words", "alone",
    "specificity", "sentence_share", "first_of_type", "stated_in_question", "after_report", "entity_fit",
    "proper_nouns",
)
# the named-entity labels (spaCy's) that fit what each typed question asks for
ENTITY_FIT = {
    "identity": {"PERSON"}, "person": {"PERSON", "ORG", "NORP"}, "place": {"GPE", "LOC", "FAC", "ORG"},
    "date": {"DATE"}, "duration": {"DATE", "TIME"}, "money": {"MONEY"}, "quantity": {"CARDINAL", "PERCENT", "QUANTITY"},
    "frequency": {"DATE"}, "named": {"ORG", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW", "FAC"}, "contact": set(),
}
DATE_SPECIFICITY = (1.0, 0.75, 0.5, 0.0)  # day range, full date, month and year, bare year


def _clause_of(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The clause of the sentence holding the span (the sentence when it has one clause)."""
    for clause in spans.clauses(sentence):
        if clause.type == "clause" and clause.start <= start and end <= clause.end:
            return clause.start, clause.end
    return 0, len(sentence)


def _specificity(text: str) -> float:
    for pattern, value in zip(spans.DATE_PATTERNS, DATE_SPECIFICITY):
        if pattern.fullmatch(text):
            return value
    return 0.0


def span_features(ctx: Context, candidate: SentenceCandidate, span: spans.Candidate, order: int,
                  weights: dict[str, float], written: str) -> np.ndarray:
    q = ctx.question
    sentence = candidate.text
    text = sentence[span.start:span.end]
    span_words = tokens(text)
    question_words = set(q.words)
    novel = [w for w in span_words if w not in question_words]
    novelty = len(novel) / len(span_words) if span_words else 1.0
    # how close the span is to the words of the sentence that match the question
    stems_at = [(m.start(), t) for m in spans.re.finditer(r"[\w’'-]+", sentence) for t in tokens(m.group(0))]
    matched = [at for at, t in stems_at if t in weights]
    if matched:
        gap = min(0 if span.start <= at < span.end else min(abs(at - span.start), abs(at - span.end))
                  for at in matched)
        nearness = 1.0 / (1.0 + gap / 20.0)
    else:
        nearness = 0.0
    a, b = _clause_of(sentence, span.start, span.end)
    clause_words = set(tokens(sentence[a:b]))
    clause_cover = F.coverage(weights, clause_words, ctx.aliases)
    clause_maxsim = clause_cover  # token vectors are per sentence; the clause's lexical cover stands in
    stated = text.lower() in q.text.lower()
    found, proper = tagger.entities(sentence)
    fitting = ENTITY_FIT.get(q.type, set())
    width = max(span.end - span.start, 1)
    entity_fit = sum(max(0, min(b, span.end) - max(a, span.start)) for a, b, label in found if label in fitting) / width
    proper_share = sum(max(0, min(b, span.end) - max(a, span.start)) for a, b in proper) / width
    month = spans.date_month(text) if span.type == "date" else None
    after = float(bool(month) and bool(written) and month > written)
    return np.asarray([
        float(span.type == TYPED.get(q.type, ("",))[0]),
        novelty,
        nearness,
        clause_cover,
        clause_maxsim,
        math.log1p(len(text.split())),
        float(len(candidate.typed) == 1),
        _specificity(text) if span.type == "date" else 0.0,
        (span.end - span.start) / max(len(sentence), 1),
        float(order == 0),
        float(stated),
        after if q.future else -after,
        min(entity_fit, 1.0),
        min(proper_share, 1.0),
    ], dtype=np.float32)


def repeats_question(span: str, question: str) -> bool:
    """Does the span only say again what the question says? Every word counts here, stopwords too: 'May 2019'
    is news to 'When did inspectors visit in 2019?' although 'may' is a stopword."""
    words = stems(span)
    return bool(words) and set(words) <= _stem_set(question)


@lru_cache(maxsize=1024)
def _stem_set(text: str) -> frozenset[str]:
    return frozenset(stems(text))


def span_rows(ctx: Context, candidate: SentenceCandidate, weights: dict[str, float],
              written: str) -> list[tuple[spans.Candidate, np.ndarray]]:
    """Each typed span of the sentence with its feature row; spans that only repeat the question dropped."""
    rows = []
    for order, span in enumerate(candidate.typed):
        if repeats_question(candidate.text[span.start:span.end], ctx.question.text):
            continue
        rows.append((span, span_features(ctx, candidate, span, order, weights, written)))
    return rows
