"""Retrieval at scale on a synthetic corpus of 10k, 100k and 1M passages.

The corpus is generated from the bundled reports: each passage joins 2-4 of their sentences, with a varied
authority (40 names) and date (2010-2025). Its vector is NOT encoded by the model (that would take hours
here): it is the mean of its sentences' real embeddings plus small noise, renormalised, so the vectors keep
the structure real ones have. The queries are the gold questions, encoded by the real model.

For each size: exact FAISS search (the baseline), IVF-Flat at several nprobe and IVF with 8-bit and
16-bit scalar-quantised vectors (recall@10 against exact),
HNSW at the smaller sizes, BM25 (bm25s), the whole hybrid retrieval with filters, and resident memory.
Run: .venv/bin/python bench/scale.py [--sizes 10000 100000 1000000]
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, percentile, rss_mb  # noqa: E402

AUTHORITIES = [f"Authority{n:02d}" for n in range(40)]


def sentence_pool():
    from qa.index import load_index

    index = load_index(Path("index_store"))
    texts, vectors = [], np.asarray(index.sentence_vectors, dtype=np.float32)
    for passage in index.passages:
        texts += [passage.text[a:b] for a, b in passage.sentences]
    return texts, vectors, index


def synthetic(n: int, texts: list[str], vectors: np.ndarray, rng: np.random.Generator):
    picks = rng.integers(0, len(texts), size=(n, 4))
    counts = rng.integers(2, 5, size=n)
    mask = (np.arange(4)[None, :] < counts[:, None]).astype(np.float32)
    matrix = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    for j in range(4):
        matrix += vectors[picks[:, j]] * mask[:, j:j + 1]
    matrix += rng.normal(scale=0.02, size=matrix.shape).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    passage_texts = [" ".join(texts[picks[i, j]] for j in range(counts[i])) for i in range(n)]
    return passage_texts, matrix


def latencies(fn, queries) -> list[float]:
    out = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - started)
    return out


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"p50 {statistics.median(ms):8.2f} ms  p95 {percentile(ms, 0.95):8.2f} ms"


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def run_size(n: int, texts, vectors, queries, question_texts, rng) -> None:
    import bm25s
    import faiss

    from qa.retrieve import Retriever
    from qa.text import tokens
    from qa.types import Document, Passage
    from qa.index import Index

    gc.collect()
    base_rss = rss_mb()
    started = time.perf_counter()
    passage_texts, matrix = synthetic(n, texts, vectors, rng)
    print(f"\n== {n:,} passages (generated in {time.perf_counter() - started:.1f} s; vectors {matrix.nbytes / 2**20:.0f} MB)")

    flat = faiss.IndexFlatIP(matrix.shape[1])
    flat.add(matrix)
    truth = flat.search(queries, 10)[1]
    exact = latencies(lambda q: flat.search(q[None, :], 10), queries)
    print(f"  exact FAISS (baseline)       {fmt(exact)}  recall@10 1.000")

    nlist = int(4 * np.sqrt(n))
    started = time.perf_counter()
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    ivf.train(matrix[rng.choice(n, size=min(n, nlist * 64), replace=False)])
    ivf.add(matrix)
    print(f"  IVF-Flat nlist={nlist} built in {time.perf_counter() - started:.1f} s")
    for nprobe in (8, 16, 32, 64):
        ivf.nprobe = nprobe
        found = ivf.search(queries, 10)[1]
        times = latencies(lambda q: ivf.search(q[None, :], 10), queries)
        print(f"    nprobe={nprobe:<3}                 {fmt(times)}  recall@10 {recall(found, truth):.3f}"
              f"  ({statistics.median(exact) / statistics.median(times):.1f}x faster than exact)")
    ivf.nprobe = 64  # as qa/writer.py IVF_NPROBE
    print(f"    vectors held by IVF-Flat: {ivf.ntotal * ivf.code_size / 2**20:,.0f} MB")
    quantised = {}
    for label, kind in (("IVF-SQ8", faiss.ScalarQuantizer.QT_8bit), ("IVF-SQfp16", faiss.ScalarQuantizer.QT_fp16)):
        started = time.perf_counter()
        sq = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(matrix.shape[1]), matrix.shape[1], nlist, kind,
                                           faiss.METRIC_INNER_PRODUCT)
        sq.train(matrix[rng.choice(n, size=min(n, nlist * 64), replace=False)])
        sq.add(matrix)
        print(f"  {label} nlist={nlist} built in {time.perf_counter() - started:.1f} s; "
              f"vectors held: {sq.ntotal * sq.code_size / 2**20:,.0f} MB")
        for nprobe in (32, 64):
            sq.nprobe = nprobe
            found = sq.search(queries, 10)[1]
            times = latencies(lambda q: sq.search(q[None, :], 10), queries)
            print(f"    nprobe={nprobe:<3}                 {fmt(times)}  recall@10 {recall(found, truth):.3f}")
        sq.nprobe = 64
        quantised[label] = sq

    if n <= 100_000:
        started = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(matrix.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(matrix)
        print(f"  HNSW M=32 built in {time.perf_counter() - started:.1f} s")
        for ef in (64, 128):
            hnsw.hnsw.efSearch = ef
            found = hnsw.search(queries, 10)[1]
            times = latencies(lambda q: hnsw.search(q[None, :], 10), queries)
            print(f"    efSearch={ef:<4}               {fmt(times)}  recall@10 {recall(found, truth):.3f}")
        del hnsw

    started = time.perf_counter()
    corpus_tokens = [tokens(t) or ["_"] for t in passage_texts]
    lexical = bm25s.BM25()
    lexical.index(corpus_tokens, show_progress=False)
    print(f"  BM25 (bm25s) indexed in {time.perf_counter() - started:.1f} s")

    years = rng.integers(2010, 2026, size=n // 50 + 1)
    documents = {}
    passages = []
    for i in range(n):  # 50 passages a report, each report with its authority and year
        d = i // 50
        doc_id = f"{AUTHORITIES[d % 40]}-{years[d]}-{d}"
        if doc_id not in documents:
            documents[doc_id] = Document(doc_id, doc_id, "inspection", AUTHORITIES[d % 40], f"{years[d]}-06-30",
                                         f"{years[d]}-06-01", f"{years[d]}-06-30", "synthetic", "")
        passages.append(Passage(f"p{i}", doc_id, passage_texts[i], 0, len(passage_texts[i]), i % 60 + 1, None))
    from qa.writer import EXACT_SEARCH_LIMIT, LARGE_INDEX

    dense = quantised.get(LARGE_INDEX, ivf) if n > EXACT_SEARCH_LIMIT else flat
    del quantised
    index = Index(Path("."), {}, documents, passages, matrix, dense, lexical)

    class Fixed:  # the query vectors are already encoded: retrieval only
        name, dimension = "fixed", matrix.shape[1]

    retriever = Retriever(index, Fixed())
    plain = [retriever.search(q, 10, None, "lexical") for q in question_texts[:3]]  # warm
    lexical_times = latencies(lambda q: retriever.search(q, 10, None, "lexical"), question_texts)
    print(f"  BM25 search                  {fmt(lexical_times)}")
    hybrid_times, filtered_times = [], []
    for text, vector in zip(question_texts, queries):
        started = time.perf_counter()
        retriever.search(text, 10, None, "hybrid", query_vector=vector)
        hybrid_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        retriever.search(text, 10, {"year": 2019}, "hybrid", query_vector=vector)
        filtered_times.append(time.perf_counter() - started)
    print(f"  hybrid retrieval ({type(dense).__name__:<11}) {fmt(hybrid_times)}")
    print(f"  hybrid + year filter         {fmt(filtered_times)}")
    print(f"  resident memory for this size: +{rss_mb() - base_rss:.0f} MB over the process baseline "
          f"(passage objects, vectors, both indexes)")
    del plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    from eval.runner import load_gold
    from qa.embed import default_embedder
    from qa.retrieve import retrieval_query

    print(f"machine: {machine()}")
    texts, vectors, _ = sentence_pool()
    questions = [g.question for g in load_gold(Path("eval/gold.jsonl"))]
    queries = default_embedder().encode([retrieval_query(q) for q in questions])
    print(f"sentence pool {len(texts)}; {len(questions)} gold questions as queries; process RSS {rss_mb():.0f} MB")
    rng = np.random.default_rng(0)
    for n in args.sizes:
        run_size(n, texts, vectors, queries, questions, rng)
        gc.collect()


if __name__ == "__main__":
    main()
