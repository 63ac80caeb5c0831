"""The `qa` command as a user runs it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def qa(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout)


def test_ask_json_cites_the_2024_report_for_care_leavers(index_dir):
    result = qa("ask", "What grade did care leavers' services receive in 2024?", "--json", "--index", str(index_dir))
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    top = reply["passages"][0]
    assert "care leavers" in top["text"].lower()
    assert top["document"]["id"] == "2024-06-barnet-ilacs-inspection-report"
    assert top["document"]["date"] == "2024-06-14" and isinstance(top["paragraph"], int)
    assert reply["answer"]["text"] == "Good"


def test_ask_prints_a_readable_answer_with_citations(index_dir):
    result = qa("ask", "Can families get help in an emergency outside office hours?", "--top-k", "2", "--index", str(index_dir))
    assert result.returncode == 0
    assert "emergency duty service" in result.stdout.lower()
    assert "para 21" in result.stdout


def test_ask_prints_the_sentence_a_span_was_read_from(index_dir):
    result = qa("ask", "Who led the June 2024 inspection team?", "--top-k", "1", "--index", str(index_dir))
    assert result.returncode == 0, result.stderr
    answer = result.stdout.splitlines()[0]
    assert answer.startswith("Answer: Naintara Khosla")
    assert "In: Lead inspector: [Naintara Khosla], His Majesty's Inspector" in result.stdout


def test_ask_says_which_of_the_reports_words_it_searched_for_everyday_ones(index_dir):
    result = qa("ask", "Can teenagers who have nowhere to live get support?", "--top-k", "1", "--index", str(index_dir))
    assert result.returncode == 0, result.stderr
    assert "Also searched, in the reports' words: homeless for 'nowhere to live'" in result.stdout
    assert "homeless" in result.stdout.split("\n")[0]  # the answer line


def test_errors_exit_non_zero_with_a_one_line_reason(tmp_path, index_dir):
    result = qa("ask", "anything", "--index", str(tmp_path / "none"))
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "run `qa build`" in result.stderr
    result = qa("ask", "   ", "--index", str(index_dir))
    assert result.returncode != 0 and "empty" in result.stderr
    result = qa("ask", "x", "--top-k", "50", "--index", str(index_dir))
    assert result.returncode != 0 and "top_k" in result.stderr


def test_help_explains_every_command():
    result = qa("--help")
    for command in ("build", "add", "remove", "ask", "serve", "eval"):
        assert command in result.stdout
    result = qa("ask", "--help")
    assert "--top-k" in result.stdout and "--json" in result.stdout and "--index" in result.stdout
