"""What the service keeps about its use: staff feedback on answers and a log of the questions asked.

One SQLite file (standard library) under the data folder, `QA_DATA` (default `var/` in the project), in WAL
mode so the server's threads read while one writes; each write is one transaction, committed before the
request is acknowledged, so a process killed at any moment leaves every acknowledged row in place and the
file whole. The schema is versioned (`PRAGMA user_version`) and migrated forward on open.

What is stored: the question as typed, what came back (answered or not, its confidence and type, the top
passage, the time taken, the index version) and, for feedback, the verdict and the sentence picked. No IP
address, no user name, no cookie. Questions may still name children: the log keeps `QA_LOG_DAYS` days
(default 90) and `QA_LOG=off` turns it off; feedback is kept until exported and deleted by a person.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "var"
FILE_NAME = "qa.sqlite3"
VERDICTS = ("right", "wrong", "not_in_reports")
PRUNE_EVERY = 500  # log writes between prunes of rows older than QA_LOG_DAYS

# each entry moves the schema one version on; never edit a released one, add the next
MIGRATIONS = (
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        created_at REAL NOT NULL,
        question TEXT NOT NULL,
        answer_text TEXT,
        answer_passage_id TEXT,
        answer_start INTEGER,
        answer_end INTEGER,
        verdict TEXT NOT NULL CHECK (verdict IN ('right', 'wrong', 'not_in_reports')),
        passage_id TEXT,
        start INTEGER,
        "end" INTEGER,
        picked_text TEXT,
        evidence TEXT,
        document_id TEXT,
        year INTEGER,
        note TEXT,
        index_version TEXT
    );
    CREATE INDEX feedback_created ON feedback (created_at);
    CREATE TABLE questions (
        id INTEGER PRIMARY KEY,
        asked_at REAL NOT NULL,
        question TEXT NOT NULL,
        answered INTEGER NOT NULL,
        confidence REAL,
        answer_type TEXT,
        answer_text TEXT,
        top_passage TEXT,
        took_ms REAL,
        index_version TEXT
    );
    CREATE INDEX questions_asked ON questions (asked_at);
    """,
)


def data_folder() -> Path:
    return Path(os.environ.get("QA_DATA") or DEFAULT_DATA)


def log_enabled() -> bool:
    return os.environ.get("QA_LOG", "on").strip().lower() not in ("off", "0", "false", "no")


def log_days() -> float:
    try:
        return max(0.0, float(os.environ.get("QA_LOG_DAYS", "90")))
    except ValueError:
        return 90.0


@dataclass(frozen=True)
class Feedback:
    """One verdict on an answer, with the sentence or span picked as the right one (offsets into the passage)."""

    question: str
    verdict: str
    answer_text: str | None = None
    answer_passage_id: str | None = None
    answer_start: int | None = None
    answer_end: int | None = None
    passage_id: str | None = None
    start: int | None = None
    end: int | None = None
    picked_text: str | None = None
    evidence: str | None = None  # verbatim from the passage: the picked text, or the sentence of an answer marked right
    document_id: str | None = None
    year: int | None = None
    note: str | None = None
    index_version: str | None = None


class Store:
    """The SQLite file; safe from several threads (one connection each) and several processes."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder or data_folder())
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / FILE_NAME
        self._local = threading.local()
        self._writes = 0
        self._lock = threading.Lock()
        self.migrate()

    def connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses no commit
            connection.execute("PRAGMA busy_timeout=30000")
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
        return connection

    def migrate(self) -> int:
        """Bring the schema to the latest version; returns it."""
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in (s for s in script.split(";") if s.strip()):
                    connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number}")
                log.info("store %s migrated to schema %d", self.path, number)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return len(MIGRATIONS)

    def schema_version(self) -> int:
        return self.connection().execute("PRAGMA user_version").fetchone()[0]

    def add_feedback(self, feedback: Feedback) -> int:
        """Store one verdict; returns its id once it is committed."""
        row = feedback.__dict__
        columns = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        cursor = self.connection().execute(
            f"INSERT INTO feedback (created_at, {columns}) VALUES (?, {marks})", (time.time(), *row.values()))
        return int(cursor.lastrowid)

    def feedback(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.connection().execute("SELECT * FROM feedback ORDER BY id")]

    def log_question(self, reply: dict[str, Any], index_version: str | None) -> int | None:
        """One asked question and what came back; nothing when QA_LOG=off."""
        if not log_enabled():
            return None
        answer = reply.get("answer") or {}
        passages = reply.get("passages") or []
        cursor = self.connection().execute(
            "INSERT INTO questions (asked_at, question, answered, confidence, answer_type, answer_text, top_passage, "
            "took_ms, index_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (time.time(), reply.get("question", ""), int(bool(reply.get("answer"))),
             answer.get("confidence", (reply.get("candidate") or {}).get("confidence")), answer.get("type"),
             answer.get("text"), passages[0]["id"] if passages else None, reply.get("took_ms"), index_version))
        with self._lock:
            self._writes += 1
            due = self._writes % PRUNE_EVERY == 1
        if due:
            self.prune()
        return int(cursor.lastrowid)

    def prune(self, days: float | None = None, now: float | None = None) -> int:
        """Delete logged questions older than `days` (QA_LOG_DAYS); returns how many went."""
        days = log_days() if days is None else days
        cutoff = (now or time.time()) - days * 86400
        return self.connection().execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount

    def questions(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.connection().execute("SELECT * FROM questions ORDER BY id")]

    def integrity(self) -> str:
        return self.connection().execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def export_gold(rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Feedback as gold Q&A pairs (../shared/CONTRACT.md): a picked sentence or span is the answer, 'not in
    these reports' an unanswerable question, a 'right' answer as given; a 'wrong' with nothing picked says
    what the answer is not, which the gold format cannot hold, so it is left out. The latest verdict on a
    question wins."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[" ".join(row["question"].split()).lower()] = row
    for row in latest.values():
        item = {"id": f"feedback-{row['id']}", "question": row["question"], "kind": "feedback"}
        if row["verdict"] == "not_in_reports":
            yield item | {"answers": [], "evidence": "", "year": None}
        elif row["picked_text"]:
            yield item | {"answers": [row["picked_text"]], "evidence": row["evidence"] or row["picked_text"],
                          "year": row["year"]}
        elif row["verdict"] == "right" and row["answer_text"]:
            yield item | {"answers": [row["answer_text"]], "evidence": row["evidence"] or row["answer_text"],
                          "year": row["year"]}


def write_gold(rows: list[dict[str, Any]], handle) -> int:
    count = 0
    for item in export_gold(rows):
        handle.write(json.dumps(item, ensure_ascii=False) + "\n")
        count += 1
    return count
