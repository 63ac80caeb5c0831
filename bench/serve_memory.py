"""Resident memory of `qa serve` over a synthetic index written by the real build code, against the same server
over the bundled corpus (the baseline: model, libraries, a small index).

The synthetic corpus (reports of 50 paragraphs built from the bundled reports' sentences) goes through
qa/index.py's write_index; only the model is replaced by a stub that returns random unit vectors, since
embedding 100k passages here would take hours. Sentence splitting uses a fast rule instead of pysbd for
the same reason. Memory is read from /proc after warm questions.
Run: .venv/bin/python bench/serve_memory.py [--passages 100000]
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, rss_mb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class RandomEmbedder:
    name, dimension = "all-MiniLM-L6-v2", 384  # the manifest must name the real model for qa serve to load it

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def encode(self, texts, show_progress=False):
        vectors = self.rng.normal(size=(len(texts), self.dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def synthetic_documents(n_passages: int):
    from qa.ingest import build_document
    from qa.index import load_index

    index = load_index(ROOT / "index_store")
    sentences = [p.text[a:b] for p in index.passages for a, b in p.sentences if b - a > 40]
    rng = np.random.default_rng(1)
    documents = []
    for d in range(n_passages // 50):
        year = 2010 + d % 16
        paragraphs = [" ".join(sentences[i] for i in rng.integers(0, len(sentences), size=3)) for _ in range(50)]
        raw = (f"Inspection of Authority{d % 40:02d} local authority children's services\n\n"
               f"Inspection dates: 3 to 7 June {year}\n\n" + "\n\n".join(f"{k + 1}. {t}" for k, t in enumerate(paragraphs)))
        documents.append(build_document(raw, f"synthetic-{d}", None, f"synthetic-{d}.txt", f"f{d}"))
    return documents


def serve_rss(index_dir: Path) -> tuple[float, float]:
    from tests.conftest import start_server, stop_server

    process, base = start_server(index_dir)
    try:
        for question in ("How were care leavers rated in 2019?", "What happens out of hours?",
                         "Who was the lead inspector?", "What needs to improve?") * 5:
            requests.post(f"{base}/api/ask", json={"question": question}, timeout=60)
        started = time.perf_counter()
        requests.post(f"{base}/api/ask", json={"question": "What did inspectors say about supervision?"}, timeout=60)
        return rss_mb(process.pid), time.perf_counter() - started
    finally:
        stop_server(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=100_000)
    args = parser.parse_args()
    import qa.chunk
    from qa.index import write_index

    print(f"machine: {machine()}")
    baseline, _ = serve_rss(ROOT / "index_store")
    print(f"  baseline: qa serve over the bundled corpus (144 passages)   RSS {baseline:7.0f} MB")
    qa.chunk.sentence_spans = lambda text, kind="paragraph": tuple(
        (m.start(), m.end()) for m in re.finditer(r"[^.!?]+[.!?]", text)) or ((0, len(text)),)
    folder = Path(tempfile.mkdtemp(prefix="qa-serve-memory-"))
    try:
        started = time.perf_counter()
        documents = synthetic_documents(args.passages)
        summary = write_index(documents, folder, RandomEmbedder())
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
        print(f"  synthetic index: {summary['passages']:,} passages, {summary['sentences']:,} sentences, "
              f"{size:,.0f} MB on disk, written in {time.perf_counter() - started:.0f} s")
        rss, took = serve_rss(folder)
        per_passage = (rss - baseline) * 1024 / summary["passages"]
        print(f"  qa serve over it                                          RSS {rss:7.0f} MB "
              f"(+{rss - baseline:.0f} MB, {per_passage:.1f} KB a passage); one ask {took * 1000:.0f} ms")
        print(f"  linear estimate at 1M passages: {baseline + per_passage * 1_000_000 / 1024:,.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
