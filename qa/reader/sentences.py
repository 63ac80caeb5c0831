"""The reader's first step: every sentence of the top passages, with the features the ranker reads.

`gather` turns a `Context` (what the pipeline fetched for one question: its analysis, the hits, its
vectors, aliases and scope) into `SentenceCandidate`s, each with a feature row in `SENTENCE_FEATURES`
order and the typed spans it holds (for questions that ask for a typed thing).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator

import numpy as np

from qa import spans
from qa.index import Index
from qa.question import Question
from qa.reader import features as F
from qa.reader.memory import Recall, answered_by, support, votes
from qa.text import tokens
from qa.types import Aliases, Hit

READ_DEPTH = 10  # passages of the search the reader looks at...
WIDER_DEPTH = 5  # ...and of the answer encoder's own search, the WIDER_DEPTH best passages by their best sentence

# what a typed question's answer is: candidate extractors over one sentence, primary type first
TYPED: dict[str, tuple[str, ...]] = {
    "date": ("date",),
    "duration": ("duration",),
    "money": ("money",),
    "contact": ("contact",),
    "quantity": ("quantity",),
    "frequency": ("frequency",),
    "identity": ("person",),
    "person": ("person", "org", "role"),
    "named": ("quoted", "org", "phrase"),
    "place": ("place", "org"),
}


@dataclass
class Context:
    """Everything the readers need about one question, fetched once by the pipeline."""

    question: Question
    hits: list[Hit]
    index: Index
    vector: np.ndarray | None
    tokens: F.QuestionTokens
    aliases: Aliases = field(default_factory=dict)
    filters: dict[str, Any] = field(default_factory=dict)
    scope: np.ndarray | None = None
    unknown_share: float = 0.0  # idf share of the question's topic words no report in scope uses
    unknown_name: float = 0.0  # 1 when one of those is a name (a proper noun): 'Camden'
    question_vector: np.ndarray | None = None  # the question as typed (`vector` is the search query's)
    word_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # its content stems, each word embedded alone
    answer_vector: np.ndarray | None = None  # the question as the answer encoder reads it (qa/reader/encoder.py)
    recalled: list[Recall] = field(default_factory=list)  # earlier questions like it (qa/reader/memory.py)
    # passages the answer encoder ranks among its WIDER_DEPTH best that the search's READ_DEPTH missed: a
    # question in everyday words often shares no word and little meaning with the reports' wording, which the
    # encoder, fitted on such questions, bridges (docs/reader.md, fourteenth session)
    wider: list[Hit] = field(default_factory=list)
    # what to say if the reader gives no answer to a question worded as asking the grade of something no
    # judgement grades, which the grade-asked model read as asking something else (qa.reader.read.not_graded)
    ungraded: str | None = None


@dataclass
class SentenceCandidate:
    hit: Hit
    position: int  # the sentence's index in its passage
    start: int  # offsets into the passage text
    end: int
    features: np.ndarray
    typed: list[spans.Candidate]  # typed spans of the sentence (offsets into the sentence)
    score: float = 0.0  # the ranker's
    recalled: str | None = None  # the answer an earlier, similar question of the same type got from this sentence
    recalled_similarity: float = 0.0  # how similar that question is

    @property
    def text(self) -> str:
        return self.hit.passage.text[self.start:self.end]


def typed_spans(q: Question, sentence: str) -> list[spans.Candidate]:
    """The spans of the type the question asks for, in this sentence."""
    found: list[spans.Candidate] = []
    for kind in TYPED.get(q.type, ()):
        found.extend(_extract(kind, q, sentence))
    seen, unique = set(), []
    for c in found:
        if (c.start, c.end) not in seen:
            seen.add((c.start, c.end))
            unique.append(c)
    return unique


def _extract(kind: str, q: Question, sentence: str) -> Iterator[spans.Candidate]:
    simple = {"date": spans.dates, "duration": spans.durations, "money": spans.money, "contact": spans.contacts,
              "quantity": spans.quantities, "frequency": spans.frequencies, "person": spans.persons,
              "org": spans.organisations, "quoted": spans.quoted, "place": spans.places}
    if kind in simple:
        yield from simple[kind](sentence)
    elif kind == "phrase":
        yield from spans.noun_phrases(sentence, q.head, _stem)
    elif kind == "role":
        yield from spans.role_phrases(sentence, set(q.verbs), _stem)


@lru_cache(maxsize=65536)
def _sentence_stems(sentence: str) -> tuple[str, ...]:
    """A sentence's stemmed content words, kept across questions (sentences recur, stemming is not free)."""
    return tuple(tokens(sentence))


def _stem(word: str) -> str:
    stemmed = tokens(word)
    return stemmed[0] if stemmed else word.lower()


def read_hits(ctx: Context) -> list[Hit]:
    """The passages the reader reads: the search's first READ_DEPTH, then the answer encoder's wider finds."""
    return [*ctx.hits[:READ_DEPTH], *ctx.wider]


def gather(ctx: Context) -> list[SentenceCandidate]:
    """Every sentence of the top passages with its feature row (relative features filled in last)."""
    q, index = ctx.question, ctx.index
    council = set(index.authority_words())
    weights = {t: index.idf(t) for t in q.content if t not in council
               and (index.document_frequency.get(t, 0) > 0 or t in ctx.aliases or t.isdigit())}
    content = list(q.content)
    headings = index.heading_similarities(ctx.vector) if ctx.vector is not None else None
    typed_question = q.type in TYPED
    speakers = set(q.speakers)
    council_free = {t: (index.idf(t), v) for t, v in ctx.word_vectors.items() if t not in council and not t.isdigit()}
    rows: list[SentenceCandidate] = []
    for hit in read_hits(ctx):
        passage = hit.passage
        if not passage.sentences:
            continue
        dense = np.zeros(len(passage.sentences), dtype=np.float32)
        hub, asked, answering = dense, dense, dense
        if hit.row >= 0 and ctx.vector is not None:
            sentence_vectors = index.sentence_vectors_of(hit.row)
            dense = sentence_vectors @ ctx.vector
            hub = dense - F.HUBNESS_DISCOUNT * index.sentence_hubness_of(hit.row)
            if ctx.question_vector is not None:
                asked = sentence_vectors @ ctx.question_vector
        answer_hub = answering  # zeros without answer vectors, as answer_dense
        if hit.row >= 0 and ctx.answer_vector is not None:
            answer_vectors = index.answer_vectors_of(hit.row)
            if answer_vectors is not None:
                answering = answer_vectors @ ctx.answer_vector
                hubness = index.answer_hubness_of(hit.row)
                answer_hub = answering - F.HUBNESS_DISCOUNT * hubness if hubness is not None else answering
        token_lists = index.sentence_tokens_of(hit.row) if hit.row >= 0 else []
        heading = 0.0
        if headings is not None and hit.row >= 0 and index.heading_rows is not None:
            at = int(index.heading_rows[hit.row])
            heading = float(headings[at]) if at >= 0 else 0.0
        section_words = set(tokens(passage.section or ""))
        previous_best = None
        for position, (a, b) in enumerate(passage.sentences):
            sentence = passage.text[a:b]
            sentence_tokens = list(_sentence_stems(sentence))
            words = set(sentence_tokens)
            if position < len(token_lists):
                ids, vectors = token_lists[position]
                best, precision, kernels, proximity = F.alignment(ctx.tokens, ids, vectors)
            else:
                best, precision, kernels, proximity = (np.zeros(len(ctx.tokens.ids), dtype=np.float32), 0.0,
                                                       np.zeros(len(F.KERNELS), dtype=np.float32), 0.0)
            context_best = best if previous_best is None else np.maximum(best, 0.9 * previous_best)
            context = section_words
            if position > 0 and spans.ANAPHOR.search(sentence):  # 'these children': those the sentence before names
                a0, b0 = passage.sentences[position - 1]
                context = context | set(tokens(passage.text[a0:b0]))
            typed = typed_spans(q, sentence) if typed_question else []
            answered = answered_by(ctx.recalled, sentence, passage.text)
            recalled, recalled_answer = support(ctx.recalled, sentence, passage.text, answered)
            backing = votes(ctx.recalled, sentence, passage.text, answered)
            # what the reader may narrow to: an answer to an earlier question that asked for the same kind of thing
            part_similarity, part = next(((r.similarity, a) for r, a in answered if r.kind == q.type), (0.0, None))
            exact = 0.0
            if position < len(token_lists):
                present = set(ids.tolist())
                exact = F.weighted(ctx.tokens, np.fromiter((t in present for t in ctx.tokens.ids.tolist()),
                                                           dtype=np.float32, count=len(ctx.tokens.ids)))
            row = [
                F.weighted(ctx.tokens, best),
                F.weighted(ctx.tokens, context_best),
                F.key_min(ctx.tokens, best),
                F.unmatched_share(ctx.tokens, best),
                precision,
                exact,
                *kernels.tolist(),
                float(asked[position]) if position < len(asked) else 0.0,
                F.word_alignment(council_free, index.word_vectors_of(list(dict.fromkeys(sentence_tokens)))),
                proximity,
                F.coverage(weights, words, ctx.aliases),
                F.coverage(weights, words | context, ctx.aliases),
                F.phrase_fit(content, weights, sentence_tokens),
                float(dense[position]) if position < len(dense) else 0.0,
                float(hub[position]) if position < len(hub) else 0.0,
                heading,
                hit.score, hit.dense, hit.lexical, 1.0 / max(hit.rank, 1),
                float(position == 0),
                float(passage.kind == "list"),
                F.length_feature(sentence),
                float(typed_question),
                float(bool(typed)),
                float(q.type == "reason" and bool(spans.CAUSE.search(sentence))),
                float(bool(speakers) and F.voices(sentence, speakers)),
                0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                # what kind of question, so the ranker can weigh the signals differently for each
                float(q.type == "yesno"), float(q.type == "reason"), float(q.type in ("description", "quote", "list")),
                float(q.type in ("named", "place")),
                float(answering[position]) if position < len(answering) else 0.0, 0.0,
                float(answer_hub[position]) if position < len(answer_hub) else 0.0,
                recalled,
                backing,
            ]
            rows.append(SentenceCandidate(hit, position, a, b, np.asarray(row, dtype=np.float32), typed,
                                          recalled=part, recalled_similarity=part_similarity))
            previous_best = best
        # the sentences either side in the same passage: a why-question's cause often sits just before the
        # sentence that restates the question ('... As a result, X.')
        first = len(rows) - len(passage.sentences)
        here = F.SENTENCE_FEATURES.index("maxsim")
        for k in range(first, len(rows)):
            if k > first:
                rows[k].features[F.SENTENCE_FEATURES.index("previous_maxsim")] = rows[k - 1].features[here]
            if k + 1 < len(rows):
                rows[k].features[F.SENTENCE_FEATURES.index("next_maxsim")] = rows[k + 1].features[here]
    if rows:
        matrix = np.stack([r.features for r in rows])
        for target, source in (("rel_maxsim", "maxsim"), ("rel_dense", "dense_hub"), ("rel_coverage", "coverage"),
                               ("rel_passage", "passage_score"), ("rel_answer_dense", "answer_dense")):
            i, j = F.SENTENCE_FEATURES.index(target), F.SENTENCE_FEATURES.index(source)
            matrix[:, i] = matrix[:, j] - matrix[:, j].max()
        for r, values in zip(rows, matrix):
            r.features = values
    return rows
