"""Question -> ranked Hits: dense and BM25 scores fused, metadata filters, years read from the question."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

import numpy as np

from qa.embed import Embedder
from qa.index import Index
from qa.synonyms import Thesaurus, default_thesaurus
from qa.text import stemmed_words, tokens
from qa.types import Aliases, Document, Hit

Mode = Literal["hybrid", "dense", "lexical"]
FILTER_KEYS = ("year", "date_from", "date_to", "kind", "document", "authority")
DENSE_WEIGHT = 0.5
SENTENCE_WEIGHT = 0.6
HEADING_WEIGHT = 0.5  # a passage gains this share of its heading's similarity above HEADING_FLOOR: the
HEADING_FLOOR = 0.6   # question 'What needs to improve?' is the heading of the list that answers it
LEXICAL_SCALE = 8.0
CANDIDATES = 100
# The passages shown are re-ranked by the answer encoder (qa/reader/encoder.py): each gains ANSWER_WEIGHT
# times its best sentence's cosine with the question in that space (the sum scaled back into [0, 1]).
# Measured out of fold by bench/answer_retrieval.py (adapters fitted on half the question sets, scored on
# the other half): evidence passage first 0.65 -> 0.78, in the top 5 0.88 -> 0.91; flat for weights 0.75-1.5.
# The reader reads the passages as search ranks them: fitted on that order, it gained nothing from this one.
ANSWER_WEIGHT = 1.0
ALIAS_MIN_SIMILARITY = 0.72  # a question word the reports never use stands for corpus words at least this close
ALIASES_PER_WORD = 3
YEAR = r"((?:19|20)\d{2})"
KIND_WORDS = {
    "focused visit": re.compile(r"\bfocused visit", re.I),
    "monitoring visit": re.compile(r"\bmonitoring visit", re.I),
    "news": re.compile(r"\b(?:news|article|press)\b", re.I),
    "letter": re.compile(r"\bletter to (?:the )?children|children.s letter", re.I),
}


def question_filters(question: str) -> dict[str, Any]:
    """Years and ranges stated in the question ('in 2024', 'since 2017', 'between 2017 and 2019') and the
    kind of report it names ('according to the news article', 'during the monitoring visit')."""
    kinds = [kind for kind, pattern in KIND_WORDS.items() if pattern.search(question)]
    stated = _stated_years(question)
    return stated | {"kind": kinds[0]} if len(kinds) == 1 else stated


def _stated_years(text: str) -> dict[str, Any]:
    match = _named_report(text)
    if match:
        return {"year": int(match.group(1))}
    match = re.search(rf"\b(?:between|from)\s+{YEAR}\s+(?:and|to|until|-|–)\s+{YEAR}\b", text, re.I)
    if match:
        first, last = sorted((int(match.group(1)), int(match.group(2))))
        return {"date_from": f"{first}-01-01", "date_to": f"{last}-12-31"}
    match = re.search(rf"\b(?:since|after|from)\s+{YEAR}\b", text, re.I)
    if match:
        year = int(match.group(1)) + (1 if match.group(0).lower().startswith("after") else 0)
        return {"date_from": f"{year}-01-01"}
    match = re.search(rf"\b(?:before|until|prior to)\s+{YEAR}\b", text, re.I)
    if match:
        return {"date_to": f"{int(match.group(1)) - 1}-12-31"}
    years = {int(y) for y in re.findall(rf"\b{YEAR}\b", text)}
    if len(years) == 1:
        return {"year": years.pop()}
    if len(years) > 1:
        return {"date_from": f"{min(years)}-01-01", "date_to": f"{max(years)}-12-31"}
    return {}


MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
STATED_DATE = re.compile(
    rf"\b(?:(?:in|since|after|before|until|from|between|during|of|prior to)\s+)?(?:the\s+)?(?:{MONTHS}\s+)?"
    rf"(?:19|20)\d{{2}}\b(?:\s+(?:and|to|until|-|–)\s+(?:19|20)\d{{2}}\b)?", re.I)


REPORT = r"(?:ILACS\s+|Ofsted\s+)?(?:inspection|report|monitoring visit|focused visit|visit|letter|article)"
# the report a question is set in: 'During the 2021 visit, ...', '... in the 2019 inspection?'. Its year is a
# filter and its kind a filter or boost, so as words it would only favour passages that describe the visit
REPORT_FRAME = re.compile(
    rf"^\s*(?:in|during|at|from)\s+the\s+(?:{YEAR}\s+)?{REPORT}\s*,\s*"
    rf"|,?\s*\b(?:in|during|at|from)\s+the\s+{YEAR}\s+{REPORT}\b", re.I)


def _named_report(question: str) -> re.Match | None:
    """'the 2019 letter' in a question that also states another period ('what changed since 2017
    according to the 2019 letter?'): the report's year is the filter and the period is what is asked."""
    match = re.search(rf"\b{YEAR}\s+(?:ILACS\s+|Ofsted\s+)?(?:letter|inspection|report|visit|monitoring visit|"
                      rf"focused visit|article|judgement)s?\b", question, re.I)
    if match and re.search(r"\b(?:since|between|from|after|before|until)\b", question, re.I):
        return match
    return None


def retrieval_query(question: str) -> str:
    """The question without the years that act as filters: as words they would only pull up passages
    that happen to mention the year. A period asked about beside a named report's year stays."""
    named = _named_report(question)
    if named:
        stripped = question[:named.start(1)] + question[named.end(1):]
    else:
        stripped = STATED_DATE.sub(" ", REPORT_FRAME.sub(" ", question))
    stripped = " ".join(stripped.split())
    # 'according to the inspection' names the source, which filters and the kind boost already handle
    stripped = re.sub(r",?\s*\baccording to (?:the |its |their )?[\w’' -]{0,40}?"
                      r"(?:inspection|report|visit|letter|article|inspectors|ofsted)(?:'s)?\b", "", stripped, flags=re.I)
    stripped = re.sub(r"\s+([?.!,;:])", r"\1", stripped).lstrip(" ,;:")
    return stripped or question


def document_matches(document: Document, filters: dict[str, Any]) -> bool:
    """Does the document pass every filter? Dates compare the period it concerns and its own date."""
    if filters.get("document") and document.id != filters["document"]:
        return False
    if filters.get("kind") and document.kind.lower() != str(filters["kind"]).lower():
        return False
    if filters.get("authority") and (document.authority or "").lower() != str(filters["authority"]).lower():
        return False
    if filters.get("year") is not None and int(filters["year"]) not in document.years:
        return False
    dates = [d for d in (document.period_start, document.period_end, document.date) if d]
    if filters.get("date_from") or filters.get("date_to"):
        if not dates:
            return False
        low, high = min(dates), max(dates)
        if filters.get("date_from") and high < str(filters["date_from"]):
            return False
        if filters.get("date_to") and low > str(filters["date_to"]):
            return False
    return True


@dataclass
class Retriever:
    """Hybrid search over one loaded index."""

    index: Index
    embedder: Embedder
    dense_weight: float = DENSE_WEIGHT
    thesaurus: Thesaurus = field(default_factory=default_thesaurus)

    def __post_init__(self) -> None:
        self._allowed_cache: dict[tuple, np.ndarray] = {}
        self._word_vectors: dict[str, np.ndarray] = {}

    def aliases(self, question: str) -> Aliases:
        """Question words mapped to corpus words that stand for them, each with how alike they are:
        - the other form of a term the reports define ('LADO' <-> 'local authority designated officer',
          'coronavirus' <-> 'COVID-19'), as space-joined stems that must all be present (qa.glossary);
        - for a phrase the reports never use, the phrases of its set in qa/synonyms.txt that they do use
          ('nowhere to live' -> 'homeless', 'speak up for' -> 'advocacy');
        - for words the reports never use, the corpus words nearest in meaning (by the model's embedding
          of the words alone): 'dads' -> 'fathers', 'autistic' -> 'autism'. Words with no close neighbour
          stay unknown (a council the corpus does not cover, a 'mayor')."""
        query = retrieval_query(question)
        pairs = stemmed_words(query)
        defined = self.index.glossary.aliases(stem for stem, _ in pairs)
        for stem, near in self.thesaurus.aliases(query, self.index.uses_phrase).items():
            defined[stem] = defined.get(stem, ()) + tuple(alias for alias in near if alias not in defined.get(stem, ()))
        unknown: dict[str, str] = {}
        for stem, word in pairs:
            if stem not in self.index.document_frequency and stem not in defined and word.isalpha() and len(word) > 2:
                unknown.setdefault(stem, word)
        if not unknown:
            return defined
        known = self._word_vectors  # server threads share the cache: read one dict, replace it when full
        found = {w: known[w] for w in unknown.values() if w in known}
        missing = [w for w in unknown.values() if w not in found]
        if missing:
            found.update(zip(missing, self.embedder.encode(missing)))
            if len(known) > 10_000:
                self._word_vectors = known = {}
            known.update((w, found[w]) for w in missing)
        vectors = np.stack([found[w] for w in unknown.values()])
        found = self.index.similar_words(vectors, ALIAS_MIN_SIMILARITY, ALIASES_PER_WORD)
        return defined | {stem: tuple(near) for stem, near in zip(unknown, found) if near}

    def word_vectors(self, question: str) -> dict[str, np.ndarray]:
        """The question's content stems with the embedding of each word alone: the corpus's own vector for a
        stem the reports use, else the word encoded now (cached), for word-level soft matching."""
        pairs = list(dict(stemmed_words(retrieval_query(question))).items())
        if not pairs:
            return {}
        vectors = self.index.word_vectors_of([stem for stem, _ in pairs])
        missing = [(i, word) for i, (_, word) in enumerate(pairs) if not vectors[i].any()]
        if missing:
            known = self._word_vectors
            fresh = [w for _, w in missing if w not in known]
            if fresh:
                if len(known) > 10_000:
                    self._word_vectors = known = {}
                known.update(zip(fresh, self.embedder.encode(fresh)))
            for i, word in missing:
                vectors[i] = known[word]
        return {stem: vectors[i] for i, (stem, _) in enumerate(pairs)}

    def embedding_query(self, question: str) -> str:
        """What the embedding model reads for the question: the retrieval query, abbreviations spelled out,
        and the reports' terms for its everyday phrases: '... with nowhere to live? (homeless)'."""
        query = self.index.glossary.spell_out(retrieval_query(question))
        extra = list(dict.fromkeys(term for _, terms in self.bridges(query) for term in terms))
        return f"{query} ({', '.join(extra)})" if extra else query

    def bridges(self, question: str) -> list[tuple[str, list[str]]]:
        """The question's everyday phrases the reports never use, with the reports' terms searched for
        instead (qa/synonyms.txt): [('nowhere to live', ['homeless'])]."""
        return self.thesaurus.bridges(retrieval_query(question), self.index.uses_phrase)

    def allowed_rows(self, filters: dict[str, Any]) -> np.ndarray | None:
        """Rows of passages whose documents pass the filters (cached: the index never changes under us)."""
        active = {k: v for k, v in filters.items() if v not in (None, "")}
        if not active:
            return None
        key = tuple(sorted((k, str(v)) for k, v in active.items()))
        if key not in self._allowed_cache:
            if len(self._allowed_cache) > 256:
                self._allowed_cache.clear()
            self._allowed_cache[key] = self._match_rows(active)
        return self._allowed_cache[key]

    def _match_rows(self, active: dict[str, Any]) -> np.ndarray:
        rows = [self.index.document_rows[d.id] for d in self.index.documents.values()
                if d.id in self.index.document_rows and document_matches(d, active)]
        return np.sort(np.concatenate(rows)) if rows else np.zeros(0, dtype=np.int64)

    def search(
        self,
        question: str,
        top_k: int = 5,
        filters: dict[str, Any] | None = None,
        mode: Mode = "hybrid",
        query_vector: np.ndarray | None = None,
        aliases: Aliases | None = None,
    ) -> list[Hit]:
        """Passages ranked for the question, best first, each with its fused score in [0, 1]. BM25 also
        looks for the corpus words that stand for question words (`aliases`)."""
        allowed = self.allowed_rows(filters or {})
        if allowed is not None and len(allowed) == 0:
            return []
        pool = max(CANDIDATES, top_k * 4)
        query = retrieval_query(question)
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        if mode in ("hybrid", "dense"):
            vector = query_vector if query_vector is not None else self.embedder.encode([self.embedding_query(question)])[0]
            rows, scores = self.index.search_dense(vector, pool, allowed)
            headings = self.index.heading_similarities(vector)
            dense = {row: self._sentence_blend(row, score, vector) + self._heading_fit(row, headings)
                     for row, score in zip(rows.tolist(), scores.tolist())}
        if mode in ("hybrid", "lexical"):
            if aliases is None:
                aliases = self.aliases(question)
            asked = tokens(query)
            expanded = asked + list(dict.fromkeys(stem for near in aliases.values() for alias, _ in near
                                                  for stem in alias.split() if stem not in asked))
            rows, scores = self.index.search_lexical(expanded, pool, allowed)
            lexical = dict(zip(rows.tolist(), scores.tolist()))
        fused = self._fuse(dense, lexical, mode, question)
        ranked = sorted(fused.items(), key=lambda item: -item[1])[:top_k]
        hits = []
        for rank, (row, score) in enumerate(ranked, start=1):
            passage = self.index.passages[row]
            hits.append(Hit(passage, self.index.documents[passage.document_id], rank, round(float(score), 4),
                            dense=float(dense.get(row, 0.0)), lexical=float(lexical.get(row, 0.0)), row=row))
        return hits

    def answer_hits(self, answer_vector: np.ndarray, k: int, filters: dict[str, Any] | None = None,
                    skip: frozenset[int] = frozenset(), first_rank: int = 1) -> list[Hit]:
        """The passages whose best sentence the answer encoder ranks among the k highest for the question
        (`answer_vector`), less the rows in `skip` (those the search already found), best first, ranked from
        `first_rank` on. They carry no search score: the search did not find them."""
        allowed = self.allowed_rows(filters or {})
        rows, _ = self.index.search_answers(answer_vector, k, allowed)
        return hits_for_rows(self.index, [int(r) for r in rows if int(r) not in skip], first_rank)

    def _sentence_blend(self, row: int, passage_score: float, vector: np.ndarray) -> float:
        """Passage similarity blended with its best sentence's: one sentence often carries the answer."""
        sentences = self.index.sentence_vectors_of(row)
        if not len(sentences):
            return passage_score
        return SENTENCE_WEIGHT * float(np.max(sentences @ vector)) + (1 - SENTENCE_WEIGHT) * passage_score

    def _heading_fit(self, row: int, headings: np.ndarray | None) -> float:
        """What the passage gains when its heading is close to the question itself."""
        if headings is None:
            return 0.0
        at = int(self.index.heading_rows[row])
        return HEADING_WEIGHT * max(0.0, float(headings[at]) - HEADING_FLOOR) if at >= 0 else 0.0

    def _fuse(self, dense: dict[int, float], lexical: dict[int, float], mode: Mode, question: str) -> dict[int, float]:
        """Cosine (clipped to [0, 1]) and BM25 scaled by the best BM25 score, mixed by weight."""
        top_lexical = max(lexical.values(), default=0.0) or 1.0
        if LEXICAL_SCALE:  # saturating: a weak best match stays weak instead of being scaled up to 1
            top_lexical = 1.0
        weight = {"hybrid": self.dense_weight, "dense": 1.0, "lexical": 0.0}[mode]
        kinds = [kind for kind, pattern in KIND_WORDS.items() if pattern.search(question)]
        fused = {}
        for row in set(dense) | set(lexical):
            raw = lexical.get(row, 0.0)
            scaled = raw / (raw + LEXICAL_SCALE) if LEXICAL_SCALE else raw / top_lexical
            score = weight * max(0.0, dense.get(row, 0.0)) + (1 - weight) * scaled
            if kinds and self.index.documents[self.index.passages[row].document_id].kind in kinds:
                score += 0.1  # the question names the kind of report it means
            fused[row] = min(1.0, score)
        return fused


def hits_for_rows(index: Index, rows: list[int], first_rank: int) -> list[Hit]:
    """Hits for passages found other than by the search (no search score), ranked from `first_rank` on."""
    hits = []
    for rank, row in enumerate(rows, start=first_rank):
        passage = index.passages[row]
        hits.append(Hit(passage, index.documents[passage.document_id], rank, 0.0, row=row))
    return hits


def rerank(index: Index, hits: list[Hit], answer_vector: np.ndarray | None) -> list[Hit]:
    """The hits re-ranked for showing: each scored by its fused score plus ANSWER_WEIGHT times its best
    sentence's answer-encoder cosine with the question (`answer_vector`), scaled back into [0, 1], and
    numbered again. `index` is the one the hits came from (an index swapped in since has other rows).
    Unchanged when the question or the index has no answer vectors."""
    if answer_vector is None or not hits:
        return hits
    scored = []
    for hit in hits:
        vectors = index.answer_vectors_of(hit.row) if hit.row >= 0 else None
        if vectors is None:
            return hits
        gain = max(0.0, float(np.max(vectors @ answer_vector))) if len(vectors) else 0.0
        scored.append((hit, (hit.score + ANSWER_WEIGHT * gain) / (1 + ANSWER_WEIGHT)))
    scored.sort(key=lambda pair: -pair[1])  # stable: equal scores keep the search's order
    return [replace(hit, rank=rank, score=round(score, 4)) for rank, (hit, score) in enumerate(scored, start=1)]


def validate_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Check filter values; raise ValueError naming the bad one."""
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValueError(f"unknown filter(s) {sorted(unknown)}; allowed: {list(FILTER_KEYS)}")
    clean: dict[str, Any] = {}
    for key, value in filters.items():
        if value is None or value == "":
            continue
        if key == "year":
            if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2100:
                raise ValueError(f"filters.year must be an integer year 1900..2100, got {value!r}")
        elif key in ("date_from", "date_to"):
            if not isinstance(value, str):
                raise ValueError(f"filters.{key} must be an ISO date YYYY-MM-DD, got {value!r}")
            try:
                date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"filters.{key} must be an ISO date YYYY-MM-DD, got {value!r}") from None
        elif not isinstance(value, str) or len(value) > 200:
            raise ValueError(f"filters.{key} must be a string, got {value!r}")
        clean[key] = value
    if clean.get("date_from") and clean.get("date_to") and clean["date_from"] > clean["date_to"]:
        raise ValueError(f"filters.date_from {clean['date_from']} is after date_to {clean['date_to']}")
    return clean
