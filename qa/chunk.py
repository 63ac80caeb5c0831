"""Document -> Passages: one report paragraph a passage; only overlong paragraphs are split."""
from __future__ import annotations

import re
from functools import lru_cache

import pysbd
from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.types import Document, Passage

MAX_PASSAGE_CHARS = 1500
OVERLAP_CHARS = 150


def _splitter(max_chars: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=max_chars,
        chunk_overlap=OVERLAP_CHARS,
        separators=["\n", ". ", "; ", ", ", " "],
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def sentence_spans(text: str, kind: str = "paragraph") -> tuple[tuple[int, int], ...]:
    """Sentence offsets in a passage; list items and table rows are one 'sentence' a line."""
    spans: list[tuple[int, int]] = []
    if kind in ("list", "table", "signature"):
        for match in re.finditer(r"[^\n]+", text):
            spans.append((match.start(), match.end()))
        return tuple(spans)
    for piece in _segmenter().segment(text):
        start, end = piece.start, piece.end
        while end > start and text[end - 1].isspace():
            end -= 1
        while start < end and text[start].isspace():
            start += 1
        if end > start:
            spans.append((start, end))
    return tuple(spans) or ((0, len(text)),)


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def citation_labels(document: Document) -> dict[int, str]:
    """How a citation names each paragraph (by position), so a reader can find it in the published report.

    A paragraph the report numbers is 'para 43'. In a report that numbers none, 'para 5' is its position and
    cannot be mistaken. In a report that numbers some, an unnumbered paragraph is named by where it stands,
    never by a number the report uses for another paragraph: 'judgements table', 'summary, 2nd paragraph',
    "'What needs to improve?', 1st paragraph"."""
    body = [p for p in document.paragraphs if p.kind != "heading"]
    numbered = any(p.number is not None for p in body)
    labels: dict[int, str] = {}
    counts: dict[str | None, int] = {}
    for p in body:
        if p.number is not None:
            labels[p.position] = f"para {p.number}"
        elif not numbered:
            labels[p.position] = "signature" if p.kind == "signature" else f"para {p.position}"
        elif p.kind == "table":
            labels[p.position] = "judgements table"
        elif p.kind == "signature":
            labels[p.position] = "signature"
        else:
            counts[p.section] = counts.get(p.section, 0) + 1
            where = f"‘{p.section}’" if p.section else ("summary" if document.kind == "inspection" else "opening")
            labels[p.position] = f"{where}, {_ordinal(counts[p.section])} paragraph"
    return labels


def split_document(document: Document, max_chars: int = MAX_PASSAGE_CHARS) -> list[Passage]:
    """Passages of a document, each citing the report's paragraph number (or position) and section."""
    passages: list[Passage] = []
    splitter = _splitter(max_chars)
    labels = citation_labels(document)
    for paragraph in document.paragraphs:
        if paragraph.kind == "heading":
            continue
        number = paragraph.number if paragraph.number is not None else paragraph.position
        text = document.text[paragraph.start:paragraph.end]
        pieces = [(0, text)]
        if len(text) > max_chars:
            pieces = [(doc.metadata["start_index"], doc.page_content) for doc in splitter.create_documents([text])]
        for k, (offset, piece) in enumerate(pieces):
            start = paragraph.start + offset
            suffix = f"-{k + 1}" if len(pieces) > 1 else ""
            passages.append(Passage(
                id=f"p-{document.id}-{paragraph.position}{suffix}",
                document_id=document.id,
                text=piece,
                start=start,
                end=start + len(piece),
                paragraph=number,
                section=paragraph.section,
                kind=paragraph.kind,
                sentences=sentence_spans(piece, paragraph.kind),
                position=paragraph.position,
                label=labels.get(paragraph.position, ""),
            ))
    return passages
