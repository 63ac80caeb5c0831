"""Writing an index version: every file qa.index reads, streamed document by document.

What a build holds in memory is bounded by a chunk of passages (`ENCODE_CHUNK`), not by the corpus:

- passages go to passages.jsonl, and their vectors, sentence vectors and token vectors to .npy files,
  as each chunk is embedded; nothing reads them back through a memory mapping (see qa.index.RowFile);
- the vectors of an earlier version are found by content key in a sorted array and read row by row;
- BM25 is built from a postings file on disk (`LexicalWriter`), in passes over ranges of the vocabulary,
  and saved as bm25s saves its own index, so `bm25s.BM25.load` reads it;
- what stays in memory grows with the vocabulary and with a few numbers a passage (offsets, document
  rows, spans), about 60 bytes a passage.

A build writes a new version folder and then swaps CURRENT, so a killed build leaves the last good index
in place.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import bm25s
import faiss
import numpy as np

from qa.chunk import split_document
from qa.embed import Embedder
from qa.glossary import Glossary, definitions
from qa.index import (EMBEDDING_KEY_VERSION, FORMAT_VERSION, HUB_NEIGHBOURS, HUB_SAMPLE, KEEP_VERSIONS, MAX_VOCABULARY,
                      PIPELINE_VERSION, RowFile, _document_to_json, corpus_fingerprint, current_version)
from qa.text import stemmed_words
from qa.types import Document, Passage

log = logging.getLogger(__name__)

ENCODE_CHUNK = 8192  # texts encoded per call, and passages held before their vectors are written
READ_BLOCK = 65_536  # rows read at a time from a file written earlier in the build
EXACT_SEARCH_LIMIT = 200_000  # below this many passages exact search is fast enough (bench/scale.py)
IVF_NPROBE = 64  # lists searched per query: recall@10 0.98 against exact search at 1M (bench/scale.py)
LARGE_INDEX = "IVF-SQ8"  # above EXACT_SEARCH_LIMIT: "IVF-SQ8" or "IVF-Flat" (bench/scale.py measures both)


class NpyAppender:
    """A 1-D or 2-D .npy file written a block of rows at a time, its length known only at the end."""

    HEADER = 128  # a v1.0 .npy header of a 1-D or 2-D array is padded to 128 bytes

    def __init__(self, path: Path, dtype, width: int | None = None) -> None:
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        self.handle = open(path, "wb")
        self.handle.write(b"\0" * self.HEADER)

    def append(self, block) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype)
        block = block.reshape(-1) if self.width is None else block.reshape(-1, self.width)
        self.handle.write(block.tobytes())
        self.rows += len(block)

    def close(self) -> None:
        import io

        shape = (self.rows,) if self.width is None else (self.rows, self.width)
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                      "fortran_order": False, "shape": shape})
        if len(header.getvalue()) != self.HEADER:
            raise ValueError(f"unexpected .npy header length {len(header.getvalue())}")
        self.handle.seek(0)
        self.handle.write(header.getvalue())
        self.handle.close()


def text_key(text: str) -> str:
    """The content hash an embedded text is cached under."""
    return hashlib.sha1(f"{EMBEDDING_KEY_VERSION}\x00{text}".encode()).hexdigest()


class KeyRows:
    """Rows of an earlier version's embedded texts by content key: a sorted array searched in bulk, which
    takes 48 bytes a text where a dict of strings took about 150."""

    def __init__(self, keys: np.ndarray) -> None:
        self.order = np.argsort(keys, kind="stable")
        self.sorted = keys[self.order]

    def find(self, keys: list[str]) -> np.ndarray:
        """The row of each key, or -1."""
        if not len(self.sorted) or not keys:
            return np.full(len(keys), -1, dtype=np.int64)
        wanted = np.array(keys, dtype="S40")
        at = np.minimum(np.searchsorted(self.sorted, wanted), len(self.sorted) - 1)
        return np.where(self.sorted[at] == wanted, self.order[at], -1).astype(np.int64)


@dataclass
class Previous:
    """What the live version embedded: its keys and vectors (and, for sentences, their token vectors)."""

    rows: KeyRows
    vectors: RowFile
    tokens: tuple[np.ndarray, RowFile, RowFile, RowFile] | None = None  # offsets, int8 vectors, scales, ids


def previous(index_dir: Path, keys_name: str, vectors_name: str, model: str, tokens: bool = False,
             answer_encoder: str | None = None) -> Previous | None:
    """The live version's vectors for reuse, when the same model and backend made them (and, for answer
    vectors, the same answer-encoder adapters)."""
    folder = current_version(index_dir)
    if folder is None:
        return None
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        keys = np.load(folder / keys_name)
        vectors = RowFile(folder / vectors_name)
        token_files = None
        if tokens:
            token_files = (np.load(folder / "token_offsets.npy"), RowFile(folder / "token_vectors.npy"),
                           RowFile(folder / "token_scales.npy"), RowFile(folder / "token_ids.npy"))
    except (OSError, ValueError) as exc:
        log.info("not reusing vectors from %s: %s", folder, exc)
        return None
    if len(keys) != len(vectors) or manifest.get("model") != model:
        return None
    if answer_encoder is not None and manifest.get("answer_encoder") != answer_encoder:
        return None
    return Previous(KeyRows(keys), vectors, token_files)


def embed_reusing(texts: list[str], keys: list[str], cache: Previous | None, embedder: Embedder) -> tuple[np.ndarray, int]:
    """Vectors of these texts, read from the cache where it has them; returns (vectors, how many were embedded)."""
    found = cache.rows.find(keys) if cache else np.full(len(texts), -1, dtype=np.int64)
    out = np.empty((len(texts), embedder.dimension), dtype=np.float32)
    for i in np.flatnonzero(found >= 0):
        out[i] = cache.vectors.rows(int(found[i]), int(found[i]) + 1)[0].astype(np.float32)
    missing = np.flatnonzero(found < 0)
    if len(missing):
        out[missing] = embedder.encode([texts[i] for i in missing], show_progress=False)
    return out, len(missing)


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit token vectors -> int8 rows and one float32 scale per row (max |x| / 127)."""
    scales = np.clip(np.abs(vectors).max(axis=1, keepdims=True), 1e-12, None) / 127.0
    return np.round(vectors / scales).astype(np.int8), scales.astype(np.float32)


def sentence_hubness(vectors, neighbours: int = HUB_NEIGHBOURS, sample: int = HUB_SAMPLE,
                     block: int = 8192) -> np.ndarray:
    """Each sentence's mean cosine similarity to its nearest `neighbours` other sentences.

    Embedding spaces have hubs: generic sentences ('Children in care receive an outstanding level of help
    and support.') sit close to nearly every question and outscore the sentence that answers it.
    Subtracting a share of this value from a sentence's similarity to the question is the retrieval side of
    CSLS (Conneau et al., 2018, "Word translation without parallel data"). Large corpora are measured
    against a fixed random sample of sentences, which keeps the build linear in the corpus size.
    `vectors` is an array or a RowFile (read a block at a time)."""
    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    reference = np.stack([_rows(vectors, int(i), int(i) + 1)[0] for i in hub_reference(n, sample)]).astype(np.float32)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, block):
        rows = _rows(vectors, start, start + block).astype(np.float32)
        out[start:start + len(rows)] = hubness_against(rows, reference, neighbours)
    return out


def hub_reference(n: int, sample: int = HUB_SAMPLE) -> np.ndarray:
    """The rows hubness is measured against: all of them, or a fixed random sample of a large corpus."""
    return np.sort(np.random.default_rng(0).choice(n, size=sample, replace=False)) if n > sample else np.arange(n)


def hubness_against(rows: np.ndarray, reference: np.ndarray, neighbours: int = HUB_NEIGHBOURS) -> np.ndarray:
    """Each row's mean cosine with its nearest `neighbours` reference rows (not itself, nor an exact copy)."""
    if len(reference) < 2:
        return np.zeros(len(rows), dtype=np.float32)
    k = min(neighbours, len(reference) - 1)
    similarity = np.asarray(rows, dtype=np.float32) @ np.asarray(reference, dtype=np.float32).T
    similarity[similarity > 0.9999] = -1.0
    return np.partition(similarity, -k, axis=1)[:, -k:].mean(axis=1).astype(np.float32)


def _rows(vectors, start: int, end: int) -> np.ndarray:
    return vectors.rows(start, end) if isinstance(vectors, RowFile) else np.asarray(vectors[start:end])


def dense_index_for(vectors) -> faiss.Index:
    """Exact inner-product search while it is fast enough; an inverted-file index beyond that. `vectors`
    is an array or a RowFile; a large one is trained on a sample and added a block at a time."""
    n, dimension = vectors.shape
    if n <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dimension)
        if n:
            index.add(np.ascontiguousarray(_rows(vectors, 0, n), dtype=np.float32))
        return index
    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatIP(dimension)
    if LARGE_INDEX == "IVF-SQ8":  # a byte a dimension: a quarter of the memory a query's lists touch
        index = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    chosen = np.sort(np.random.default_rng(0).choice(n, size=min(n, nlist * 64), replace=False))
    index.train(np.stack([_rows(vectors, int(i), int(i) + 1)[0] for i in chosen]).astype(np.float32))
    for start in range(0, n, READ_BLOCK):
        index.add(np.ascontiguousarray(_rows(vectors, start, start + READ_BLOCK), dtype=np.float32))
    index.nprobe = IVF_NPROBE
    return index


# a list under 'What needs to improve?', or led by 'Ofsted recommends that the authority:' / 'The inspectorate found:'
# (not under an article titled 'Barnet pledges to improve ...', nor led by '... resources to make improvements:')
IMPROVEMENT_HEADING = re.compile(r"\b(?:needs? to improve|areas? for improvement|recommendations?|weaknesses|failings|"
                                 r"shortcomings|what (?:should|must))\b", re.I)
IMPROVEMENT_LEAD = re.compile(r"\b(?:recommend\w*|found|failings?|weakness\w*|shortcomings?|needs? to improve|"
                              r"should|must)\b", re.I)


def is_improvement_list(passage: Passage) -> bool:
    """Is this passage a report's list of what needs to improve (or of what it recommends or found wanting)?"""
    if passage.kind != "list":
        return False
    lead = re.split(r"(?<=[.!?])\s+", passage.text.split("\n", 1)[0])[-1]  # the sentence that opens the list
    return bool(IMPROVEMENT_HEADING.search(passage.section or "")
                or (lead.endswith(":") and IMPROVEMENT_LEAD.search(lead)))


class LexicalWriter:
    """A BM25 index (bm25s's defaults: Lucene's idf and term weight, k1 1.5, b 0.75) built from postings
    on disk and saved in bm25s's own layout, so `bm25s.BM25.load(..., mmap=True)` serves it.

    bm25s's own `index()` holds every passage's token list and three arrays of all postings at once (most
    of a 1M-passage build's 18 GB peak). Here a passage's distinct tokens and their counts are appended to
    a file as it is read, and the column-ordered score matrix is filled in passes over ranges of the
    vocabulary, each holding at most `buffer` postings."""

    PARAMS = {"k1": 1.5, "b": 0.75, "delta": 0.5, "method": "lucene", "idf_method": "lucene",
              "dtype": "float32", "int_dtype": "int32", "backend": "numpy"}

    def __init__(self, folder: Path, buffer: int = 8_000_000) -> None:
        self.folder, self.buffer = folder, buffer
        folder.mkdir(parents=True, exist_ok=True)
        self.vocab: dict[str, int] = {}
        self.frequency = np.zeros(1024, dtype=np.int64)  # passages holding each token, by token id
        self.lengths = array("q")
        self.postings = NpyAppender(folder / "postings.tmp.npy", np.int32, 3)  # (token id, passage row, count)

    def add(self, tokens: list[str]) -> None:
        tokens = tokens or ["_"]
        ids = np.fromiter((self.vocab.setdefault(t, len(self.vocab)) for t in tokens), dtype=np.int64, count=len(tokens))
        distinct, counts = np.unique(ids, return_counts=True)
        if len(self.vocab) > len(self.frequency):
            self.frequency = np.concatenate([self.frequency, np.zeros(len(self.frequency), dtype=np.int64)])
        self.frequency[distinct] += 1
        row = np.full(len(distinct), len(self.lengths), dtype=np.int64)
        self.postings.append(np.stack([distinct, row, counts], axis=1))
        self.lengths.append(len(tokens))

    def finish(self) -> None:
        self.postings.close()
        n_docs, n_vocab = len(self.lengths), len(self.vocab)
        frequency = self.frequency[:n_vocab]
        lengths = np.frombuffer(self.lengths, dtype=np.int64) if n_docs else np.zeros(0, dtype=np.int64)
        average = lengths.mean() if n_docs else 1.0
        k1, b = self.PARAMS["k1"], self.PARAMS["b"]
        idf = np.log(1 + (n_docs - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)
        norm = k1 * ((1 - b) + b * lengths / average)  # per passage, as bm25s computes it
        indptr = np.zeros(n_vocab + 1, dtype=np.int64)
        np.cumsum(frequency, out=indptr[1:])
        data = NpyAppender(self.folder / "data.csc.index.npy", np.float32)
        indices = NpyAppender(self.folder / "indices.csc.index.npy", np.int32)
        postings = RowFile(self.folder / "postings.tmp.npy")
        first = 0
        while first < n_vocab:  # a range of tokens whose postings fit the buffer
            last = int(np.searchsorted(indptr, indptr[first] + self.buffer, side="right")) - 1
            last = min(max(last, first + 1), n_vocab)
            base, size = int(indptr[first]), int(indptr[last] - indptr[first])
            scores, rows = np.empty(size, dtype=np.float32), np.empty(size, dtype=np.int32)
            fill = indptr[first:last] - base
            for start in range(0, len(postings), 4 * READ_BLOCK):
                block = postings.rows(start, start + 4 * READ_BLOCK)
                block = block[(block[:, 0] >= first) & (block[:, 0] < last)]
                if not len(block):
                    continue
                order = np.argsort(block[:, 0], kind="stable")  # passages stay in order within a token
                block = block[order]
                token = block[:, 0] - first
                starts = np.flatnonzero(np.r_[True, token[1:] != token[:-1]])
                rank = np.arange(len(token)) - np.repeat(starts, np.diff(np.r_[starts, len(token)]))
                at = fill[token] + rank
                tf = block[:, 2].astype(np.float32)
                passage = block[:, 1]
                scores[at] = idf[block[:, 0]] * (tf / (norm[passage] + tf))
                rows[at] = passage
                np.add.at(fill, token[starts], np.diff(np.r_[starts, len(token)]))
            data.append(scores)
            indices.append(rows)
            first = last
        data.close()
        indices.close()
        del postings
        os.remove(self.folder / "postings.tmp.npy")
        np.save(self.folder / "indptr.csc.index.npy", indptr)
        vocab = dict(self.vocab)
        vocab.setdefault("", n_vocab)  # bm25s adds an empty token the same way
        (self.folder / "vocab.index.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        params = self.PARAMS | {"num_docs": n_docs, "version": bm25s.__version__}
        (self.folder / "params.index.json").write_text(json.dumps(params, indent=4), encoding="utf-8")


class _Writer:
    """The files of one version, written as documents arrive; `finish` writes what needs the whole corpus."""

    def __init__(self, staging: Path, index_dir: Path, embedder: Embedder, glossary: Glossary, total: int,
                 progress: bool) -> None:
        self.staging, self.index_dir, self.embedder, self.glossary = staging, index_dir, embedder, glossary
        self.chunk = getattr(embedder, "encode_chunk", ENCODE_CHUNK)
        dimension = embedder.dimension
        self.passage_cache = previous(index_dir, "passage_keys.npy", "vectors.npy", embedder.name)
        self.sentence_cache = previous(index_dir, "sentence_keys.npy", "sentence_vectors.npy", embedder.name, tokens=True)
        if self.sentence_cache and self.sentence_cache.tokens is None:
            self.sentence_cache = None
        # the reader's answer encoder reads every sentence too (qa/reader/encoder.py); fp16 is plenty for a cosine
        from qa.reader.encoder import current_fingerprint

        self.answer = embedder.answer_encoder()
        self.answer_fingerprint = current_fingerprint() if self.answer is not None else None
        self.answer_cache = previous(index_dir, "sentence_keys.npy", "answer_vectors.npy", embedder.name,
                                     answer_encoder=self.answer_fingerprint) if self.answer is not None else None
        self.documents_out = (staging / "documents.jsonl").open("wb")
        self.passages_out = (staging / "passages.jsonl").open("wb")
        self.passage_offsets = array("q", [0])
        self.passage_documents = array("i")
        self.spans = array("q")
        self.sentence_offsets = array("q", [0])
        self.vectors = NpyAppender(staging / "vectors.npy", np.float32, dimension)
        self.passage_keys = NpyAppender(staging / "passage_keys.npy", "S40")
        self.sentence_vectors = NpyAppender(staging / "sentence_vectors.npy", np.float32, dimension)
        self.sentence_keys = NpyAppender(staging / "sentence_keys.npy", "S40")
        self.answer_vectors = NpyAppender(staging / "answer_vectors.npy", np.float16, dimension) \
            if self.answer is not None else None
        self.token_vectors = NpyAppender(staging / "token_vectors.npy", np.int8, dimension)
        self.token_scales = NpyAppender(staging / "token_scales.npy", np.float32, 1)
        self.token_ids = NpyAppender(staging / "token_ids.npy", np.int32, 1)
        self.token_offsets = array("q", [0])
        self.wordpieces = np.zeros(embedder.vocabulary_size(), dtype=np.int64)  # sentences holding each wordpiece
        self.headings: dict[str, int] = {}
        self.heading_rows = array("i")
        self.improvement_rows = array("q")
        self.frequency: dict[str, int] = {}  # passages holding each stem
        self.surface: dict[str, str] = {}  # a word each stem came from, to embed for alias look-ups
        self.lexical = LexicalWriter(staging / "bm25")
        self.pending: list[tuple[str, str]] = []  # (spelled-out passage text, key) awaiting embedding
        self.pending_sentences: list[tuple[str, str]] = []
        self.embedded = self.sentences_embedded = 0
        self.bar = None
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc="Indexing documents", unit="doc")

    def add(self, row: int, document: Document, passages: list[Passage] | None = None) -> None:
        """One document and its passages (split here unless they were split elsewhere, e.g. on Ray workers)."""
        self.documents_out.write((json.dumps(_document_to_json(document), ensure_ascii=False) + "\n").encode("utf-8"))
        for passage in split_document(document) if passages is None else passages:
            number = len(self.passage_documents)
            line = (json.dumps(passage.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
            self.passages_out.write(line)
            self.passage_offsets.append(self.passage_offsets[-1] + len(line))
            self.passage_documents.append(row)
            self.spans.extend((passage.start, passage.end))
            text = passage.index_text(document.title)
            # what the model embeds has the reports' abbreviations spelled out, as the questions' have
            # (qa.glossary); BM25 keeps the words as written and expands the question instead
            spelled = self.glossary.spell_out(text)
            self.pending.append((spelled, text_key(spelled)))
            for a, b in passage.sentences:
                sentence = passage.text[a:b]
                self.pending_sentences.append((sentence, text_key(sentence)))
            self.sentence_offsets.append(self.sentence_offsets[-1] + len(passage.sentences))
            if is_improvement_list(passage):
                self.improvement_rows.append(number)
            heading = passage.heading(document.title)
            self.heading_rows.append(self.headings.setdefault(heading, len(self.headings)) if heading else -1)
            pairs = stemmed_words(text)
            self.lexical.add([stem for stem, _ in pairs])
            for stem, word in pairs:
                self.surface.setdefault(stem, word)
            for stem in {stem for stem, _ in pairs}:
                self.frequency[stem] = self.frequency.get(stem, 0) + 1
            if len(self.pending) >= self.chunk:
                self._flush_passages()
            if len(self.pending_sentences) >= self.chunk:
                self._flush_sentences()
        if self.bar is not None:
            self.bar.update(1)

    def _flush_passages(self) -> None:
        if not self.pending:
            return
        texts, keys = zip(*self.pending)
        vectors, embedded = embed_reusing(list(texts), list(keys), self.passage_cache, self.embedder)
        self.vectors.append(vectors)
        self.passage_keys.append(np.array(keys, dtype="S40"))
        self.embedded += embedded
        self.pending = []

    def _flush_sentences(self) -> None:
        """Sentence vectors and their token vectors in one model pass, reused from the live index for
        unchanged sentences."""
        if not self.pending_sentences:
            return
        texts, keys = zip(*self.pending_sentences)
        cache = self.sentence_cache
        found = cache.rows.find(list(keys)) if cache else np.full(len(texts), -1, dtype=np.int64)
        missing = np.flatnonzero(found < 0)
        fresh: dict[int, tuple] = {}
        if len(missing):
            vectors, tokens = self.embedder.encode_tokens([texts[i] for i in missing])
            for i, vector, (ids, token_vectors) in zip(missing.tolist(), vectors, tokens):
                fresh[i] = (vector, ids, *quantise(token_vectors))
            self.sentences_embedded += len(missing)
        out = np.empty((len(texts), self.embedder.dimension), dtype=np.float32)
        for i in range(len(texts)):
            if i in fresh:
                vector, ids, quantised, scales = fresh[i]
            else:
                old = int(found[i])
                offsets, token_vectors, token_scales, token_ids = cache.tokens
                t0, t1 = int(offsets[old]), int(offsets[old + 1])
                vector = cache.vectors.rows(old, old + 1)[0]
                quantised, scales, ids = token_vectors.rows(t0, t1), token_scales.rows(t0, t1), token_ids.rows(t0, t1)[:, 0]
            out[i] = vector
            self.token_vectors.append(quantised)
            self.token_scales.append(scales)
            self.token_ids.append(ids)
            self.wordpieces[np.unique(ids)] += 1
            self.token_offsets.append(self.token_offsets[-1] + len(ids))
        self.sentence_vectors.append(out)
        self.sentence_keys.append(np.array(keys, dtype="S40"))
        if self.answer_vectors is not None:
            answers, _ = embed_reusing(list(texts), list(keys), self.answer_cache, self.answer)
            self.answer_vectors.append(answers)
        self.pending_sentences = []

    def finish(self) -> dict:
        if self.bar is not None:
            self.bar.close()
        self._flush_passages()
        self._flush_sentences()
        self.documents_out.close()
        self.passages_out.close()
        for appender in (self.vectors, self.passage_keys, self.sentence_vectors, self.sentence_keys,
                         self.token_vectors, self.token_scales, self.token_ids, self.answer_vectors):
            if appender is not None:
                appender.close()
        staging, embedder = self.staging, self.embedder
        n_passages, n_sentences = len(self.passage_documents), self.sentence_keys.rows
        np.save(staging / "token_offsets.npy", np.frombuffer(self.token_offsets, dtype=np.int64))
        np.save(staging / "wordpiece_idf.npy", np.log((n_sentences + 1) / (self.wordpieces + 0.5)).astype(np.float32))
        np.save(staging / "sentence_hubness.npy", sentence_hubness(RowFile(staging / "sentence_vectors.npy")))
        if self.answer_vectors is not None:  # the same, in the answer encoder's space (a reader feature)
            np.save(staging / "answer_hubness.npy", sentence_hubness(RowFile(staging / "answer_vectors.npy")))
            # searched for the passages whose sentences answer best, which the reader reads beside the search's
            faiss.write_index(dense_index_for(RowFile(staging / "answer_vectors.npy")), str(staging / "answer.faiss"))
        np.save(staging / "improvement_rows.npy", np.frombuffer(self.improvement_rows, dtype=np.int64))
        np.save(staging / "heading_rows.npy", np.frombuffer(self.heading_rows, dtype=np.int32))
        headings = list(self.headings)
        np.save(staging / "heading_vectors.npy",
                embedder.encode([self.glossary.spell_out(h) for h in headings]) if headings
                else np.zeros((0, embedder.dimension), dtype=np.float32))
        words_embedded = self._words()
        np.save(staging / "passage_offsets.npy", np.frombuffer(self.passage_offsets, dtype=np.int64))
        np.save(staging / "passage_documents.npy", np.frombuffer(self.passage_documents, dtype=np.int32))
        np.save(staging / "passage_spans.npy", np.frombuffer(self.spans, dtype=np.int64).reshape(-1, 2))
        np.save(staging / "sentence_offsets.npy", np.frombuffer(self.sentence_offsets, dtype=np.int64))
        (staging / "lexicon.json").write_text(json.dumps(self.frequency), encoding="utf-8")
        (staging / "glossary.json").write_text(json.dumps(self.glossary.to_json()), encoding="utf-8")
        faiss.write_index(dense_index_for(RowFile(staging / "vectors.npy")), str(staging / "dense.faiss"))
        if n_passages:
            self.lexical.finish()
        else:
            self.lexical.postings.close()
            shutil.rmtree(staging / "bm25")
        log.info("%d passages: embedded %d passages, %d sentences and %d words, reused the rest",
                 n_passages, self.embedded, self.sentences_embedded, words_embedded)
        return {"passages": n_passages, "sentences": n_sentences, "words": self.words, "headings": len(headings),
                "embedded": self.embedded, "answer_encoder": self.answer_fingerprint}

    def _words(self) -> int:
        """The corpus vocabulary (one word per stem, the most frequent first) and its vectors."""
        frequency = self.frequency
        vocabulary = sorted((s for s in self.surface if s.isalpha() and len(s) > 1), key=lambda s: (-frequency[s], s))
        vocabulary = vocabulary[:MAX_VOCABULARY]
        self.words = len(vocabulary)
        texts = [self.surface[s] for s in vocabulary]
        keys = [text_key("word\x00" + w) for w in texts]
        cache = previous(self.index_dir, "word_keys.npy", "word_vectors.npy", self.embedder.name)
        vectors = NpyAppender(self.staging / "word_vectors.npy", np.float32, self.embedder.dimension)
        embedded = 0
        for first in range(0, len(texts), self.chunk):
            block, done = embed_reusing(texts[first:first + self.chunk], keys[first:first + self.chunk], cache, self.embedder)
            vectors.append(block)
            embedded += done
        vectors.close()
        np.save(self.staging / "word_stems.npy", np.array(vocabulary, dtype="S"))
        np.save(self.staging / "word_keys.npy", np.array(keys, dtype="S40"))
        return embedded


def write_index(documents: Sequence[Document], index_dir: Path, embedder: Embedder, progress: bool = False,
                chunked: Iterable[list[Passage]] | None = None) -> dict:
    """Write a new index version for these documents and make it the live one. Caller holds the lock.

    `documents` is read twice (abbreviations first, then the passages), one document at a time: a lazy
    sequence keeps even the documents out of memory. `chunked`, when given, yields each document's
    passages in the same order (split elsewhere: qa.ray_engine splits them on its workers); otherwise
    they are split here."""
    started = time.perf_counter()
    glossary = Glossary.from_definitions(found for d in documents for found in definitions(d.text))
    fingerprint = corpus_fingerprint(documents)
    staging = index_dir / f".staging-{os.getpid()}-{int(time.time() * 1000)}"
    staging.mkdir(parents=True)
    try:
        writer = _Writer(staging, index_dir, embedder, glossary, len(documents), progress)
        chunks = iter(chunked) if chunked is not None else None
        for row, document in enumerate(documents):
            passages = next(chunks, None) if chunks is not None else None
            if chunks is not None and passages is None:
                raise ValueError(f"no passages came for document {document.id}")
            writer.add(row, document, passages)
        counts = writer.finish()
        manifest = {
            "format_version": FORMAT_VERSION,
            "pipeline_version": PIPELINE_VERSION,
            "model": embedder.name,
            "dimension": embedder.dimension,
            "corpus_fingerprint": fingerprint,
            "documents": len(documents),
            "passages": counts["passages"],
            "sentences": counts["sentences"],
            "words": counts["words"],
            "glossary": len(glossary.terms),
            "headings": counts["headings"],
            "embedded": counts["embedded"],
            "answer_encoder": counts["answer_encoder"],  # the adapters answer_vectors.npy was encoded with
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        version = f"v{time.strftime('%Y%m%dT%H%M%S')}-{int(time.time() * 1000) % 1000:03d}-{fingerprint[:8]}"
        os.rename(staging, index_dir / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_current(index_dir, version)
    _prune(index_dir, keep=version)
    log.info("%d documents: index %s written in %.1f s", len(documents), version, time.perf_counter() - started)
    return manifest | {"version": version}


def _swap_current(index_dir: Path, version: str) -> None:
    tmp = index_dir / f".CURRENT.{os.getpid()}"
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(version)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / "CURRENT")
    dir_fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _prune(index_dir: Path, keep: str) -> None:
    """Drop old versions (keeping the newest few for readers still on them) and dead staging folders."""
    versions = sorted(p for p in index_dir.iterdir() if p.is_dir() and p.name.startswith("v"))
    for old in versions[:-KEEP_VERSIONS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for staging in index_dir.glob(".staging-*"):
        pid = staging.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(staging, ignore_errors=True)
