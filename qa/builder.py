"""Whole-index operations behind `qa build`, `qa add` and `qa remove`, each under the build lock."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from qa.embed import Embedder, default_embedder
from qa.index import FORMAT_VERSION, build_lock, corpus_fingerprint, index_embedder, load_index, read_manifest
from qa.ingest import LoadResult, load_corpus, load_paths
from qa.reader.encoder import current_fingerprint
from qa.writer import write_index

log = logging.getLogger(__name__)


def build(corpus_dir: Path, index_dir: Path, embedder: Embedder | None = None, force: bool = False,
          progress: bool = False, loader: Callable[[Path], LoadResult] = load_corpus) -> dict:
    """Index every report in the corpus folder; leaves an up-to-date index alone unless forced. `loader`
    reads the corpus (qa.ray_engine.load_corpus_ray reads it on Ray)."""
    embedder = embedder or default_embedder()
    with build_lock(index_dir):
        loaded = loader(corpus_dir)
        if not loaded.documents:
            raise ValueError(f"no readable reports in {corpus_dir}")
        skipped = [(str(p), reason) for p, reason in loaded.errors]
        manifest = read_manifest(index_dir)
        prepare_answer_encoder(embedder.backend)
        if (not force and manifest and manifest.get("corpus_fingerprint") == corpus_fingerprint(loaded.documents)
                and manifest.get("model") == embedder.name and manifest.get("format_version") == FORMAT_VERSION
                and manifest.get("answer_encoder") == current_fingerprint()):
            folder = index_dir / (index_dir / "CURRENT").read_text().strip()
            return {"up_to_date": True, "version": folder.name, "documents": manifest["documents"],
                    "passages": manifest["passages"], "skipped": skipped}
        summary = write_index(loaded.documents, index_dir, embedder, progress=progress,
                              chunked=loaded.passages() if loaded.passages else None)
        return summary | {"skipped": skipped}


def prepare_answer_encoder(backend: str) -> None:
    """Merge (and for ONNX, export) the reader's answer encoder now, at build time, so that a server over an
    int8 index never needs torch to export it on its first question."""
    from qa.reader.encoder import answer_encoder

    encoder = answer_encoder(backend)
    if encoder is not None:
        encoder.warm_up()


def add(paths: list[Path], index_dir: Path, embedder: Embedder | None = None) -> dict:
    """Add or replace documents in the live index; only their new passages are embedded."""
    embedder = embedder or index_embedder(index_dir)
    with build_lock(index_dir):
        index = load_index(index_dir, embedder.name)
        loaded = load_paths(paths)
        documents = {d.id: d for d in index.full_documents()}
        known = {d.fingerprint: d.id for d in documents.values()}
        skipped = [(str(p), reason) for p, reason in loaded.errors]
        added = []
        for document in loaded.documents:
            if document.fingerprint in known and known[document.fingerprint] != document.id:
                skipped.append((document.source, f"duplicate of indexed document {known[document.fingerprint]}"))
                continue
            documents[document.id] = document
            added.append(document.id)
        if not added:
            return {"added": [], "skipped": skipped, "version": index.version,
                    "documents": len(documents), "passages": len(index.passages), "embedded": 0}
        summary = write_index(list(documents.values()), index_dir, embedder)
        return summary | {"added": added, "skipped": skipped}


def remove(document_ids: list[str], index_dir: Path, embedder: Embedder | None = None) -> dict:
    """Take documents out of the live index."""
    embedder = embedder or index_embedder(index_dir)
    with build_lock(index_dir):
        index = load_index(index_dir, embedder.name)
        unknown = [d for d in document_ids if d not in index.documents]
        if unknown:
            raise ValueError(f"no such document(s): {', '.join(unknown)}; see `GET /api/documents` for ids")
        documents = [d for d in index.full_documents() if d.id not in set(document_ids)]
        summary = write_index(documents, index_dir, embedder)
        return summary | {"removed": list(document_ids)}


def ensure_index(index_dir: Path, corpus_dir: Path) -> None:
    """Build the index when there is none, or when it was written by an older version of this program."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        log.warning("no index at %s: building it from %s", index_dir, corpus_dir)
        build(corpus_dir, index_dir, progress=True)
    elif manifest.get("format_version") != FORMAT_VERSION:
        log.warning("index at %s has format %s, this version reads %s: rebuilding it from %s",
                    index_dir, manifest.get("format_version"), FORMAT_VERSION, corpus_dir)
        build(corpus_dir, index_dir, progress=True)
    elif manifest.get("answer_encoder") != current_fingerprint():
        log.warning("index at %s holds sentences encoded for another reader model (answer encoder %s, the reader's "
                    "is %s): rebuilding it from %s", index_dir, manifest.get("answer_encoder"), current_fingerprint(),
                    corpus_dir)
        build(corpus_dir, index_dir, progress=True)

