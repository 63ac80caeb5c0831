"""Everyday phrases <-> the sector's terms, so a plain-English question finds the reports' wording.

'Could children get someone to speak up for them?' is answered by 'Advocacy is offered as routine.';
'teenagers who end up with nowhere to live' by 'young people who present as homeless'. Neither the
embedding model nor BM25 bridges such pairs. `synonyms.txt` lists sets of equivalent phrases (Solr's
synonyms format); a question phrase the corpus never uses takes, as aliases, the phrases of its set that the
corpus does use, the way a word the corpus never uses takes its nearest corpus words (qa.retrieve).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from qa.text import STOPWORDS, stems, words
from qa.types import Aliases

SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")
SIMILARITY = 0.85  # how much an equivalent phrase counts for the question words it stands for (the
# glossary's spelled-out abbreviations count 0.95: those are the same term, these are the same idea)


@dataclass(frozen=True)
class Phrase:
    text: str
    stems: tuple[str, ...]  # every word, stopwords included: phrases match word for word
    content: tuple[str, ...]  # the stems BM25 and the reader compare ('nowhere to live' -> nowher, live)


@dataclass(frozen=True)
class Thesaurus:
    sets: tuple[tuple[Phrase, ...], ...] = ()

    @classmethod
    def parse(cls, lines: Iterable[str]) -> "Thesaurus":
        """Sets from synonyms.txt lines: 'advocacy, advocate, speak up for'; '#' starts a comment."""
        sets = []
        for line in lines:
            line = line.split("#", 1)[0].strip()
            phrases = tuple(_phrase(text) for text in line.split(",") if text.strip())
            phrases = tuple(p for p in phrases if p.stems)
            if len(phrases) > 1:
                sets.append(phrases)
        return cls(tuple(sets))

    def matches(self, question: str) -> list[tuple[Phrase, tuple[Phrase, ...]]]:
        """The phrases the question uses, each with its set; where two overlap the longer wins."""
        return [(phrase, phrases) for phrase, phrases, _ in self._found(question)]

    def _found(self, question: str) -> list[tuple[Phrase, tuple[Phrase, ...], str]]:
        """matches(), each with the question's own words for the phrase ('passports' for 'passport')."""
        asked = stems(question)
        found = []
        for start, first in enumerate(asked):
            for phrase, phrases in self._by_first.get(first, ()):
                end = start + len(phrase.stems)
                if tuple(asked[start:end]) == phrase.stems:
                    found.append((start, end, phrase, phrases))
        taken: set[int] = set()
        chosen = []
        said = words(question)  # one per stem
        for start, end, phrase, phrases in sorted(found, key=lambda f: (f[0] - f[1], f[0])):
            if taken.isdisjoint(range(start, end)):
                taken.update(range(start, end))
                chosen.append((phrase, phrases, " ".join(said[start:end])))
        return chosen

    @cached_property
    def _by_first(self) -> dict[str, list[tuple[Phrase, tuple[Phrase, ...]]]]:
        """Phrases by their first stem: a question looks only at those its words can start."""
        index: dict[str, list[tuple[Phrase, tuple[Phrase, ...]]]] = {}
        for phrases in self.sets:
            for phrase in phrases:
                index.setdefault(phrase.stems[0], []).append((phrase, phrases))
        return index

    def aliases(self, question: str, used: Callable[[tuple[str, ...]], bool]) -> Aliases:
        """Question stem -> equivalent phrases (space-joined content stems, all of which must be present),
        for each phrase of the question that the corpus never uses (`used(stems)` says whether it does)."""
        found: dict[str, list[tuple[str, float]]] = {}
        for phrase, phrases in self.matches(question):
            if not phrase.content or used(phrase.stems):
                continue
            for other in phrases:
                if (other is not phrase and other.content and set(other.content) - set(phrase.content)
                        and used(other.stems)):
                    alias = (" ".join(other.content), SIMILARITY)
                    for stem in phrase.content:
                        if alias not in found.setdefault(stem, []):
                            found[stem].append(alias)
        return {stem: tuple(near) for stem, near in found.items() if near}

    def bridges(self, question: str, used: Callable[[tuple[str, ...]], bool],
                limit: int = 2) -> list[tuple[str, list[str]]]:
        """Each phrase of the question the corpus never uses, in the question's own words, with (up to
        `limit`) phrases of its set the corpus does use: [('nowhere to live', ['homeless'])]."""
        out = []
        for phrase, phrases, said in self._found(question):
            if phrase.content and not used(phrase.stems):
                terms = {}  # one spelling per stemmed form: 'homeless', not 'homeless' and 'homelessness'
                for other in phrases:
                    if other is not phrase and used(other.stems):
                        terms.setdefault(other.stems, other.text)
                if terms:
                    out.append((said, list(terms.values())[:limit]))
        return out


def _phrase(text: str) -> Phrase:
    text = " ".join(text.split())
    return Phrase(text, tuple(stems(text)), tuple(s for w, s in zip(words(text), stems(text)) if w not in STOPWORDS))


@cache
def default_thesaurus() -> Thesaurus:
    """The thesaurus shipped with the package, and the sets of the file `$QA_SYNONYMS` names, if any: a
    council's own names for its services ('Onwards and Upwards Service, leaving care service')."""
    lines = SYNONYMS_FILE.read_text(encoding="utf-8").splitlines()
    local = os.environ.get("QA_SYNONYMS")
    if local:
        try:
            lines += Path(local).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"QA_SYNONYMS={local} cannot be read ({exc}): point it at a UTF-8 synonyms file "
                             "(comma-separated phrases, one set per line) or unset it") from exc
    return Thesaurus.parse(lines)
