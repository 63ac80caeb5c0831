"""Bounded load on 127.0.0.1: 20 concurrent clients for 30 s against `qa serve`, while `qa add` and
`qa remove` change the index underneath. Zero errors allowed; the added report must become findable."""
from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from tests.conftest import start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 20
SECONDS = 30
QUESTIONS = ["What grade did care leavers' services receive in 2024?",
             "Can families get help in an emergency outside office hours?",
             "Who was Ofsted's lead inspector for its inspection in 2024?", "What needs to improve?",
             "When did inspectors carry out the monitoring visit?", "What does the kestrel outreach team do?"]


def test_twenty_clients_for_thirty_seconds_while_the_index_changes(index_dir, tmp_path):
    live = tmp_path / "index"
    shutil.copytree(index_dir, live)
    new_report = tmp_path / "kestrel-2025.txt"
    new_report.write_text(
        "Inspection of Kestrelshire local authority children's services\n\nInspection dates: 3 to 7 March 2025\n\n"
        "1. The kestrel outreach team visits families within two days of a referral and stays with them.\n",
        encoding="utf-8")
    process, base = start_server(live)
    errors: list[str] = []
    counts = [0] * CLIENTS
    stop_at = time.monotonic() + SECONDS

    def client(n: int) -> None:
        session = requests.Session()
        while time.monotonic() < stop_at:
            question = QUESTIONS[(n + counts[n]) % len(QUESTIONS)]
            try:
                response = session.post(f"{base}/api/ask", json={"question": question, "top_k": 3}, timeout=30)
                if response.status_code != 200 or "passages" not in response.json():
                    errors.append(f"{response.status_code} {response.text[:200]}")
            except requests.RequestException as exc:
                errors.append(repr(exc))
            counts[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(5)
        added = subprocess.run([sys.executable, "-m", "qa", "add", str(new_report), "--index", str(live)],
                               capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert added.returncode == 0, added.stderr
        removed = subprocess.run([sys.executable, "-m", "qa", "remove", "2017-07-barnet-inadequate-news-article",
                                  "--index", str(live)], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert removed.returncode == 0, removed.stderr
        for thread in threads:
            thread.join(timeout=SECONDS + 60)
        assert not errors, errors[:5]
        assert sum(counts) >= CLIENTS  # every client got answers throughout
        time.sleep(1.5)  # the server checks for a new index version once a second
        reply = requests.post(f"{base}/api/ask", json={"question": "What does the kestrel outreach team do?"},
                              timeout=30).json()
        assert reply["passages"][0]["document"]["id"] == "kestrel-2025"
        documents = {d["id"] for d in requests.get(f"{base}/api/documents", timeout=10).json()["documents"]}
        assert "kestrel-2025" in documents and "2017-07-barnet-inadequate-news-article" not in documents
    finally:
        stop_server(process)
