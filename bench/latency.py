"""Warm `ask` latency on the bundled corpus, in-process and over HTTP, beside baselines measured in the same run.

Baselines: the model encoding the query alone (the floor of any dense retrieval), and exact FAISS search
alone. The reader's own cost (span scoring, judgement look-ups) is timed separately, so its share of a
median ask shows. Run: .venv/bin/python bench/latency.py [--index index_store] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, rss_mb, summary_ms, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index", default="index_store")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the gold questions")
    parser.add_argument("--http", action="store_true", default=True)
    args = parser.parse_args()

    from eval.runner import load_gold
    from qa.pipeline import Pipeline

    questions = [item.question for item in load_gold(Path("eval/gold.jsonl"))]
    pipeline = Pipeline(Path(args.index))
    pipeline.warm_up()
    for question in questions:  # warm every path once
        pipeline.ask(question)

    encode, search, read, ask = [], [], [], []
    for _ in range(args.rounds):
        for question in questions:
            query = pipeline.retriever.embedding_query(question)
            encode += timed(lambda: pipeline.embedder.encode([query]), 1)
            vector = pipeline.embedder.encode([query])[0]
            search += timed(lambda: pipeline.index.search_dense(vector, 100), 1)
            # the reader as Pipeline.ask calls it, on what the pipeline fetched for it up front
            context, _, _ = pipeline.prepare(question)
            read += timed(lambda: pipeline.reader.read(context), 1)
            ask += timed(lambda: pipeline.ask(question), 1)
    print(f"machine: {machine()}")
    print(f"{len(questions)} gold questions x {args.rounds} rounds, warm, in-process")
    print(f"  baseline: encode query alone      {summary_ms(encode)}")
    print(f"  baseline: exact FAISS search      {summary_ms(search)}")
    print(f"  reader (sentences, spans, grades) {summary_ms(read)}")
    print(f"  ask (whole pipeline)              {summary_ms(ask)}")
    print(f"  ask / encode median ratio         {statistics.median(ask) / statistics.median(encode):.2f}x")
    print(f"  reader share of median ask        {statistics.median(read) * 1000:.2f} ms")
    print(f"  process RSS                       {rss_mb():.0f} MB")

    if args.http:

        import requests

        from tests.conftest import start_server, stop_server

        process, base = start_server(Path(args.index))
        try:
            session = requests.Session()
            for question in questions:
                session.post(f"{base}/api/ask", json={"question": question})
            http = []
            for _ in range(args.rounds):
                for question in questions:
                    started = time.perf_counter()
                    response = session.post(f"{base}/api/ask", json={"question": question})
                    http.append(time.perf_counter() - started)
                    assert response.status_code == 200
            health = []
            for _ in range(200):
                health += timed(lambda: session.get(f"{base}/api/health"), 1)
            print("over HTTP (qa serve, waitress, one client, keep-alive)")
            print(f"  baseline: GET /api/health         {summary_ms(health)}")
            print(f"  POST /api/ask                     {summary_ms(http)}")
            print(f"  qa serve RSS after the run        {rss_mb(process.pid):.0f} MB")
        finally:
            stop_server(process)


if __name__ == "__main__":
    main()
