"""The one object the CLI, the web app and the evaluation call: `Pipeline.ask(question, ...)`."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qa import tagger
from qa.authority import Named, canonical, without
from qa.embed import Embedder, wordpiece_vocabulary
from qa.index import Index, IndexNotReady, current_version, index_embedder, load_index
from qa.question import analyse
from qa.reader import READ_DEPTH, Context, Reader, Reading
from qa.reader.asks import GradeAsked
from qa.reader.encoder import current_fingerprint
from qa.reader.features import QuestionTokens, unknown_share
from qa.reader.memory import Memory
from qa.reader.read import ungraded_unless_answered
from qa.retrieve import Mode, Retriever, document_matches, question_filters, rerank, validate_filters
from qa.text import tokens
from qa.types import Answer, Hit

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
MAX_TOP_K = 20
RELOAD_CHECK_SECONDS = 1.0


class Pipeline:
    """Loads the index and the model once; `ask` is safe from several threads."""

    def __init__(self, index_dir: Path, embedder: Embedder | None = None) -> None:
        self.index_dir = Path(index_dir)
        self._own_embedder = embedder is None  # then the index says which backend encodes questions
        self.embedder = embedder or index_embedder(self.index_dir)
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self.index: Index = _checked(load_index(self.index_dir, self.embedder.name))
        self.retriever = Retriever(self.index, self.embedder)
        self.reader = Reader.load()
        self.grade_asked = GradeAsked.load()
        self.answer_encoder = self.embedder.answer_encoder()
        self.memory = Memory.load()
        # question sets whose own questions the memory must not recall: `qa eval` scoring a set the reader
        # was fitted on sets its name, so that set is scored as if it were new
        self.memory_exclude: frozenset[str] = frozenset()

    def warm_up(self) -> None:
        self.embedder.warm_up()
        self.embedder.encode(["warm up"])
        self.embedder.encode_tokens(["warm up"])
        if self.answer_encoder is not None:
            self.answer_encoder.encode(["warm up"])
        tagger.phrasing_stems("warm up")  # loads the tagger now, not on the first unusual question
        tagger.topic_stems("warm up")  # and the recogniser that grade questions' topics are read with

    def reload_if_changed(self, force_check: bool = False) -> bool:
        """Pick up a newer index written by `qa build`/`qa add` without a restart (checked at most once a second)."""
        now = time.monotonic()
        if not force_check and now - self._checked < RELOAD_CHECK_SECONDS:
            return False
        self._checked = now
        folder = current_version(self.index_dir)
        if folder is None or folder == self.index.path:
            return False
        with self._lock:
            if folder == self.index.path:
                return False
            if self._own_embedder:
                self.embedder = index_embedder(self.index_dir)
                self.answer_encoder = self.embedder.answer_encoder()
            index = _checked(load_index(self.index_dir, self.embedder.name))
            self.index, self.retriever = index, Retriever(index, self.embedder)
        log.info("reloaded index %s", index.version)
        return True

    def prepare(self, question: str, top_k: int = 5, filters: dict[str, Any] | None = None,
                mode: Mode = "hybrid", asks_grade: bool | None = None,
                memory_exclude: frozenset[str] = frozenset(), widen: bool = True
                ) -> tuple[Context, dict[str, Any], list[str]]:
        """Everything the readers need about one question, fetched once: its analysis, the hits, its
        vector and token vectors, the aliases of its words, the rows the filters allow and the earlier
        questions it recalls. `asks_grade` stands in for the fitted grade-asked model's judgement (`qa
        calibrate` reads its training questions with out-of-fold ones); `memory_exclude` names question sets
        not to recall (calibrate reads each question without its own set's); `widen=False` leaves out the
        passages only the answer encoder finds (calibrate finds them with an encoder not fitted on the
        question: qa.reader.train.widen). Also returns
        the filters applied and the filters the question states that had to be dropped to find passages: a
        year no report covers, a council the collection does not hold (the reader then abstains)."""
        question = (question or "").strip()
        if not question:
            raise ValueError("question must not be empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValueError(f"question must be at most {MAX_QUESTION_CHARS} characters, got {len(question)}")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
            raise ValueError(f"top_k must be 1..{MAX_TOP_K}, got {top_k!r}")
        applied = validate_filters(dict(filters or {}))
        stated = {k: v for k, v in question_filters(question).items() if k not in applied}
        applied |= stated
        retriever = self.retriever  # one consistent index for the whole request
        named = self._authorities_named(retriever.index, question, applied)
        if applied.get("authority") and applied["authority"] not in retriever.index.registry().aliases \
                and "authority" not in (filters or {}):
            stated["authority"] = applied.get("authority")  # a council named that no report is about
        if named.held:  # the council named is a filter now: what is asked is the rest
            question = without(question, named.held, retriever.index.registry())
        query = retriever.embedding_query(question)
        vectors, token_lists = self.embedder.encode_tokens([query, question])
        vector = vectors[0] if mode != "lexical" else None
        ids, token_vectors = token_lists[1]
        tokens = QuestionTokens.select(ids, token_vectors, retriever.index.wordpiece_idf, wordpiece_vocabulary())
        pool = max(top_k, READ_DEPTH)
        aliases = retriever.aliases(question) if mode != "dense" else {}
        hits = retriever.search(question, pool, applied, mode, query_vector=vector, aliases=aliases)
        relaxed: list[str] = []
        if not hits and stated:
            # the year or council asked about is not in the reports: show the closest passages anyway, and abstain
            relaxed = sorted(stated)
            hits = retriever.search(question, pool, {k: v for k, v in applied.items() if k not in stated},
                                    mode, query_vector=vector, aliases=aliases)
        q = analyse(question, retriever.index.authority_words(), named, asks_grade is not False, aliases)
        ungraded = None
        if asks_grade is None and q.type in ("grade", "history") and self.grade_asked.model is not None:
            vector = self.grade_asked.vector(question, q.area, retriever.index.authority_words(), self.embedder,
                                             vectors[1])
            if not self.grade_asked.asks(vector):  # it names a grade and asks something else
                ungraded = ungraded_unless_answered(q)
                q = analyse(question, retriever.index.authority_words(), named, False, aliases)
        scope = retriever.allowed_rows(applied)
        share, named = unknown_share(q, retriever.index, aliases, scope)
        answering = self.answer_encoder.encode([question])[0] if self.answer_encoder is not None else None
        depth = self.reader.model.wider_depth if widen else 0  # what the reader was fitted reading
        wider = retriever.answer_hits(answering, depth, applied, frozenset(h.row for h in hits[:READ_DEPTH]),
                                      READ_DEPTH + 1) if depth and answering is not None and hits and not relaxed else []
        context = Context(q, hits, retriever.index, vectors[0], tokens, aliases, applied, scope, share, named,
                          vectors[1], retriever.word_vectors(question), answering,
                          self.memory.recall(vectors[1], self.memory_exclude | memory_exclude,
                                             _documents_in_scope(retriever.index, applied)), wider, ungraded)
        return context, applied, relaxed

    @staticmethod
    def _authorities_named(index: Index, question: str, applied: dict[str, Any]) -> Named:
        """Whose reports answer: the authority the request asks for, else the one the question names
        (`applied["authority"]`, canonical). A council the corpus does not hold is applied as it is written,
        so that nothing matches and the reply says there are no reports for it."""
        registry = index.registry()
        named = registry.named_in(question, lambda word: any(index.document_frequency.get(t, 0) for t in tokens(word)))
        if applied.get("authority"):
            applied["authority"] = registry.resolve(applied["authority"]) or canonical(applied["authority"])
        elif len(named.held) == 1:
            applied["authority"] = named.held[0]
        elif named.missing and not named.held:
            applied["authority"] = named.missing[0]
        return named

    def ask(self, question: str, top_k: int = 5, filters: dict[str, Any] | None = None,
            mode: Mode = "hybrid") -> dict[str, Any]:
        """The /api/ask reply for one question (see CONTRACT.md)."""
        started = time.perf_counter()
        context, applied, relaxed = self.prepare(question, top_k, filters, mode)
        question, hits = question.strip(), context.hits
        authority = applied.get("authority")
        unheld = bool(authority) and authority not in self.index.registry().aliases
        reading = Reading(None, None, False) if relaxed or unheld else self.reader.read(context)
        answer = reading.answer if reading.accepted else None
        # shown in the order the answer encoder re-ranks them (on the request's own index, which a live
        # reload may have replaced since); the reader read them as search ranked them
        shown = self._shown(rerank(context.index, hits, context.answer_vector), reading, top_k)
        reply = {
            "question": question,
            "answer": _answer_json(answer, reading.hit) if answer else None,
            "abstained": answer is None,
            "passages": [_hit_json(h, rank) for rank, h in enumerate(shown, start=1)],
            "filters_applied": applied,
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if reading.answer is not None and answer is None:
            reply["candidate"] = _answer_json(reading.answer, reading.hit)  # the best guess it would not stand behind
        if unheld:
            reply["notice"] = f"No reports for {authority} in this collection."
        elif reading.notice:
            reply["notice"] = reading.notice
        if relaxed:
            reply["filters_relaxed"] = relaxed
        bridged = self.retriever.bridges(question)
        if bridged:  # say what was searched for besides the question's own words
            reply["searched_for"] = [{"asked": asked, "terms": terms} for asked, terms in bridged]
        if answer is not None and answer.history:
            reply["answer"]["history"] = [
                {"year": s.year, "date": s.date, "grade": s.grade, "passage_id": s.passage_id,
                 "document_id": s.document_id, "url": s.url} for s in answer.history]
        return reply

    @staticmethod
    def _shown(hits: list[Hit], reading: Reading, top_k: int) -> list[Hit]:
        """The top_k passages; the passage the reader answered from goes first (it reads deeper than
        retrieval ranks), even when it was not retrieved (a judgement table found by its grade)."""
        if reading.answer is None or reading.hit is None:
            return hits[:top_k]
        first = next((h for h in hits if h.passage.id == reading.answer.passage_id), reading.hit)
        rest = [h for h in hits if h.passage.id != reading.answer.passage_id]
        return [first] + rest[: top_k - 1]

    def documents(self) -> list[dict[str, Any]]:
        return [d.summary() for d in sorted(self.index.documents.values(), key=lambda d: d.year or 0, reverse=True)]

    def authorities(self) -> list[dict[str, Any]]:
        """The councils the corpus covers, each with the forms of its name and its reports (newest first)."""
        registry = self.index.registry()
        listed = []
        for name, forms in registry.aliases.items():
            documents = sorted((self.index.documents[d] for d in registry.documents[name]),
                               key=lambda d: d.period_end or d.date or "", reverse=True)
            listed.append({"name": name, "aliases": list(forms),
                           "documents": [{"id": d.id, "title": d.title, "kind": d.kind, "date": d.iso_date,
                                          "year": d.year} for d in documents]})
        return listed

    def glossary(self) -> list[dict[str, str]]:
        """The abbreviations and glosses the reports define, by short form (for the page's tooltips)."""
        terms = sorted(self.index.glossary.terms, key=lambda t: (t.short.lower(), t.long.lower()))
        return [{"short": t.short, "long": t.long} for t in terms]

    def document(self, document_id: str) -> dict[str, Any] | None:
        document = self.index.document(document_id)
        if document is None:
            return None
        paragraphs = []
        for p in document.paragraphs:
            paragraphs.append({
                "number": p.number if p.number is not None else (p.position or None),
                "position": p.position, "kind": p.kind, "section": p.section,
                "text": document.text[p.start:p.end], "anchor": f"pos-{p.position}" if p.kind != "heading" else None,
            })
        judgements = [{"area": j.area, "label": j.label, "grade": j.grade, "year": j.year, "source": j.source}
                      for j in document.judgements]
        return document.summary() | {"source": document.source, "paragraphs": paragraphs, "judgements": judgements}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "documents": len(self.index.documents), "passages": len(self.index.passages),
                "model": self.embedder.name, "index_version": self.index.version}


def _documents_in_scope(index: Index, filters: dict[str, Any]) -> list[str]:
    """The ids of the reports a question with these filters is asked of."""
    active = {k: v for k, v in filters.items() if v not in (None, "")}
    return [d.id for d in index.documents.values() if not active or document_matches(d, active)]


def _checked(index: Index) -> Index:
    """The index, unless its sentences were encoded for another reader model than this one's."""
    if index.manifest.get("answer_encoder") != current_fingerprint():
        raise IndexNotReady(f"index at {index.path.parent} holds sentences encoded with answer encoder "
                            f"{index.manifest.get('answer_encoder')}, the reader's is {current_fingerprint()}: "
                            "run `qa build`")
    return index


def _answer_json(answer: Answer, hit: Hit | None) -> dict[str, Any]:
    reply = {"text": answer.text, "confidence": round(answer.confidence, 4), "passage_id": answer.passage_id,
             "start": answer.start, "end": answer.end, "type": answer.type, "granularity": answer.granularity}
    if hit is not None and answer.sentence_end > answer.sentence_start:
        a, b = answer.sentence_start, answer.sentence_end
        reply["sentence"] = {"text": hit.passage.text[a:b], "start": a, "end": b}
    if hit is not None and hit.document.authority and not answer.rows:
        reply["authority"] = hit.document.authority
    if answer.rows:
        reply["rows"] = [asdict(row) for row in answer.rows]
    return reply


def _hit_json(hit: Hit, rank: int) -> dict[str, Any]:
    document = hit.document
    return {
        "id": hit.passage.id,
        "rank": rank,
        "score": hit.score,
        "text": hit.passage.text,
        "document": {"id": document.id, "title": document.title, "kind": document.kind,
                     "date": document.iso_date, "year": document.year, "authority": document.authority,
                     "period_start": document.period_start, "period_end": document.period_end},
        "paragraph": hit.passage.paragraph,
        "section": hit.passage.section,
        "citation": hit.citation,
        "url": f"/documents/{document.id}#{_anchor(hit)}",
        "sentences": [list(span) for span in hit.passage.sentences],
    }


def _anchor(hit: Hit) -> str:
    return f"pos-{hit.passage.position}" if hit.passage.position else ""
