"""Raw extracted text -> clean blocks (paragraphs, headings, lists, judgement tables).

Reports arrive as text extracted from PDFs (hard-wrapped lines, blank lines between lines, page
numbers, letter headers), from web pages (navigation and unrelated stories around the article) or as
clean text (one paragraph a line). The same rules clean all of them, so the next report extracted the
same way is cleaned the same way; nothing here knows a particular document.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

from qa.types import GRADES, ParagraphKind

BULLET_GLYPHS = "◼•●▪■◦○◆►▶➢✓·\u2023\u2043\u25aa\u25cf"
BULLET = re.compile(rf"^(?:[{BULLET_GLYPHS}]|[\ue000-\uf8ff]|[-*–](?=\s))\s*")
NUMBERED = re.compile(r"^(\d{1,3})\.\s+(?=\S)")
PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,3}(?:\s+of\s+\d{1,3})?$", re.I)
TERMINAL = re.compile(r"[.!?:;][\"'”’)]*$")
SALUTATION = re.compile(r"^(?:Dear\s+\S|To the\s)", re.I)
VALEDICTION = re.compile(r"^(?:Yours (?:sincerely|faithfully)|With (?:best|kind) wishes|Best wishes|Kind regards)\b", re.I)
TRAILING_BOILERPLATE = re.compile(
    r"^(?:The Office for Standards in Education, Children.s Services and Skills \(Ofsted\) regulates"
    r"|If you would like a copy of this document in a different format"
    r"|You may reuse this information"
    r"|© Crown copyright)",
    re.I,
)
WEB_NOISE = re.compile(
    r"^(?:Read Full Story|Subscribe Today|Contact Us|Make an Enquiry|Share this|Related (?:articles|stories)"
    r"|Knowledge & Resources|Keep abreast of|Sign up|Cookie|Accept cookies|Menu|Home|Search)\b",
    re.I,
)
GRADE_WORDS = re.compile(r"(Outstanding|Good|Requires improvement(?: to be good)?|Inadequate)\s*$", re.I)
TABLE_HEADER = re.compile(r"^Judgements?\s+Grades?$", re.I)
GRADED_LINE = re.compile(r":\s*(?:outstanding|good|requires improvement(?: to be good)?|inadequate)\s*$", re.I)


@dataclass(frozen=True)
class Block:
    """One cleaned paragraph before it is placed in the document text."""

    kind: ParagraphKind
    text: str
    number: int | None = None


@dataclass(frozen=True)
class _Line:
    text: str
    blanks_before: int  # empty lines between this and the previous non-empty line
    spaced_before: bool  # a whitespace-only line sat in that gap (a PDF paragraph or page break)
    bullet: bool


def normalise(raw: str) -> str:
    """Line endings, non-breaking spaces and compatibility characters; private-use glyphs become bullets."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = text.replace("\u00a0", " ").replace("\u200b", "").replace("\f", "\n")
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"[\ue000-\uf8ff]", "•", text)


def _lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    blanks, spaced = 0, False
    for raw_line in text.split("\n"):
        if not raw_line.strip():
            blanks += 1
            spaced = spaced or bool(raw_line)
            continue
        stripped = " ".join(raw_line.replace("\t", " \t ").split(" ")).strip()
        stripped = re.sub(r"[ ]{2,}", " ", stripped).replace(" \t ", "\t").strip()
        bullet = bool(BULLET.match(stripped))
        if bullet:
            stripped = BULLET.sub("", stripped, count=1)
        if stripped:
            lines.append(_Line(stripped, blanks, spaced, bullet))
        blanks, spaced = 0, False
    return lines


def _drop_page_numbers(lines: list[_Line]) -> list[_Line]:
    kept: list[_Line] = []
    for i, line in enumerate(lines):
        isolated = line.blanks_before > 0 and (i + 1 == len(lines) or lines[i + 1].blanks_before > 0)
        if PAGE_NUMBER.match(line.text) and isolated and not line.bullet:
            continue
        kept.append(line)
    return kept


def _is_wrapped(lines: list[_Line]) -> bool:
    """PDF text is hard-wrapped at a fixed width; clean text has whole paragraphs on a line."""
    lengths = sorted(len(line.text) for line in lines)
    return bool(lengths) and lengths[int(0.9 * (len(lengths) - 1))] <= 130


def _wrap_width(lines: list[_Line]) -> int:
    lengths = sorted(len(line.text) for line in lines)
    return max(40, lengths[int(0.95 * (len(lengths) - 1))])


def _join(lines: list[_Line]) -> list[tuple[str, bool]]:
    """Re-join hard-wrapped lines into paragraphs: (text, is_list_item)."""
    if not lines:
        return []
    wrapped = _is_wrapped(lines)
    width = _wrap_width(lines)
    numbered = sum(1 for line in lines if NUMBERED.match(line.text)) >= 3
    paragraphs: list[list] = [[lines[0].text, lines[0].bullet]]
    in_table = bool(TABLE_HEADER.match(lines[0].text.replace("\t", " ")))
    for prev, line in zip(lines, lines[1:]):
        current, was_bullet = paragraphs[-1]
        first = line.text[0]
        ends_row = in_table and bool(GRADE_WORDS.search(prev.text))
        if TABLE_HEADER.match(line.text.replace("\t", " ")):
            in_table = True
            joined = None
        elif line.bullet or (numbered and NUMBERED.match(line.text)) or "\t" in line.text or "\t" in current:
            joined = None
        elif ends_row or GRADED_LINE.search(line.text) or GRADED_LINE.search(prev.text):
            joined = None  # a judgement table row or a graded heading stands alone
        elif current.endswith("-") and not current.endswith(" -") and first.islower():
            joined = current + line.text  # a hyphenated word split at the line end stays whole
        elif first.islower() and not TERMINAL.search(current):
            joined = f"{current} {line.text}"
        elif not wrapped or was_bullet:
            joined = None  # a list item ends at its line unless the next line continues it in lower case
        elif first.islower() or first in "(,;":
            joined = f"{current} {line.text}"
        elif TERMINAL.search(prev.text):
            # a sentence that ends at the wrap width with no gap below continues its paragraph
            tight = line.blanks_before == 0 and not line.spaced_before and len(prev.text) >= 0.6 * width
            joined = f"{current} {line.text}" if tight else None
        elif len(prev.text) >= 0.55 * width and not line.spaced_before and not in_table:
            joined = f"{current} {line.text}"
        else:
            joined = None
        if in_table and TERMINAL.search(line.text) and not line.text.endswith(":"):
            in_table = False
        if joined is None:
            paragraphs.append([line.text, line.bullet])
        else:
            paragraphs[-1][0] = joined
    return [(text.strip(), bullet) for text, bullet in paragraphs]


def _grade(text: str) -> str | None:
    match = GRADE_WORDS.search(text)
    if not match:
        return None
    word = match.group(1).lower()
    for grade in GRADES:
        if grade.lower().startswith(word):
            return grade
    return None


def _tables(paragraphs: list[tuple[str, bool]]) -> list[Block | tuple[str, bool]]:
    """Find judgement tables ('Judgement Grade' then rows) in either layout and make each one block."""
    out: list[Block | tuple[str, bool]] = []
    i = 0
    while i < len(paragraphs):
        text, bullet = paragraphs[i]
        if not TABLE_HEADER.match(text.replace("\t", " ").strip()):
            out.append((text, bullet))
            i += 1
            continue
        rows: list[str] = []
        i += 1
        while i < len(paragraphs):
            cell = paragraphs[i][0]
            if "\t" in cell:
                label, _, grade_cell = cell.rpartition("\t")
                grade = _grade(grade_cell)
                if grade is None:
                    break
                rows.append(f"{label.strip()}: {grade_cell.strip()}")
                i += 1
            elif _grade(cell) and len(cell.split()) <= 18:
                match = GRADE_WORDS.search(cell)
                rows.append(f"{cell[:match.start()].strip()}: {match.group(1)}")
                i += 1
            elif i + 1 < len(paragraphs) and GRADE_WORDS.fullmatch(paragraphs[i + 1][0].strip()):
                rows.append(f"{cell}: {paragraphs[i + 1][0]}")  # label and grade on separate lines
                i += 2
            else:
                break
        if rows:
            out.append(Block("table", "\n".join(rows)))
        else:
            out.append((text, bullet))
    return out


def _is_heading(text: str) -> bool:
    words = text.split()
    if not words or not (text[0].isupper() or text[0].isdigit()):
        return False
    graded = re.search(r":\s*(outstanding|good|requires improvement(?: to be good)?|inadequate)$", text, re.I)
    if len(words) > (22 if graded else 16):  # '... with children and families: requires improvement to be good'
        return False
    if text.endswith("?"):
        return True
    if re.match(r"^[A-Z][\w ]{2,30}:\s+\S", text) and not _grade(text):
        return False  # 'Lead inspector: Name' is a fact, not a heading
    if re.search(r":\s*(outstanding|good|requires improvement(?: to be good)?|inadequate)$", text, re.I):
        return True
    return not re.search(r"[.!;:,\"”’]$", text)


def _classify(items: list[Block | tuple[str, bool]]) -> list[Block]:
    blocks: list[Block] = []
    numbered_doc = sum(1 for item in items if isinstance(item, tuple) and NUMBERED.match(item[0])) >= 3
    for item in items:
        if isinstance(item, Block):
            blocks.append(item)
            continue
        text, bullet = item
        if bullet:
            if blocks and blocks[-1].kind == "list":
                blocks[-1] = replace(blocks[-1], text=f"{blocks[-1].text}\n{text}")
            elif blocks and blocks[-1].kind == "paragraph" and blocks[-1].text.endswith(":"):
                blocks[-1] = replace(blocks[-1], kind="list", text=f"{blocks[-1].text}\n{text}")
            else:
                blocks.append(Block("list", text))
            continue
        match = NUMBERED.match(text) if numbered_doc else None
        if match:
            blocks.append(Block("paragraph", text, int(match.group(1))))
        elif _is_heading(text):
            blocks.append(Block("heading", text))
        else:
            blocks.append(Block("paragraph", text))
    return blocks


def _strip_letter(blocks: list[Block]) -> list[Block]:
    """Drop a letter's address header and salutation; keep the signatory as one short block."""
    for i, block in enumerate(blocks[:15]):
        if SALUTATION.match(block.text):
            blocks = blocks[i + 1:]
            break
    for i, block in enumerate(blocks):
        if VALEDICTION.match(block.text):
            signature = [b.text for b in blocks[i + 1:i + 4] if len(b.text.split()) <= 8]
            tail = [Block("signature", ", ".join(signature))] if signature else []
            return blocks[:i] + tail
    return blocks


def _strip_trailing_boilerplate(blocks: list[Block]) -> list[Block]:
    for i, block in enumerate(blocks):
        if i >= len(blocks) // 3 and TRAILING_BOILERPLATE.match(block.text):
            return blocks[:i]
    return blocks


def is_web_page(blocks: list[Block]) -> bool:
    """Text taken from a web page carries navigation lines around the article."""
    noise = sum(1 for b in blocks if WEB_NOISE.match(b.text) and len(b.text.split()) <= 6)
    return noise >= 2


def _prose(block: Block) -> bool:
    return block.kind in ("list", "table") or (block.kind == "paragraph" and len(block.text.split()) >= 8)


def _article(blocks: list[Block]) -> list[Block]:
    """Keep a web page's article: from its headline through its body, without navigation or other stories."""
    start = next((i for i in range(len(blocks) - 1) if _prose(blocks[i]) and _prose(blocks[i + 1])), None)
    if start is None:
        return blocks
    if start > 0 and blocks[start - 1].kind == "heading" and len(blocks[start - 1].text.split()) >= 4:
        start -= 1
    end = len(blocks)
    for i in range(start + 1, len(blocks)):
        block = blocks[i]
        if WEB_NOISE.match(block.text):
            end = i
            break
        short = not _prose(block) and not block.text.endswith(":")
        if short and i + 1 < len(blocks) and not _prose(blocks[i + 1]):
            end = i  # two short lines in a row: the article is over (tags, then links and teasers)
            break
    article = blocks[start:end]
    while article and not _prose(article[-1]):
        article.pop()
    return article


@dataclass(frozen=True)
class Cleaned:
    blocks: list[Block]
    web_page: bool  # the text came from a web page (navigation was found and cut away)


def clean(raw: str) -> Cleaned:
    """Raw extracted text -> cleaned blocks in reading order, boilerplate removed."""
    lines = _drop_page_numbers(_lines(normalise(raw)))
    blocks = _classify(_tables(_join(lines)))
    if is_web_page(blocks):
        return Cleaned(_article(blocks), True)
    blocks = _strip_letter(blocks)
    return Cleaned([b for b in _strip_trailing_boilerplate(blocks) if b.text], False)
