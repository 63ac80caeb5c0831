"""Staff feedback and the question log: the SQLite store, POST /api/feedback over HTTP, export to the gold
format, and what survives concurrent writers and a killed server."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from qa.store import MIGRATIONS, Feedback, Store, export_gold
from tests.conftest import ROOT, start_server, stop_server


# ---------------------------------------------------------------- the store

def test_a_new_store_is_migrated_in_wal_mode_and_keeps_rows_across_reopening(tmp_path):
    store = Store(tmp_path)
    assert store.schema_version() == len(MIGRATIONS)
    assert store.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    first = store.add_feedback(Feedback(question="Who leads the MASH?", verdict="not_in_reports"))
    store.close()
    again = Store(tmp_path)
    assert [row["id"] for row in again.feedback()] == [first] and again.integrity() == "ok"


def test_an_older_schema_is_migrated_forward(tmp_path):
    path = tmp_path / "qa.sqlite3"
    sqlite3.connect(path).execute("PRAGMA user_version = 0").connection.close()  # an empty, unversioned file
    assert Store(tmp_path).schema_version() == len(MIGRATIONS)


def test_the_log_keeps_qa_log_days_and_qa_log_off_keeps_nothing(tmp_path, monkeypatch):
    store = Store(tmp_path)
    reply = {"question": "What grade did the care leavers' service get?",
             "answer": {"text": "Good", "confidence": 0.9, "type": "grade"}, "passages": [{"id": "p-x-1"}], "took_ms": 12.0}
    old = store.log_question(reply, "v1")
    store.connection().execute("UPDATE questions SET asked_at = ? WHERE id = ?", (time.time() - 91 * 86400, old))
    recent = store.log_question(reply, "v1")
    assert store.prune() == 1  # QA_LOG_DAYS defaults to 90
    assert [row["id"] for row in store.questions()] == [recent]
    monkeypatch.setenv("QA_LOG_DAYS", "0")
    assert store.prune() == 1 and store.questions() == []
    monkeypatch.setenv("QA_LOG", "off")
    assert store.log_question(reply, "v1") is None and store.questions() == []


def test_export_turns_verdicts_into_gold_rows():
    rows = [
        {"id": 1, "question": "Who runs the virtual school?", "verdict": "wrong", "picked_text": "The headteacher",
         "evidence": "The headteacher of the virtual school", "answer_text": "Social workers", "year": 2024},
        {"id": 2, "question": "Who looks after kids in hospital?", "verdict": "not_in_reports", "picked_text": None,
         "evidence": None, "answer_text": "Inspectors", "year": None},
        {"id": 3, "question": "What grade did the care leavers' service get?", "verdict": "right", "picked_text": None,
         "evidence": "The experiences and progress of care leavers: Good", "answer_text": "Good", "year": 2024},
        {"id": 4, "question": "What is the MASH?", "verdict": "wrong", "picked_text": None, "evidence": None,
         "answer_text": "x", "year": None},  # says what the answer is not: the gold format cannot hold it
        {"id": 5, "question": "who runs the  virtual school?", "verdict": "not_in_reports", "picked_text": None,
         "evidence": None, "answer_text": None, "year": None},  # a later verdict on the same question wins
    ]
    exported = {item["question"].lower(): item for item in export_gold(rows)}
    assert set(exported) == {"who runs the  virtual school?", "who looks after kids in hospital?",
                             "what grade did the care leavers' service get?"}
    assert exported["who runs the  virtual school?"]["answers"] == []
    assert exported["what grade did the care leavers' service get?"] == {
        "id": "feedback-3", "question": "What grade did the care leavers' service get?", "kind": "feedback", "answers": ["Good"],
        "evidence": "The experiences and progress of care leavers: Good", "year": 2024}


# ---------------------------------------------------------------- over HTTP

@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qa-data")


@pytest.fixture(scope="module")
def live(index_dir, data_dir):
    process, base = start_server(index_dir, {"QA_DATA": str(data_dir), "QA_ADMIN_TOKEN": "insight-token"})
    yield base
    stop_server(process)


def post(base: str, body: dict, path: str = "/api/feedback") -> requests.Response:
    return requests.post(f"{base}{path}", json=body, timeout=60)


def test_feedback_is_stored_with_the_picked_sentence_and_bad_offsets_are_refused(live, data_dir):
    reply = post(live, {"question": "Who runs the school for children in care?"}, "/api/ask").json()
    passage = reply["passages"][0]
    start, end = passage["sentences"][0]
    before = len(Store(data_dir).feedback())
    created = post(live, {"question": reply["question"], "answer": reply["answer"] or "none", "verdict": "wrong",
                          "passage_id": passage["id"], "start": start, "end": end})
    assert created.status_code == 201
    stored = {row["id"]: row for row in Store(data_dir).feedback()}[created.json()["id"]]
    assert stored["picked_text"] == passage["text"][start:end] and stored["year"] == passage["document"]["year"]
    for bad in ({"passage_id": passage["id"], "start": 5, "end": 5},
                {"passage_id": passage["id"], "start": 0, "end": len(passage["text"]) + 1},
                {"passage_id": passage["id"], "start": -1, "end": 4},
                {"passage_id": passage["id"], "start": 0}, {"start": 0, "end": 4}):
        response = post(live, {"question": reply["question"], "verdict": "wrong"} | bad)
        assert response.status_code == 400 and response.json()["error"]["code"] in (
            "invalid_offsets", "invalid_feedback", "invalid_request"), bad
    missing = post(live, {"question": reply["question"], "verdict": "wrong", "passage_id": "p-no-such-passage-1",
                          "start": 0, "end": 4})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "passage_not_found"
    for bad in ({"question": "q", "verdict": "maybe"}, {"question": "  ", "verdict": "not_in_reports"},
                {"question": "", "verdict": "not_in_reports"}, {"question": "q", "verdict": "wrong", "extra": 1}):
        assert post(live, bad).status_code == 400, bad
    assert len(Store(data_dir).feedback()) == before + 1  # nothing refused was stored
    whole = post(live, {"question": reply["question"], "verdict": "wrong", "passage_id": passage["id"]})
    assert whole.status_code == 201  # 'this answers it' on a passage: the whole passage is the answer
    stored = {row["id"]: row for row in Store(data_dir).feedback()}[whole.json()["id"]]
    assert stored["picked_text"] == passage["text"].strip()


def test_each_question_asked_is_logged_with_what_came_back(live, data_dir):
    reply = post(live, {"question": "What grade did care leavers' services receive in 2024?"}, "/api/ask").json()
    logged = Store(data_dir).questions()[-1]
    assert logged["question"] == reply["question"] and logged["answered"] == 1
    assert logged["answer_type"] == "grade" and logged["top_passage"] == reply["passages"][0]["id"]
    assert logged["took_ms"] > 0 and logged["index_version"]
    assert set(logged) == {"id", "asked_at", "question", "answered", "confidence", "answer_type", "answer_text",
                           "top_passage", "took_ms", "index_version"}  # no address, no user


def test_qa_log_off_keeps_no_questions(index_dir, tmp_path):
    process, base = start_server(index_dir, {"QA_DATA": str(tmp_path), "QA_LOG": "off"})
    try:
        assert post(base, {"question": "Who is the lead inspector?"}, "/api/ask").status_code == 200
        assert post(base, {"question": "Who is the lead inspector?", "verdict": "not_in_reports"}).status_code == 201
    finally:
        stop_server(process)
    store = Store(tmp_path)
    assert store.questions() == [] and len(store.feedback()) == 1


def test_api_details_a_schema_checker_finds(live):
    """A 405 says which methods are allowed; 17.0 is an integer as JSON Schema says; an oversized body
    gets the JSON 413, not a closed connection."""
    response = requests.get(f"{live}/api/feedback", timeout=10)
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    response = requests.get(f"{live}/api/ask", timeout=10)
    assert response.status_code == 405 and response.headers["Allow"].startswith("OPTIONS, POST")
    response = post(live, {"question": "What grade did the care leavers' service get?", "top_k": 3.0}, "/api/ask")
    assert response.status_code == 200 and len(response.json()["passages"]) == 3
    assert post(live, {"question": "What grade did the care leavers' service get?", "top_k": 3.5}, "/api/ask").status_code == 400
    response = requests.post(f"{live}/api/feedback", data=b'{"question": "' + b"a" * 3_000_000 + b'"}', timeout=60,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


def test_twenty_clients_asking_and_sending_feedback_for_30_seconds_lose_nothing(live, data_dir):
    deadline = time.monotonic() + 30
    acknowledged: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    questions = ["What grade did the care leavers' service get?", "What is the MASH?", "Who leads the virtual school?",
                 "What needs to improve?", "How do personal advisers help care leavers?"]

    def client(number: int) -> None:
        session = requests.Session()
        k = 0
        while time.monotonic() < deadline:
            question = questions[(number + k) % len(questions)]
            k += 1
            try:
                reply = session.post(f"{live}/api/ask", json={"question": question}, timeout=60)
                if reply.status_code != 200:
                    errors.append(f"ask {reply.status_code}")
                    continue
                created = session.post(f"{live}/api/feedback", timeout=60, json={
                    "question": question, "verdict": "not_in_reports", "note": f"client {number}"})
                if created.status_code != 201:
                    errors.append(f"feedback {created.status_code} {created.text[:100]}")
                    continue
                with lock:
                    acknowledged.append(created.json()["id"])
            except requests.RequestException as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[:5]
    stored = {row["id"] for row in Store(data_dir).feedback()}
    assert len(acknowledged) > 20 and set(acknowledged) <= stored
    assert len(set(acknowledged)) == len(acknowledged)
    assert Store(data_dir).integrity() == "ok"


def test_a_server_killed_ten_times_under_feedback_load_keeps_every_acknowledged_row(index_dir, tmp_path):
    acknowledged: set[int] = set()
    for round_number in range(10):
        process, base = start_server(index_dir, {"QA_DATA": str(tmp_path)})
        stop = threading.Event()

        def writer(number: int) -> None:
            session = requests.Session()
            while not stop.is_set():
                try:
                    created = session.post(f"{base}/api/feedback", timeout=10, json={
                        "question": f"round {round_number} client {number}", "verdict": "not_in_reports"})
                except requests.RequestException:
                    return  # the server is gone: an unanswered write was never acknowledged
                if created.status_code == 201:
                    acknowledged.add(created.json()["id"])

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5 + 0.1 * round_number)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        store = Store(tmp_path)
        assert store.integrity() == "ok"
        assert acknowledged <= {row["id"] for row in store.feedback()}, round_number
        store.close()
    assert len(acknowledged) > 10


def test_feedback_exported_is_scored_by_qa_eval(index_dir, tmp_path, pipeline):
    reply = pipeline.ask("What grade did care leavers' services receive in 2024?")
    store = Store(tmp_path)
    answer = reply["answer"]
    passage = next(p for p in reply["passages"] if p["id"] == answer["passage_id"])
    store.add_feedback(Feedback(question=reply["question"], verdict="right", answer_text=answer["text"],
                                evidence=answer["sentence"]["text"], year=passage["document"]["year"]))
    store.add_feedback(Feedback(question="Who looks after kids when their parents are in hospital?",
                                verdict="not_in_reports"))
    out = tmp_path / "feedback.jsonl"
    env = os.environ | {"QA_DATA": str(tmp_path)}
    subprocess.run([sys.executable, "-m", "qa", "feedback", "export", "--out", str(out)], cwd=ROOT, env=env,
                   check=True, capture_output=True, text=True)
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [item["answers"] for item in items] == [[answer["text"]], []]
    scored = subprocess.run([sys.executable, "-m", "qa", "eval", "--gold", str(out), "--index", str(index_dir),
                             "--json"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    summary = json.loads(scored.stdout)
    assert summary["answerable"] == 1 and summary["unanswerable"] == 1
    assert summary["answers"]["HasAns"]["em"] == 1.0


def test_insights_show_what_is_asked_abstained_on_marked_wrong_and_words_the_reports_lack(live, data_dir, index_dir):
    for _ in range(3):
        post(live, {"question": "Do the kids get a say in their care plans?"}, "/api/ask")
    post(live, {"question": "What did inspectors say about the mayor's budget?"}, "/api/ask")
    post(live, {"question": "Do the kids get a say in their care plans?", "answer": "something", "verdict": "wrong"})
    env = os.environ | {"QA_DATA": str(data_dir)}
    found = json.loads(subprocess.run([sys.executable, "-m", "qa", "insights", "--json", "--index", str(index_dir)],
                                      cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout)
    counts = {item["question"]: item["count"] for item in found["most_asked"]}
    assert counts["Do the kids get a say in their care plans?"] == 3
    assert any(item["question"] == "Do the kids get a say in their care plans?" for item in found["marked_wrong"])
    words = {item["word"]: item for item in found["unknown_words"]}
    assert "kids" in words and any(n["term"].startswith("child") for n in words["kids"]["nearest"])
    assert "mayor" in words
    assert requests.get(f"{live}/admin/insights", timeout=30).status_code == 403
    page = requests.get(f"{live}/admin/insights", headers={"X-Admin-Token": "insight-token"}, timeout=60)
    assert page.status_code == 200 and "Do the kids get a say in their care plans?" in page.text
