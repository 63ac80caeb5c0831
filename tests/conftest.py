"""Shared fixtures: the real corpus, an index built from it with the real bundled model, a live server."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# feedback and the question log go to a folder of this test run, never the project's var/
os.environ["QA_DATA"] = tempfile.mkdtemp(prefix="qa-data-")

# CI runs the property tests on a fixed sequence of examples, so a landing never hangs on a lucky draw;
# locally they explore new examples each run.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
COUNCILS = ROOT / "tests" / "fixtures" / "councils"  # ten reports of seven fictional councils, and key.json


def corpus_file(prefix: str) -> Path:
    """A bundled report by the start of its name, e.g. '2024-06'."""
    return next(p for p in CORPUS.iterdir() if p.name.startswith(prefix) and p.suffix == ".txt")


@pytest.fixture(scope="session")
def embedder():
    from qa.embed import default_embedder

    model = default_embedder()
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, embedder) -> Path:
    """The bundled corpus, built once per test session with the real model."""
    from qa.builder import build

    folder = tmp_path_factory.mktemp("index")
    build(CORPUS, folder, embedder=embedder)
    return folder


@pytest.fixture(scope="session")
def pipeline(index_dir, embedder):
    from qa.pipeline import Pipeline

    return Pipeline(index_dir, embedder)


@pytest.fixture(scope="session")
def documents():
    from qa.ingest import load_corpus

    return {d.id: d for d in load_corpus(CORPUS).documents}


@pytest.fixture(scope="session")
def councils_index(tmp_path_factory, embedder) -> Path:
    """The bundled Barnet reports and the fixture councils' reports in one index (no manifest for the
    fixtures: their councils, kinds and dates are read from their text)."""
    from qa.builder import build

    corpus = tmp_path_factory.mktemp("councils-corpus")
    for path in [*CORPUS.iterdir(), *COUNCILS.glob("report-*.txt")]:
        shutil.copy(path, corpus / path.name)
    folder = tmp_path_factory.mktemp("councils-index")
    build(corpus, folder, embedder=embedder)
    return folder


@pytest.fixture(scope="session")
def councils(councils_index, embedder):
    from qa.pipeline import Pipeline

    return Pipeline(councils_index, embedder)


@pytest.fixture(scope="session")
def councils_key() -> dict:
    """What the fixture reports say, written with them: each council's forms of name and each report's grades."""
    import json

    return json.loads((COUNCILS / "key.json").read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(index_dir: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`qa serve` as a real process on 127.0.0.1; returns once /api/health answers."""
    port = free_port()
    env = os.environ | {"PYTHONUNBUFFERED": "1"} | (extra_env or {})
    # the server logs a line per request: to a file, since an unread pipe would fill and stall it
    log = tempfile.NamedTemporaryFile("w+", prefix=f"qa-serve-{port}-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--index", str(index_dir), "--port", str(port), "--threads", "8"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log_path = log.name
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qa serve exited: {Path(log.name).read_text()}")
        try:
            if requests.get(f"{base}/api/health", timeout=2).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("qa serve did not come up within 120 s")


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def server(index_dir):
    """A live `qa serve` over the session index."""
    process, base = start_server(index_dir)
    yield base
    stop_server(process)


def pipeline_with_report(tmp_path_factory, index_dir: Path, embedder, name: str, text: str):
    """A copy of the session index with one more report (`name`, a file name) added by `qa add`'s code."""
    from qa.builder import add
    from qa.pipeline import Pipeline

    folder = tmp_path_factory.mktemp(Path(name).stem)
    live = folder / "index"
    shutil.copytree(index_dir, live)
    report = folder / name
    report.write_text(text, encoding="utf-8")
    add([report], live, embedder=embedder)
    return Pipeline(live, embedder)


@pytest.fixture()
def copy_corpus(tmp_path) -> Path:
    """The five reports copied without their manifest."""
    target = tmp_path / "corpus"
    target.mkdir()
    for path in CORPUS.glob("*.txt"):
        shutil.copy(path, target / path.name)
    return target
