"""The answer encoder: the question read for the sentence that *answers* it, not for one about the same thing.

The bundled all-MiniLM-L6-v2 with low-rank adapters (LoRA, rank `RANK`) on every linear layer of its
transformer, fine-tuned by `qa calibrate` (qa/reader/encoder_fit.py) as a bi-encoder: a question's vector
lies nearest the vectors of the sentences that answer it, both encoded by the adapted model, and below a
learnt 'no answer' bar when nothing does. The index holds every sentence as it reads it
(`answer_vectors.npy`, re-encoded by `qa build` when the adapters change); the pipeline encodes the question
with it. Their cosine is one more feature of the reader's ranker and confidence (`answer_dense`), never
the answer by itself.

The adapters ship as `answer_adapters.npz` (fp16, about 0.6 MB) beside `model.json`. At load they are
merged into a copy of the bundled model's weights (W + up @ down * SCALE, in numpy) written once per
machine to the model cache, so inference costs what the base model costs and either backend (torch, or
the ONNX int8 export) runs it unchanged. Nothing is downloaded.

Measured (docs/reader.md): out of fold, the answering sentence comes first by the tuned cosine alone for
0.80 of the training questions with calibrate's folds (0.68 with folds by answering passage), against 0.48
for the base model's cosine; fitting takes about 2-3 minutes a fold on 2 cores.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.embed import Embedder, model_path
from qa.onnx_encoder import cache_dir

log = logging.getLogger(__name__)

ADAPTERS_FILE = Path(__file__).resolve().parent / "answer_adapters.npz"
RANK = 8
SCALE = 2.0  # LoRA's alpha / r, alpha = 2 r
LAYERS = 6
TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
           "intermediate.dense", "output.dense")


def module_names() -> list[str]:
    return [f"encoder.layer.{layer}.{target}" for layer in range(LAYERS) for target in TARGETS]


def deltas(adapters: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each adapted layer's weight change, up @ down * SCALE, in float32."""
    return {name: (adapters[f"{name}.up"].astype(np.float32) @ adapters[f"{name}.down"].astype(np.float32)) * SCALE
            for name in module_names() if f"{name}.up" in adapters}


def save_adapters(adapters: dict[str, np.ndarray], path: Path = ADAPTERS_FILE) -> None:
    staging = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(staging, **adapters)
    os.replace(staging, path)


def load_adapters(path: Path = ADAPTERS_FILE) -> dict[str, np.ndarray] | None:
    if not path.exists():
        return None
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def fingerprint(adapters: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(adapters):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(adapters[name]).tobytes())
    return digest.hexdigest()[:16]


def merged_model(adapters: dict[str, np.ndarray]) -> Path:
    """A model folder holding the bundled model with the adapters merged into its weights, written once per
    machine (and per adapters) to the model cache under a lock; the tokenizer and pooling files are copied."""
    from safetensors.numpy import load_file, save_file

    base = Path(model_path())
    target = cache_dir() / f"answer-encoder-{fingerprint(adapters)}"
    if (target / "model.safetensors").exists():
        return target
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".answer-encoder.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "model.safetensors").exists():  # another process wrote it while we waited
            return target
        log.info("merging the answer encoder's adapters into a copy of the bundled model in %s", target)
        staging = target.with_name(f".{target.name}-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(base, staging, ignore=shutil.ignore_patterns("model.safetensors", "*.onnx", "onnx", "openvino",
                                                                     "pytorch_model.bin", "*.h5", "*.msgpack"))
        weights = load_file(str(base / "model.safetensors"))
        for name, delta in deltas(adapters).items():
            weights[f"{name}.weight"] = (weights[f"{name}.weight"].astype(np.float32) + delta).astype(
                weights[f"{name}.weight"].dtype)
        save_file(weights, str(staging / "model.safetensors"), metadata={"format": "pt"})
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    return target


@lru_cache(maxsize=None)
def current_fingerprint(path: Path = ADAPTERS_FILE) -> str | None:
    """The fingerprint of the adapters the reader ships (None when none are fitted): an index records the
    one its answer vectors were encoded with."""
    adapters = load_adapters(path)
    return fingerprint(adapters) if adapters else None


@lru_cache(maxsize=None)
def answer_encoder(backend: str, path: Path = ADAPTERS_FILE) -> Embedder | None:
    """The answer encoder for an index built with `backend`, or None when no adapters were fitted."""
    adapters = load_adapters(path)
    if not adapters:
        return None
    return Embedder(backend=backend, path=str(merged_model(adapters)), label="answer encoder")
