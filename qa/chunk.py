"""Document -> Passages: one report paragraph a passage; only overlong paragraphs are split."""
from __future__ import annotations

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
            ))
    return passages
