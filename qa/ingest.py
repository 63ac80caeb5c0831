"""Files -> Documents: format readers, cleaning, metadata from the manifest or the text itself."""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from qa.clean import Block, clean, normalise
from qa.authority import canonical, forms_in
from qa.metadata import extract, extract_judgements
from qa.types import Document, Paragraph

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
MAX_FILE_BYTES = 50 * 1024 * 1024
MANIFEST_NAME = "manifest.json"


class IngestError(ValueError):
    """A file that cannot become a document; the message says why."""


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)
    # when the documents were also split into passages where they were read (qa.ray_engine): a fresh
    # iterator of each kept document's passages, in order; None means the index writer splits them
    passages: Callable[[], Iterator[list]] | None = None


def decode(data: bytes) -> str:
    """UTF-8 when it is, else Windows-1252 (a superset of Latin-1 for printable text), else Latin-1."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError("binary file (NUL bytes), not text")
    for encoding in ("utf-8-sig", "utf-16") if data.startswith((b"\xff\xfe", b"\xfe\xff")) else ("utf-8-sig",):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def read_pdf(path: Path) -> str:
    from pypdf import PdfReader  # optional: only PDFs need it

    try:
        reader = PdfReader(str(path))
        pages = [_page_text(page) for page in reader.pages]
    except Exception as exc:  # pypdf raises many types for broken files
        raise IngestError(f"unreadable PDF: {exc}") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise IngestError("PDF has no text layer (scanned?); run OCR first")
    return text


def _page_text(page) -> str:
    """Layout mode keeps the blank line between paragraphs that plain extraction loses."""
    try:
        return page.extract_text(extraction_mode="layout") or ""
    except Exception:  # layout mode fails on some odd pages; plain text is still worth having
        return page.extract_text() or ""


def read_html(data: bytes) -> str:
    import trafilatura  # optional: only web pages need it

    html = decode(data)
    text = trafilatura.extract(html, include_comments=False, include_tables=True, favor_recall=True)
    if not text or not text.strip():
        raise IngestError("no article text found in the HTML page")
    title = trafilatura.extract_metadata(html)
    heading = title.title if title is not None and title.title else ""
    return f"{heading}\n\n{text}" if heading and heading not in text[:500] else text


def read_raw(path: Path) -> str:
    """The text of a report file, whatever its format."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise IngestError(f"unsupported file type {suffix or '(none)'}; expected one of {sorted(SUPPORTED)}")
    size = path.stat().st_size
    if size == 0:
        raise IngestError("empty file")
    if size > MAX_FILE_BYTES:
        raise IngestError(f"file is {size} bytes, over the {MAX_FILE_BYTES} byte limit")
    if suffix in PDF_SUFFIXES:
        return read_pdf(path)
    data = path.read_bytes()
    if suffix in HTML_SUFFIXES:
        return read_html(data)
    return decode(data)


def document_id(path: Path) -> str:
    """A stable id from the file name: '2024-06-barnet-ilacs-inspection-report'."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "document"


def assemble(blocks: list[Block]) -> tuple[str, list[Paragraph], list[tuple[Block, int]]]:
    """Lay the blocks out as the document text; each paragraph keeps its offsets into it."""
    pieces: list[str] = []
    paragraphs: list[Paragraph] = []
    placed: list[tuple[Block, int]] = []
    offset = 0
    section: str | None = None
    position = 0
    for block in blocks:
        if pieces:
            pieces.append("\n\n")
            offset += 2
        pieces.append(block.text)
        placed.append((block, offset))
        start, end = offset, offset + len(block.text)
        if block.kind == "heading":
            section = block.text
            paragraphs.append(Paragraph(0, None, "heading", None, start, end))
        else:
            position += 1
            if block.number is not None:
                start += re.match(r"^\d{1,3}\.\s+", block.text).end()
            paragraphs.append(Paragraph(position, block.number, block.kind, section, start, end))
        offset = end
    return "".join(pieces), paragraphs, placed


def build_document(raw: str, doc_id: str, meta: dict[str, Any] | None, source: str, fingerprint: str) -> Document:
    """Clean raw text and attach metadata: the manifest's where given, the text's otherwise."""
    raw = normalise(raw)
    cleaned = clean(raw)
    blocks = cleaned.blocks
    if not any(b.kind != "heading" for b in blocks):
        raise IngestError("no paragraphs of text after cleaning")
    text, paragraphs, placed = assemble(blocks)
    found = extract(raw, blocks, cleaned.web_page, doc_id.replace("-", " "))
    meta = meta or {}
    title = meta.get("title") or found.title
    kind = meta.get("kind") or found.kind
    period_start = meta.get("period_start", found.period_start)
    period_end = meta.get("period_end", found.period_end)
    doc_date = meta["date"] if "date" in meta else found.date
    year = int((period_end or doc_date or period_start or "0")[:4]) or None
    judgements = extract_judgements(placed, text, kind, year, period_end or doc_date)
    authority = canonical(meta.get("authority") or found.authority or "") or None
    return Document(
        id=doc_id, title=title, kind=kind, authority=authority,
        aliases=forms_in(text, authority) if authority else (),
        date=doc_date, period_start=period_start, period_end=period_end,
        source=meta.get("source") or source, text=text, paragraphs=tuple(paragraphs),
        judgements=tuple(judgements), fingerprint=fingerprint,
    )


def load_manifest(corpus_dir: Path) -> dict[str, dict[str, Any]]:
    path = corpus_dir / MANIFEST_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("documents", {})
    except (json.JSONDecodeError, AttributeError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return {}


def load_file(path: Path, meta: dict[str, Any] | None = None) -> Document:
    """One report file -> Document; raises IngestError with the reason when it cannot."""
    raw = read_raw(path)
    if not raw.strip():
        raise IngestError("file holds no text")
    fingerprint = hashlib.sha256(path.read_bytes()).hexdigest()
    return build_document(raw, document_id(path), meta, path.name, fingerprint)


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in corpus_dir.iterdir()
                  if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith((".", "README")))


def load_paths(paths: list[Path], manifest: dict[str, dict[str, Any]] | None = None) -> LoadResult:
    """Load every file; a bad one is reported and skipped, the rest still load."""
    manifest = manifest or {}

    def read(path: Path) -> Document | str:
        try:
            return load_file(path, manifest.get(path.name))
        except (IngestError, OSError) as exc:
            return str(exc)

    return collect((path, read(path)) for path in paths)


def collect(loaded: Iterable[tuple[Path, Document | str]]) -> LoadResult:
    """Files read (each a Document, or the reason it could not be) -> the result: a broken file and a second
    copy of a file are reported and skipped, the rest kept in order."""
    result = LoadResult()
    seen: dict[str, Path] = {}
    for path, document in loaded:
        if isinstance(document, str):
            log.warning("skipped %s: %s", path, document)
            result.errors.append((path, document))
            continue
        if document.fingerprint in seen:
            reason = f"duplicate of {seen[document.fingerprint].name}"
            log.warning("skipped %s: %s", path, reason)
            result.errors.append((path, reason))
            continue
        seen[document.fingerprint] = path
        result.documents.append(document)
    return result


def load_corpus(corpus_dir: Path) -> LoadResult:
    """Every supported report in a folder, with the folder's manifest where it has entries."""
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"no corpus folder at {corpus_dir}")
    files = [p for p in corpus_files(corpus_dir) if p.suffix.lower() in SUPPORTED]
    return load_paths(files, load_manifest(corpus_dir))
