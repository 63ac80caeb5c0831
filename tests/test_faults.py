"""Faults: builds and adds killed at random moments leave the last good index loadable and answering the
same; a second build is refused; a request that fails inside the pipeline gets a JSON 503 and the next works."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from qa.index import current_version, load_index

ROOT = Path(__file__).resolve().parent.parent
KILLS = 20


def answers(pipeline, questions):
    return [(r["answer"] or {}).get("text") for r in (pipeline.ask(q) for q in questions)] + \
           [pipeline.ask(q)["passages"][0]["id"] for q in questions]


def test_killed_builds_and_adds_leave_the_last_good_index(tmp_path, index_dir, embedder):
    from qa.pipeline import Pipeline

    live = tmp_path / "index"
    shutil.copytree(index_dir, live)
    questions = ["What grade did care leavers' services receive in 2024?",
                 "Can families get help in an emergency outside office hours?",
                 "Who put their name to the 2021 focused visit letter?"]
    expected = answers(Pipeline(live, embedder), questions)
    extra = tmp_path / "extra-report.txt"
    extra.write_text("Inspection of Extrashire local authority children's services\n\n1. The falcon team supports "
                     "young carers at school and at home.\n", encoding="utf-8")
    rng = random.Random(7)
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    commands = {"build": ["build", "--force", "--quiet"], "add": ["add", str(extra)]}
    durations = {}
    for name, command in commands.items():  # time one full run of each, so kills land inside a run
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "qa", *command, "--index", str(live)], cwd=ROOT, env=env,
                       capture_output=True, check=True)
        durations[name] = time.monotonic() - started
    subprocess.run([sys.executable, "-m", "qa", "remove", "extra-report", "--index", str(live)], cwd=ROOT, env=env,
                   capture_output=True, check=True)
    killed_mid_run = 0
    for attempt in range(KILLS):
        version_before = current_version(live)
        name = "build" if attempt % 2 == 0 else "add"
        process = subprocess.Popen([sys.executable, "-m", "qa", *commands[name], "--index", str(live)], cwd=ROOT,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 1.0) * durations[name])
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        process.wait()
        index = load_index(live)  # always loadable
        assert index.documents and index.passages
        after = current_version(live)
        if after != version_before:
            # the run finished before the kill: undo an add so every round starts from the same corpus
            subprocess.run([sys.executable, "-m", "qa", "remove", "extra-report", "--index", str(live)],
                           cwd=ROOT, env=env, capture_output=True)
        assert answers(Pipeline(live, embedder), questions) == expected
    assert killed_mid_run >= KILLS // 2  # most kills landed while the command was still running


def test_a_second_build_is_refused_with_a_clear_message(tmp_path, index_dir):
    from qa.index import build_lock

    live = tmp_path / "index"
    shutil.copytree(index_dir, live)
    with build_lock(live):
        result = subprocess.run([sys.executable, "-m", "qa", "build", "--force", "--index", str(live)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "another build or update is running" in result.stderr


def test_pipeline_failure_gives_json_503_and_the_next_request_works(pipeline, monkeypatch):
    from web.app import create_app

    app = create_app(pipeline=pipeline)
    client = app.test_client()
    original = pipeline.retriever.search
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk vanished")
        return original(*args, **kwargs)

    monkeypatch.setattr(pipeline.retriever, "search", flaky)
    response = client.post("/api/ask", json={"question": "Can families get help in an emergency outside office hours?"})
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"]["code"] == "internal_error" and "Traceback" not in json.dumps(body)
    response = client.post("/api/ask", json={"question": "Can families get help in an emergency outside office hours?"})
    assert response.status_code == 200 and response.get_json()["passages"]


def test_admin_reload_needs_the_configured_token(tmp_path, index_dir):
    from tests.conftest import start_server, stop_server

    process, base = start_server(index_dir, extra_env={"QA_ADMIN_TOKEN": "s3cret-token"})
    try:
        assert requests.post(f"{base}/api/admin/reload", timeout=10).status_code == 403
        assert requests.post(f"{base}/api/admin/reload", headers={"X-Admin-Token": "wrong"}, timeout=10).status_code == 403
        reply = requests.post(f"{base}/api/admin/reload", headers={"X-Admin-Token": "s3cret-token"}, timeout=10)
        assert reply.status_code == 200 and "index_version" in reply.json()
    finally:
        stop_server(process)
