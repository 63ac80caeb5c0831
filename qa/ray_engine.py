"""`qa build --engine ray`: reading, cleaning, chunking and embedding as Ray Data pipelines, writing the same index.

- Reading, cleaning and chunking: `map_batches` over the corpus files; each worker turns files into
  Documents and their passages with the same code as the local build (qa.ingest.load_file,
  qa.chunk.split_document), a broken file reported and skipped. The result stays in Ray's object store;
  the driver takes the documents and streams each one's passages, in order, into the index writer.
- Embedding: `map_batches` over the texts to embed with an actor pool of encoders (one model per worker,
  `--workers` of them, `--batch-size` texts a call), order preserved, so every vector lands on its row.
- The index itself is written by the local code (qa.writer.write_index) with an embedder that sends its
  work to the pool: the same passages, ids, offsets and citations, the same embedding cache by content hash
  (a changed corpus re-embeds only what changed), the same files.

Without RAY_ADDRESS a local Ray starts on this machine with `--workers` CPUs and stops afterwards; with it,
the build runs on that cluster (whose workers need this package installed: `pip install inspection-qa[ray]`).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from qa.embed import Embedder, TokenVectors, wordpiece_vocabulary
from qa.ingest import SUPPORTED, LoadResult, collect, corpus_files, load_manifest

log = logging.getLogger(__name__)


class _Encoder:
    """One model per Ray worker: texts in, vectors (and token vectors) out."""

    def __init__(self, backend: str, batch_size: int, tokens: bool, answer: bool = False) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if answer:  # the reader's answer encoder, merged on the worker from the adapters this package ships
            from qa.reader.encoder import answer_encoder

            found = answer_encoder(backend)
            if found is None:
                raise RuntimeError("this worker's inspection-qa has no answer-encoder adapters")
            self.embedder = found
        else:
            self.embedder = Embedder(batch_size=batch_size, backend=backend)
        self.embedder.warm_up()
        self.tokens = tokens

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = [str(t) for t in batch["text"]]
        if not self.tokens:
            return {"vector": self.embedder.encode(texts)}
        vectors, token_lists = self.embedder.encode_tokens(texts)
        return {"vector": vectors,
                "ids": np.array([ids.astype(np.int32).tobytes() for ids, _ in token_lists], dtype=object),
                "tokens": np.array([v.astype(np.float32).tobytes() for _, v in token_lists], dtype=object)}


class RayEmbedder(Embedder):
    """An Embedder whose encoding runs on a Ray actor pool; same model, same name, same vectors."""

    # texts handed over per call by the index writer: each call is one Ray Data run whose actors load the model
    # (seconds each), so far more than the local engine's 8,192; the results of one call are held at once
    encode_chunk = 100_000

    def __init__(self, workers: int = 2, batch_size: int = 64, backend: str = "torch", answer: bool = False) -> None:
        super().__init__(batch_size=batch_size, backend=backend)
        self.workers, self.answer = workers, answer

    def answer_encoder(self) -> "RayEmbedder | None":
        """The answer encoder, on the same pool size: each worker merges the shipped adapters itself."""
        from qa.reader.encoder import current_fingerprint

        return RayEmbedder(self.workers, self.batch_size, self.backend, answer=True) if current_fingerprint() else None

    def warm_up(self) -> None:  # the workers load the model; the driver never does
        return

    def vocabulary_size(self) -> int:
        return len(wordpiece_vocabulary())

    def _run(self, texts: list[str], tokens: bool) -> list[dict[str, Any]]:
        import ray

        dataset = ray.data.from_items([{"text": t} for t in texts], override_num_blocks=max(1, min(
            len(texts) // self.batch_size + 1, 4 * self.workers)))
        encoded = dataset.map_batches(
            _Encoder, fn_constructor_kwargs={"backend": self.backend, "batch_size": self.batch_size, "tokens": tokens,
                                   "answer": self.answer},
            batch_size=self.batch_size, compute=ray.data.ActorPoolStrategy(size=self.workers), batch_format="numpy",
            num_cpus=1)
        return encoded.take_all()

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        rows = self._run(texts, tokens=False)
        return np.ascontiguousarray(np.stack([row["vector"] for row in rows]), dtype=np.float32)

    def encode_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[TokenVectors]]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        rows = self._run(texts, tokens=True)
        vectors = np.ascontiguousarray(np.stack([row["vector"] for row in rows]), dtype=np.float32)
        tokens = [(np.frombuffer(row["ids"], dtype=np.int32),
                   np.frombuffer(row["tokens"], dtype=np.float32).reshape(-1, self.dimension)) for row in rows]
        return vectors, tokens


def _load_batch(batch: dict[str, np.ndarray], manifest: dict[str, dict]) -> dict[str, Any]:
    """Files -> Documents and their passages as JSON (or the reason a file was skipped), on a Ray worker."""
    from qa.chunk import split_document
    from qa.ingest import IngestError, load_file
    from qa.index import _document_to_json

    documents, passages, keys, errors = [], [], [], []
    for name in batch["path"]:
        path = Path(str(name))
        try:
            document = load_file(path, manifest.get(path.name))
            documents.append(json.dumps(_document_to_json(document)))
            passages.append(json.dumps([p.to_dict() for p in split_document(document)]))
            keys.append(f"{document.id}\x00{document.fingerprint}")
            errors.append("")
        except (IngestError, OSError) as exc:
            documents.append("")
            passages.append("")
            keys.append("")
            errors.append(str(exc))
    return {"path": batch["path"], "document": np.array(documents, dtype=object),
            "passages": np.array(passages, dtype=object), "key": np.array(keys, dtype=object),
            "error": np.array(errors, dtype=object)}


def _passages_in_order(dataset, documents: list) -> Iterator[list]:
    """Each kept document's passages from the loaded dataset, in the documents' order, a block at a time
    (a second copy of a file, skipped by qa.ingest.collect, is skipped here too)."""
    from qa.types import Passage

    pending = iter(documents)
    current = next(pending, None)
    for row in dataset.select_columns(["key", "passages"]).iter_rows():
        if current is not None and row["key"] == f"{current.id}\x00{current.fingerprint}":
            yield [Passage.from_dict(p) for p in json.loads(row["passages"])]
            current = next(pending, None)
    if current is not None:
        raise RuntimeError(f"the Ray dataset has no passages for document {current.id}")


def load_corpus_ray(corpus_dir: Path) -> LoadResult:
    """qa.ingest.load_corpus on Ray: the same documents, the same skipped files, in the same order."""
    import ray

    from qa.index import _document_from_json

    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"no corpus folder at {corpus_dir}")
    files = [p for p in corpus_files(corpus_dir) if p.suffix.lower() in SUPPORTED]
    manifest = load_manifest(corpus_dir)
    if not files:
        return LoadResult()
    loaded = ray.data.from_items([{"path": str(p)} for p in files]).map_batches(
        _load_batch, fn_kwargs={"manifest": manifest}, batch_size=8, batch_format="numpy").materialize()
    rows = loaded.select_columns(["path", "document", "error"]).take_all()
    result = collect((Path(str(row["path"])), str(row["error"]) if row["error"]
                      else _document_from_json(json.loads(row["document"]))) for row in rows)
    kept = result.documents
    result.passages = lambda: _passages_in_order(loaded, kept)
    return result


def build_with_ray(corpus_dir: Path, index_dir: Path, workers: int = 2, batch_size: int = 64, force: bool = False,
                   progress: bool = False) -> dict:
    """`qa build` with Ray doing the reading, cleaning and embedding (see the module's description)."""
    import ray

    from qa.builder import build

    started_here = not ray.is_initialized()
    if started_here:
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address or None, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}})
    try:
        ray.data.DataContext.get_current().execution_options.preserve_order = True
        ray.data.DataContext.get_current().enable_progress_bars = progress
        if not progress:  # Ray Data's own lines about each dataset only when progress is wanted
            for name in [n for n in logging.root.manager.loggerDict if n == "ray" or n.startswith("ray.")]:
                logging.getLogger(name).setLevel(logging.WARNING)
        summary = build(corpus_dir, index_dir, embedder=RayEmbedder(workers, batch_size), force=force,
                        progress=progress, loader=load_corpus_ray)
        return summary | {"engine": "ray", "workers": workers}
    finally:
        if started_here:
            ray.shutdown()


__all__ = ["RayEmbedder", "build_with_ray", "load_corpus_ray"]
