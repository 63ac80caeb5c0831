"""Councils as data: one canonical name per authority, the forms its reports call it, and the council a
question names.

'London Borough of Barnet', 'Barnet Council' and 'Barnet' are one authority, Barnet; 'Northfield City
Council' is Northfield; 'Royal Borough of Ashvale' is Ashvale. A report's authority comes from its manifest
entry or its own text (qa.metadata), always reduced to the canonical name, and the forms its text uses are
kept as its aliases. A question names an authority the corpus holds when it uses one of those names; it
names one the corpus does not hold when it uses a council's form ('Leeds City Council', 'the London Borough
of Camden'), the name of an English children's services authority (qa/authorities.txt), or a place name
the reports never use after 'in', 'for', 'at' or before a possessive ('in Northfield', "Northfield's").
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Callable, Iterable

# one word of a council's name: 'Barnet', 'Kingston', 'Stoke-on-Trent'; joined by 'and', 'upon', 'on' ...
_WORD = r"[A-Z][a-z'’]+(?:-(?:on|upon|in|under|le|the|[A-Z][a-z]+)(?:-[A-Z][a-z]+)?)?"
_JOIN = r"(?:\s+(?:and|upon|on|under|in|le|with|of)\s+|,?\s+)"
NAME = rf"{_WORD}(?:{_JOIN}{_WORD}){{0,3}}"
PREFIXES = ("London Borough of", "Royal Borough of", "Metropolitan Borough of", "City and County of", "City of",
            "Borough of", "County of")
SUFFIXES = ("Metropolitan Borough Council", "Metropolitan District Council", "County Borough Council",
            "County Council", "City Council", "Borough Council", "District Council", "Council", "local authority",
            "Local Authority", "LA")
_PREFIX = "|".join(re.escape(p) for p in PREFIXES)
_SUFFIX = "|".join(re.escape(s) for s in SUFFIXES[:-3])  # the '... Council' forms
# a council named in one of its official forms
PREFIXED = re.compile(rf"\b(?:the\s+)?({_PREFIX})\s+({NAME}?)(?:\s+(?:Council|council))?(?=[\s,.;:?!)'’]|$)")
SUFFIXED = re.compile(rf"\b({NAME}?)\s+({_SUFFIX})\b")
# where a report names the council it is about (its title and opening lines)
SUBJECT = (
    re.compile(rf"\b(?:Inspection|inspection) of (?:the )?({NAME}?)(?:'s)?\s+(?:local authority children|children)"),
    re.compile(rf"\bvisit to (?:the )?({NAME}?)(?:'s)?\s+(?:local authority )?children"),
    re.compile(rf"\b(?:Inspection|inspection) of (?:the )?((?:{_PREFIX})\s+{NAME}?|{NAME}?\s+(?:{_SUFFIX}))\b"),
)
# a place the question asks about: 'in Northfield', 'for Leeds', "Leeds's", 'Camden council'
PLACE_CUE = re.compile(rf"\b(?:in|for|at|from|by|across|within)\s+({NAME})|\b({NAME})(?:'s|’s|s'|\s+council\b)")
NOT_PLACES = frozenset(
    "England English Britain British UK Wales Scotland Ireland London Ofsted Inspector Inspectors Inspection "
    "Council Councils Authority Authorities Children Social Care Leavers January February March April May June "
    "July August September October November December Monday Tuesday Wednesday Thursday Friday I What Which Who "
    "How When Where Why Is Are Was Were Do Does Did Has Have Had Can Could Should Would Will The A An In For".split())


def canonical(name: str) -> str:
    """The short name of an authority: 'London Borough of Barnet' -> 'Barnet', 'Northfield City Council' ->
    'Northfield', 'the Royal Borough of Ashvale' -> 'Ashvale'. Whitespace and a trailing possessive go."""
    name = re.sub(r"\s+", " ", name or "").strip(" ,.;:")
    name = re.sub(r"^the\s+", "", name, flags=re.I)
    name = re.sub(r"(?:'s|’s)$", "", name)
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if name.lower().startswith(prefix.lower() + " ") and name.lower() != "city of london":
                name, changed = name[len(prefix) + 1:], True
        for suffix in SUFFIXES:
            if name.endswith(" " + suffix) or name.lower().endswith(" " + suffix.lower()):
                name, changed = name[:-len(suffix) - 1], True
    return name.strip(" ,")


def subject_of(raw: str) -> str | None:
    """The council a report is about, from its title and opening (canonical), else None."""
    head = raw[:3000]
    for pattern in SUBJECT:
        match = pattern.search(head)
        if match:
            found = canonical(match.group(1))
            if found and found not in NOT_PLACES:
                return found
    for pattern in (PREFIXED, SUFFIXED):
        for text in (head, raw):
            match = pattern.search(text)
            if match:
                found = canonical(match.group(0))
                if found and found.split()[0] not in NOT_PLACES:
                    return found
    return None


def forms_in(text: str, authority: str) -> tuple[str, ...]:
    """Every form of the authority's name the text uses: 'London Borough of Barnet', 'Barnet Council'."""
    found = {authority}
    for pattern in (PREFIXED, SUFFIXED):
        for match in pattern.finditer(text):
            form = re.sub(r"^the\s+", "", match.group(0).strip(), flags=re.I)
            if canonical(form) == authority:
                found.add(re.sub(r"\s+", " ", form))
    return tuple(sorted(found, key=lambda f: (len(f), f)))


@lru_cache(maxsize=1)
def english_authorities() -> tuple[str, ...]:
    """England's children's services authorities (qa/authorities.txt), canonical names."""
    text = resources.files("qa").joinpath("authorities.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _pattern(name: str) -> re.Pattern[str]:
    body = r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", name))
    return re.compile(rf"(?<![\w-])({body})(?:'s|’s|s')?(?![\w-])", re.I)


@dataclass(frozen=True)
class Named:
    """The councils a question names: those the corpus holds (canonical) and those it does not (as written)."""

    held: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()


@dataclass
class Registry:
    """The corpus's authorities: canonical name -> aliases and documents."""

    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    documents: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: Iterable) -> "Registry":
        aliases: dict[str, set[str]] = {}
        owned: dict[str, list[str]] = {}
        for document in documents:
            if not document.authority:
                continue
            aliases.setdefault(document.authority, {document.authority}).update(getattr(document, "aliases", ()) or ())
            owned.setdefault(document.authority, []).append(document.id)
        return cls({name: tuple(sorted(found, key=lambda f: (len(f), f))) for name, found in sorted(aliases.items())},
                   {name: tuple(ids) for name, ids in sorted(owned.items())})

    def resolve(self, name: str) -> str | None:
        """The canonical authority a name stands for ('barnet council' -> 'Barnet'), or None."""
        wanted = canonical(name).lower()
        for authority, forms in self.aliases.items():
            if wanted == authority.lower() or any(wanted == canonical(f).lower() or name.strip().lower() == f.lower()
                                                  for f in forms):
                return authority
        return None

    def named_in(self, question: str, known: Callable[[str], bool] = lambda word: False) -> Named:
        """The councils a question names. `known(word)`: do the reports use the word? A place the reports
        mention ('Hendon', 'Colindale') is not taken for a council they lack."""
        held: list[str] = []
        spans: list[tuple[int, int]] = []
        for authority in sorted(self.aliases, key=len, reverse=True):
            for match in _pattern(authority).finditer(question):
                written = match.group(1)
                if written.islower() and not question.islower() and _is_word(authority):
                    continue  # 'reading' is a word, 'Reading' a council
                if any(a <= match.start() < b for a, b in spans):
                    continue
                spans.append(match.span())
                if authority not in held:
                    held.append(authority)
        missing: list[str] = []

        def note(name: str, start: int) -> None:
            name = canonical(name)
            if not name or any(a <= start < b for a, b in spans) or self.resolve(name):
                return
            if name.split()[0] in NOT_PLACES or name in missing:
                return
            missing.append(name)

        for pattern in (PREFIXED, SUFFIXED):
            for match in pattern.finditer(question):
                note(match.group(0), match.start())
        for authority in english_authorities():
            if authority in self.aliases:
                continue
            for match in _pattern(authority).finditer(question):
                if match.group(1)[0].isupper() or question.islower():
                    note(match.group(1), match.start())
        for match in PLACE_CUE.finditer(question):
            name = match.group(1) or match.group(2)
            start = match.start(1) if match.group(1) else match.start(2)
            if start == 0 or not name:
                continue  # the question's first word is capitalised whatever it is
            words = [w for w in re.split(r"[\s,-]+", name) if w and w[0].isupper()]
            if words and not any(known(w.strip("'’")) for w in words):
                note(name, start)
        return Named(tuple(held), tuple(missing))


def without(question: str, held: tuple[str, ...], registry: "Registry") -> str:
    """The question without its mentions of the councils it names ('What caseloads do social workers have in
    the Royal Borough of Kingsmere?' -> 'What caseloads do social workers have?'): once the council is a
    filter, its name says whose reports, not what to look for in them."""
    forms = sorted({f for a in held for f in registry.aliases.get(a, (a,))}, key=len, reverse=True)
    if not forms:
        return question
    names = "|".join(r"[\s-]+".join(re.escape(w) for w in re.split(r"[\s-]+", f)) for f in forms)
    pattern = re.compile(rf"(?:\b(?:in|for|at|from|by|of|within|across)\s+)?(?:the\s+)?(?<![\w-])(?:{names})"
                         rf"(?:'s|’s|s')?(?![\w-])(?:\s+(?:council|local authority|authority)\b)?", re.I)
    stripped = re.sub(r"\s+([?.!,;:])", r"\1", re.sub(r"\s{2,}", " ", pattern.sub(" ", question))).strip(" ,")
    return stripped if len(stripped.split()) >= 2 else question


# councils whose names are also everyday words: only the capitalised form names the council
EVERYDAY_NAMES = frozenset({"reading", "bury", "slough", "derby", "poole", "bath", "wirral", "halton", "sutton",
                            "kent", "essex", "brent", "rutland"} )


def _is_word(name: str) -> bool:
    """Is a council's name also an ordinary word ('Reading', 'Bury')? Then only its capitalised form names it."""
    return name.lower() in EVERYDAY_NAMES
