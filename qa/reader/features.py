"""What the sentence ranker and the confidence model read about a question and a candidate sentence.

Every signal here is meant to carry to wording nobody tuned for:
- token-level soft alignment (BERTScore / ColBERT MaxSim) between the question's and the sentence's
  contextual token vectors from the bundled model: 'dentist' ~ 'dental', 'bosses' ~ 'leaders';
- the question's stemmed words found in the sentence, idf-weighted, counting the thesaurus and glossary
  aliases (`Aliases`), with the section heading and, for a sentence that refers back, the one before;
- the answer encoder's cosine (qa/reader/encoder.py): the question and the sentence encoded by the bundled
  model with adapters fitted to put a question next to the sentences that answer it, also less a share of
  the sentence's hubness in that space (a judgement-table row sits close to every question there);
- dense sentence similarity (less its hubness), the passage's retrieval score and rank, the heading's
  similarity, and whether the sentence holds a span of the type the question asks for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qa import spans
from qa.question import Question
from qa.text import STOPWORDS, tokens
from qa.types import Aliases

# wordpieces that only phrase a question: stopwords and punctuation carry no topic
PUNCTUATION = frozenset("?!.,;:'\"()[]-–—’‘“”/&")
HUBNESS_DISCOUNT = 0.75  # share of a sentence's hubness taken off its similarity (qa.index.sentence_hubness)
WEAK_MATCH = 0.55  # a question token whose best match in the sentence is below this is not matched there
KEY_TOKENS = 3  # the question's rarest tokens: the worst matched of them tells a missing topic

# sentence features, in the ranker's column order
SENTENCE_FEATURES = (
    "maxsim", "maxsim_context", "maxsim_key_min", "unmatched", "maxsim_precision", "exact",
    "kernel_exact", "kernel_90", "kernel_70", "kernel_50", "kernel_30", "dense_question", "word_maxsim", "proximity",
    "coverage", "coverage_context", "phrase", "dense", "dense_hub", "heading",
    "passage_score", "passage_dense", "passage_lexical", "reciprocal_rank", "first_in_passage",
    "list_item", "words", "typed_question", "typed_span", "cause", "voices",
    "rel_maxsim", "rel_dense", "rel_coverage", "rel_passage", "previous_maxsim", "next_maxsim",
    "asks_yesno", "asks_reason", "asks_description", "asks_named", "answer_dense", "rel_answer_dense",
    "answer_hub", "recalled", "recall_votes",
)


@dataclass(frozen=True)
class QuestionTokens:
    """The question's topic wordpieces: ids, unit vectors and idf weights."""

    ids: np.ndarray
    vectors: np.ndarray
    weights: np.ndarray

    @classmethod
    def select(cls, ids: np.ndarray, vectors: np.ndarray, idf: np.ndarray | None,
               vocabulary: dict[int, str] | None = None) -> "QuestionTokens":
        keep = []
        for i, token_id in enumerate(ids.tolist()):
            piece = vocabulary.get(token_id, "") if vocabulary else ""
            if piece in PUNCTUATION or piece in STOPWORDS:
                continue
            keep.append(i)
        if not keep:
            keep = list(range(len(ids)))
        ids, vectors = ids[keep], vectors[keep]
        weights = (idf[ids] if idf is not None and len(ids) and ids.max() < len(idf)
                   else np.ones(len(ids), dtype=np.float32))
        return cls(ids, vectors, np.clip(weights.astype(np.float32), 0.1, None))

    @property
    def empty(self) -> bool:
        return not len(self.ids)


KERNELS = ((1.0, 0.001), (0.9, 0.1), (0.7, 0.1), (0.5, 0.1), (0.3, 0.1))  # K-NRM's soft-match kernels (mu, sigma)
_MU = np.asarray([mu for mu, _ in KERNELS], dtype=np.float32)[:, None, None]
_TWO_SIGMA_SQUARED = np.asarray([2 * sigma ** 2 for _, sigma in KERNELS], dtype=np.float32)[:, None, None]


def alignment(question: QuestionTokens, ids: np.ndarray, vectors: np.ndarray) -> tuple[np.ndarray, float, np.ndarray,
                                                                                     float]:
    """Per question token, its best cosine in the sentence; the sentence tokens' mean best match; and
    kernel pooling (K-NRM): per kernel, the idf-weighted log soft count of sentence tokens near each
    question token, so 'a few close matches' and 'one exact match' read differently."""
    if question.empty or not len(vectors):
        return np.zeros(len(question.ids), dtype=np.float32), 0.0, np.zeros(len(KERNELS), dtype=np.float32), 0.0
    similarity = question.vectors @ vectors.T
    exact = question.ids[:, None] == ids[None, :]
    similarity = np.where(exact, 1.0, similarity)
    soft = np.log1p(np.exp(-((similarity[None] - _MU) ** 2) / _TWO_SIGMA_SQUARED).sum(axis=2))  # kernels x tokens
    total = float(question.weights.sum())
    pooled = (soft @ question.weights / total if total else np.zeros(len(KERNELS))).astype(np.float32)
    best = similarity.max(axis=1)
    # how close together the question's well-matched tokens sit in the sentence (one phrase, or scattered)
    places = similarity.argmax(axis=1)[best >= WEAK_MATCH]
    proximity = len(places) / (float(places.max() - places.min()) + 1.0) if len(places) >= 2 else 0.0
    return best, float(similarity.max(axis=0).mean()), pooled, min(proximity, 1.0)


def word_alignment(question: dict[str, tuple[float, np.ndarray]], sentence: np.ndarray) -> float:
    """idf-weighted mean, over the question's content words, of each word's best cosine with the sentence's
    words, each embedded alone (the index's word vectors): 'dentist' ~ 'dental' without context."""
    if not question or not len(sentence):
        return 0.0
    weights = np.asarray([w for w, _ in question.values()], dtype=np.float32)
    vectors = np.stack([v for _, v in question.values()])
    best = (vectors @ sentence.T).max(axis=1)
    return float((weights * best).sum() / weights.sum()) if weights.sum() else 0.0


def weighted(question: QuestionTokens, values: np.ndarray) -> float:
    total = float(question.weights.sum())
    return float((question.weights * values).sum() / total) if total else 0.0


def coverage(weights: dict[str, float], words: set[str], aliases: Aliases | None = None) -> float:
    """Share of the question's (idf-weighted) stems found in `words`; a stem not there counts by its
    aliases (a multi-word alias only when all its words are), as much as they are alike."""
    total = sum(weights.values())
    if total == 0:
        return 0.0
    found = 0.0
    for t, w in weights.items():
        if t in words:
            found += w
        elif aliases and t in aliases:
            found += w * max((similarity for alias, similarity in aliases[t]
                              if alias in words or (" " in alias and words.issuperset(alias.split()))), default=0.0)
    return found / total


def phrase_fit(content: list[str], weights: dict[str, float], sentence_tokens: list[str]) -> float:
    """Share of the question's neighbouring topic-word pairs (weighted by the rarer) side by side here."""
    pairs = {(a, b): min(weights[a], weights[b]) for a, b in zip(content, content[1:])
             if a in weights and b in weights and a != b}
    if not pairs:
        return 0.0
    present = set(zip(sentence_tokens, sentence_tokens[1:]))
    return sum(w for pair, w in pairs.items() if pair in present) / sum(pairs.values())


def voices(sentence: str, speakers: set[str], window: int = 6) -> bool:
    """Does the sentence report one of the speakers saying or thinking something ('Staff talk positively')?"""
    import re

    from qa.text import stems, words

    own = re.sub(r"“[^”]*”|\"[^\"]*\"", " ", sentence)
    said = [bool(spans.REPORTING.fullmatch(w)) for w in words(own)]
    heard = [i for i, s in enumerate(stems(own)) if s in speakers]
    return any(any(said[i + 1:i + 1 + window]) for i in heard)


def key_min(question: QuestionTokens, best: np.ndarray) -> float:
    """The worst best-match among the question's rarest tokens: low when a key topic is absent."""
    if question.empty:
        return 0.0
    order = np.argsort(-question.weights)[:KEY_TOKENS]
    return float(best[order].min())


def unmatched_share(question: QuestionTokens, best: np.ndarray) -> float:
    return weighted(question, (best < WEAK_MATCH).astype(np.float32))


def length_feature(text: str) -> float:
    return math.log1p(len(text.split()))


# what the confidence model reads about the answer it is asked to stand behind
CHOSEN_SENTENCE = ("maxsim", "maxsim_key_min", "unmatched", "kernel_90", "kernel_70", "word_maxsim", "dense_question",
                   "coverage", "coverage_context", "dense_hub", "passage_score", "reciprocal_rank", "typed_span",
                   "answer_dense", "recalled", "recall_votes")
CONFIDENCE_FEATURES = ("rank_score", "rank_prob", "rank_margin", *CHOSEN_SENTENCE, "unknown_share", "unknown_name",
                       "span_prob", "is_span",
                       "structured", "typed_question", "yesno_question", "reason_question", "description_question",
                       "candidates", "recall_answered", "recall_unanswerable", "recall_part", "recall_agreement")
# question words too general to count as unknown when the corpus lacks them
META_WORDS = frozenset(tokens("according news article report say said tell told think happen happens"))


def unknown_share(q: Question, index, aliases: Aliases, scope: np.ndarray | None) -> tuple[float, float]:
    """The idf share of the question's topic words that no report in scope uses (nor any alias of them):
    'hospital' in 'Who looks after kids when their parents are in hospital?'; and whether one of them is a
    name (a proper noun: 'Camden', 'Ofsted's Manchester office'), which the reports would have to name to
    answer. Words that only phrase the question ('already', 'someone', by their part of speech) do not count."""
    from qa import tagger

    council = index.authority_words()
    content = [t for t in dict.fromkeys(q.content) if t not in council and not t.isdigit() and t not in META_WORDS]
    if not content:
        return 0.0, 0.0
    missing = {t for t in content if index.document_frequency.get(t, 0) == 0 and t not in aliases
               and index.glossary.term(t.upper()) is None}  # 'PA': an abbreviation the reports define
    if scope is not None:
        known = [t for t in content if t not in missing and t not in aliases]
        missing |= index.unused_within(known, scope)
    if missing:
        missing -= tagger.phrasing_stems(q.text)
    total = sum(index.idf(t) for t in content)
    named = float(bool(missing & tagger.name_stems(q.text))) if missing else 0.0
    return (sum(index.idf(t) for t in missing) / total if total else 0.0), named
