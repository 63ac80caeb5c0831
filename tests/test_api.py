"""The JSON API over HTTP against a real `qa serve`: every endpoint, every error code, the contract's invariants."""
from __future__ import annotations

import concurrent.futures
import re

import pytest
import requests

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def ask(server, body, **kwargs):
    return requests.post(f"{server}/api/ask", json=body, timeout=30, **kwargs)


def assert_contract(reply):
    assert set(reply) >= {"question", "answer", "abstained", "passages", "filters_applied", "took_ms"}
    assert [p["rank"] for p in reply["passages"]] == list(range(1, len(reply["passages"]) + 1))
    for passage in reply["passages"]:
        assert set(passage) >= {"id", "rank", "score", "text", "document", "paragraph", "section", "citation"}
        assert passage["document"]["date"] is None or ISO.match(passage["document"]["date"])
        assert isinstance(passage["paragraph"], int) and passage["paragraph"] >= 1
    if reply["answer"]:
        assert not reply["abstained"]
        cited = next(p for p in reply["passages"] if p["id"] == reply["answer"]["passage_id"])
        assert cited["text"][reply["answer"]["start"]:reply["answer"]["end"]] == reply["answer"]["text"]
        assert 0 <= reply["answer"]["confidence"] <= 1
        sentence = reply["answer"]["sentence"]  # the sentence the answer stands in, in the same passage
        assert cited["text"][sentence["start"]:sentence["end"]] == sentence["text"]
        assert sentence["start"] <= reply["answer"]["start"] <= reply["answer"]["end"] <= sentence["end"]
        assert reply["answer"]["granularity"] in ("span", "sentence")
    else:
        assert reply["abstained"]


def test_ask_returns_the_contract_reply(server):
    response = ask(server, {"question": "What grade did care leavers' services receive in 2024?", "top_k": 3})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    reply = response.json()
    assert_contract(reply)
    assert reply["answer"]["text"] == "Good" and reply["filters_applied"] == {"year": 2024}
    assert len(reply["passages"]) == 3
    top = reply["passages"][0]
    assert top["document"]["date"] == "2024-06-14" and top["citation"].startswith("Inspection of Barnet")


def test_filters_in_the_body(server):
    reply = ask(server, {"question": "What did inspectors say about supervision?",
                         "filters": {"kind": "monitoring visit", "date_from": "2017-01-01", "date_to": "2017-12-31"}}).json()
    assert_contract(reply)
    assert {p["document"]["kind"] for p in reply["passages"]} == {"monitoring visit"}


def test_the_reply_says_which_of_the_reports_terms_stood_for_everyday_words(server):
    reply = ask(server, {"question": "Can teenagers who have nowhere to live get support?"}).json()
    assert_contract(reply)
    assert {"asked": "nowhere to live", "terms": ["homeless"]} in reply["searched_for"]
    assert "homeless" in reply["answer"]["text"]
    assert "searched_for" not in ask(server, {"question": "What grade did care leavers' services receive in 2024?"}).json()


def test_unanswerable_question_abstains_but_returns_passages(server):
    reply = ask(server, {"question": "What overall grade did Hackney get from Ofsted in 2024?"}).json()
    assert_contract(reply)
    assert reply["answer"] is None and reply["abstained"] and reply["passages"]


def test_health_documents_and_one_document(server):
    health = requests.get(f"{server}/api/health", timeout=10).json()
    assert health["status"] == "ok" and health["documents"] == 5 and health["passages"] > 100
    assert health["model"] == "all-MiniLM-L6-v2"
    listing = requests.get(f"{server}/api/documents", timeout=10).json()["documents"]
    assert len(listing) == 5
    for doc in listing:
        assert set(doc) >= {"id", "title", "kind", "date", "authority", "paragraphs"}
        assert doc["date"] is None or ISO.match(doc["date"])
    one = requests.get(f"{server}/api/documents/2024-06-barnet-ilacs-inspection-report", timeout=10).json()
    numbered = [p for p in one["paragraphs"] if p["number"] == 43 and p["kind"] == "paragraph"]
    assert numbered[0]["section"] == "The experiences and progress of care leavers: good"
    assert numbered[0]["text"].startswith("Most care leavers in Barnet")


def test_openapi_description_is_generated_and_covers_the_endpoints(server):
    spec = requests.get(f"{server}/api/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/ask", "/api/health", "/api/documents", "/api/documents/{document_id}",
            "/api/glossary"} <= set(spec["paths"])
    ask_schema = spec["components"]["schemas"]["AskRequest"]
    assert ask_schema["additionalProperties"] is False and "question" in ask_schema["required"]


def test_glossary_lists_the_abbreviations_the_reports_define(server):
    response = requests.get(f"{server}/api/glossary", timeout=10)
    assert response.status_code == 200
    terms = {t["short"]: t["long"] for t in response.json()["terms"]}
    assert terms["LADO"] == "local authority designated officer"
    assert terms["MASH"] == "multi-agency safeguarding hub"
    assert terms["PAs"] == "Personal advisers"


@pytest.mark.parametrize("body, status, code", [
    ({"question": ""}, 400, "invalid_question"),
    ({"question": "   "}, 400, "invalid_question"),
    ({"question": "x" * 1001}, 400, "invalid_question"),
    ({"question": 42}, 400, "invalid_question"),
    ({"question": None}, 400, "invalid_question"),
    ({}, 400, "invalid_question"),
    ({"question": "ok", "top_k": 0}, 400, "invalid_top_k"),
    ({"question": "ok", "top_k": 21}, 400, "invalid_top_k"),
    ({"question": "ok", "top_k": "5"}, 400, "invalid_top_k"),
    ({"question": "ok", "top_k": 2.5}, 400, "invalid_top_k"),
    ({"question": "ok", "top_k": True}, 400, "invalid_top_k"),
    ({"question": "ok", "filters": {"year": "2024"}}, 400, "invalid_filters"),
    ({"question": "ok", "filters": {"year": 99999}}, 400, "invalid_filters"),
    ({"question": "ok", "filters": {"date_from": "yesterday"}}, 400, "invalid_filters"),
    ({"question": "ok", "filters": {"date_from": 20240101}}, 400, "invalid_filters"),
    ({"question": "ok", "filters": {"colour": "red"}}, 400, "invalid_filters"),
    ({"question": "ok", "filters": []}, 400, "invalid_filters"),
    ({"question": "ok", "filters": {"date_from": "2024-12-31", "date_to": "2024-01-01"}}, 400, "invalid_request"),
    ({"question": "ok", "unknown": 1}, 400, "invalid_request"),
    ([1, 2, 3], 400, "invalid_request"),
    ("just a string", 400, "invalid_request"),
])
def test_malformed_requests_get_json_4xx(server, body, status, code):
    response = ask(server, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]


def test_bad_json_wrong_type_huge_body_wrong_method_unknown_path(server):
    response = requests.post(f"{server}/api/ask", data="{not json", headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    response = requests.post(f"{server}/api/ask", data="question=hi", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
    response = requests.post(f"{server}/api/ask", data='{"question": "' + "a" * 200_000 + '"}', timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    response = requests.get(f"{server}/api/ask", timeout=10)
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    response = requests.get(f"{server}/api/nothing-here", timeout=10)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = requests.get(f"{server}/api/documents/no-such-document", timeout=10)
    assert response.status_code == 404 and response.json()["error"]["code"] == "document_not_found"
    response = requests.post(f"{server}/api/admin/reload", timeout=10)
    assert response.status_code == 404  # off when no admin token is configured


@pytest.mark.parametrize("question", [
    "Comment les jeunes sortant de l'aide sociale ont-ils été évalués ?",
    "如何评价2024年的护理离开者？",
    "<script>alert(1)</script> how were care leavers rated?",
    "'; DROP TABLE passages; --",
    "\u202e\u200b care leavers \U0001F600",
    "?" * 1000,
])
def test_unusual_questions_are_answered_or_abstained_never_500(server, question):
    response = ask(server, {"question": question})
    assert response.status_code == 200, response.text
    assert_contract(response.json())


def test_concurrent_requests_are_safe(server):
    questions = ["What grade did care leavers' services receive in 2024?",
                 "Can families get help in an emergency outside office hours?",
                 "Who was Ofsted's lead inspector for its inspection in 2024?",
                 "When did inspectors carry out the monitoring visit?"] * 5
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(lambda q: ask(server, {"question": q}).json(), questions))
    for question, reply in zip(questions, replies):
        assert reply["question"] == question
        assert_contract(reply)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=60))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                           max_leaves=10)
filter_bodies = st.dictionaries(st.sampled_from(["year", "date_from", "date_to", "kind", "document", "other"]),
                                json_values, max_size=4)
ask_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"question": st.one_of(st.text(max_size=1200), json_values)},
                          optional={"top_k": st.one_of(st.integers(-5, 30), json_values),
                                    "filters": st.one_of(filter_bodies, json_values),
                                    "extra": json_values}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=ask_bodies)
def test_fuzzed_bodies_never_get_a_5xx(server, body):
    response = requests.post(f"{server}/api/ask", json=body, timeout=30)
    assert response.status_code in (200, 400, 413, 415), (body, response.status_code, response.text[:200])
    payload = response.json()
    if response.status_code == 200:
        assert_contract(payload)
    else:
        assert set(payload["error"]) == {"code", "message"}
