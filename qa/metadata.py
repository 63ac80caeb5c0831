"""Metadata read from a report's own text: title, kind, authority, dates and judgement grades.

Used for any report without a manifest entry, and always for the judgements.
"""
from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date

from qa.authority import subject_of
from qa.clean import Block, GRADE_WORDS
from qa.types import GRADES, Judgement

MONTHS = {m.lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September",
     "October", "November", "December"], start=1)}
MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"
DAY_RANGE = re.compile(
    rf"\b(\d{{1,2}})(?:\s+{MONTH})?(?:\s+(\d{{4}}))?\s+(?:to|and|-|–)\s+(\d{{1,2}})\s+{MONTH}\s+(\d{{4}})", re.I)
SINGLE_DATE = re.compile(rf"^\s*(\d{{1,2}})\s+{MONTH}\s+(\d{{4}})\s*$", re.I | re.M)
MONTH_YEAR = re.compile(rf"\b(?:In|During)\s+{MONTH}\s+(\d{{4}}),?\s+(?:Ofsted\s+)?inspectors?\b", re.I)
GRADED_HEADING = re.compile(r"^(.+?):\s*(outstanding|good|requires improvement(?: to be good)?|inadequate)$", re.I)
PROSE_GRADE = re.compile(
    r"\b(?:judged|rated|found to be)\b[^.]{0,80}?\b(outstanding|good|requires improvement(?: to be good)?|inadequate)\b"
    rf"(?:\s+for\s+overall\s+effectiveness)?(?:[^.]{{0,40}}?\b(?:in\s+)?{MONTH}?\s*(\d{{4}}))?", re.I)


@dataclass(frozen=True)
class Extracted:
    title: str
    kind: str
    authority: str | None
    date: str | None
    period_start: str | None
    period_end: str | None


def _iso(day: int, month: str, year: int | str) -> str | None:
    try:
        return date(int(year), MONTHS[month.lower()], int(day)).isoformat()
    except (ValueError, KeyError):
        return None


def extract_dates(raw: str) -> tuple[str | None, str | None, str | None]:
    """(document date, period start, period end) from a report's text."""
    letter_date = None
    head = "\n".join(raw.splitlines()[:25])
    match = SINGLE_DATE.search(head)
    if match:
        letter_date = _iso(match.group(1), match.group(2), match.group(3))
    start = end = None
    for match in DAY_RANGE.finditer(raw):
        context = raw[max(0, match.start() - 200):match.start()].lower()
        if not re.search(r"inspection|visit|on\s*$", context):
            continue
        d1, m1, y1, d2, m2, y2 = match.groups()
        start = _iso(d1, m1 or m2, y1 or y2)
        end = _iso(d2, m2, y2)
        break
    if start is None:
        match = MONTH_YEAR.search(raw)
        if match:
            month, year = MONTHS[match.group(1).lower()], int(match.group(2))
            start = date(year, month, 1).isoformat()
            end = date(year, month, monthrange(year, month)[1]).isoformat()
    return letter_date, start, end


def extract_kind(raw: str, blocks: list[Block], web_page: bool) -> str:
    if web_page:
        return "news"
    head = raw[:3000].lower()
    title = next((b.text.lower() for b in blocks[:8] if b.kind == "heading"), "")
    if re.match(r"(?:inspection of|.{0,40}\binspection of local authority children)", title) \
            and "visit" not in title and not re.search(r"^\s*dear\s|to the children and young people", head, re.M):
        return "inspection"  # a report titled as an inspection, whatever visits its summary mentions
    if "focused visit" in head:
        return "focused visit"
    if "monitoring visit" in head:
        return "monitoring visit"
    if re.search(r"to the children and young people", head):
        return "letter"
    if "inspection dates" in head or any(b.kind == "table" for b in blocks) or "inspection of" in head:
        return "inspection"
    if re.search(r"^\s*dear\s", head, re.M):
        return "letter"
    return "report"


def extract_authority(raw: str) -> str | None:
    """The council the report is about, canonical ('London Borough of Barnet' -> 'Barnet')."""
    return subject_of(raw)


def extract_title(blocks: list[Block], fallback: str) -> str:
    for block in blocks[:5]:
        if block.kind == "heading" and len(block.text.split()) >= 3:
            return block.text
    return fallback


def extract(raw: str, blocks: list[Block], web_page: bool, fallback_title: str) -> Extracted:
    """Everything a manifest entry would give, read from the text itself."""
    letter_date, start, end = extract_dates(raw)
    return Extracted(
        title=extract_title(blocks, fallback_title),
        kind=extract_kind(raw, blocks, web_page),
        authority=extract_authority(raw),
        date=letter_date or end,
        period_start=start,
        period_end=end,
    )


def canonical_area(label: str) -> str:
    """Map a judgement's wording to the area it grades, across the framework's revisions."""
    text = label.lower()
    if "overall" in text:
        return "overall effectiveness"
    if "leader" in text:
        return "impact of leaders"
    if "help and protection" in text:
        return "help and protection"
    if "care leavers" in text and "children in care" in text:
        return "children in care and care leavers"
    if "care leavers" in text or "leaving care" in text:
        return "care leavers"
    if "in care" in text or "looked after" in text:
        return "children in care"
    return text.strip()


def normalise_grade(word: str) -> str | None:
    word = word.strip().lower()
    for grade in GRADES:
        if grade.lower().startswith(word) or word.startswith(grade.lower()):
            return grade
    return None


def extract_judgements(
    blocks: list[tuple[Block, int]], text: str, kind: str, year: int | None, when: str | None
) -> list[Judgement]:
    """Judgements from tables, graded headings and 'judged inadequate for overall effectiveness in July 2017'.

    `blocks` pairs each block with its offset in `text`. Visits grade nothing of their own, so from them only
    grades they report for an earlier inspection (with its year stated) are kept.
    """
    found: list[Judgement] = []
    graded_kinds = {"inspection", "letter"}
    for block, offset in blocks:
        if block.kind == "table" and kind in graded_kinds:
            position = offset
            for row in block.text.split("\n"):
                label, _, grade_text = row.rpartition(": ")
                grade = normalise_grade(grade_text)
                if grade:
                    start = position + len(label) + 2
                    found.append(Judgement(canonical_area(label), label, grade, year, when,
                                           start, start + len(grade_text), "table"))
                position += len(row) + 1
        elif block.kind == "heading" and kind in graded_kinds:
            match = GRADED_HEADING.match(block.text)
            if match:
                grade = normalise_grade(match.group(2))
                found.append(Judgement(canonical_area(match.group(1)), match.group(1), grade, year, when,
                                       offset + match.start(2), offset + match.end(2), "heading"))
        elif block.kind in ("paragraph", "list"):
            for match in PROSE_GRADE.finditer(block.text):
                stated_year = int(match.group(3)) if match.group(3) else None
                if kind not in graded_kinds | {"news"} and stated_year is None:
                    continue
                grade_year = stated_year or year
                grade = normalise_grade(match.group(1))
                sentence = block.text[max(0, match.start() - 120):match.end()]
                if not re.search(r"overall effectiveness|children.s services|local authority", sentence, re.I):
                    continue  # only a grade for the service as a whole is read from prose
                found.append(Judgement("overall effectiveness", match.group(0), grade, grade_year, None,
                                       offset + match.start(1), offset + match.end(1), "text"))
    return found


__all__ = ["Extracted", "extract", "extract_judgements", "canonical_area", "GRADE_WORDS"]
