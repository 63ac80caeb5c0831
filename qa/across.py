"""Questions across reports, answered from the judgement data: 'Which councils were rated inadequate for care
leavers?', 'Which authorities are outstanding overall?', 'Who has improved since their last inspection?', 'How
many councils were judged good in 2024?'.

Every authority's judgements of the area asked about (overall effectiveness when none is named) are read from
the index, within the filters and the years the question states; each authority is judged by its latest
grade in scope (any grade in scope when the question says 'ever'), or, for improvement and decline, by its
latest grade against the one before. The answer names the authorities that fit, with one cited row each;
when none fits, the reader abstains and says so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qa.answer import GRADE_SOURCE_SCORE, GRADED_TOGETHER, _area_fit, _judgement_hit, _year_in_scope, judgement_row
from qa.question import grade_area
from qa.retrieve import document_matches
from qa.types import GRADES, Answer, Hit, Row

if TYPE_CHECKING:
    from qa.reader.sentences import Context

COUNCILS = r"(?:local\s+)?(?:councils?|authorit(?:y|ies)|las\b|boroughs?|counties)"
# asks which (or how many) councils, or who has changed grade
ACROSS = re.compile(
    rf"\b(?:which|what|how\s+many|list|name|count)\s+(?:of\s+)?(?:the\s+|these\s+|all\s+)?{COUNCILS}"
    r"|^\s*(?:who|which\s+ones?)\s+(?:has|have|had|is|are|was|were|got|did)\b"
    rf"|\b(?:any|every|all)\s+(?:the\s+)?{COUNCILS}", re.I)
IMPROVED = re.compile(r"\b(?:improv(?:e|ed|es|ing)|got better|gone up|moved up|risen|rose|went up|climbed)\b", re.I)
DECLINED = re.compile(r"\b(?:declin\w*|got worse|gone down|went down|dropped|slipp\w*|fell|fallen|deteriorat\w*|"
                      r"worsen\w*|downgraded)\b", re.I)
GRADED = re.compile(r"\b(?:rated|rating|judged|judgement|graded|grade|grades|score[sd]?|ofsted|inspection)\b", re.I)
GRADE_WORDS = (
    ("Outstanding", re.compile(r"\boutstanding\b", re.I)),
    ("Good", re.compile(r"\bgood\b(?!\s+(?:practice|work|support|progress))", re.I)),
    ("Requires improvement to be good", re.compile(r"\brequires?\s+improvement\b|\bRI\b")),
    ("Inadequate", re.compile(r"\binadequate\b|\bfailing\b", re.I)),
)
AT_LEAST = re.compile(r"\bat\s+least\s+good\b|\bgood\s+or\s+(?:better|above|outstanding)\b", re.I)
BELOW = re.compile(r"\b(?:below|less\s+than|worse\s+than|not(?:\s+yet)?|short\s+of)\s+good\b", re.I)
EVER = re.compile(r"\b(?:ever|at\s+any\s+(?:time|point)|at\s+some\s+point|in\s+the\s+past|previously|once)\b", re.I)
RANK = {grade: i for i, grade in enumerate(GRADES)}  # 0 is best
ACROSS_SCORE = 1.5  # the judgement data itself, on the grade answers' scale
# How sure an answer across councils is. The sentence reader's confidence model has never seen one (no training
# question asks across councils), so it is not asked: its features describe a sentence, not a table look-up.
# Grade answers read from the same tables were right for 40 of 40 training questions (2026-12-03); a question
# across councils has more to parse (which grades, which area, latest or ever), so it is promised a little less.
CONFIDENCE = 0.9


@dataclass(frozen=True)
class Asked:
    """What a question across reports asks of the judgement data."""

    grades: frozenset[str]  # the grades that fit; empty: any
    change: str | None  # "improved", "declined" or None
    ever: bool  # any grade in scope, not only the latest
    count: bool  # 'how many'
    area: str


def parse(text: str) -> Asked | None:
    """What the question asks of the judgement data, or None when it is not a question across councils'
    grades ('Which council has the highest caseloads?' is for the passages)."""
    if not ACROSS.search(text):
        return None
    change = "improved" if IMPROVED.search(_without_grades(text)) else "declined" if DECLINED.search(text) else None
    if AT_LEAST.search(text):
        grades = frozenset({"Outstanding", "Good"})
    elif BELOW.search(text):
        grades = frozenset({"Requires improvement to be good", "Inadequate"})
    else:
        grades = frozenset(grade for grade, pattern in GRADE_WORDS if pattern.search(text))
    if not grades and change is None and not GRADED.search(text):
        return None
    rest = _without_grades(text)
    rest = re.sub(COUNCILS, " ", rest, flags=re.I)
    rest = IMPROVED.sub(" ", DECLINED.sub(" ", EVER.sub(" ", rest)))
    rest = re.sub(r"\b(?:19|20)\d{2}\b|\bhow\s+many\b|\bsince\b|\bbefore\b|\bafter\b", " ", rest, flags=re.I)
    area, extra = grade_area(rest, every_word=True)
    if area is None or extra:
        return None  # an area the reports do not grade, or a topic beyond grades: for the passages
    return Asked(grades, change, bool(EVER.search(text)), bool(re.search(r"\bhow\s+many\b", text, re.I)), area)


def _without_grades(text: str) -> str:
    text = AT_LEAST.sub(" ", BELOW.sub(" ", text))
    for _, pattern in GRADE_WORDS:
        text = pattern.sub(" ", text)
    return text


@dataclass(frozen=True)
class Found:
    answer: tuple[Answer, Hit] | None
    notice: str | None = None


def across_answer(ctx: "Context", asked: Asked) -> Found:
    """The authorities whose judgements fit, one row each, or a notice that none does."""
    index, filters = ctx.index, ctx.filters
    judged: dict[str, list] = {}
    for graded in GRADED_TOGETHER.get(asked.area, (asked.area,)):
        for document, judgement, row in index.graded(graded):
            fit = _area_fit(asked.area, judgement.area)
            if not fit or judgement.year is None or not document.authority:
                continue
            if not document_matches(document, filters) or not _year_in_scope(judgement.year, filters):
                continue
            judged.setdefault(document.authority, []).append((document, judgement, row, fit))
    if not judged:
        return Found(None, f"No judgements of {asked.area} in these reports{_scope(filters)}.")
    rows: list[tuple[Row, Any, Hit]] = []
    for authority in sorted(judged):
        steps = _by_inspection(judged[authority])
        latest = steps[-1]
        if asked.change:
            if len(steps) < 2:
                continue
            before = steps[-2]
            better = RANK[latest[1].grade] < RANK[before[1].grade]
            worse = RANK[latest[1].grade] > RANK[before[1].grade]
            if not (better if asked.change == "improved" else worse):
                continue
            if asked.grades and latest[1].grade not in asked.grades:
                continue
            chosen, previous = latest, before[1].grade
        else:
            fitting = [s for s in steps if not asked.grades or s[1].grade in asked.grades]
            candidates = fitting if asked.ever else [latest] if latest in fitting else []
            if not candidates:
                continue
            chosen, previous = candidates[-1], None
        document, judgement, row, _ = chosen
        hit, passage = _judgement_hit(document, row, index, ctx.hits)
        rows.append((judgement_row(document, judgement, passage, previous), judgement, hit))
    if not rows:
        return Found(None, _none_fits(asked, judged, filters))
    names = [row.authority for row, _, _ in rows]
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    if asked.change:
        listed = "; ".join(f"{row.authority} ({row.previous} → {row.grade})" for row, _, _ in rows)
    text = f"{len(rows)}: {listed}" if asked.count else listed
    row, judgement, hit = rows[0]
    start, end = judgement.start - hit.passage.start, judgement.end - hit.passage.start
    answer = Answer(text=text, confidence=0.0, passage_id=hit.passage.id, start=start, end=end, type="rows",
                    score=ACROSS_SCORE, rows=tuple(r for r, _, _ in rows))
    return Found((answer, hit))


def _by_inspection(items: list) -> list:
    """One judgement per inspection date (the best-sourced), oldest first."""
    best: dict[tuple, tuple] = {}
    for item in items:
        document, judgement, row, fit = item
        key = (judgement.date or str(judgement.year), document.authority)
        rank = (fit, GRADE_SOURCE_SCORE[judgement.source])
        if key not in best or rank > best[key][0]:
            best[key] = (rank, item)
    return [item for _, (_, item) in sorted(best.items())]


def _scope(filters: dict[str, Any]) -> str:
    if filters.get("year"):
        return f" for {filters['year']}"
    if filters.get("date_from") or filters.get("date_to"):
        return f" between {filters.get('date_from', 'the start')[:4]} and {filters.get('date_to', 'now')[:4]}"
    return ""


def _none_fits(asked: Asked, judged: dict[str, list], filters: dict[str, Any]) -> str:
    what = "judged " + (" or ".join(g.lower() for g in GRADES if g in asked.grades) or "graded")
    if asked.change:
        what = f"has {asked.change}" + (f" to {what[7:]}" if asked.grades else "")
    latest = "; ".join(f"{a}: {_by_inspection(items)[-1][1].grade} ({_by_inspection(items)[-1][1].year})"
                       for a, items in sorted(judged.items()))
    verb = "" if asked.change else "was "
    return (f"No council in these reports{_scope(filters)} {verb}{what} for {asked.area}"
            f"{'' if asked.ever or asked.change else ' at its latest inspection'}. Latest grades: {latest}.")
