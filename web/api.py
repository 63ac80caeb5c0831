"""The JSON API blueprint (/api): request and reply models, validation, errors, OpenAPI description."""
from __future__ import annotations

import logging
import os
import hmac
from datetime import date
from typing import Any, Literal, Optional, Union

from flask import Blueprint, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, field_validator

from qa.pipeline import MAX_QUESTION_CHARS, MAX_TOP_K

log = logging.getLogger(__name__)

api = Blueprint("api", __name__, url_prefix="/api")


class ApiError(Exception):
    """An error reply: HTTP status, a stable code for programs, a message for people."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------- models (the OpenAPI schemas come from these)

QUESTION_PATTERN = r"^[^\x00]*\S[^\x00]*$"  # something besides white space, and no NUL character


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: Optional[StrictInt] = Field(None, ge=1900, le=2100, description="only reports about this year")
    date_from: Optional[date] = Field(None, description="ISO date; reports about this date or later")
    date_to: Optional[date] = Field(None, description="ISO date; reports about this date or earlier")
    kind: Optional[StrictStr] = Field(None, max_length=50,
                                      description="inspection, focused visit, monitoring visit, letter, news")
    document: Optional[StrictStr] = Field(None, max_length=200, description="a document id from /api/documents")
    authority: Optional[StrictStr] = Field(None, max_length=200,
                                           description="an authority from /api/authorities, by its name or any alias "
                                                       "('Barnet', 'London Borough of Barnet')")

    @field_validator("year", mode="before")
    @classmethod
    def whole_year(cls, value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @field_validator("date_from", "date_to", mode="before")
    @classmethod
    def iso_only(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("must be an ISO date string YYYY-MM-DD")
        return value


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"question": "How were care leavers rated in 2024?", "top_k": 5, "filters": {"year": 2024}}})
    question: StrictStr = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, pattern=QUESTION_PATTERN,
                                description=f"1 to {MAX_QUESTION_CHARS} characters, not all white space, no NUL")
    top_k: StrictInt = Field(5, ge=1, le=MAX_TOP_K, description="passages to return")
    filters: Optional[Filters] = None

    @field_validator("top_k", mode="before")
    @classmethod
    def whole_number(cls, value: Any) -> Any:
        """JSON Schema's integer includes 17.0: a whole-number float is taken as that integer."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    @field_validator("question")
    @classmethod
    def question_length(cls, value: str) -> str:
        trimmed = value.strip()
        if not trimmed:
            raise ValueError("must not be empty")
        if len(trimmed) > MAX_QUESTION_CHARS:
            raise ValueError(f"must be at most {MAX_QUESTION_CHARS} characters, got {len(trimmed)}")
        if "\x00" in trimmed:
            raise ValueError("must not contain NUL characters")
        return trimmed


class DocumentRef(BaseModel):
    id: str
    title: str
    kind: str
    date: Optional[str] = Field(None, description="ISO YYYY-MM-DD, or null when unknown")
    year: Optional[int] = None
    authority: Optional[str] = Field(None, description="the canonical authority whose report it is")
    period_start: Optional[str] = Field(None, description="ISO date: the inspection or visit it concerns began")
    period_end: Optional[str] = Field(None, description="ISO date: the inspection or visit it concerns ended")


class PassageReply(BaseModel):
    id: str
    rank: int
    score: float
    text: str
    document: DocumentRef
    paragraph: int = Field(..., description="the report's paragraph number, else the paragraph's position (1-based)")
    section: Optional[str] = None
    citation: str = Field(..., description="title, date, and 'para N' where the report numbers the paragraph, "
                                           "else where it stands: 'judgements table', 'summary, 2nd paragraph'")
    url: str = Field(..., description="the document view at this paragraph")
    sentences: Optional[list[list[int]]] = Field(None, description="[start, end] of each sentence (list item, table "
                                                                   "row) in text: what a person can pick as the answer")


class HistoryStepReply(BaseModel):
    year: Optional[int]
    date: Optional[str]
    grade: str
    passage_id: Optional[str]
    document_id: str
    url: Optional[str] = Field(None, description="the document view at the paragraph holding the grade")


class SentenceReply(BaseModel):
    text: str = Field(..., description="the sentence the answer stands in: passage.text[start:end] == text")
    start: int
    end: int


class RowReply(BaseModel):
    authority: str = Field(..., description="canonical authority name")
    document_id: str
    date: Optional[str] = Field(None, description="ISO date of the inspection the grade belongs to")
    area: str = Field(..., description="the judgement area: 'care leavers', 'overall effectiveness', ...")
    grade: str
    passage_id: str = Field(..., description="the passage that holds the grade (GET /api/documents/<id> shows it)")
    citation: str
    previous: Optional[str] = Field(None, description="the grade at the inspection before, for questions about "
                                                      "improvement or decline")
    url: Optional[str] = Field(None, description="the document view at the paragraph holding the grade")


class AnswerReply(BaseModel):
    text: str = Field(..., description="the answer; for an answer with rows, a readable summary of them")
    confidence: float = Field(..., ge=0, le=1, description="probability that the answer shown is right (F1 >= 0.5 "
                                                          "or it contains a right answer), fitted out of sample")
    passage_id: str
    start: int = Field(..., description="passage.text[start:end] == text (with rows: the first row's grade)")
    end: int
    type: str = Field(..., description="what the answer is: 'sentence', 'list', a typed span ('date', 'person', "
                                       "'quantity', ...), 'grade', or 'phrase' (the part of its sentence an earlier, "
                                       "similar question was answered with)")
    granularity: Optional[Literal["span", "sentence"]] = Field(
        None, description="'span': a part of its sentence (a name, a date, a number, or the phrase an earlier, "
                          "similar question was answered with); 'sentence': the sentence or a clause of it")
    sentence: Optional[SentenceReply] = Field(None, description="the sentence the answer stands in, offsets into "
                                                                "the same passage")
    history: Optional[list[HistoryStepReply]] = None
    authority: Optional[str] = Field(None, description="the canonical authority whose report the answer comes from")
    rows: Optional[list[RowReply]] = Field(None, description="an answer drawn from several reports: a grade for each "
                                                             "authority in scope, or the authorities that fit a "
                                                             "question across reports, one cited row each")


class SearchedFor(BaseModel):
    asked: str = Field(..., description="the phrase as the question words it: 'nowhere to live'")
    terms: list[str] = Field(..., description="the reports' terms searched for instead: ['homeless']")


class AskReply(BaseModel):
    question: str
    answer: Optional[AnswerReply]
    abstained: bool
    passages: list[PassageReply]
    filters_applied: dict[str, Any]
    took_ms: float
    candidate: Optional[AnswerReply] = Field(None, description="when abstaining: the best guess, below the threshold")
    filters_relaxed: Optional[list[str]] = Field(None, description="question filters dropped because no report matched")
    searched_for: Optional[list[SearchedFor]] = Field(
        None, description="everyday phrases of the question the reports never use, and the reports' terms searched for")
    notice: Optional[str] = Field(None, description="why there is no answer, when the reports can say: 'No reports "
                                                    "for Leeds in this collection.', 'No council ... was judged ...', "
                                                    "'The reports give no grade for adoption.', 'The reports "
                                                    "searched give no number for this.'")


class Health(BaseModel):
    status: Literal["ok"]
    documents: int
    passages: int
    model: str
    index_version: str


class DocumentSummary(BaseModel):
    id: str
    title: str
    kind: str
    date: Optional[str]
    year: Optional[int]
    authority: Optional[str] = Field(None, description="canonical authority name")
    aliases: list[str] = Field(default_factory=list, description="the forms of the authority's name the text uses")
    period_start: Optional[str]
    period_end: Optional[str]
    paragraphs: int


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class ParagraphReply(BaseModel):
    number: Optional[int]
    position: int
    kind: str
    section: Optional[str]
    text: str
    anchor: Optional[str]


class DocumentDetail(DocumentSummary):
    source: str
    paragraphs: list[ParagraphReply]  # type: ignore[assignment]
    judgements: list[dict[str, Any]]


class AuthorityDocument(BaseModel):
    id: str
    title: str
    kind: str
    date: Optional[str]
    year: Optional[int]


class AuthorityReply(BaseModel):
    name: str = Field(..., description="canonical name: 'Barnet'")
    aliases: list[str] = Field(..., description="every form the reports use: 'London Borough of Barnet'")
    documents: list[AuthorityDocument] = Field(..., description="its reports, newest first")


class AuthorityList(BaseModel):
    authorities: list[AuthorityReply]


class GlossaryTerm(BaseModel):
    short: str = Field(description="the abbreviation or word as the reports write it, e.g. 'LADO'")
    long: str = Field(description="what the reports say it stands for, e.g. 'local authority designated officer'")


class GlossaryReply(BaseModel):
    terms: list[GlossaryTerm]


class AnswerGiven(BaseModel):
    """The answer as the reply gave it: its text, and where it stood (clients may send the whole answer)."""
    model_config = ConfigDict(extra="ignore")
    text: StrictStr = Field(..., max_length=5000)
    passage_id: Optional[StrictStr] = Field(None, max_length=300)
    start: Optional[StrictInt] = Field(None, ge=0)
    end: Optional[StrictInt] = Field(None, ge=0)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "example": {"question": "Who runs the school for children in care?", "answer": "Social workers",
                    "verdict": "wrong", "passage_id": "p-<document id>-<position>", "start": 0, "end": 120},
        # offsets mean nothing without their passage; a passage alone means the whole of it answers
        "dependentRequired": {"start": ["passage_id", "end"], "end": ["passage_id", "start"]}})
    question: StrictStr = Field(..., min_length=1, max_length=MAX_QUESTION_CHARS, pattern=QUESTION_PATTERN,
                                description=f"the question as asked, 1 to {MAX_QUESTION_CHARS} characters")
    answer: Optional[Union[StrictStr, AnswerGiven]] = Field(
        None, description="the answer as given: its text, or the reply's answer object")
    verdict: Literal["right", "wrong", "not_in_reports"] = Field(
        ..., description="'right': the answer is right; 'wrong': it is not (with passage_id/start/end: this is "
                         "what answers); 'not_in_reports': the reports do not answer the question")
    # absent rather than null: offsets mean nothing without their passage (the schema's dependentRequired)
    passage_id: StrictStr = Field(None, max_length=300, description="the passage that does answer",  # type: ignore[assignment]
                                  json_schema_extra=_no_default)
    start: StrictInt = Field(None, ge=0, description="offsets of the sentence or span that answers, into that "  # type: ignore[assignment]
                                                    "passage's text; both absent: the whole passage",
                             json_schema_extra=_no_default)
    end: StrictInt = Field(None, ge=0, json_schema_extra=_no_default)  # type: ignore[assignment]
    note: Optional[StrictStr] = Field(None, max_length=2000)

    @field_validator("question")
    @classmethod
    def question_length(cls, value: str) -> str:
        return AskRequest.question_length(value)


class FeedbackReply(BaseModel):
    id: int = Field(..., description="the stored row's id")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorReply(BaseModel):
    error: ErrorBody


ROUTES = (  # method, path, summary, request model, reply model, error statuses (success is 200, 201 for POST /api/feedback)
    ("post", "/api/ask", "Answer a question from the reports", AskRequest, AskReply, (400, 413, 415, 503)),
    ("post", "/api/feedback", "Say whether an answer was right, and what does answer", FeedbackRequest, FeedbackReply,
     (400, 404, 413, 415, 503)),
    ("get", "/api/health", "Service status", None, Health, (503,)),
    ("get", "/api/documents", "Documents in the index", None, DocumentList, (503,)),
    ("get", "/api/documents/{document_id}", "One document with its paragraphs", None, DocumentDetail, (404, 503)),
    ("get", "/api/authorities", "The authorities the reports cover, with their aliases and reports", None,
     AuthorityList, (503,)),
    ("get", "/api/glossary", "Abbreviations the reports define, with what they stand for", None, GlossaryReply, (503,)),
)


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1 built from the pydantic models and the route table above."""
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas[name] = definition
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, Any] = {}
    for method, path, summary, body, reply, errors in ROUTES:
        success = "201" if path == "/api/feedback" else "200"
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {success: {"description": "Created" if success == "201" else "OK",
                                    "content": {"application/json": {"schema": ref(reply)}}}},
        }
        for status in errors:
            operation["responses"][str(status)] = {
                "description": "error", "content": {"application/json": {"schema": ref(ErrorReply)}}}
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(body)}}}
        if "{document_id}" in path:
            operation["parameters"] = [{"name": "document_id", "in": "path", "required": True,
                                        "schema": {"type": "string"}}]
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "inspection-qa", "version": "1",
                 "description": "Cited, extractive answers from children's services inspection reports."},
        "paths": paths,
        "components": {"schemas": schemas},
    }


# ---------------------------------------------------------------- endpoints

def _pipeline():
    pipeline = current_app.config.get("PIPELINE")
    if pipeline is None:
        raise ApiError(503, "index_unavailable", current_app.config.get("PIPELINE_ERROR", "the index is not loaded"))
    pipeline.reload_if_changed()
    return pipeline


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:3]:
        where = ".".join(str(p) for p in item["loc"]) or "body"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        elif item["type"] == "string_pattern_mismatch":
            message = "must not be empty or only white space, and must not contain NUL characters"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


@api.post("/ask")
def ask() -> Response:
    parsed = _json_body(AskRequest, {"question": "invalid_question", "top_k": "invalid_top_k",
                                     "filters": "invalid_filters"})
    filters = parsed.filters.model_dump(exclude_none=True, mode="json") if parsed.filters else {}
    pipeline = _pipeline()
    try:
        reply = pipeline.ask(parsed.question, top_k=parsed.top_k, filters=filters)
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    store = current_app.config.get("STORE")
    if store is not None:
        try:
            store.log_question(reply, pipeline.index.version)
        except Exception:  # the log never costs a user their answer
            log.exception("could not log the question")
    return jsonify(reply)


def _json_body(model: type[BaseModel], codes: dict[str, str] | None = None) -> Any:
    """The request's JSON body validated as `model`; a field's error is reported with its code in `codes`
    ('question' -> 'invalid_question'), any other with 'invalid_request'."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send JSON with Content-Type: application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "invalid_json", "the request body is not valid JSON")
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "the request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]["loc"][0] if exc.errors() and exc.errors()[0]["loc"] else "request"
        raise ApiError(400, (codes or {}).get(str(first), "invalid_request"), _describe(exc)) from None


@api.post("/feedback")
def feedback() -> Response:
    """Store a verdict on an answer. Offsets are checked against the passage; a bad one is a 400, never stored."""
    from qa.store import Feedback

    parsed = _json_body(FeedbackRequest)
    store = current_app.config.get("STORE")
    if store is None:
        raise ApiError(503, "store_unavailable", current_app.config.get("STORE_ERROR", "feedback is not being kept"))
    pipeline = _pipeline()
    given = AnswerGiven(text=parsed.answer) if isinstance(parsed.answer, str) else parsed.answer
    picked = evidence = document_id = year = None
    if (parsed.start is None) != (parsed.end is None) or (parsed.start is not None and parsed.passage_id is None):
        raise ApiError(400, "invalid_feedback", "start and end go together, with the passage_id they index")
    if parsed.passage_id is not None:
        found = pipeline.index.passage_by_id(parsed.passage_id)
        if found is None:
            raise ApiError(404, "passage_not_found", f"no passage {parsed.passage_id!r} in the current index")
        _, passage = found
        if parsed.start is None:  # 'this answers it' on a passage: the whole of it
            parsed = parsed.model_copy(update={"start": 0, "end": len(passage.text)})
        if not 0 <= parsed.start < parsed.end <= len(passage.text):
            raise ApiError(400, "invalid_offsets",
                           f"start and end must satisfy 0 <= start < end <= {len(passage.text)} for this passage")
        picked = evidence = passage.text[parsed.start:parsed.end].strip()
        if not picked:
            raise ApiError(400, "invalid_offsets", "the offsets pick only white space")
        document = pipeline.index.documents[passage.document_id]
        document_id, year = document.id, document.year
    elif given is not None and given.passage_id:
        found = pipeline.index.passage_by_id(given.passage_id)
        if found is not None:
            _, passage = found
            document = pipeline.index.documents[passage.document_id]
            document_id, year = document.id, document.year
            if given.start is not None and given.end is not None and passage.text[given.start:given.end] == given.text:
                evidence = _sentence_of(passage, given.start, given.end)
    row = Feedback(question=parsed.question, verdict=parsed.verdict, answer_text=given.text if given else None,
                   answer_passage_id=given.passage_id if given else None,
                   answer_start=given.start if given else None, answer_end=given.end if given else None,
                   passage_id=parsed.passage_id, start=parsed.start, end=parsed.end, picked_text=picked,
                   evidence=evidence, document_id=document_id, year=year, note=parsed.note,
                   index_version=pipeline.index.version)
    return jsonify({"id": store.add_feedback(row)}), 201


def _sentence_of(passage, start: int, end: int) -> str:
    """The passage sentence holding [start, end), verbatim: evidence a later evaluation can find."""
    for a, b in passage.sentences:
        if a <= start and end <= b:
            return passage.text[a:b]
    return passage.text[start:end]


@api.get("/health")
def health() -> Response:
    return jsonify(_pipeline().health())


@api.get("/documents")
def documents() -> Response:
    return jsonify({"documents": _pipeline().documents()})


@api.get("/documents/<path:document_id>")
def document(document_id: str) -> Response:
    found = _pipeline().document(document_id)
    if found is None:
        raise ApiError(404, "document_not_found", f"no document {document_id!r}; see GET /api/documents")
    return jsonify(found)


@api.get("/authorities")
def authorities() -> Response:
    return jsonify({"authorities": _pipeline().authorities()})


@api.get("/glossary")
def glossary() -> Response:
    return jsonify({"terms": _pipeline().glossary()})


@api.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@api.post("/admin/reload")
def reload_index() -> Response:
    """Reload the index now; only when QA_ADMIN_TOKEN is set, and only with that token."""
    token = os.environ.get("QA_ADMIN_TOKEN") or current_app.config.get("ADMIN_TOKEN")
    if not token:
        raise ApiError(404, "not_found", "no such endpoint")
    given = request.headers.get("X-Admin-Token", "")
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(403, "forbidden", "a valid X-Admin-Token header is required")
    pipeline = _pipeline()
    changed = pipeline.reload_if_changed(force_check=True)
    return jsonify({"reloaded": changed, "index_version": pipeline.index.version})
