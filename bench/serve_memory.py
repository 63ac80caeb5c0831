"""Resident memory of `qa serve` over a synthetic index written by the real build code, against the same server
over the bundled corpus (the baseline: model, libraries, a small index).

The synthetic corpus (reports of 50 paragraphs built from the bundled reports' sentences) goes through
qa/writer.py's write_index; only the model is replaced by a stub that returns random unit vectors, since
embedding 100k passages here would take hours. Sentence splitting uses a fast rule instead of pysbd for
the same reason. Memory is read from /proc after the 144 gold questions have been asked, split into
private memory (anon: the heap, what each extra server process costs) and mapped index files (file:
shared by every process that maps them, and given back by the kernel under pressure).
Run: .venv/bin/python bench/serve_memory.py [--passages 100000]   (1000000 takes about 15 minutes)
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, memory_mb  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


TOKENS = 8  # token vectors per synthetic sentence


class RandomEmbedder:
    name, dimension = "all-MiniLM-L6-v2", 384  # the manifest must name the real model for qa serve to load it

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def encode(self, texts, show_progress=False):
        vectors = self.rng.normal(size=(len(texts), self.dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def encode_tokens(self, texts):
        """Sentence vectors and, per text, TOKENS random token vectors with random wordpiece ids (the real
        model gives about 30 a sentence; fewer keep the synthetic build short, and serving reads only the
        ten passages a question reads)."""
        vectors = self.encode(texts)
        tokens = []
        for _ in texts:
            unit = self.rng.normal(size=(TOKENS, self.dimension)).astype(np.float32)
            tokens.append((self.rng.integers(1000, 30000, size=TOKENS).astype(np.int32),
                           unit / np.linalg.norm(unit, axis=1, keepdims=True)))
        return vectors, tokens

    def vocabulary_size(self) -> int:
        return 30522


class SyntheticCorpus(Sequence):
    """Reports of 50 paragraphs built from the bundled reports' sentences, each made when asked for (from
    its own seed), so the build's peak memory is the build's and not that of a list of every document."""

    def __init__(self, n_passages: int) -> None:
        from qa.index import load_index

        index = load_index(ROOT / "index_store")
        self.sentences = [p.text[a:b] for p in index.passages for a, b in p.sentences if b - a > 40]
        self.count = n_passages // 50

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, d):  # type: ignore[override]
        from qa.ingest import build_document

        if isinstance(d, slice):
            return [self[i] for i in range(*d.indices(self.count))]
        if not 0 <= d < self.count:
            raise IndexError(d)
        rng = np.random.default_rng(d)
        year = 2010 + d % 16
        paragraphs = [" ".join(self.sentences[i] for i in rng.integers(0, len(self.sentences), size=3)) for _ in range(50)]
        raw = (f"Inspection of Authority{d % 40:02d} local authority children's services\n\n"
               f"Inspection dates: 3 to 7 June {year}\n\n" + "\n\n".join(f"{k + 1}. {t}" for k, t in enumerate(paragraphs)))
        return build_document(raw, f"synthetic-{d}", None, f"synthetic-{d}.txt", f"f{d}")


def serve_memory(index_dir: Path) -> tuple[dict[str, float], float, float]:
    """Memory of qa serve after every gold question, its start-up time and its median ask."""
    import json
    import statistics

    from tests.conftest import start_server, stop_server

    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").open() if line.strip()]
    started = time.perf_counter()
    process, base = start_server(index_dir)
    ready = time.perf_counter() - started
    try:
        took = []
        for question in questions:
            started = time.perf_counter()
            requests.post(f"{base}/api/ask", json={"question": question}, timeout=60).raise_for_status()
            took.append(time.perf_counter() - started)
        return memory_mb(process.pid), ready, statistics.median(took)
    finally:
        stop_server(process)


def pss_mb(pid: int) -> float:
    """Proportional set size: private memory plus this process's share of pages mapped by several."""
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def replicas(index_dir: Path, count: int) -> None:
    """N servers over one index folder at once; then a new index version is written beside the old one and
    each server must pick it up by itself (it checks at most once a second, on its next request)."""
    import json

    from qa.index import load_index
    from qa.writer import write_index
    from tests.conftest import start_server, stop_server

    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "gold.jsonl").open() if line.strip()]
    servers = [start_server(index_dir) for _ in range(count)]
    try:
        for _, base in servers:
            for question in questions:
                requests.post(f"{base}/api/ask", json={"question": question}, timeout=60).raise_for_status()
        for n, (process, _) in enumerate(servers, start=1):
            memory = memory_mb(process.pid)
            print(line(f"  replica {n} of {count}", memory) + f"  PSS {pss_mb(process.pid):7,.0f} MB")
        before = {requests.get(f"{base}/api/health", timeout=30).json()["index_version"] for _, base in servers}
        index = load_index(index_dir)
        started = time.perf_counter()
        write_index(index.full_documents(), index_dir, RandomEmbedder())  # a new version; every vector cached
        written = time.perf_counter() - started
        deadline, seen = time.monotonic() + 60, set()
        while time.monotonic() < deadline:
            time.sleep(1.1)
            seen = {requests.get(f"{base}/api/health", timeout=60).json()["index_version"] for _, base in servers}
            if len(seen) == 1 and not seen & before:
                break
        print(f"  new index version written in {written:.0f} s; every replica serving it: "
              f"{len(seen) == 1 and not seen & before} ({sorted(seen)})")
    finally:
        for process, _ in servers:
            stop_server(process)


def line(label: str, memory: dict[str, float]) -> str:
    return (f"{label:<58} RSS {memory['rss']:7,.0f} MB  (anon {memory['anon']:6,.0f}, "
            f"mapped files {memory['file']:6,.0f})  peak {memory['peak']:7,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--keep", metavar="DIR", help="write the synthetic index here and keep it (default: a temporary folder)")
    parser.add_argument("--reuse", metavar="DIR", help="measure qa serve over a synthetic index kept by an earlier --keep")
    parser.add_argument("--replicas", type=int, default=0, metavar="N",
                        help="also run N qa serve processes over the same index at once: each one's private and "
                             "proportional memory, and whether each picks up a new index version by itself")
    args = parser.parse_args()
    import qa.chunk
    from qa.writer import write_index

    print(f"machine: {machine()}")
    baseline, ready, took = serve_memory(ROOT / "index_store")
    print(line("  baseline: qa serve over the bundled corpus (144 passages)", baseline))
    qa.chunk.sentence_spans = lambda text, kind="paragraph": tuple(
        (m.start(), m.end()) for m in re.finditer(r"[^.!?]+[.!?]", text)) or ((0, len(text)),)
    folder = Path(args.reuse or args.keep or tempfile.mkdtemp(prefix="qa-serve-memory-"))
    try:
        if args.reuse:
            from qa.index import read_manifest

            summary = read_manifest(folder)
            print(f"  synthetic index: {summary['passages']:,} passages, {summary['sentences']:,} sentences (reused)")
        else:
            started = time.perf_counter()
            documents = SyntheticCorpus(args.passages)
            summary = write_index(documents, folder, RandomEmbedder())
            size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
            print(f"  synthetic index: {summary['passages']:,} passages, {summary['sentences']:,} sentences, "
                  f"{size:,.0f} MB on disk, written in {time.perf_counter() - started:.0f} s "
                  f"(peak RSS of the writing process {memory_mb()['peak']:,.0f} MB)")
        memory, ready, took = serve_memory(folder)
        print(line("  qa serve over it, after the 144 gold questions", memory))
        n = summary["passages"]
        for kind in ("rss", "anon"):
            extra = memory[kind] - baseline[kind]
            print(f"    {kind:<4} over the baseline: {extra:+8,.0f} MB, {extra * 1024 / n:6.2f} KB a passage; "
                  f"linear estimate at 1M passages {baseline[kind] + extra * 1_000_000 / n:8,.0f} MB")
        print(f"  ready {ready:.1f} s after start; median ask {took * 1000:.0f} ms")
        if args.replicas:
            replicas(folder, args.replicas)
    finally:
        if not (args.keep or args.reuse):
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
