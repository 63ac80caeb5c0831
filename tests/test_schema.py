"""Schemathesis against the live server: every operation in /api/openapi.json, generated requests checked with
every check it has (status codes and content types the schema declares, response shapes, no 500s, 405s with
Allow, ...). Bounded in examples, so it stops by itself."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server

SCHEMATHESIS = shutil.which("schemathesis") or str(Path(sys.executable).parent / "schemathesis")
CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"  # the one exception it makes, and why


@pytest.fixture(scope="module")
def schema_server(index_dir, tmp_path_factory):
    process, base = start_server(index_dir, {"QA_DATA": str(tmp_path_factory.mktemp("schema-data"))})
    yield base
    stop_server(process)


@pytest.mark.skipif(not Path(SCHEMATHESIS).exists(), reason="needs schemathesis (the dev extra)")
def test_schemathesis_finds_nothing_with_all_checks(schema_server, tmp_path):
    run = subprocess.run(
        [SCHEMATHESIS, "--config-file", str(CONFIG), "run", f"{schema_server}/api/openapi.json",
         "--checks", "all", "--max-examples", "25",
         "--generation-deterministic", "--request-timeout", "60", "--workers", "1", "--no-color"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
