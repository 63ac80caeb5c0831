"""Frozen dataclasses shared by every stage: Document, Paragraph, Passage, Judgement, Hit, Answer."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Literal

# question stem -> the corpus words that stand for it, each as space-joined stems (all must be present), with
# how alike they are: glossary forms, thesaurus phrases, nearest words by embedding
Aliases = dict[str, tuple[tuple[str, float], ...]]

ParagraphKind = Literal["heading", "paragraph", "list", "table", "signature"]

GRADES = ("Outstanding", "Good", "Requires improvement to be good", "Inadequate")
# a grade named anywhere in a text ('requires improvement' as sentences shorten it)
GRADE_MENTION = re.compile(r"\b(?:" + "|".join(re.escape(g) for g in (*GRADES, "Requires improvement")) + r")\b",
                           re.IGNORECASE)


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a cleaned document; `start`/`end` index `Document.text`."""

    position: int  # 1-based among the document's non-heading paragraphs
    number: int | None  # the report's own paragraph number, when it has one
    kind: ParagraphKind
    section: str | None
    start: int
    end: int


@dataclass(frozen=True)
class Judgement:
    """One graded judgement: 'The experiences and progress of care leavers' -> 'Good'."""

    area: str  # canonical judgement area, e.g. "care leavers", "overall effectiveness"
    label: str  # the wording in the report
    grade: str  # one of GRADES
    year: int | None
    date: str | None  # ISO date of the inspection the grade belongs to
    start: int  # offsets of the grade word in Document.text
    end: int
    source: Literal["table", "heading", "text"] = "table"


@dataclass(frozen=True)
class Document:
    """A cleaned report with its metadata.

    A loaded index keeps only headers in memory (text and paragraphs left empty, judgements kept);
    `Index.document(id)` reads the whole document back from disk.
    """

    id: str
    title: str
    kind: str  # inspection, focused visit, monitoring visit, letter, news, report
    authority: str | None
    date: str | None  # the document's own date (letter/publication), ISO
    period_start: str | None  # the inspection or visit it concerns, ISO
    period_end: str | None
    source: str
    text: str
    paragraphs: tuple[Paragraph, ...] = ()
    judgements: tuple[Judgement, ...] = ()
    fingerprint: str = ""  # sha256 of the raw file
    paragraph_count: int = -1  # non-heading paragraphs; kept when a header drops the paragraphs
    aliases: tuple[str, ...] = ()  # the forms of the authority's name the text uses ('London Borough of Barnet')

    def __post_init__(self) -> None:
        if self.paragraph_count < 0:
            object.__setattr__(self, "paragraph_count", sum(1 for p in self.paragraphs if p.kind != "heading"))

    def header(self) -> "Document":
        """The document without its text and paragraphs: what a loaded index keeps in memory."""
        return replace(self, text="", paragraphs=())

    @property
    def year(self) -> int | None:
        """The year the document is about: its inspection/visit, else its own date."""
        for value in (self.period_end, self.date, self.period_start):
            if value:
                return int(value[:4])
        return None

    @property
    def years(self) -> set[int]:
        """Every year the document's own date and period touch."""
        found = {int(v[:4]) for v in (self.date, self.period_start, self.period_end) if v}
        if self.period_start and self.period_end:
            found.update(range(int(self.period_start[:4]), int(self.period_end[:4]) + 1))
        return found

    @property
    def iso_date(self) -> str | None:
        """The date a citation shows: the document's own, else its inspection's last day when that is exact."""
        if self.date:
            return self.date
        if self.period_start and self.period_end:
            span = date.fromisoformat(self.period_end) - date.fromisoformat(self.period_start)
            if span.days <= 7:
                return self.period_end
        return None

    @property
    def display_date(self) -> str | None:
        """The date as staff say it in a citation: 'June 2024'."""
        value = self.period_end or self.date or self.period_start
        if not value:
            return None
        day = date.fromisoformat(value)
        return day.strftime("%B %Y")

    def summary(self) -> dict[str, Any]:
        """The document as the API lists it."""
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "date": self.iso_date,
            "year": self.year,
            "authority": self.authority,
            "aliases": list(self.aliases),
            "period_start": self.period_start,
            "period_end": self.period_end,
            "paragraphs": self.paragraph_count,
        }


@dataclass(frozen=True)
class Passage:
    """A retrievable unit: one report paragraph (or a piece of an overlong one)."""

    id: str
    document_id: str
    text: str
    start: int  # offsets into Document.text: document.text[start:end] == text
    end: int
    paragraph: int  # the report's number, else the paragraph's 1-based position
    section: str | None
    kind: ParagraphKind = "paragraph"
    sentences: tuple[tuple[int, int], ...] = ()  # sentence (or list item, table row) offsets into text
    position: int = 0  # the paragraph's 1-based position in its document (the page's anchor)
    label: str = ""  # how a citation names it: 'para 43', 'judgements table', 'summary, 2nd paragraph'

    def heading(self, title: str = "") -> str:
        """What the passage sits under: its section heading, the document's title, or what a signature is."""
        return "Letter signed by" if self.kind == "signature" else (self.section or title)

    def index_text(self, title: str = "") -> str:
        """What the dense and lexical indexes see: the heading gives context."""
        head = self.heading(title)
        return f"{head}. {self.text}" if head else self.text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Passage":
        data = dict(data)
        data["sentences"] = tuple(tuple(span) for span in data.get("sentences", ()))
        return cls(**data)


@dataclass(frozen=True)
class Hit:
    """A passage ranked for a question."""

    passage: Passage
    document: Document
    rank: int
    score: float
    dense: float = 0.0
    lexical: float = 0.0
    row: int = -1  # the passage's row in the index it came from

    @property
    def citation(self) -> str:
        when = self.document.display_date
        parts = [self.document.title]
        if when:
            parts.append(when)
        parts.append(self.passage.label or f"para {self.passage.paragraph}")
        return ", ".join(parts)


@dataclass(frozen=True)
class HistoryStep:
    year: int | None
    date: str | None
    grade: str
    passage_id: str | None
    document_id: str
    url: str = ""  # the document view at the paragraph holding the grade


@dataclass(frozen=True)
class Row:
    """One authority's judgement in an answer drawn from several reports."""

    authority: str
    document_id: str
    date: str | None  # ISO date of the inspection the grade belongs to
    area: str
    grade: str
    passage_id: str
    citation: str
    previous: str | None = None  # the grade it had at its inspection before, for 'who has improved?'
    url: str = ""  # the document view at the paragraph holding the grade


@dataclass(frozen=True)
class Answer:
    """A span lifted from a passage; `passage.text[start:end] == text`."""

    text: str
    confidence: float
    passage_id: str
    start: int
    end: int
    type: str = "span"
    score: float = 0.0
    history: tuple[HistoryStep, ...] = field(default_factory=tuple)
    features: tuple[float, ...] = ()  # what the confidence model read (qa.reader.features.CONFIDENCE_FEATURES)
    granularity: str = "sentence"  # "span": a part of its sentence; "sentence": the sentence (or a clause)
    sentence_start: int = 0  # the sentence the answer stands in, offsets into the same passage
    sentence_end: int = 0
    rows: tuple[Row, ...] = ()  # an answer drawn from several reports: one row per authority
