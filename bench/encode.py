"""Encoding throughput: torch (sentence-transformers) against ONNX Runtime fp32 and int8, same texts, same run.

The ONNX models are exported here from the bundled all-MiniLM-L6-v2 (torch.onnx), never downloaded; int8 is
onnxruntime's dynamic quantisation. Agreement with the torch vectors is reported as cosine similarity.
Needs the optional packages onnx and onnxruntime (`pip install onnx onnxruntime`).
Run: .venv/bin/python bench/encode.py [--texts 1024]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine  # noqa: E402


def corpus_texts(n: int) -> list[str]:
    from qa.chunk import split_document
    from qa.ingest import load_corpus

    passages = [p.text for d in load_corpus(Path("corpus")).documents for p in split_document(d)]
    return [passages[i % len(passages)] for i in range(n)]


def export(model, folder: Path) -> Path:
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    transformer = Hidden(model[0].auto_model.eval())
    tokens = model.tokenizer(["an example sentence"], return_tensors="pt")
    path = folder / "minilm.onnx"
    with torch.no_grad():
        torch.onnx.export(transformer, (tokens["input_ids"], tokens["attention_mask"]), str(path),
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"},
                                        "last_hidden_state": {0: "batch", 1: "sequence"}},
                          opset_version=17, dynamo=False)
    return path


def onnx_encoder(path: Path, tokenizer, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(texts: list[str], batch: int = 64) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts])  # like sentence-transformers: similar lengths share a batch
        texts = [texts[i] for i in order]
        out = []
        for i in range(0, len(texts), batch):
            tokens = tokenizer(texts[i:i + batch], padding=True, truncation=True, max_length=256, return_tensors="np")
            hidden = session.run(None, {"input_ids": tokens["input_ids"].astype(np.int64),
                                        "attention_mask": tokens["attention_mask"].astype(np.int64)})[0]
            mask = tokens["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        vectors = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(out)
        return vectors

    return encode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=1024)
    args = parser.parse_args()
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from qa.embed import default_embedder

    texts = corpus_texts(args.texts)
    embedder = default_embedder()
    embedder.warm_up()
    model = embedder._model
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
        fp32 = export(model, Path(folder))
        int8 = Path(folder) / "minilm-int8.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        for name, path in (("onnxruntime fp32", fp32), ("onnxruntime int8", int8)):
            for threads in (1, 2):
                encode = onnx_encoder(path, model.tokenizer, threads)
                encode(texts[:64])
                started = time.perf_counter()
                vectors = encode(texts)
                rate = len(texts) / (time.perf_counter() - started)
                agreement = float(np.min(np.sum(vectors * reference, axis=1)))
                results[f"{name}, {threads} thread(s)"] = (rate, agreement)
    base = results["torch, 2 thread(s)"][0]
    print(f"{'backend':<32}{'passages/s':>12}{'vs torch':>10}{'min cosine to torch':>22}")
    for name, (rate, agreement) in results.items():
        print(f"{name:<32}{rate:>12.1f}{rate / base:>9.2f}x{agreement:>22.4f}")


if __name__ == "__main__":
    main()
