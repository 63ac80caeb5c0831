"""Readers of the reports' own data, tried before the sentence reader (qa.reader) for the questions they fit:

- grades come from the judgement tables and graded headings extracted at ingest (with the grade's history
  across the corpus), never from a visit that grades nothing, and so does when an area was graded;
- 'What needs to improve?' comes from the reports' own improvement lists (qa.writer.is_improvement_list);
- 'What does IRO stand for?' comes from the passage that defines the abbreviation (qa.glossary);
- a question about a report as a whole ('What did the inspectors find?') gets its headline finding.
Each returns an Answer without a confidence; the reader's confidence model judges it like any other.
"""
from __future__ import annotations

import itertools
import logging
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from qa import spans
from qa.index import Index
from qa.question import DOCUMENT_WORDS, Question, grade_area
from qa.retrieve import document_matches
from qa.text import tokens
from qa.reader.features import coverage
from qa.types import GRADES, Aliases, Answer, Document, Hit, HistoryStep, Judgement, Passage, Row

if TYPE_CHECKING:
    from qa.reader.sentences import Context

log = logging.getLogger(__name__)


GRADE_SOURCE_SCORE = {"table": 1.6, "heading": 1.5, "text": 1.3}
LIST_TOPIC_SHARE = 0.5  # a list answers 'What needs to improve in X?' when it holds this share of the topic


def structured_answer(ctx: "Context") -> tuple[Answer, Hit] | None:
    """An answer from the reports' own data, when the question asks for one it holds: a grade (from the
    judgement tables), when an area was graded, what an abbreviation stands for, what needs to improve,
    a report's headline finding. None: the sentence reader answers."""
    q, index, hits = ctx.question, ctx.index, ctx.hits
    if q.type in ("grade", "history"):
        return grade_answer(q, index, hits, ctx.filters, ctx.aliases)
    if q.type == "date" and q.mentions_grade:
        dated = grade_date_answer(q, index, hits, ctx.filters)
        if dated is not None:
            return dated
    if q.type == "expansion":
        spelled = expansion_answer(q, index, hits)
        if spelled is not None:
            return spelled
    if q.type == "list":
        listed = improvement_answer(q, index, hits, ctx.scope, ctx.aliases)
        if listed is not None:
            return listed
    if q.type in ("description", "quote") and asks_for_headline(q, index):
        return headline_answer(q, index, hits, ctx.scope)
    return None


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


def grade_answer(q: Question, index: Index, hits: list[Hit], filters: dict[str, Any],
                 aliases: Aliases | None = None) -> tuple[Answer, Hit] | None:
    """A grade question answered from the extracted judgements, with the grade's history. Of the council the
    question or the filters name; with none named and several councils graded in scope, one row each."""
    if q.area is None:
        return None  # an area the reports do not grade (adoption, schools...)
    named = {t for a in q.authorities for form in index.registry().aliases.get(a, (a,)) for t in tokens(form)}
    unknown = [t for t in q.area_extra if index.document_frequency.get(t, 0) == 0 and not t.isdigit()
               and t not in (aliases or {}) and t not in named]  # 'kids' stands for 'children'
    if unknown:
        return None  # names something the reports never mention (another authority, say)
    wanted = {filters["authority"]} if filters.get("authority") else set(q.authorities)
    extra = [t for t in q.area_extra if t not in named]
    hit_scores = {h.passage.id: h.score for h in hits}
    found = []
    for area in GRADED_TOGETHER.get(q.area, (q.area,)):
        for document, judgement, row in index.graded(area):
            if wanted and document.authority not in wanted:
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

    in_scope = [item for item in found if document_matches(item[0], filters) and _year_in_scope(item[1].year, filters)]
    if not in_scope:
        return None
    by_authority: dict[str | None, list] = {}
    for item in in_scope:
        by_authority.setdefault(item[0].authority, []).append(item)
    if len(by_authority) > 1:
        return _grade_rows(by_authority, preference, extra)
    (authority, graded), = by_authority.items()
    latest_year = max(item[1].year for item in graded)
    document, judgement, hit, passage, fit = max((i for i in graded if i[1].year == latest_year), key=preference)
    start, end = judgement.start - passage.start, judgement.end - passage.start
    score = GRADE_SOURCE_SCORE[judgement.source] * fit - 0.3 * len(extra)
    history = _history([item for item in found if item[0].authority == authority])
    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start, end=end,
                  type="grade", score=score, history=tuple(history)), hit


def _grade_rows(by_authority: dict[str | None, list], preference, extra: list[str]) -> tuple[Answer, Hit]:
    """One row per council: its latest grade in scope. The answer's offsets mark the first row's grade."""
    rows, first = [], None
    for authority in sorted(by_authority, key=lambda a: a or ""):
        graded = by_authority[authority]
        latest_year = max(item[1].year for item in graded)
        document, judgement, hit, passage, fit = max((i for i in graded if i[1].year == latest_year), key=preference)
        rows.append(judgement_row(document, judgement, passage))
        if first is None:
            first = (judgement, hit, passage, fit)
    judgement, hit, passage, fit = first
    start, end = judgement.start - passage.start, judgement.end - passage.start
    text = "; ".join(f"{row.authority}: {row.grade}" for row in rows)
    score = GRADE_SOURCE_SCORE[judgement.source] * fit - 0.3 * len(extra)
    return Answer(text=text, confidence=0.0, passage_id=passage.id, start=start, end=end, type="grade",
                  score=score, rows=tuple(rows)), hit


def judgement_row(document: Document, judgement: Judgement, passage: Passage, previous: str | None = None) -> Row:
    """A judgement as a row of an answer across reports, cited like a passage."""
    return Row(authority=document.authority or document.title, document_id=document.id,
               date=judgement.date or document.iso_date, area=judgement.area, grade=judgement.grade,
               passage_id=passage.id, citation=Hit(passage, document, 0, 0.0).citation, previous=previous,
               url=paragraph_url(document, passage))


def paragraph_url(document: Document, passage: Passage) -> str:
    """The document view at the passage's paragraph."""
    return f"/documents/{document.id}" + (f"#pos-{passage.position}" if passage.position else "")


def grade_date_answer(q: Question, index: Index, hits: list[Hit], filters: dict[str, Any]) -> tuple[Answer, Hit] | None:
    """'When were care leavers last rated?': the dates of the latest inspection that graded the area (of the
    grade named, if one is: 'When was Barnet judged good?'), as its report gives them ('Inspection dates: 10
    to 14 June 2024'). Only judgements from a report's own table carry their inspection's date; a grade
    mentioned in passing ('judged inadequate in July 2017') is left to the span reader."""
    said = {grade.lower(): grade.split(" to be")[0] for grade in GRADES}  # 'requires improvement' names the third
    named = {grade for grade, words in said.items() if re.search(rf"\b{words}\b", q.text, re.I)}
    area, extra = grade_area(re.sub("|".join(rf"\b{said[grade]}\b" for grade in named) or "$^", " ", q.text,
                                    flags=re.I), index.authority_words(), every_word=True)
    if area is None or extra:
        return None
    authorities, _ = _authorities_in_scope(q, index, hits, filters)
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
                    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start,
                                  end=end, type="date", score=score), hit
    return None


def _authorities_in_scope(q: Question, index: Index, hits: list[Hit],
                          filters: dict[str, Any] | None = None) -> tuple[set[str], set[str]]:
    """Whose reports answer the question: the council the filters or the question name, else the council of
    the best passage. Also returns the (stemmed) words that named it, so they do not count as topic words."""
    named = {filters["authority"]} if filters and filters.get("authority") else set(q.authorities)
    words = {t for a in q.authorities for form in index.registry().aliases.get(a, (a,)) for t in tokens(form)}
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
                                                         passage.id, document.id, paragraph_url(document, passage)))
    return [step for _, (_, step) in sorted(by_year.items())]


# ---------------------------------------------------------------- what an abbreviation stands for

EXPANSION_SCORE = 1.6  # the report's own definition, on the grade answers' scale


def expansion_answer(q: Question, index: Index, hits: list[Hit]) -> tuple[Answer, Hit] | None:
    """'What does IRO stand for?' is answered with the long form from the passage that defines it
    ('Independent reviewing officers (IROs)'), found through the glossary built from the reports."""
    asked = q.abbreviation
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
                return Answer(text=match.group(0), confidence=0.0, passage_id=hit.passage.id, start=match.start(),
                              end=match.end(), type="expansion", score=EXPANSION_SCORE), hit
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

    referred = set(q.council_reference)
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
        return coverage(topic, set(tokens(passage.text)) | frame(passage), aliases)

    def preference(row: int) -> tuple[bool, str, float]:
        passage = index.passages[row]
        said = set(tokens(f"{passage.section or ''} {_list_lead(passage.text)}"))
        return (not topic or held(passage) >= LIST_TOPIC_SHARE, written(index.documents[passage.document_id]),
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
    if rest and coverage(topic, around, aliases) < LIST_TOPIC_SHARE:
        items, at = [], 0
        for line in passage.text.split("\n"):
            if at >= start:
                items.append((coverage(rest, set(tokens(line)), aliases), at, at + len(line)))
            at += len(line) + 1
        best = max(fit for fit, _, _ in items)
        chosen = [(a, b) for fit, a, b in items if fit == best and fit > 0]
        if chosen and chosen[-1][1] - chosen[0][0] < end - start:
            start, end = chosen[0][0], chosen[-1][1]  # the first to the last item that names it
    score = LIST_SOURCE_SCORE - 0.6 * (1.0 - share)
    retrieved = next((h for h in hits if h.row == row), None)
    hit = retrieved or Hit(passage, index.documents[passage.document_id], 0, 0.0, row=row)
    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start,
                  end=end, type="list", score=score), hit


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
    topic = words - DOCUMENT_WORDS - FINDING_WORDS - index.authority_words() - set(q.council_reference) \
        - set(tokens(doing.group(1) if doing else ""))
    return not topic and bool(words & (DOCUMENT_WORDS | FINDING_WORDS) or doing)


def headline_answer(q: Question, index: Index, hits: list[Hit], scope: np.ndarray | None) -> tuple[Answer, Hit] | None:
    """A question with no topic asks for a report's headline finding, of the latest report in scope (as a
    grade question without a year gets the latest grade): the first sentence under its headline heading
    ('Headline findings', 'What did the inspectors find?'), else
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
    document = max(documents, key=written)
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
             or next(sentences(opening), None))
    if found is None:
        return None
    row, passage, start, end = found
    hit = next((h for h in hits if h.row == row), None) or Hit(passage, document, 0, 0.0, row=row)
    return Answer(text=passage.text[start:end], confidence=0.0, passage_id=passage.id, start=start, end=end,
                  type="summary", score=HEADLINE_SCORE), hit


# ---------------------------------------------------------------- helpers

def _list_lead(text: str) -> str:
    """A list's lead line ('Ofsted recommends that the authority:'), or '' when its first line is an item."""
    first, newline, _ = text.partition("\n")
    return first if newline and first.endswith(":") else ""



def written(document: Document) -> str:
    """The month a report was written in, as 'YYYY-MM' ('' when it is not known)."""
    return max((d for d in (document.date, document.period_end) if d), default="")[:7]
