"""Encoding throughput: torch (sentence-transformers) against ONNX Runtime fp32 and int8, same texts, same run.

The ONNX models are exported here from the bundled all-MiniLM-L6-v2 (torch.onnx), never downloaded; int8 is
onnxruntime's dynamic quantisation. Agreement with the torch vectors is reported as cosine similarity.
With --eval, the bundled corpus is indexed again with each ONNX encoder (queries encoded the same way)
and `qa eval` runs over it beside the torch index: the rule is to adopt a faster backend only if
retrieval hit@5 stays within one point of torch's.
Needs the optional packages onnx and onnxruntime (`pip install onnx onnxruntime`).
Run: .venv/bin/python bench/encode.py [--texts 1024] [--eval]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import machine  # noqa: E402


def corpus_texts(n: int) -> list[str]:
    from qa.chunk import split_document
    from qa.ingest import load_corpus

    passages = [p.text for d in load_corpus(ROOT / "corpus").documents for p in split_document(d)]
    return [passages[i % len(passages)] for i in range(n)]


def evaluate_with(encode, label: str, folder: Path) -> dict:
    """`qa eval` figures with every passage, sentence and query encoded by `encode`."""
    from eval.runner import evaluate, load_gold
    from qa.embed import Embedder
    from qa.writer import write_index
    from qa.ingest import load_corpus
    from qa.pipeline import Pipeline

    class Backend(Embedder):
        def encode(self, texts, show_progress=False):
            return encode(list(texts)) if texts else np.zeros((0, self.dimension), dtype=np.float32)

    embedder = Backend()
    write_index(load_corpus(ROOT / "corpus").documents, folder / label, embedder)
    summary, _ = evaluate(load_gold(ROOT / "eval" / "gold.jsonl"), Pipeline(folder / label, embedder))
    return summary


def report_eval(results: dict[str, dict]) -> None:
    print()
    print(f"{'qa eval with':<22}{'hit@1':>8}{'hit@5':>8}{'MRR':>8}{'HasAns EM':>11}{'F1':>7}{'answered':>10}{'abstained':>11}")
    base = results["torch"]["retrieval"]["hybrid"]["hit@5"]
    for name, summary in results.items():
        r, a, ab = summary["retrieval"]["hybrid"], summary["answers"]["HasAns"], summary["abstention"]
        print(f"{name:<22}{r['hit@1']:>8.3f}{r['hit@5']:>8.3f}{r['mrr']:>8.3f}{a['em']:>11.3f}{a['f1']:>7.3f}"
              f"{ab['answerable_answered']:>10.3f}{ab['unanswerable_abstained']:>11.3f}"
              + ("" if name == "torch" else f"   hit@5 {r['hit@5'] - base:+.3f} vs torch"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=1024)
    parser.add_argument("--eval", action="store_true", help="also run qa eval with each backend's vectors")
    args = parser.parse_args()
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.embed import default_embedder, model_path
    from qa.onnx_encoder import OnnxSession, export_onnx

    texts = corpus_texts(args.texts)
    embedder = default_embedder()
    embedder.warm_up()
    print(f"machine: {machine()}")
    print(f"{len(texts)} corpus passages (mean {np.mean([len(t) for t in texts]):.0f} chars), batch 64")
    embedder.encode(texts[:64])
    results = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        started = time.perf_counter()
        reference = embedder.encode(texts)
        results[f"torch, {threads} thread(s)"] = (len(texts) / (time.perf_counter() - started), 1.0)
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as folder:
        fp32 = Path(folder) / "minilm.onnx"
        export_onnx(model_path(), fp32)  # the same export the int8 backend quantises
        int8 = Path(folder) / "minilm-int8.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        for name, path in (("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
            for threads in (1, 2):
                encode = OnnxSession(model_path(), threads, path).encode
                encode(texts[:64])
                started = time.perf_counter()
                vectors = encode(texts)
                rate = len(texts) / (time.perf_counter() - started)
                agreement = float(np.min(np.sum(vectors * reference, axis=1)))
                results[f"{name}, {threads} thread(s)"] = (rate, agreement)
        if args.eval:
            evals = {"torch": evaluate_with(embedder.encode, "torch", Path(folder))}
            for name, path in (("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
                evals[name] = evaluate_with(OnnxSession(model_path(), 2, path).encode, name.replace(" ", "-"), Path(folder))
    base = results["torch, 2 thread(s)"][0]
    print(f"{'backend':<32}{'passages/s':>12}{'vs torch':>10}{'min cosine to torch':>22}")
    for name, (rate, agreement) in results.items():
        print(f"{name:<32}{rate:>12.1f}{rate / base:>9.2f}x{agreement:>22.4f}")
    if args.eval:
        report_eval(evals)


if __name__ == "__main__":
    main()
