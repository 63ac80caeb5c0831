"""`qa calibrate`: fit the reader's ranker, span scorer and confidence on every training question set.

Cross-validation is by groups of questions that share their evidence (its first 60 characters, normalised),
so a paraphrase never sits on both sides of a split. The answer encoder's adapters are fitted per fold
first, so the ranker and the confidence only ever read its scores on questions it was not fitted on.
Per fold, the ranker and the span scorer are fitted on the other folds and answer the held-out questions
exactly as the service would (`Reader.decide`); the confidence models are
then fitted on those out-of-fold answers, themselves cross-validated for the figures reported. The
final ranker and span scorer are fitted on everything; the final confidence on all out-of-fold answers,
which is what it will see on questions nobody fitted it on. Each question set is also held out whole in
turn (`leave_one_set_out`): a new batch comes from a new writer, and those figures are what one should show.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa import metrics
from qa.reader import Reader
from qa.reader import features as F
from qa.reader.model import LIGHTGBM_SETTINGS, MODEL_FILE, Boosted, Linear, Ranker, Rate, ReaderModel
from qa.reader.narrow import SPAN_FEATURES, span_rows
from qa.reader.read import judged_as
from qa.reader.sentences import READ_DEPTH, TYPED, WIDER_DEPTH, Context, SentenceCandidate, gather
from qa.types import Answer, Hit

if TYPE_CHECKING:
    from qa.index import Index
    from qa.reader.asks import GradeAsked

log = logging.getLogger(__name__)

FOLDS = 5
# rankers tried, each cross-validated: "linear", or LightGBM alone or with it ("ensemble"), in each of
# model.LIGHTGBM_SETTINGS ("lightgbm/slow"); the best by answering sentence first is kept
RANKERS = ("linear", *(f"{kind}/{setting}".rstrip("/") for kind in ("lightgbm", "ensemble") for setting in LIGHTGBM_SETTINGS))


@dataclass
class Example:
    id: str
    answers: list[str]
    evidence: str
    ctx: Context
    candidates: list[SentenceCandidate]
    given: tuple[Answer, Hit] | None
    labels: np.ndarray  # 1 for each candidate sentence that answers
    group: str
    relaxed: bool = False  # the filters the question states were dropped to find passages: the reader abstains


def right(prediction: str | None, answers: list[str]) -> bool:
    """What the confidence promises: the answer is right (F1 >= 0.5) or contains a right answer."""
    return bool(answers) and bool(prediction) and (
        metrics.f1_score(prediction, answers) >= metrics.CORRECT_F1 or metrics.holds(prediction, answers))


def collect(pipeline, items, asks_grade: list[bool] | None = None,
            forget: list[frozenset[str]] | None = None) -> list[Example]:
    """Each question asked as the service would, with its candidate sentences labelled. `asks_grade`: for each
    question, whether it asks for a grade, as a model not fitted on it judges (`fit_grade_asked`). `forget`:
    for each, the question sets its memory does not recall (`forgotten`)."""
    from qa import answer as structured

    examples = []
    for n, item in enumerate(items):
        ctx, _, relaxed = pipeline.prepare(item.question, top_k=5,
                                           asks_grade=None if asks_grade is None else asks_grade[n],
                                           memory_exclude=frozenset() if forget is None else forget[n], widen=False)
        candidates = [] if relaxed else gather(ctx)
        given = None if relaxed else structured.structured_answer(ctx)
        group = metrics.normalise_answer(item.evidence)[:60] or item.id
        examples.append(Example(item.id, item.answers, item.evidence, ctx, candidates, given,
                                _labels(candidates, item.answers, item.evidence), group, bool(relaxed)))
    return examples


def _labels(candidates: list[SentenceCandidate], answers: list[str], evidence: str) -> np.ndarray:
    """1 for each candidate sentence that answers: right, and in the evidence passage."""
    evidence = metrics.normalise_answer(evidence)
    return np.asarray([int((not evidence or evidence in metrics.normalise_answer(c.hit.passage.text))
                           and right(c.text, answers)) for c in candidates], dtype=int)


def widen(ex: Example, question: np.ndarray, sentences: np.ndarray) -> bool:
    """Read, besides the search's passages, those an answer encoder not fitted on this question ranks among
    its WIDER_DEPTH best (by their best sentence: `question` against every sentence of the index, `sentences`,
    in index order), as the service does with the shipped encoder (Pipeline.prepare); gather and label the
    candidates again. False when nothing was added."""
    from qa.retrieve import hits_for_rows

    ctx = ex.ctx
    if ex.relaxed or not ctx.hits:
        return False
    offsets = np.asarray(ctx.index.sentence_offsets)
    scores = sentences @ question
    rows = np.arange(len(offsets) - 1) if ctx.scope is None else np.asarray(ctx.scope, dtype=np.int64)
    rows = rows[offsets[rows + 1] > offsets[rows]]  # passages with sentences
    if not len(rows):
        return False
    best = np.asarray([scores[offsets[r]:offsets[r + 1]].max() for r in rows])
    chosen = rows[np.argsort(-best, kind="stable")[:WIDER_DEPTH]]
    read = {h.row for h in ctx.hits[:READ_DEPTH]}
    ctx.wider = hits_for_rows(ctx.index, [int(r) for r in chosen if int(r) not in read], READ_DEPTH + 1)
    if not ctx.wider:
        return False
    ex.candidates = gather(ctx)
    ex.labels = _labels(ex.candidates, ex.answers, ex.evidence)
    return True


def forgotten(sources: list[str]) -> list[frozenset[str]]:
    """What each training question's memory leaves out: its own set. Another writer's questions are what a new
    question finds there; its own writer's rewordings of it are not."""
    return [frozenset({source}) for source in sources]


def fit_grade_asked(pipeline, items) -> tuple["GradeAsked", list[bool], dict, list[np.ndarray | None], list[str]]:
    """The grade-asked model (qa.reader.asks) fitted on the answerable questions (a grade answers them or
    not), and for each training question its judgement by a model not fitted on it (the answerable ones out
    of fold, the rest by the final model), with how well it tells them apart, out of fold, among the
    questions the rules type as grade questions; and each question's vector and type as the pipeline reads them."""
    from qa.reader.asks import fit, frame, is_grade

    contexts = [pipeline.prepare(item.question, top_k=5, asks_grade=True)[0] for item in items]
    authorities = pipeline.index.authority_words()
    frames = pipeline.embedder.encode([frame(c.question.text, c.question.area, authorities) for c in contexts])
    answerable = [i for i, item in enumerate(items) if item.answers and contexts[i].question_vector is not None]
    vectors = np.stack([frames[i] for i in answerable])
    labels = np.array([any(is_grade(a) for a in items[i].answers) for i in answerable], dtype=int)
    groups = [metrics.normalise_answer(items[i].evidence)[:60] or items[i].id for i in answerable]
    ruled = np.array([contexts[i].question.type in ("grade", "history") for i in answerable])
    model, out_of_fold, report = fit(vectors, labels, groups, ruled)
    asks = [model.asks(f) for f in frames]
    for i, p in zip(answerable, out_of_fold):
        asks[i] = bool(p >= model.cut)
    return model, asks, report, [c.question_vector for c in contexts], [c.question.type for c in contexts]


def _pairs(examples: list[Example]) -> list:
    """What the answer encoder learns from: each question with an answering candidate, or that the reports
    do not answer, as the pipeline reads it, its answering sentences and its best-matching wrong ones (by
    token MaxSim)."""
    from qa.reader.encoder_fit import HARD_NEGATIVES, Pair

    pairs, maxsim = [], F.SENTENCE_FEATURES.index("maxsim")
    for ex in examples:
        unanswerable = not ex.answers
        if ex.given is not None or not ex.candidates or ex.labels.all() or not (ex.labels.any() or unanswerable):
            continue
        order = np.argsort(-np.asarray([c.features[maxsim] for c in ex.candidates]), kind="stable")
        pairs.append(Pair(ex.ctx.question.text, list(dict.fromkeys(c.text for c, label in zip(ex.candidates, ex.labels)
                                                                     if label)),
                          [ex.candidates[i].text for i in order if not ex.labels[i]][:HARD_NEGATIVES]))
    return pairs


def set_answer_scores(ex: Example, question: np.ndarray, sentences: np.ndarray, hubness: np.ndarray) -> None:
    """Fill the candidates' answer-encoder features from the question's and the sentences' answer vectors and
    the sentences' hubness among the corpus's answer vectors."""
    ex.ctx.answer_vector = question
    if not ex.candidates:
        return
    scores = sentences @ question
    here, relative = F.SENTENCE_FEATURES.index("answer_dense"), F.SENTENCE_FEATURES.index("rel_answer_dense")
    hub = F.SENTENCE_FEATURES.index("answer_hub")
    for c, score, h in zip(ex.candidates, scores, hubness):
        c.features[here], c.features[relative] = float(score), float(score - scores.max())
        c.features[hub] = float(score - F.HUBNESS_DISCOUNT * h)


def _reference_texts(index) -> list[str]:
    """The sentences the index measures hubness against (qa.writer.hub_reference), as text."""
    from qa.writer import hub_reference

    offsets = np.asarray(index.sentence_offsets)
    texts = []
    for row in hub_reference(int(offsets[-1])):
        passage_row = int(np.searchsorted(offsets, row, side="right")) - 1
        passage = index.passages[passage_row]
        a, b = passage.sentences[int(row - offsets[passage_row])]
        texts.append(passage.text[a:b])
    return texts


def sentence_texts(index: "Index") -> list[str]:
    """Every sentence of the index, in index order (the rows of its sentence vectors)."""
    texts = []
    for row in range(len(index.passages)):
        passage = index.passages[row]
        texts += [passage.text[a:b] for a, b in passage.sentences]
    return texts


def answer_encoder_out_of_fold(examples: list[Example]) -> dict[str, float]:
    """Per fold, adapters fitted on the other folds encode the held-out questions and their candidate
    sentences, so the ranker and the confidence learn what the encoder is worth on questions it was not
    fitted on; the same adapters find the passages the reader reads besides the search's (`widen`). Returns
    the share of questions whose answering sentence the tuned cosine ranks first, and the base model's
    cosine, out of fold, and the share of questions whose reading was widened."""
    from qa.reader.encoder_fit import Scorer, fit_adapters
    from qa.writer import hubness_against

    reference_texts = _reference_texts(examples[0].ctx.index) if examples else []
    corpus_texts = sentence_texts(examples[0].ctx.index) if examples else []
    folds = _folds(examples)
    pairs = [_pairs([ex]) for ex in examples]  # before any fold widens its questions' reading
    widened = 0
    for number, (train, test) in enumerate(folds, start=1):
        log.info("answer encoder, fold %d of %d: fitting adapters on %d questions", number, FOLDS, len(train))
        scorer = Scorer(fit_adapters([p for i in train for p in pairs[i]]))
        questions = scorer.encode([examples[i].ctx.question.text for i in test])
        corpus = scorer.encode(corpus_texts)
        widened += sum(widen(examples[i], question, corpus) for i, question in zip(test, questions))
        reference = scorer.encode(reference_texts)
        texts = list(dict.fromkeys(c.text for i in test for c in examples[i].candidates))
        encoded = scorer.encode(texts)
        vectors = dict(zip(texts, encoded))
        hubness = dict(zip(texts, hubness_against(encoded, reference))) if texts else {}
        for i, question in zip(test, questions):
            candidates = examples[i].candidates
            set_answer_scores(examples[i], question, np.stack([vectors[c.text] for c in candidates])
                              if candidates else np.zeros((0, len(question)), dtype=np.float32),
                              np.asarray([hubness[c.text] for c in candidates], dtype=np.float32))
    tuned, base = [], []
    for ex in examples:
        if ex.given is None and ex.answers and ex.candidates and ex.labels.any():
            rows = np.stack([c.features for c in ex.candidates])
            tuned.append(ex.labels[int(np.argmax(rows[:, F.SENTENCE_FEATURES.index("answer_dense")]))])
            base.append(ex.labels[int(np.argmax(rows[:, F.SENTENCE_FEATURES.index("dense_question")]))])
    return {"tuned": round(float(np.mean(tuned)), 4) if tuned else 0.0,
            "base": round(float(np.mean(base)), 4) if base else 0.0,
            "widened": round(widened / len(examples), 4) if examples else 0.0}


def _ranker_data(examples: list[Example]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    xs, ys, groups = [], [], []
    for ex in examples:
        if ex.given is not None or not ex.candidates or ex.labels.sum() == 0 or ex.labels.sum() == len(ex.labels):
            continue
        xs.append(np.stack([c.features for c in ex.candidates]))
        ys.append(ex.labels)
        groups.append(len(ex.candidates))
    if not xs:
        return np.zeros((0, len(F.SENTENCE_FEATURES))), np.zeros(0), []
    return np.vstack(xs), np.concatenate(ys), groups


def fit_ranker(choice: str, examples: list[Example]) -> Ranker:
    """A ranker of one of RANKERS ('ensemble/slow': LightGBM in its 'slow' setting with the linear one)."""
    x, y, groups = _ranker_data(examples)
    kind, _, setting = choice.partition("/")
    if kind == "lightgbm":
        return Ranker.fit_lightgbm(x, y, groups, F.SENTENCE_FEATURES, setting)
    if kind == "ensemble":
        boosted, linear = Ranker.fit_lightgbm(x, y, groups, F.SENTENCE_FEATURES, setting), Ranker.fit_linear(
            x, y, F.SENTENCE_FEATURES)
        return Ranker("ensemble", linear=linear.linear, booster=boosted.booster, names=F.SENTENCE_FEATURES)
    return Ranker.fit_linear(x, y, F.SENTENCE_FEATURES)


def fit_span(examples: list[Example]) -> Linear | None:
    """P(span right | its sentence answers), from every typed question's answering sentences."""
    from qa import answer as structured

    xs, ys = [], []
    for ex in examples:
        if ex.ctx.question.type not in TYPED or ex.given is not None:
            continue
        weights = {t: ex.ctx.index.idf(t) for t in ex.ctx.question.content}
        for c, label in zip(ex.candidates, ex.labels):
            if not label or not c.typed:
                continue
            for span, row in span_rows(ex.ctx, c, weights, structured.written(c.hit.document)):
                xs.append(row)
                ys.append(int(right(c.text[span.start:span.end], ex.answers)))
    if len(set(ys)) < 2:
        return None
    return Linear.fit(np.stack(xs), np.asarray(ys), SPAN_FEATURES, c=0.5)


def _top1(ranker: Ranker, examples: list[Example]) -> list[float]:
    found = []
    for ex in examples:
        if ex.given is not None or not ex.answers or not ex.candidates or not ex.labels.any():
            continue
        scores = ranker.score(np.stack([c.features for c in ex.candidates]))
        found.append(float(ex.labels[int(np.argmax(scores))]))
    return found


def _folds(examples: list[Example], folds: int = FOLDS) -> list[tuple[list[int], list[int]]]:
    from sklearn.model_selection import GroupKFold

    groups = [ex.group for ex in examples]
    splitter = GroupKFold(n_splits=folds)
    return [(list(a), list(b)) for a, b in splitter.split(np.zeros(len(examples)), groups=groups)]


@dataclass
class Outcome:
    """One question's out-of-fold answer: what the confidence model reads and whether it was right."""

    row: np.ndarray
    granularity: str
    right: bool
    answerable: bool
    f1: float
    holds: bool
    text: str | None
    data_kind: str | None = None  # an answer from the reports' own data: its confidence entry (qa.reader.read.judged_as)


def out_of_fold(examples: list[Example], kind: str, span_min: float,
                recall_min: float = 1.01) -> tuple[list[Outcome], list[float]]:
    outcomes: list[Outcome | None] = [None] * len(examples)
    top1: list[float] = []
    for train, test in _folds(examples):
        training = [examples[i] for i in train]
        ranker = fit_ranker(kind, training)
        reader = Reader(ReaderModel(ranker, fit_span(training), {}, 0.0, span_min, recall_min))
        testing = [examples[i] for i in test]
        top1 += _top1(ranker, testing)
        for i in test:
            ex = examples[i]
            found = reader.decide(ex.ctx, ex.candidates, ex.given)
            if found is None:
                outcomes[i] = Outcome(np.zeros(len(F.CONFIDENCE_FEATURES)), "none", False, bool(ex.answers),
                                      0.0, False, None)
                continue
            answer, _ = found
            from_data = bool(answer.features[F.CONFIDENCE_FEATURES.index("structured")])
            outcomes[i] = Outcome(np.asarray(answer.features), answer.granularity, right(answer.text, ex.answers),
                                  bool(ex.answers), metrics.f1_score(answer.text, ex.answers),
                                  bool(ex.answers) and metrics.holds(answer.text, ex.answers), answer.text,
                                  judged_as(answer.type) if from_data else None)
    return [o for o in outcomes if o is not None], top1


POOLED = True  # one model over spans and sentences (span_prob and is_span tell them apart); else one each


SPAN_MIN = 0.5  # narrow to the span when it is more likely right than wrong, given its sentence answers


def span_cut_values(examples: list[Example], kind: str) -> dict[float, float]:
    """What narrowing is worth at each cut of the span scorer's probability, out of fold: the mean of F1
    and rightness (F1 >= 0.5 or holding a right answer) over the questions where span and sentence differ.
    A sentence holding the name asked for is right but scores a low F1; a wrong span scores nothing. On
    the training sets the curve is flat from 0 to about 0.9 (within one question of its best), so the
    reader narrows at SPAN_MIN: a who-question gets the name when that costs nothing measurable."""
    narrowed, whole = out_of_fold(examples, kind, 0.0)[0], out_of_fold(examples, kind, 1.01)[0]
    index = F.CONFIDENCE_FEATURES.index("span_prob")
    pairs = [(float(a.row[index]), (a.f1 + a.right) / 2, (b.f1 + b.right) / 2)
             for a, b in zip(narrowed, whole) if a.granularity == "span" and a.text != b.text
             and float(b.row[F.CONFIDENCE_FEATURES.index("structured")]) == 0.0]
    return {cut: round(float(np.mean([span if p >= cut else sentence for p, span, sentence in pairs])), 4)
            if pairs else 0.0 for cut in (0.0, 0.25, 0.5, 0.75, 0.9, 1.01)}


RECALL_CUTS = (0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01)  # 1.01: never narrow to a recalled answer


def recall_cut_values(examples: list[Example], kind: str, span_min: float) -> dict[float, float]:
    """What narrowing a sentence to the answer an earlier, similar question got from it is worth at each cut of
    that question's similarity, out of fold (the mean of F1 and rightness over the answerable questions)."""
    narrowed, whole = out_of_fold(examples, kind, span_min, 0.0)[0], out_of_fold(examples, kind, span_min, 1.01)[0]
    index = F.CONFIDENCE_FEATURES.index("recall_part")  # the similarity of the question narrowed to, or 0
    pairs = [(float(a.row[index]) or 2.0,
              (a.f1 + a.right) / 2, (b.f1 + b.right) / 2) for a, b in zip(narrowed, whole) if a.answerable]
    return {cut: round(float(np.mean([part if p >= cut else sentence for p, part, sentence in pairs])), 4)
            if pairs else 0.0 for cut in RECALL_CUTS}


WRONG_COST = 0.5  # a wrong answer costs half what a right one gains: the page shows its confidence and passages
GATE_MIN = 10  # answers of a type that hold nothing of it, out of fold, before the type may be gated


def _holds_nothing_asked(ex: Example, o: Outcome) -> bool:
    """An answer given, to a typed question, that holds nothing of the type asked for (qa.reader.read)."""
    from qa.reader.read import holds_nothing_asked

    return o.granularity != "none" and holds_nothing_asked(
        ex.ctx.question, o.text or "", bool(o.row[F.CONFIDENCE_FEATURES.index("structured")]))


def gate_rate(answers: int, right: int) -> float:
    """How often an answer of a kind is right, from `right` of `answers` seen, smoothed (Laplace): 0 of 10 is
    not taken as never, 4 of 224 not as often."""
    return (right + 1) / (answers + 2)


def fit_type_gates(examples: list[Example], outcomes: list[Outcome],
                   cost: float = WRONG_COST) -> tuple[frozenset[str], dict]:
    """The typed question types (how many, how much, what number to ring, ...) whose answers that held no span
    of the type asked for were, out of fold and over at least GATE_MIN of them, right less often than a wrong
    answer's `cost` allows (their smoothed rate under cost / (1 + cost), where giving them loses more than it
    gains, as `choose_threshold` counts); with the counts for every type. The reader withholds such answers
    (qa.reader.read.lacks_asked_type). A rule that gated only types never right out of fold flipped on one
    right answer in two hundred (session 16, docs/reader.md)."""
    counts: dict[str, tuple[int, int]] = {}
    for ex, o in zip(examples, outcomes):
        if _holds_nothing_asked(ex, o):
            n, r = counts.get(ex.ctx.question.type, (0, 0))
            counts[ex.ctx.question.type] = (n + 1, r + int(o.right))
    gated = frozenset(t for t, (n, r) in counts.items() if n >= GATE_MIN and gate_rate(n, r) < cost / (1 + cost))
    return gated, {t: {"answers": n, "right": r} for t, (n, r) in sorted(counts.items())}


def gate(examples: list[Example], outcomes: list[Outcome], gated: frozenset[str]) -> list[Outcome]:
    """The outcomes as the service gives them: an answer the reader withholds for holding nothing of the type
    asked for (a grade, or a gated type: qa.reader.read.withheld_by_type) is no answer."""
    from qa.reader.read import withheld_by_type

    def withheld(ex: Example, o: Outcome) -> bool:
        return o.granularity != "none" and withheld_by_type(
            ex.ctx.question, o.text or "", bool(o.row[F.CONFIDENCE_FEATURES.index("structured")]), gated)

    return [replace(o, granularity="none", right=False, f1=0.0, holds=False, text=None) if withheld(ex, o) else o
            for ex, o in zip(examples, outcomes)]


# confidence models tried, each cross-validated; the one that breaks its promise least with each set held out
# (confidently wrong share plus ECE) is kept, AURC breaking ties
CONFIDENCE_KINDS = ("linear", "lightgbm")


RATE_MIN = 10  # answers of one kind from the reports' own data, out of fold, before that kind is judged by its rate


def data_rates(outcomes: list[Outcome]) -> dict[str, Rate]:
    """For each kind of answer from the reports' own data given at least RATE_MIN times, how often it was right."""
    counts: dict[str, list[bool]] = {}
    for o in outcomes:
        if o.data_kind and o.granularity != "none":
            counts.setdefault(o.data_kind, []).append(o.right)
    return {k: Rate(len(v), sum(v)) for k, v in sorted(counts.items()) if len(v) >= RATE_MIN}


def fit_confidence(outcomes: list[Outcome], kind: str = "linear") -> dict[str, Linear | Boosted | Rate]:
    """The confidence models by granularity (`kind`: a logistic regression or boosted trees, fitted on every
    answer given), and the rate of each kind of answer from the reports' own data seen often enough, which
    judges those answers instead (their sentence features say little about them)."""
    return _fit_models(outcomes, kind) | data_rates(outcomes)


def _fit_models(outcomes: list[Outcome], kind: str) -> dict[str, Linear | Boosted]:
    given = [o for o in outcomes if o.granularity != "none"]
    if kind == "lightgbm":  # spans and sentences pooled: the trees split on is_span and span_prob themselves
        model = Boosted.fit(np.stack([o.row for o in given]), np.asarray([o.right for o in given]),
                            F.CONFIDENCE_FEATURES)
        return {"span": model, "sentence": model}
    if POOLED:
        model = Linear.fit(np.stack([o.row for o in given]), np.asarray([o.right for o in given]),
                           F.CONFIDENCE_FEATURES, c=0.3)
        return {"span": model, "sentence": model}
    models = {}
    for granularity in ("span", "sentence"):
        chosen = [o for o in given if o.granularity == granularity]
        if len(chosen) < 20 or len({o.right for o in chosen}) < 2:
            chosen = given
        models[granularity] = Linear.fit(np.stack([o.row for o in chosen]), np.asarray([o.right for o in chosen]),
                                         F.CONFIDENCE_FEATURES, c=0.3)
    return models


def cross_validated_confidence(outcomes: list[Outcome], groups: list[str], kind: str = "linear") -> np.ndarray:
    from sklearn.model_selection import GroupKFold

    probabilities = np.zeros(len(outcomes))
    for train, test in GroupKFold(n_splits=FOLDS).split(np.zeros(len(outcomes)), groups=groups):
        models = fit_confidence([outcomes[i] for i in train], kind)
        probabilities[test] = _probabilities(models, [outcomes[i] for i in test])
    return probabilities


def _probabilities(models: dict[str, Linear | Boosted | Rate], outcomes: list[Outcome]) -> np.ndarray:
    """Each answer's confidence as the reader gives it (its kind's rate, else its granularity's model); 0 where
    the reader gave none."""
    return np.asarray([float(((models.get(o.data_kind) if o.data_kind else None) or models[o.granularity])
                             .probability(o.row)[0]) if o.granularity != "none" else 0.0 for o in outcomes])


def choose_threshold(probabilities: list[float], right: list[bool], cost: float = WRONG_COST,
                     weights: list[float] | None = None) -> float:
    """The confidence cut that maximises right answers less `cost` times wrong ones (an answer to an
    unanswerable question is wrong; abstaining scores 0), each answer counted by its weight (default 1),
    halfway between the last answer given and the next."""
    order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])
    best, at, total = 0.0, 0, 0.0
    for count, i in enumerate(order, start=1):
        total += (1.0 if right[i] else -cost) * (weights[i] if weights is not None else 1.0)
        if total > best:
            best, at = total, count
    if at == 0:
        return float(probabilities[order[0]] + 1e-6) if order else 1.0
    below = probabilities[order[at]] if at < len(order) else 0.0
    return float((probabilities[order[at - 1]] + below) / 2)


def set_weights(sources: list[str]) -> list[float]:
    """Each answer's weight when every set counts alike: one over the size of its set."""
    from collections import Counter

    sizes = Counter(sources)
    return [1.0 / sizes[s] for s in sources]


# How the threshold is chosen, each rule maximising right answers less WRONG_COST times wrong ones:
# - pooled: over every out-of-fold answer alike, as cross-validation scores them;
# - set-balanced: the same with every set (one writer, one kind of user) counting alike, so that the many
#   answers of a few large sets do not set the cut a new batch is answered at;
# - held-out: the same, set-balanced, over each set's confidences from a model fitted without that set, which
#   is how a new batch's answers are scored (a new writer's answers run less sure than those of a writer whose
#   other questions the model saw).
# The rule kept is the one whose cut, chosen on the other sets, serves each set held out in turn best.
THRESHOLD_RULES = ("pooled", "set-balanced", "held-out")
RULE_MARGIN = 0.005  # mean utility a question by which another rule must beat the pooled one to be kept


def threshold_by_rule(rule: str, cross_validated: list[float], held: list[float], right: list[bool],
                      sources: list[str]) -> float:
    """The cut `rule` chooses from the answers' cross-validated and held-out-set confidences."""
    if rule == "pooled":
        return choose_threshold(cross_validated, right)
    if rule == "set-balanced":
        return choose_threshold(cross_validated, right, weights=set_weights(sources))
    if rule == "held-out":
        return choose_threshold(held, right, weights=set_weights(sources))
    raise ValueError(f"unknown threshold rule {rule!r}")


def utility(outcomes: list[Outcome], probabilities: np.ndarray, threshold: float, cost: float = WRONG_COST) -> float:
    """What the answers given at `threshold` are worth a question: +1 right, -`cost` wrong (or an answer to an
    unanswerable question), 0 abstained."""
    given = [o.right for p, o in zip(probabilities, outcomes) if o.granularity != "none" and p >= threshold]
    return (sum(given) - cost * (len(given) - sum(given))) / len(outcomes) if outcomes else 0.0


def held_out_probabilities(outcomes: list[Outcome], sources: list[str], kind: str = "linear") -> np.ndarray:
    """Each set's answers scored by a confidence fitted on the other sets alone (0 for a set the others cannot
    fit a confidence for)."""
    probabilities = np.zeros(len(outcomes))
    for name in sorted(set(sources)):
        rest = [o for o, s in zip(outcomes, sources) if s != name]
        if len({o.right for o in rest if o.granularity != "none"}) < 2:
            continue
        at = [i for i, s in enumerate(sources) if s == name]
        probabilities[at] = _probabilities(fit_confidence(rest, kind), [outcomes[i] for i in at])
    return probabilities


def figures(outcomes: list[Outcome], probabilities: np.ndarray, threshold: float) -> dict:
    answered = [(p, o) for p, o in zip(probabilities, outcomes) if o.granularity != "none" and p >= threshold]
    answerable = [(p, o) for p, o in zip(probabilities, outcomes) if o.answerable]
    unanswerable = [(p, o) for p, o in zip(probabilities, outcomes) if not o.answerable]
    given = [(p, o) for p, o in zip(probabilities, outcomes) if o.granularity != "none"]
    wrong_sure = sum(1 for p, o in answered if p >= 0.7 and not o.right)

    def given_right(p, o):
        return p >= threshold and o.granularity != "none" and o.right

    return {
        "questions": len(outcomes),
        "auroc": round(_auroc([p for p, _ in given], [o.right for _, o in given]), 4),
        "ece": round(metrics.expected_calibration_error([p for p, _ in given], [o.right for _, o in given]), 4),
        "aurc": round(metrics.aurc([p for p, _ in given], [o.right for _, o in given], len(outcomes)), 4),
        "answerable_holds": round(float(np.mean([given_right(p, o) for p, o in answerable])) if answerable else 0, 4),
        "answerable_f1": round(float(np.mean([o.f1 if p >= threshold else 0.0 for p, o in answerable]))
                               if answerable else 0, 4),
        "answerable_answered": round(float(np.mean([p >= threshold for p, _ in answerable])) if answerable else 0, 4),
        "unanswerable_abstained": round(float(np.mean([p < threshold for p, _ in unanswerable]))
                                        if unanswerable else 0, 4),
        "confidently_wrong": wrong_sure + sum(1 for p, o in answered if not o.answerable and p < 0.7),
        "answers_given": len(answered),
    }


def leave_one_set_out(outcomes: list[Outcome], sources: list[str], kind: str = "linear",
                      groups: list[str] | None = None, rule: str = "pooled") -> dict:
    """The figures one new question batch should show: each set (one writer, one kind of user) held out in
    turn, the confidence and its threshold fitted on the other sets' out-of-fold answers, the held-out set
    scored as `qa eval` scores an untouched batch; the mean over sets, the worst set, and the ECE a
    perfectly calibrated reader would show on each set's answers (ECE is biased upwards on a few dozen).
    The threshold is chosen by `rule` (THRESHOLD_RULES) as the shipped one is: on the other sets'
    cross-validated confidences (by `groups`, else one group an answer) or their held-out-set ones, never on a
    model's confidences in the answers it was fitted on, which run higher and would score the held-out set at
    a stricter cut than the service uses. `utility_by_rule` gives, for every rule, the mean over sets of what
    the held-out set's answers are worth a question at the cut that rule chose on the other sets. (The held-out
    rule reads the other sets' held-out-set confidences, whose models saw this set: one set of many.)"""
    names = sorted(set(sources))
    if len(names) < 2:
        return {}
    groups = groups if groups is not None else [str(i) for i in range(len(outcomes))]
    held_all = held_out_probabilities(outcomes, sources, kind)
    per_set, worth = {}, {r: [] for r in THRESHOLD_RULES}
    for name in names:
        at = [i for i, s in enumerate(sources) if s == name]
        others = [i for i, s in enumerate(sources) if s != name]
        held, rest = [outcomes[i] for i in at], [outcomes[i] for i in others]
        if len({o.right for o in rest if o.granularity != "none"}) < 2:
            continue
        rest_cv = [float(p) for p in cross_validated_confidence(rest, [groups[i] for i in others], kind)]
        cuts = {r: threshold_by_rule(r, rest_cv, [float(held_all[i]) for i in others], [o.right for o in rest],
                                     [sources[i] for i in others]) for r in THRESHOLD_RULES}
        held_p = held_all[at]
        for r, cut in cuts.items():
            worth[r].append(utility(held, held_p, cut))
        threshold = cuts[rule]
        row = figures(held, held_p, threshold)
        row["threshold"] = round(float(threshold), 4)
        answered = [(float(p), o.right) for p, o in zip(held_p, held) if o.granularity != "none" and p >= threshold]
        row["ece"] = round(metrics.expected_calibration_error([p for p, _ in answered], [r for _, r in answered]), 4)
        row["ece_if_calibrated"] = round(metrics.ece_if_calibrated([p for p, _ in answered])["mean"], 4)
        row["confidently_wrong_share"] = round(row["confidently_wrong"] / row["answers_given"], 4) \
            if row["answers_given"] else 0.0
        row["utility"] = round(worth[rule][-1], 4)
        per_set[name] = row
    keys = ("answerable_holds", "answerable_f1", "answerable_answered", "unanswerable_abstained",
            "confidently_wrong_share", "ece", "ece_if_calibrated", "utility")
    return {"sets": len(per_set), "rule": rule,
            "mean": {k: round(float(np.mean([r[k] for r in per_set.values()])), 4) for k in keys},
            "worst": {k: round(float(max(r[k] for r in per_set.values()) if k.startswith(("confidently", "ece"))
                                     else min(r[k] for r in per_set.values())), 4) for k in keys},
            "utility_by_rule": {r: round(float(np.mean(v)), 4) for r, v in worth.items()},
            "per_set": per_set}


def threshold_rule_kept(held_out: dict) -> str:
    """The threshold rule that serves sets held out best, the pooled one unless another beats it by
    RULE_MARGIN."""
    worth = held_out.get("utility_by_rule", {})
    if not worth:
        return "pooled"
    best = max(THRESHOLD_RULES, key=lambda r: worth[r])
    return best if worth[best] >= worth["pooled"] + RULE_MARGIN else "pooled"


def _broken_promise(held_out: dict) -> float:
    """How far a confidence model breaks its promise on sets it never saw: the mean, over the sets held out in
    turn, of the share of answers given that are confidently wrong plus the ECE. Two models near-tied on pooled
    AURC can differ here by a set's worth of confidently wrong answers (docs/reader.md); this is what a user of
    the page meets."""
    mean = held_out.get("mean", {})
    return round(mean.get("confidently_wrong_share", 0.0) + mean.get("ece", 0.0), 3)


@dataclass
class ConfidenceFit:
    """The confidence stage of a refit: the model kind kept, its models, the threshold and the figures."""

    kind: str
    models: dict
    threshold: float
    report: dict
    scored: dict
    held_out: dict
    rates: dict
    rule: str = "pooled"


def fit_confidence_stage(outcomes: list[Outcome], sources: list[str], groups: list[str]) -> ConfidenceFit:
    """Fit the confidence on the out-of-fold answers (each kind tried, cross-validated by `groups`; the one that
    breaks its promise least with each set of `sources` held out kept) and choose its threshold."""
    tried = {k: cross_validated_confidence(outcomes, groups, k) for k in CONFIDENCE_KINDS}
    scored = {k: figures(outcomes, p, 0.0)["aurc"] for k, p in tried.items()}
    held_out = {k: leave_one_set_out(outcomes, sources, k, groups) for k in CONFIDENCE_KINDS}
    kind = min(CONFIDENCE_KINDS, key=lambda k: (_broken_promise(held_out[k]), scored[k]))
    probabilities = tried[kind]
    rule = threshold_rule_kept(held_out[kind])
    if rule != "pooled":  # the held-out figures reported are those at the cut this rule chooses
        held_out[kind] = leave_one_set_out(outcomes, sources, kind, groups, rule)
    held = held_out_probabilities(outcomes, sources, kind) if rule == "held-out" else probabilities
    threshold = threshold_by_rule(rule, [float(p) for p in probabilities], [float(p) for p in held],
                                  [o.right for o in outcomes], sources)
    return ConfidenceFit(kind, fit_confidence(outcomes, kind), threshold,
                         figures(outcomes, probabilities, threshold), scored, held_out, data_rates(outcomes), rule)


def _confidence_about(fit: ConfidenceFit) -> dict:
    return {"confidence_chosen": fit.kind, "confidence_aurc_cross_validated": fit.scored,
            "confidence_broken_promise_held_out": {k: _broken_promise(v) for k, v in fit.held_out.items()},
            "cross_validated": fit.report, "threshold_rule": fit.rule,
            "threshold_rules_held_out_utility": fit.held_out[fit.kind].get("utility_by_rule", {}),
            "leave_one_set_out": {k: v for k, v in fit.held_out[fit.kind].items() if k != "per_set"}}


def _confidence_lines(fit: ConfidenceFit) -> list[str]:
    by_set = fit.held_out[fit.kind]
    lines = ["confidence, AURC out of fold: " + ", ".join(f"{k} {v}" for k, v in fit.scored.items())
             + "; each set held out, confidently wrong share + ECE: "
             + ", ".join(f"{k} {_broken_promise(v)}" for k, v in fit.held_out.items()) + f" -> {fit.kind}",
             "answers from the reports' own data, out of fold (answers/right), judged by their rate from "
             + str(RATE_MIN) + " on: " + (", ".join(f"{k} {r.answers}/{r.right}" for k, r in fit.rates.items())
                                          or "none"),
             "threshold rules, what each set held out is worth a question at the cut chosen on the others: "
             + ", ".join(f"{k} {v}" for k, v in fit.held_out[fit.kind].get("utility_by_rule", {}).items())
             + f" -> {fit.rule}",
             f"threshold {fit.threshold:.3f}; cross-validated: " + ", ".join(f"{k} {v}" for k, v in fit.report.items())]
    if by_set:
        lines.append(f"each of the {by_set['sets']} sets held out in turn (what a new batch should show), mean: "
                     + ", ".join(f"{k} {v}" for k, v in by_set["mean"].items())
                     + "; worst set: " + ", ".join(f"{k} {v}" for k, v in by_set["worst"].items()))
    return lines


def save_outcomes(file: Path, outcomes: list[Outcome], sources: list[str], groups: list[str]) -> None:
    """Keep a refit's out-of-fold answers (`qa calibrate --keep-outcomes`), from which `refit_confidence` refits
    the confidence and its threshold in a few minutes instead of the hour a whole refit takes. A pickle: read only
    files this machine wrote."""
    import pickle

    with open(file, "wb") as f:
        pickle.dump({"outcomes": outcomes, "sources": sources, "groups": groups}, f)


def load_outcomes(file: Path) -> tuple[list[Outcome], list[str], list[str]]:
    import pickle

    with open(file, "rb") as f:
        kept = pickle.load(f)  # noqa: S301 - written by save_outcomes on this machine
    return kept["outcomes"], kept["sources"], kept["groups"]


def refit_confidence(outcomes_file: Path, path: Path = MODEL_FILE) -> str:
    """Refit only the confidence and its threshold of the model at `path`, from the out-of-fold answers its
    refit kept; the ranker, span scorer, memory and encoder are left as they are. The same code makes the same
    choice inside a whole refit, so this gives what `qa calibrate` would give on the same questions."""
    outcomes, sources, groups = load_outcomes(outcomes_file)
    fit = fit_confidence_stage(outcomes, sources, groups)
    model = ReaderModel.load(path)
    if not model.fitted:
        raise ValueError(f"no fitted reader model at {path} to refit the confidence of: run `qa calibrate`")
    model = replace(model, confidence=fit.models, threshold=round(float(fit.threshold), 4),
                    about=model.about | _confidence_about(fit))
    model.save(path)
    return "\n".join([f"{len(outcomes)} out-of-fold answers from {outcomes_file}", *_confidence_lines(fit)])


def fit_and_save(pipeline, sets: list[Path], path: Path = MODEL_FILE, keep_outcomes: Path | None = None) -> str:
    """Fit on every question of `sets`, report the cross-validated figures, save the model (and, given
    `keep_outcomes`, the out-of-fold answers there)."""
    from eval.runner import load_gold
    from qa.reader.asks import GRADE_ASKED_FILE
    from qa.reader.encoder import ADAPTERS_FILE, fingerprint, save_adapters
    from qa.reader.encoder_fit import fit_adapters
    from qa.reader.memory import MEMORY_FILE, Memory

    pipeline.warm_up()
    loaded = [(s.stem, item) for s in sets for item in load_gold(s)]
    items, sources = [item for _, item in loaded], [name for name, _ in loaded]
    log.info("grade-asked model: fitting on %d questions", len(items))
    grade_asked, asked, grade_report, vectors, kinds = fit_grade_asked(pipeline, items)
    kept = [i for i, v in enumerate(vectors) if v is not None]
    memory = Memory.fit([vectors[i] for i in kept], [items[i].answers for i in kept], [items[i].evidence for i in kept],
                        [sources[i] for i in kept], pipeline.index.documents, [kinds[i] for i in kept])
    log.info("collecting %d questions from %d sets, each recalling the other sets' questions",
             len(items), len(sets))
    shipped, pipeline.memory = pipeline.memory, memory
    try:
        examples = collect(pipeline, items, asked, forgotten(sources))
    finally:
        pipeline.memory = shipped  # the pipeline answers as before; the new memory is saved with the model
    encoder_first = answer_encoder_out_of_fold(examples)
    log.info("answer encoder: fitting the final adapters on every question")
    adapters = fit_adapters(_pairs(examples))
    runs = {kind: out_of_fold(examples, kind, 0.5) for kind in RANKERS}
    top1 = {kind: float(np.mean(found)) if found else 0.0 for kind, (_, found) in runs.items()}
    kind = max(RANKERS, key=lambda k: top1[k])
    span_min = SPAN_MIN
    span_values = span_cut_values(examples, kind)
    recall_values = recall_cut_values(examples, kind, span_min)
    recall_min = max(RECALL_CUTS, key=lambda cut: (recall_values[cut], cut))
    outcomes = out_of_fold(examples, kind, span_min, recall_min)[0]
    type_gates, gate_counts = fit_type_gates(examples, outcomes)
    outcomes = gate(examples, outcomes, type_gates)
    groups = [ex.group for ex in examples]
    if keep_outcomes is not None:
        save_outcomes(keep_outcomes, outcomes, sources, groups)
    fit = fit_confidence_stage(outcomes, sources, groups)
    model = ReaderModel(fit_ranker(kind, examples), fit_span(examples), fit.models,
                        round(float(fit.threshold), 4), span_min, recall_min, type_gates=type_gates,
                        wider_depth=WIDER_DEPTH,
                        about={"fitted_on": [s.name for s in sets], "questions": len(items), "ranker_chosen": kind,
                               **_confidence_about(fit),
                               "ranker_top1_cross_validated": {k: round(v, 4) for k, v in top1.items()},
                               "span_cut_values": span_values,
                               "recall_cut_values": recall_values, "type_gate_counts": gate_counts,
                               "memory_questions": len(memory),
                               "answer_encoder": fingerprint(adapters),
                               "answer_encoder_top1_cross_validated": encoder_first,
                               "grade_asked_cross_validated": grade_report,
                               "note": "fitted by `qa calibrate`; do not edit by hand"})
    save_adapters(adapters, path.with_name(ADAPTERS_FILE.name))
    memory.save(path.with_name(MEMORY_FILE.name))
    grade_asked.save(path.with_name(GRADE_ASKED_FILE.name), {"cross_validated": grade_report})
    model.save(path)
    lines = [f"{len(items)} questions from {', '.join(s.name for s in sets)}",
             "grade-asked model, out of fold among the questions the rules type as grade questions: "
             + ", ".join(f"{k} {v}" for k, v in grade_report.items()),
             f"narrowing to a span at P(span right) >= {span_min}; worth (mean F1 and rightness, out of fold) "
             "at each cut: " + ", ".join(f"{cut}: {value}" for cut, value in span_values.items()),
             f"memory of {len(memory)} questions; narrowing to a recalled answer at similarity >= {recall_min}; "
             "worth at each cut: " + ", ".join(f"{cut}: {value}" for cut, value in recall_values.items()),
             "answers holding nothing of the type asked for, out of fold (answers, right): "
             + ", ".join(f"{t} {c['answers']}/{c['right']}" for t, c in gate_counts.items())
             + f" -> withheld for {', '.join(sorted(type_gates)) or 'no type'}",
             f"answer encoder alone, answering sentence first (5-fold): tuned cosine {encoder_first['tuned']:.3f}, "
             f"base cosine {encoder_first['base']:.3f}",
             "sentence ranker, answering sentence first (5-fold, by answering passage): "
             + ", ".join(f"{k} {v:.3f}" for k, v in top1.items()) + f" -> {kind}"]
    lines += _confidence_lines(fit)
    return "\n".join(lines)


def _auroc(scores: list[float], labels: list[bool]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else 0.0
