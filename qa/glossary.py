"""Terms the reports define for themselves, so a question in one form finds text in the other.

Reports spell out an abbreviation once and use it after: 'multi-agency safeguarding hub (MASH)',
'Personal advisers (PAs)', 'the BRAG (blue, red, amber, green) rating'; or gloss a word in brackets:
'the COVID-19 (coronavirus) pandemic'. Staff ask in either form ("what did the LADO do?", "how was the
multi-agency safeguarding hub?"). The definitions are read from the cleaned text at build time and saved
with the index; `Glossary.aliases` turns them into the question-word aliases that BM25 and the reader use.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from qa.text import tokens
from qa.types import Aliases

BRACKETED = re.compile(r"\(([^()\n]{1,80})\)")
WORD = re.compile(r"[A-Za-z][\w’'-]*")
# words an abbreviation may skip or take a letter from: 'Children and Family Court Advisory and Support Service (Cafcass)'
LINKING = frozenset("and of the for in on to a an at with".split())
MAX_EXTRA_WORDS = 4  # linking words a long form may hold beyond one word per letter
SIMILARITY = 0.95  # how much a defined equivalent counts for the word it stands for


@dataclass(frozen=True)
class Definition:
    short: str  # 'MASH', 'COVID-19'
    long: str  # 'multi-agency safeguarding hub', 'coronavirus'


def definitions(text: str) -> Iterator[Definition]:
    """Each abbreviation or bracketed gloss the text defines, in order, as written."""
    for match in BRACKETED.finditer(text):
        inner = match.group(1).strip()
        sentence_start = max(text.rfind(". ", 0, match.start()), text.rfind("\n", 0, match.start())) + 1
        before = WORD.findall(text[max(sentence_start, match.start() - 200):match.start()])
        if not before:
            continue
        if _is_abbreviation(inner):  # 'multi-agency safeguarding hub (MASH)'
            long = _long_form(before, _letters(inner))
            if long:
                yield Definition(inner, long)
        elif _is_abbreviation(before[-1]) and text[:match.start()].rstrip().endswith(before[-1]):
            inner_words = WORD.findall(inner)
            if _spells(inner_words, _letters(before[-1])):  # 'BRAG (blue, red, amber, green)'
                yield Definition(before[-1], " ".join(inner_words))
            elif len(inner_words) == 1 and inner.islower() and len(inner) >= 4:  # 'COVID-19 (coronavirus)'
                yield Definition(before[-1], inner)


def _is_abbreviation(word: str) -> bool:
    """'MASH', 'IROs', 'COVID-19', 'Cafcass' (a coined name, capitalised, in brackets after its long form)."""
    core = word.split("-")[0]
    if not re.fullmatch(r"[A-Z][A-Za-z]{1,9}", core):
        return False
    capitals = sum(c.isupper() for c in core)
    return capitals >= 2 or (word == core and 4 <= len(core) <= 8 and core[1:].islower())


def _letters(abbreviation: str) -> str:
    core = abbreviation.split("-")[0]
    if len(core) > 2 and core.endswith("s") and core[:-1].isupper():
        core = core[:-1]  # 'PAs', 'IROs': a plural
    return core.lower()


def _long_form(before: list[str], letters: str) -> str | None:
    """The shortest run of words just before the bracket whose initials spell the letters."""
    if len(letters) < 2:
        return None
    for size in range(2 if len(letters) > 2 else 1, len(letters) + MAX_EXTRA_WORDS + 1):
        if size > len(before):
            break
        words = before[-size:]
        if words[0].lower() in LINKING:
            continue
        if _spells(words, letters):
            return " ".join(words).strip("‘’'")  # 'Barnet on Point’ (BOP)'
    return None


def _spells(words: list[str], letters: str) -> bool:
    """Do these words' initials spell the letters? A linking word may be skipped; a hyphenated word gives
    one letter or one per part ('multi-agency' -> 'm' or 'ma'); a coined name may take a word's first
    letters ('Cafcass': 'Ca' from 'Children and' ...)."""
    parts = [w.lower() for w in words]

    def match(i: int, j: int) -> bool:
        if j == len(letters):
            return all(p in LINKING for p in parts[i:])
        if i == len(parts):
            return False
        word = parts[i]
        if word in LINKING and match(i + 1, j):
            return True
        pieces = [p for p in word.split("-") if p]
        if not pieces or pieces[0][0] != letters[j]:
            return False
        if len(pieces) > 1 and letters[j:j + len(pieces)] == "".join(p[0] for p in pieces) \
                and match(i + 1, j + len(pieces)):
            return True
        # one letter from the word, or its first two ('Ca' in 'Cafcass' only when the word is 'Ca...')
        return match(i + 1, j + 1) or (j + 1 < len(letters) and word[1:2] == letters[j + 1] and match(i + 1, j + 2))

    return bool(parts) and match(0, 0)


@dataclass(frozen=True)
class Term:
    short: str
    long: str
    short_stems: tuple[str, ...]
    long_stems: tuple[str, ...]


@dataclass(frozen=True)
class Glossary:
    """The corpus's definitions, each as written and as stems."""

    terms: tuple[Term, ...] = ()

    @classmethod
    def from_definitions(cls, found: Iterable[Definition]) -> "Glossary":
        terms: dict[tuple, Term] = {}
        for definition in found:
            short, long = _stems(definition.short), _stems(definition.long)
            if short and long and not set(short) & set(long) and (short, long) not in terms:
                terms[short, long] = Term(definition.short, definition.long, short, long)
        return cls(tuple(terms.values()))

    def aliases(self, question_stems: Iterable[str]) -> Aliases:
        """Question stem -> the other form of a term the question uses whole, as space-joined stems that
        must all be present: 'mash' -> 'multi agenc safeguard hub', and each of those -> 'mash'."""
        asked = set(question_stems)
        found: dict[str, list[tuple[str, float]]] = {}
        touched = {id(term): term for stem in asked for term in self._by_stem.get(stem, ())}
        for term in touched.values():
            for used, other in ((term.short_stems, term.long_stems), (term.long_stems, term.short_stems)):
                if set(used) <= asked:
                    for stem in used:
                        alias = (" ".join(other), SIMILARITY)
                        if alias not in found.setdefault(stem, []):
                            found[stem].append(alias)
        return {stem: tuple(near) for stem, near in found.items()}

    def term(self, short: str) -> Term | None:
        """The term an abbreviation names, whatever its case and plural ('IRO', 'iros' -> IROs)."""
        return self._by_key.get(_key(short))

    def spell_out(self, text: str) -> str:
        """The text with each abbreviation it uses followed, the first time, by its long form, as the
        reports first write it: 'Do IROs challenge plans?' -> 'Do IROs (Independent reviewing officers)
        challenge plans?'. For the embedding model, which knows words better than a council's abbreviations."""
        if self._pattern is None:
            return text
        lowered = text.lower()
        pieces, last, seen = [], 0, set()
        for match in self._pattern.finditer(text):
            term = self._by_short[match.group(0)]
            if term.short in seen or term.long.lower() in lowered or text[match.end():].lstrip().startswith("("):
                continue
            seen.add(term.short)
            pieces += [text[last:match.end()], f" ({term.long})"]
            last = match.end()
        return "".join(pieces) + text[last:]

    @cached_property
    def _by_stem(self) -> dict[str, list[Term]]:
        """Terms by each stem of either form: a question looks only at the terms its words touch."""
        index: dict[str, list[Term]] = {}
        for term in self.terms:
            for stem in {*term.short_stems, *term.long_stems}:
                index.setdefault(stem, []).append(term)
        return index

    @cached_property
    def _by_key(self) -> dict[str, Term]:
        return {_key(term.short): term for term in reversed(self.terms)}  # the first definition wins

    @cached_property
    def _by_short(self) -> dict[str, Term]:
        return {term.short: term for term in self.terms}

    @cached_property
    def _pattern(self) -> re.Pattern | None:
        # a one-word gloss ('COVID-19 (coronavirus)') names what the model already knows: left as is
        shorts = sorted((t.short for t in self.terms if len(t.long_stems) > 1), key=len, reverse=True)
        if not shorts:
            return None
        return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, shorts)) + r")(?![\w-])")

    def to_json(self) -> list[list[str]]:
        return [[term.short, term.long] for term in self.terms]

    @classmethod
    def from_json(cls, data: list) -> "Glossary":
        return cls.from_definitions(Definition(short, long) for short, long in data)


def _key(abbreviation: str) -> str:
    """'IROs', 'iro' -> 'iro': an abbreviation looked up whatever its case and plural."""
    word = abbreviation.lower()
    return word[:-1] if word.endswith("s") and len(word) > 2 else word


def _stems(text: str) -> tuple[str, ...]:
    return tuple(t for t in tokens(text) if not t.isdigit())
