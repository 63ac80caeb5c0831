"""Question + Hits -> an extractive Answer with a calibrated confidence, or an abstention.

Four readers share one score scale:
- grades come from the judgement tables and graded headings extracted at ingest (with the grade's history
  across the corpus), never from a visit that grades nothing, and so does when an area was graded;
- 'What needs to improve?' comes from the reports' own improvement lists (qa.index.is_improvement_list);
- 'What does IRO stand for?' comes from the passage that defines the abbreviation (qa.glossary);
- everything else is a span chosen from the top passages by features: its type fits the question, the
  words around it match the question (stemmed, idf-weighted), its sentence's embedding similarity (less
  a share of the sentence's similarity to the corpus at large, so generic sentences do not win), its
  passage's retrieval score and rank, and how much it adds beyond the question's own words.
The best score is mapped to a probability by the calibration fitted on the gold set (qa/calibration.py);
below the saved threshold the reader abstains, and the passages still go back to the user.
"""
from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qa import spans, tagger
from qa.calibration import Calibration
from qa.index import Index
from qa.question import (DOCUMENT_WORDS, FUTURE_Q, GRADE_Q, Question, abbreviation_asked, analyse,
                         existence_asked, grade_area, quote_source, reported_topic, role_held)
from qa.retrieve import document_matches
from qa.text import stems, tokens, words
from qa.types import GRADES, Aliases, Answer, Document, Hit, HistoryStep, Passage

log = logging.getLogger(__name__)


READ_DEPTH = 10  # passages the reader looks at

# weights of the span score (tuned on the gold set with `qa eval`; calibration maps the sum to a probability)
W_SENTENCE_SIM = 1.8
HUBNESS_DISCOUNT = 0.75  # share of a sentence's hubness taken off its similarity (qa.index.sentence_hubness)
W_COVERAGE = 0.5
W_LOCAL = 0.25
W_PASSAGE = 0.4
W_RANK = 0.15
W_NOVELTY = 0.2
W_SECTION = 0.3
W_PHRASE = 0.3  # the question's words side by side in the sentence ('young carers', not 'children and their carers')
W_EVENT = 0.25  # a date is the answer when the words it belongs to are the question's (spans.date_event)
UNKNOWN_WORD_PENALTY = 0.3
CONSEQUENCE_PENALTY = 0.3  # for a why-question, a sentence that opens 'As a result, ...' is the effect
VOICE_WINDOW = 6  # words from a speaker to the verb that reports them: 'Designated school leads value ...'
COUNTING_WORDS = frozenset(tokens("how many much number numbers percentage proportion share"))
COUNTED_SHARE = 0.5  # of what a how-many question says of what it counts, that a quantity's sentence must say
LIST_TOPIC_SHARE = 0.5  # a list answers 'What needs to improve in X?' when it holds this share of the topic
UNCAUSED_PENALTY = 0.2  # ... and one that gives no cause may only restate what is asked ('This visit was
# carried out fully by remote means' for 'Why was the visit carried out remotely?')
LIST_ITEM_PENALTY = 0.3  # a list item names an area ('Return home interviews informing safety plans.'): a
# question about what was found or said is better answered by a sentence that says something about it
DATE_SPECIFICITY = (0.12, 0.09, 0.05, 0.0)  # day range, full date, month and year, bare year
MARGIN_WINDOW = 1.0  # candidates further than this below the best cannot change its margin
PLURAL_Q = re.compile(r"\b(?:were|are|inspectors|people|who were)\b", re.I)
# 'Who is/was/has ...', 'the lead inspector', 'who signed': one person. Unmarked ('Who carried out the visit?')
# is answered by everyone a sentence names together.
SINGULAR_Q = re.compile(r"^\s*who (?:is|was|has)\b|\b(?:lead|sole|only|one|signed|wrote)\b", re.I)
# a letter's sign-off is about signing and writing it: it answers 'who signed/wrote the letter?'
AUTHOR_WORDS = frozenset(tokens("sign signed wrote written write authored author sent send letter"))
# question words too general to count as unknown when the corpus lacks them
META_WORDS = set(tokens("according news article report say said tell told think happen happens"))
# 'the council', 'the local authority': the council whose report it is, named another way (not 'council tax')
AUTHORITY_REFERENCE = re.compile(r"\b(?:the|its|their)\s+(?:local\s+)?(?:council|authority)(?:'s|’s)?\b"
                                 r"(?![\s-]+(?:tax|housing|house|houses|home|homes|flat|flats)\b)", re.I)

# how well a candidate's type fits the question's answer type (missing pairs are not considered at all)
TYPE_FIT: dict[str, dict[str, float]] = {
    "date": {"date": 0.3},
    "duration": {"duration": 0.3},
    "money": {"money": 0.35},
    "contact": {"contact": 0.35},
    "identity": {"person": 0.35},
    "person": {"person": 0.35, "agent": 0.3, "org": 0.1, "phrase": 0.15},
    "named": {"phrase": 0.3, "quoted": 0.4, "org": 0.2},
    "place": {"place": 0.2, "org": 0.15, "phrase": 0.05},
    "quantity": {"quantity": 0.3},
    "frequency": {"frequency": 0.3},
    "list": {"list": 0.45, "sentence": -0.1},
    "yesno": {"sentence": 0.0, "clause": -0.08},
    "reason": {"sentence": 0.0, "clause": 0.0, "cause": 0.1},
    "quote": {"quotation": 0.3, "sentence": 0.0, "clause": -0.03},
    "description": {"sentence": 0.0, "clause": -0.03, "list": -0.1},
}
GRADE_SOURCE_SCORE = {"table": 1.6, "heading": 1.5, "text": 1.3}


@dataclass(frozen=True)
class Reading:
    """What the reader made of the hits: its best answer (confident or not) and the hit it cites."""

    answer: Answer | None
    hit: Hit | None
    accepted: bool


class AnswerScorer:
    """Holds the confidence calibration; `read` is pure and thread-safe."""

    def __init__(self, calibration: Calibration) -> None:
        self.calibration = calibration

    @classmethod
    def load(cls) -> "AnswerScorer":
        return cls(Calibration.load())

    def read(self, question: str, hits: list[Hit], index: Index, vector: np.ndarray | None,
             filters: dict[str, Any] | None = None, aliases: Aliases | None = None,
             scope: np.ndarray | None = None) -> Reading:
        """The best answer for the question from these hits, calibrated; `accepted` when it clears the threshold.
        `scope` holds the rows of the passages the filters allow (None: the whole corpus)."""
        best = self.best(question, hits, index, vector, filters or {}, aliases or {}, scope)
        if best is None:
            return Reading(None, None, False)
        answer, hit = best
        confidence = self.calibration.probability(answer.score, answer.features)
        answer = replace(answer, confidence=confidence)
        return Reading(answer, hit, confidence >= self.calibration.threshold)

    def best(self, question: str, hits: list[Hit], index: Index, vector: np.ndarray | None,
             filters: dict[str, Any], aliases: Aliases | None = None,
             scope: np.ndarray | None = None) -> tuple[Answer, Hit] | None:
        """The highest-scoring answer with its raw score (confidence not yet calibrated)."""
        q = analyse(question)
        if q.type in ("grade", "history"):
            return grade_answer(q, index, hits, filters)
        if q.type == "date" and GRADE_Q.search(question):
            dated = grade_date_answer(q, index, hits, filters)
            if dated is not None:
                return dated
        if q.type == "expansion":
            spelled = expansion_answer(q, index, hits)
            if spelled is not None:
                return spelled
        if q.type == "list":
            listed = improvement_answer(q, index, hits, scope, aliases)
            if listed is not None:
                return listed
        if q.type in ("description", "quote") and asks_for_headline(q, index):
            headline = headline_answer(q, index, hits, scope)
            if headline is not None:
                return headline
        return span_answer(q, hits, index, vector, aliases or {}, scope)


# ---------------------------------------------------------------- grades from the judgement data

GRADED_TOGETHER = {  # the 2019 framework graded both together
    "care leavers": ("care leavers", "children in care and care leavers"),
    "children in care": ("children in care", "children in care and care leavers"),
}


def _area_fit(asked: str, graded: str) -> float:
    if asked == graded:
        return 1.0
    if asked in GRADED_TOGETHER and graded in GRADED_TOGETHER[asked]:
        return 0.9
    return 0.0


def _judgement_hit(document: Document, row: int, index: Index, hits: list[Hit]) -> tuple[Hit, Passage]:
    """The hit for the passage holding a grade: the retrieved one when it was retrieved."""
    for hit in hits:
        if hit.row == row:
            return hit, hit.passage
    passage = index.passages[row]
    return Hit(passage, document, 0, 0.0, row=row), passage


def grade_answer(q: Question, index: Index, hits: list[Hit], filters: dict[str, Any]) -> tuple[Answer, Hit] | None:
    """A grade question answered from the extracted judgements, with the grade's history."""
    if q.area is None:
        return None  # an area the reports do not grade (adoption, schools...)
    unknown = [t for t in q.area_extra if index.document_frequency.get(t, 0) == 0 and not t.isdigit()]
    if unknown:
        return None  # names something the reports never mention (another authority, say)
    authorities, named = _authorities_in_scope(q, index, hits)
    extra = [t for t in q.area_extra if t not in named]
    hit_scores = {h.passage.id: h.score for h in hits}
    found = []
    for area in GRADED_TOGETHER.get(q.area, (q.area,)):
        for document, judgement, row in index.graded(area):
            if authorities and document.authority not in authorities:
                continue  # another council's grade
            fit = _area_fit(q.area, judgement.area)
            if fit == 0 or judgement.year is None:
                continue
            hit, passage = _judgement_hit(document, row, index, hits)
            found.append((document, judgement, hit, passage, fit))
    if not found:
        return None

    def preference(item):
        document, judgement, hit, passage, fit = item
        return (fit, GRADE_SOURCE_SCORE[judgement.source], hit_scores.get(passage.id, 0.0))

    history = _history(found)
    in_scope = [item for item in found if document_matches(item[0], filters) and _year_in_scope(item[1].year, filters)]
    if not in_scope:
        return None
    latest_year = max(item[1].year for item in in_scope)
    document, judgement, hit, passage, fit = max((i for i in in_scope if i[1].year == latest_year), key=preference)
    start, end = judgement.start - passage.start, judgement.end - passage.start
    score = GRADE_SOURCE_SCORE[judgement.source] * fit - 0.3 * len(extra)
    features = _features(score=score, sim=1.0, coverage=1.0, local=1.0, unknown=0, margin=1.0, kind="grade",
                         rank=1)
    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start, end=end,
                  type="grade", score=score, history=tuple(history), features=features), hit


def grade_date_answer(q: Question, index: Index, hits: list[Hit], filters: dict[str, Any]) -> tuple[Answer, Hit] | None:
    """'When were care leavers last rated?': the dates of the latest inspection that graded the area (of the
    grade named, if one is: 'When was Barnet judged good?'), as its report gives them ('Inspection dates: 10
    to 14 June 2024'). Only judgements from a report's own table carry their inspection's date; a grade
    mentioned in passing ('judged inadequate in July 2017') is left to the span reader."""
    said = {grade.lower(): grade.split(" to be")[0] for grade in GRADES}  # 'requires improvement' names the third
    named = {grade for grade, words in said.items() if re.search(rf"\b{words}\b", q.text, re.I)}
    area, extra = grade_area(re.sub("|".join(rf"\b{said[grade]}\b" for grade in named) or "$^", " ", q.text,
                                    flags=re.I))
    if area is None or extra:
        return None
    authorities, _ = _authorities_in_scope(q, index, hits)
    found = [(document, judgement) for graded in GRADED_TOGETHER.get(area, (area,))
             for document, judgement, _ in index.graded(graded)
             if judgement.date and _area_fit(area, judgement.area) and document_matches(document, filters)
             and (not authorities or document.authority in authorities)
             and (not named or judgement.grade.lower() in named)]
    if not found:
        return None
    document, judgement = max(found, key=lambda item: item[1].date)
    for row in index.document_rows.get(document.id, np.zeros(0, dtype=np.int64)).tolist():
        passage = index.passages[row]
        for sentence_start, sentence_end in passage.sentences or ((0, len(passage.text)),):
            for candidate in spans.dates(passage.text[sentence_start:sentence_end]):
                start, end = sentence_start + candidate.start, sentence_start + candidate.end
                if spans.date_month(passage.text[start:end]) == judgement.date[:7]:
                    hit = next((h for h in hits if h.row == row), None) or Hit(passage, document, 0, 0.0, row=row)
                    score = GRADE_SOURCE_SCORE[judgement.source]
                    features = _features(score=score, sim=1.0, coverage=1.0, local=1.0, unknown=0, margin=1.0,
                                         kind="date", rank=1)
                    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start,
                                  end=end, type="date", score=score, features=features), hit
    return None


def _authorities_in_scope(q: Question, index: Index, hits: list[Hit]) -> tuple[set[str], set[str]]:
    """Whose grades answer the question: the council it names, else the council of the best passage.
    Also returns the (stemmed) words that named it, so they do not count as unexplained extra words."""
    named, words = set(), set()
    for authority in index.authorities():
        if re.search(rf"\b{re.escape(authority)}\b", q.text, re.IGNORECASE):
            named.add(authority)
            words.update(tokens(authority))
    if not named and hits and hits[0].document.authority:
        named.add(hits[0].document.authority)
    return named, words


def _year_in_scope(year: int, filters: dict[str, Any]) -> bool:
    if filters.get("year") is not None and year != int(filters["year"]):
        return False
    if filters.get("date_from") and year < int(str(filters["date_from"])[:4]):
        return False
    if filters.get("date_to") and year > int(str(filters["date_to"])[:4]):
        return False
    return True


def _history(found: list) -> list[HistoryStep]:
    """One step per year, best-sourced judgement first, oldest year first."""
    by_year: dict[int, tuple] = {}
    for document, judgement, hit, passage, fit in found:
        rank = (fit, GRADE_SOURCE_SCORE[judgement.source], hit.score)
        if judgement.year not in by_year or rank > by_year[judgement.year][0]:
            by_year[judgement.year] = (rank, HistoryStep(judgement.year, judgement.date, judgement.grade,
                                                         passage.id, document.id))
    return [step for _, (_, step) in sorted(by_year.items())]


# ---------------------------------------------------------------- what an abbreviation stands for

EXPANSION_SCORE = 1.6  # the report's own definition, on the grade answers' scale


def expansion_answer(q: Question, index: Index, hits: list[Hit]) -> tuple[Answer, Hit] | None:
    """'What does IRO stand for?' is answered with the long form from the passage that defines it
    ('Independent reviewing officers (IROs)'), found through the glossary built from the reports."""
    asked = abbreviation_asked(q.text)
    term = index.glossary.term(asked) if asked else None
    if term is None:
        return None  # not an abbreviation the reports define: the passages may still explain it
    long_form = re.compile(r"(?<![\w-])" + r"[\s,;/-]+".join(map(re.escape, term.long.split())) + r"(?![\w-])", re.I)
    short_form = re.compile(rf"(?<![\w-]){re.escape(term.short)}(?![\w-])")
    retrieved = {h.row for h in hits}
    elsewhere = (Hit(passage, index.documents[passage.document_id], 0, 0.0, row=row)
                 for row, passage in enumerate(index.passages) if row not in retrieved and term.short in passage.text)
    for hit in itertools.chain(hits, elsewhere):  # the defining passage need not rank: 'What is a PA?'
        text = hit.passage.text
        reach = len(term.short) + 4  # 'long form (SHORT)' or 'SHORT (long form)'
        for match in long_form.finditer(text):
            if short_form.search(text[max(0, match.start() - reach):match.start()] + " " +
                                 text[match.end():match.end() + reach]):
                features = _features(score=EXPANSION_SCORE, sim=1.0, coverage=1.0, local=1.0, unknown=0, margin=1.0,
                                     kind="expansion", rank=hit.rank)
                return Answer(text=match.group(0), confidence=0.0, passage_id=hit.passage.id, start=match.start(),
                              end=match.end(), type="expansion", score=EXPANSION_SCORE, features=features), hit
    return None


# ---------------------------------------------------------------- what needs to improve

# words that ask for the list itself, not for a topic in it
LIST_WORDS = set(tokens("need needs improve improved improvement improvements recommend recommends recommended "
                        "recommendation recommendations area areas should must do fail failing failings weak "
                        "weakness weaknesses shortcoming shortcomings problem problems concern concerns find found "
                        "inspector inspectorate inspectors ofsted identify identified work main key spot spots point "
                        "points"))
LIST_SOURCE_SCORE = 1.5  # a report's own list, on the grade answers' scale
BACKGROUND_IDF = 1.0  # a word in more than about a third of the passages (qa.index.Index.idf)


def improvement_answer(q: Question, index: Index, hits: list[Hit], scope: np.ndarray | None,
                       aliases: Aliases | None = None) -> tuple[Answer, Hit] | None:
    """'What needs to improve?' is answered by a report's own list of it, retrieved or not, as a grade is by
    its judgement table: of the council asked about, from the latest report the filters allow, and within it
    the list whose heading or lead says what the question asks ('recommends', 'found'), preferring a list
    that holds the question's topic. A topic the list as a whole is about (its heading, lead or report say
    it: '... in social work practice for children in care') gets the whole list; a topic only some items
    name ('... in the MASH?', '... for care leavers?') gets those items. When no list holds most of the
    topic ('... in adoption?', '... for disabled children?'), or the question uses words the corpus never
    does ('... in Camden?'), the span reader answers from the passages instead."""
    rows = index.improvement_rows
    if rows is None or not len(rows) or not hits:
        return None
    if scope is not None:
        rows = np.intersect1d(rows, scope)
    authorities, named = _authorities_in_scope(q, index, hits)
    asked = set(q.words) - named
    found = [row for row in rows.tolist()
             if not authorities or index.documents[index.passages[row].document_id].authority in authorities]
    if not found:
        return None

    referred = _authority_referred(q)
    topic = {t: index.idf(t) for t in q.content if t not in LIST_WORDS and t not in named and t not in referred
             and t not in DOCUMENT_WORDS and not t.isdigit()}
    if any(index.document_frequency.get(t, 0) == 0 for t in topic if t not in (aliases or {})):
        return None  # names something the reports never mention (another council, a service they do not cover)
    # 'children', 'care': words a third of the passages use say too little to tell one list item from
    # another ('for children in care' is the whole 2021 visit); the rarer words decide ('disabled', 'leavers')
    topic = {t: w for t, w in topic.items() if w >= BACKGROUND_IDF}

    def frame(passage: Passage) -> set[str]:
        """What the list as a whole is about: its heading, its lead and its report's title."""
        lead = _list_lead(passage.text)
        return set(tokens(f"{passage.section or ''} {lead} {index.documents[passage.document_id].title}"))

    def held(passage: Passage) -> float:
        return _coverage(topic, set(tokens(passage.text)) | frame(passage), aliases)

    def preference(row: int) -> tuple[bool, str, float]:
        passage = index.passages[row]
        said = set(tokens(f"{passage.section or ''} {_list_lead(passage.text)}"))
        return (not topic or held(passage) >= LIST_TOPIC_SHARE, _written(index.documents[passage.document_id]),
                sum(index.idf(t) for t in asked & said))

    row = max(found, key=preference)
    passage = index.passages[row]
    share = held(passage) if topic else 1.0
    if share < LIST_TOPIC_SHARE:
        return None  # '... in adoption?': no list is about it; the passages may still say
    lead = _list_lead(passage.text)
    start, end = (len(lead) + 1 if lead else 0), len(passage.text)
    around = frame(passage)
    rest = {t: w for t, w in topic.items() if t not in around}
    # the list's own heading does not name the topic: the answer is the items that do
    if rest and _coverage(topic, around, aliases) < LIST_TOPIC_SHARE:
        items, at = [], 0
        for line in passage.text.split("\n"):
            if at >= start:
                items.append((_coverage(rest, set(tokens(line)), aliases), at, at + len(line)))
            at += len(line) + 1
        best = max(fit for fit, _, _ in items)
        chosen = [(a, b) for fit, a, b in items if fit == best and fit > 0]
        if chosen and chosen[-1][1] - chosen[0][0] < end - start:
            start, end = chosen[0][0], chosen[-1][1]  # the first to the last item that names it
    score = LIST_SOURCE_SCORE - 0.6 * (1.0 - share)
    retrieved = next((h for h in hits if h.row == row), None)
    hit = retrieved or Hit(passage, index.documents[passage.document_id], 0, 0.0, row=row)
    features = _features(score=score, sim=1.0, coverage=share, local=share, unknown=0, margin=1.0, kind="list",
                         rank=1)
    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start,
                  end=end, type="list", score=score, features=features), hit


# ---------------------------------------------------------------- what a report found, in a sentence

# the words of a question that asks what a report found as a whole ('What were the main findings?')
FINDING_WORDS = frozenset(tokens("find finds found finding findings main key overall headline headlines conclude "
                                 "concluded conclusion conclusions summary summarise say says said think thought "
                                 "performing"))
HOW_DOING = re.compile(r"\bhow (?:is|are|was|were|has|have)\b.*\b(doing|getting on|going|performing|faring|done)\b", re.I)
HEADLINE_HEADING = re.compile(r"\b(?:headline findings|main findings|what did (?:the )?inspectors find|summary)\b", re.I)
LABEL = re.compile(r"^[A-Z][\w’' ]{0,40}:\s")  # 'Inspection dates: 10 to 14 June 2024'
HEADLINE_SCORE = 1.4  # the report's own headline, on the grade answers' scale


def asks_for_headline(q: Question, index: Index) -> bool:
    """'What did the inspectors find?', 'What were the main findings of the 2024 inspection?', 'How is Barnet
    doing?': nothing asked about but the report, its findings and its council ('What is A?' asks nothing)."""
    words = {t for t in q.words if not t.isdigit()}
    doing = HOW_DOING.search(q.text)
    topic = words - DOCUMENT_WORDS - FINDING_WORDS - index.authority_words() - _authority_referred(q) \
        - set(tokens(doing.group(1) if doing else ""))
    return not topic and bool(words & (DOCUMENT_WORDS | FINDING_WORDS) or doing)


def headline_answer(q: Question, index: Index, hits: list[Hit], scope: np.ndarray | None) -> tuple[Answer, Hit] | None:
    """A question with no topic asks for a report's headline finding, of the latest report in scope (as a
    grade question without a year gets the latest grade): the first sentence under its headline heading
    ('Headline findings', 'What did the inspectors find?'), else its first sentence opening 'Overall,', else
    the first sentence of its opening, after the judgement table. Never a sentence about the report itself
    ('This letter summarises ...') or a label ('Inspection dates: ...')."""
    if not hits:
        return None
    authorities, _ = _authorities_in_scope(q, index, hits)
    allowed = set(scope.tolist()) if scope is not None else None
    documents = [d for d in index.documents.values() if d.id in index.document_rows
                 and (not authorities or d.authority in authorities)
                 and (allowed is None or any(r in allowed for r in index.document_rows[d.id].tolist()))]
    if not documents:
        return None
    document = max(documents, key=_written)
    rows = sorted(index.document_rows[document.id].tolist())
    paragraphs = [(row, index.passages[row]) for row in rows if index.passages[row].kind == "paragraph"]

    def sentences(chosen):
        for row, passage in chosen:
            for a, b in passage.sentences:
                text = passage.text[a:b]
                if not spans.SELF_REFERENCE.search(text) and not LABEL.match(text) and len(text.split()) >= 6:
                    yield row, passage, a, b

    tables = [i for i, row in enumerate(rows) if index.passages[row].kind == "table"]
    opening = [(r, p) for r, p in paragraphs if not tables or r > rows[tables[0]]]
    found = (next(sentences((r, p) for r, p in paragraphs if HEADLINE_HEADING.search(p.section or "")), None)
             or next(((r, p, a, b) for r, p, a, b in sentences(paragraphs) if p.text[a:b].startswith("Overall,")), None)
             or next(sentences(opening), None))
    if found is None:
        return None
    row, passage, start, end = found
    hit = next((h for h in hits if h.row == row), None) or Hit(passage, document, 0, 0.0, row=row)
    features = _features(score=HEADLINE_SCORE, sim=1.0, coverage=1.0, local=1.0, unknown=0, margin=1.0,
                         kind="summary", rank=1)
    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start, end=end,
                  type="summary", score=HEADLINE_SCORE, features=features), hit


# ---------------------------------------------------------------- spans from passages

def _list_lead(text: str) -> str:
    """A list's lead line ('Ofsted recommends that the authority:'), or '' when its first line is an item."""
    first, newline, _ = text.partition("\n")
    return first if newline and first.endswith(":") else ""


def _authority_referred(q: Question) -> set[str]:
    """The words of 'the council', 'the local authority' in the question: whose report, not what in it."""
    return {t for m in AUTHORITY_REFERENCE.finditer(q.text) for t in tokens(m.group(0))}


def _pairs(content: list[str], weights: dict[str, float]) -> dict[tuple[str, str], float]:
    """The question's neighbouring topic words, each pair weighted by its rarer word."""
    return {(a, b): min(weights[a], weights[b]) for a, b in zip(content, content[1:])
            if a in weights and b in weights and a != b}


def _phrase_fit(pairs: dict[tuple[str, str], float], words: list[str]) -> float:
    """Share of the question's word pairs (idf-weighted) that stand side by side in `words`."""
    present = set(zip(words, words[1:]))
    return sum(w for pair, w in pairs.items() if pair in present) / sum(pairs.values())


def _coverage(question_weights: dict[str, float], words: set[str], aliases: Aliases | None = None) -> float:
    """Share of the question's (idf-weighted) words found in `words`; a word that is not there counts by
    its aliases (a multi-word alias only when all its words are), as much as they are alike."""
    total = sum(question_weights.values())
    if total == 0:
        return 0.0
    found = 0.0
    for t, w in question_weights.items():
        if t in words:
            found += w
        elif aliases and t in aliases:
            found += w * max((similarity for alias, similarity in aliases[t]
                              if alias in words or (" " in alias and words.issuperset(alias.split()))), default=0.0)
    return found / total


# candidate type -> its extractor over one sentence (the types that need only the sentence)
EXTRACTORS = {"date": spans.dates, "duration": spans.durations, "money": spans.money, "contact": spans.contacts,
              "quantity": spans.quantities, "frequency": spans.frequencies, "person": spans.persons,
              "org": spans.organisations, "quoted": spans.quoted, "quotation": spans.quotations}


def _candidates(q: Question, sentence: str):
    kinds = TYPE_FIT.get(q.type, TYPE_FIT["description"])
    for kind, extract in EXTRACTORS.items():
        if kind in kinds:
            yield from extract(sentence)
    if "phrase" in kinds:
        yield from spans.noun_phrases(sentence, q.head, _stem)
        if q.type == "person":
            yield from spans.role_phrases(sentence, set(q.verbs), _stem)
    if "place" in kinds:
        yield from spans.places(sentence)
    if "sentence" in kinds or "clause" in kinds:
        yield from spans.clauses(sentence)
    if "cause" in kinds:
        yield from spans.causes(sentence)


def _stem(word: str) -> str:
    stemmed = tokens(word)
    return stemmed[0] if stemmed else word.lower()


def span_answer(q: Question, hits: list[Hit], index: Index, vector: np.ndarray | None,
                aliases: Aliases | None = None, scope: np.ndarray | None = None) -> tuple[Answer, Hit] | None:
    aliases = aliases or {}
    missing = {t for t in q.content if index.document_frequency.get(t, 0) == 0 and not t.isdigit()
               and t not in META_WORDS and t not in aliases}
    outside = set()
    if scope is not None:  # words the corpus uses, but none of the reports the question is limited to
        outside = index.unused_within([t for t in q.content if t not in missing and not t.isdigit()
                                       and t not in META_WORDS and index.document_frequency.get(t, 0) > 0], scope)
    if missing or outside:  # the words that only phrase the question ('already', 'someone') do not count
        phrasing = tagger.phrasing_stems(q.text)
        missing, outside = missing - phrasing, outside - phrasing
    if missing & set(existence_asked(q.text)):
        return None  # 'Is there a helpline ...?': reports that never name one cannot say there is one
    if q.type in ("duration", "frequency") and missing & tagger.verb_stems(q.text):
        return None  # 'How long do children wait for CAMHS?': reports that never speak of waiting cannot say
    topic = set(reported_topic(q.text))
    if topic and topic <= missing | outside:
        return None  # 'What did social workers say about morale in 2024?': the 2024 report never mentions it
    # the council's own name says whose report, not what in it: a sentence that happens to say 'Barnet'
    # answers 'Why did Barnet close a home?' no better than one that does not (retrieval still weighs it)
    council = index.authority_words() | _authority_referred(q)
    weights = {t: index.idf(t) for t in q.content if (t in missing or index.document_frequency.get(t, 0) > 0
               or t in aliases or t.isdigit()) and t not in council}
    unknown = sum(1 for t in q.content if t in missing)
    unknown_here = unknown + sum(1 for t in q.content if t in outside)  # penalised like unknown ones
    # 'When did the monitoring visit take place?': which event a date belongs to is told by every word of the
    # question, the words naming the report included
    event_weights = weights | {
        t: index.idf(t) for t in q.words & DOCUMENT_WORDS if index.document_frequency.get(t, 0)}
    future = bool(FUTURE_Q.search(q.text))
    # 'Who is the lead member?': its words must be where the name is (the council's name apart)
    role = {t: 1.0 for t in role_held(q.text) if t not in council} if q.type == "identity" else {}
    # 'What do children say about ...?': who must be heard saying it ('Children told inspectors that ...')
    speakers = set(quote_source(q.text)) - council if q.type == "quote" else set()
    stated_dates = {m.group(0).lower() for p in spans.DATE_PATTERNS for m in p.finditer(q.text)}
    together = 0.1 if PLURAL_Q.search(q.text) else 0.0 if SINGULAR_Q.search(q.text) else 0.05  # for 'A and B'
    question_words = set(q.words)
    pairs = _pairs(list(q.content), weights)
    pool: list[tuple[float, Answer, Hit, tuple[float, float, float]]] = []
    best_score: float | None = None
    kinds = TYPE_FIT.get(q.type, TYPE_FIT["description"])
    for hit in hits[:READ_DEPTH]:
        passage = hit.passage
        sims = None
        if hit.row >= 0 and vector is not None:  # generic sentences near every question are discounted
            sims = index.sentence_vectors_of(hit.row) @ vector - HUBNESS_DISCOUNT * index.sentence_hubness_of(hit.row)
        section_words = set(tokens(passage.section or ""))
        if passage.kind == "signature":  # it stands for the whole letter it signs, not for its section
            section_words = set(tokens(f"{hit.document.title} {hit.document.kind}")) | AUTHOR_WORDS
        section_fit = W_SECTION * _coverage(weights, section_words, aliases)
        base = W_PASSAGE * hit.score + W_RANK / max(hit.rank, 1) - UNKNOWN_WORD_PENALTY * unknown_here + section_fit
        listed = passage.kind == "list" and "list" in kinds
        coverage = _coverage(weights, set(tokens(passage.text)) | section_words, aliases) if listed else 0.0
        # asked what needs to improve in X, a list silent on X is no answer
        if listed and (q.type != "list" or coverage >= LIST_TOPIC_SHARE):
            lead = _list_lead(passage.text)
            offset = len(lead) + 1 if lead else 0
            penalty = LIST_ITEM_PENALTY if q.type != "list" else 0.0
            score = base + (W_COVERAGE + W_LOCAL) * coverage + kinds["list"] - penalty + W_NOVELTY + (
                W_SENTENCE_SIM * float(np.max(sims)) if sims is not None and len(sims) else 0.0)
            answer = Answer(passage.text[offset:], 0.0, passage.id, offset, len(passage.text), "list", score)
            pool.append((score, answer, hit, (float(np.max(sims)) if sims is not None and len(sims) else 0.0,
                                              coverage, coverage)))
        for index_in_passage, (a, b) in enumerate(passage.sentences):
            sentence = passage.text[a:b]
            sentence_tokens = tokens(sentence)
            sentence_words = set(sentence_tokens)
            sim = float(sims[index_in_passage]) if sims is not None and index_in_passage < len(sims) else 0.0
            context = section_words
            if index_in_passage > 0 and spans.ANAPHOR.search(sentence):  # 'Practice for these children ...':
                a0, b0 = passage.sentences[index_in_passage - 1]       # the children the sentence before names
                context = context | set(tokens(passage.text[a0:b0]))
            coverage = _coverage(weights, sentence_words | context, aliases)
            if role and _coverage(role, sentence_words | section_words, aliases) < 0.99:
                continue  # 'Who is the lead member?': a name is its answer only where the report gives the role
            sentence_score = base + W_SENTENCE_SIM * sim + W_COVERAGE * coverage
            if pairs:
                sentence_score += W_PHRASE * _phrase_fit(pairs, sentence_tokens)
            consequence = q.type == "reason" and bool(spans.CONSEQUENCE.match(sentence))
            if consequence and index_in_passage > 0:
                # 'Why is placement stability monitored?' ... 'A small number of children have had to move home
                # too many times. As a result, placement stability is being closely monitored.': the sentence
                # before is the answer, on the strength of this one's match
                before = passage.sentences[index_in_passage - 1][0]
                whole = next(spans.clauses(passage.text[before:passage.sentences[index_in_passage - 1][1]]))
                start, end = before + whole.start, before + whole.end
                score = sentence_score + kinds["cause"] + W_LOCAL * coverage + W_NOVELTY
                pool.append((score, Answer(passage.text[start:end], 0.0, passage.id, start, end, "cause", score),
                             hit, (sim, coverage, coverage)))
                best_score = score if best_score is None else max(best_score, score)
            for candidate in _candidates(q, sentence):
                fit = kinds.get(candidate.type)
                if fit is None:
                    continue
                text = sentence[candidate.start:candidate.end]
                span_words = tokens(text)
                novel = [w for w in span_words if w not in question_words]
                if span_words and not novel:
                    continue  # only repeats the question
                novelty = len(novel) / len(span_words) if span_words else 1.0
                if candidate.type in SENTENCE_LIKE:
                    novelty = 1.0  # for whole sentences, length decides instead
                length = len(text.split())
                extra = 0.0
                if candidate.type in SENTENCE_LIKE:
                    # a clause must carry the question's words itself to beat its sentence
                    rest = sentence[:candidate.start] + " " + sentence[candidate.end:]
                    local = (_coverage(weights, set(span_words) | section_words, aliases)
                             + 0.5 * _coverage(weights, set(tokens(rest)), aliases))
                    if candidate.type == "cause":  # the cause answers for the effect its sentence states
                        local = coverage
                    extra -= 0.003 * length + 0.004 * max(0, length - 25)
                elif candidate.type == "date":  # the words the date belongs to, the report's own words included
                    local = _coverage(event_weights, set(tokens(spans.date_event(sentence, candidate.start))), aliases)
                    # a date covers the question by its own clause, not by its sentence's other events: 'The visit
                    # was the first monitoring visit since ... judged inadequate ... in July 2017'
                    extra += W_EVENT * local + W_COVERAGE * (local - coverage)
                else:
                    rest = sentence[:candidate.start] + " " + sentence[candidate.end:]
                    local = _coverage(weights, set(tokens(rest)), aliases)
                    if length > 12:
                        extra -= 0.02 * (length - 12)
                if candidate.type in SENTENCE_LIKE and spans.SELF_REFERENCE.search(text):
                    continue  # about the report, not what it found: 'It tells you the main things inspectors found.'
                if speakers and candidate.type in ("sentence", "clause") and not _voices(sentence, speakers):
                    continue  # the inspectors' own finding is not what the people asked about said
                if speakers and candidate.type == "quotation" and not speakers & set(
                        tokens(sentence[:candidate.start] + " " + sentence[candidate.end:])):
                    continue  # someone else's words: '..., said the report' for 'What do children say?'
                if candidate.type == "quantity" and not _counts(sentence, candidate, q, weights, aliases):
                    continue  # a quantity of something else than the question counts
                if candidate.type == "date":
                    if any(d in text.lower() for d in stated_dates if not d.isdigit()) or text.lower() in stated_dates:
                        continue  # the question already states this date
                    if future and (spans.date_month(text) or "") <= _written(hit.document):
                        continue  # asked what comes next: a date the report looks back on cannot answer
                    extra += _date_specificity(text)
                if passage.kind == "list" and candidate.type in SENTENCE_LIKE:
                    extra -= LIST_ITEM_PENALTY
                if consequence and candidate.type in SENTENCE_LIKE:
                    extra -= CONSEQUENCE_PENALTY  # 'As a result, X' is what a why-question asks the cause of
                elif q.type == "reason" and candidate.type in SENTENCE_LIKE and not spans.CAUSE.search(text):
                    extra -= UNCAUSED_PENALTY
                if q.type == "list" and candidate.type in SENTENCE_LIKE and not spans.SHORTFALL.search(text):
                    continue  # 'What needs to improve in adoption?': a strength is no answer
                if candidate.type == "person" and " and " in text:
                    extra += together
                if q.head and candidate.type == "phrase" and _ends_in_head(text, q.head[0]):
                    extra += 0.05
                score = sentence_score + fit + W_LOCAL * local + W_NOVELTY * novelty + extra
                if best_score is None or score > best_score - MARGIN_WINDOW:
                    start, end = a + candidate.start, a + candidate.end
                    if candidate.type == "phrase" and candidate.start == 0 and index_in_passage > 0:
                        before = passage.sentences[index_in_passage - 1]
                        found = spans.antecedent(passage.text[before[0]:before[1]], text)
                        if found:  # 'The team is imaginative ...' answers with what 'the team' is
                            start, end = before[0] + found[0], before[0] + found[1]
                    pool.append((score, Answer(passage.text[start:end], 0.0, passage.id, start, end, candidate.type,
                                               score), hit, (sim, coverage, local)))
                    best_score = score if best_score is None else max(best_score, score)
    if not pool:
        return None
    pool.sort(key=lambda item: -item[0])
    score, answer, hit, (sim, coverage, local) = pool[0]
    # margin over the best answer that says something else (a different span of text)
    rival = next((s for s, a, _, _ in pool[1:] if not _overlaps(a, answer)), score - MARGIN_WINDOW)
    features = _features(score=score, sim=sim, coverage=coverage, local=local, unknown=unknown,
                         margin=score - rival, kind=answer.type, rank=hit.rank)
    return replace(answer, features=features), hit


SENTENCE_LIKE = ("sentence", "clause", "quotation", "cause")
SHORT_TYPES = {"date", "duration", "money", "contact", "person", "agent", "org", "phrase", "quoted", "quantity",
               "frequency", "place", "expansion"}


def _features(score: float, sim: float, coverage: float, local: float, unknown: int, margin: float, kind: str,
              rank: int) -> tuple[float, ...]:
    """The confidence model's inputs, in qa.calibration.FEATURES order."""
    return (score, sim, coverage, local, float(unknown), min(margin, MARGIN_WINDOW), float(kind == "grade"),
            float(kind in SHORT_TYPES), float(kind == "list"), 1.0 / max(rank, 1))


def _voices(sentence: str, speakers: set[str]) -> bool:
    """Does the sentence report the speakers saying or thinking something: one of them, then a reporting
    verb within a few words ('Staff talk positively about ...', 'Foster carers speak highly of ...'), in its
    own words, not inside a quotation ('"... for children and their families," said the report')?"""
    own = re.sub(r"“[^”]*”|\"[^\"]*\"", " ", sentence)
    said = [bool(spans.REPORTING.fullmatch(w)) for w in words(own)]
    heard = [i for i, s in enumerate(stems(own)) if s in speakers]
    return any(any(said[i + 1:i + 1 + VOICE_WINDOW]) for i in heard)


def _counts(sentence: str, candidate, q: Question, weights: dict[str, float], aliases: Aliases) -> bool:
    """Does the quantity count what the question counts? 'a small number of children' for 'how many children',
    and only if its sentence says what the question says of them: 'A small number of children have had to
    move home too many times' does not count the children in care."""
    if "percentage" in q.text.lower() and not re.search(r"\d", sentence[candidate.start:candidate.end]):
        return False
    if not q.focus:
        return True
    following = tokens(sentence[candidate.end:candidate.end + 60])[:4]
    if q.focus[-1] not in following and q.focus[-1] not in tokens(sentence[candidate.start:candidate.end]):
        return False
    said = {t: w for t, w in weights.items() if t not in q.focus and t not in COUNTING_WORDS}
    return not said or _coverage(said, set(tokens(sentence)), aliases) >= COUNTED_SHARE


def _written(document: Document) -> str:
    """The month a report was written in, as 'YYYY-MM' ('' when it is not known)."""
    return max((d for d in (document.date, document.period_end) if d), default="")[:7]


def _overlaps(a: Answer, b: Answer) -> bool:
    return a.passage_id == b.passage_id and a.start < b.end and b.start < a.end


def _date_specificity(text: str) -> float:
    for pattern, bonus in zip(spans.DATE_PATTERNS, DATE_SPECIFICITY):
        if pattern.fullmatch(text):
            return bonus
    return 0.0


def _ends_in_head(text: str, head: str) -> bool:
    last = re.sub(r"\s*\([^)]*\)$", "", text).split()
    return bool(last) and _stem(last[-1]) == _stem(head)
