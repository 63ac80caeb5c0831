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


def split_document(document: Document, max_chars: int = MAX_PASSAGE_CHARS) -> list[Passage]:
    """Passages of a document, each citing the report's paragraph number (or position) and section."""
    passages: list[Passage] = []
    splitter = _splitter(max_chars)
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
            ))
    return passages
