"""Build, save, load and search the dense (FAISS) and lexical (BM25) indexes in index_store/.

Layout, like bm25s's own folders of plain named files:

    index_store/CURRENT            name of the live version folder (replaced atomically)
    index_store/<version>/manifest.json   model, dimension, corpus fingerprint, format version, counts
    index_store/<version>/documents.jsonl cleaned documents with paragraphs and judgements
    index_store/<version>/passages.jsonl  passages in index order
    index_store/<version>/passage_offsets.npy   byte offset of each passages.jsonl line (n + 1 entries)
    index_store/<version>/passage_documents.npy row of each passage's document in documents.jsonl
    index_store/<version>/passage_spans.npy     start and end of each passage in its document's text
    index_store/<version>/vectors.npy     passage embeddings (also the cache for the next build)
    index_store/<version>/sentence_vectors.npy, sentence_offsets.npy   sentence embeddings, per passage
    index_store/<version>/token_vectors.npy, token_scales.npy, token_ids.npy, token_offsets.npy   each
                                          sentence's contextual token vectors from the same model pass
                                          (int8 with one float32 scale per token, about 390 bytes a
                                          token), their wordpiece ids, and where each sentence's tokens
                                          start; read per passage (pread) for token-level alignment
    index_store/<version>/wordpiece_idf.npy   idf of each wordpiece over the sentences
    index_store/<version>/sentence_hubness.npy  how alike each sentence is to the corpus at large (its
                                          mean similarity to its nearest sentences), to discount
                                          generic sentences that sit close to every question
    index_store/<version>/heading_vectors.npy, heading_rows.npy   embeddings of the distinct headings
                                          passages sit under, and each passage's row among them (-1: none),
                                          so a question that is a heading ('What needs to improve?') finds
                                          what is under it
    index_store/<version>/improvement_rows.npy  rows of the lists of what needs to improve (or what a report
                                          recommends or found wanting), which answer list questions
    index_store/<version>/passage_keys.npy, sentence_keys.npy   content hashes of what was embedded
    index_store/<version>/dense.faiss     FAISS index over the vectors
    index_store/<version>/bm25/           bm25s index over stemmed tokens
    index_store/<version>/word_stems.npy, word_vectors.npy, word_keys.npy   the corpus vocabulary (one
                                          word per stem) and its embeddings, for question words the
                                          reports never use ('dads' -> 'fathers')
    index_store/<version>/glossary.json   abbreviations and glosses the reports define, as written
                                          (['MASH', 'multi-agency safeguarding hub']; qa.glossary)

A build writes a new version folder and then swaps CURRENT, so a killed build leaves the last good
index in place; a lock file refuses a second build while one runs.

A loaded index keeps little per passage in memory: passages and sentence vectors are read from their
files (pread) when asked for, documents are held as headers (metadata and judgements, no text), and
the FAISS and BM25 arrays are memory-mapped, so several server processes share one copy.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import bm25s
import faiss
import numpy as np

from qa.chunk import split_document
from qa.embed import Embedder, embedder_for
from qa.authority import Registry
from qa.glossary import Glossary, definitions
from qa.text import STOPWORD_STEMS, stemmed_words, stems, tokens
from qa.types import Document, Judgement, Paragraph, Passage

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import

FORMAT_VERSION = 8
EMBEDDING_KEY_VERSION = 2  # part of each embedded text's cache key: bump only when what is embedded changes
PHRASE_SCAN = 1_000  # passages read (about 0.25 ms each) to tell whether the corpus uses a phrase (Index.uses_phrase)
MAX_VOCABULARY = 100_000  # words embedded for alias look-ups: the most frequent stems beyond this
PIPELINE_VERSION = "clean-2/chunk-4/words-3"  # bump when cleaning or chunking changes what passages say
KEEP_VERSIONS = 2
HUB_NEIGHBOURS = 30  # a sentence's hubness: mean cosine of its nearest this many sentences...
HUB_SAMPLE = 4096  # ...among a fixed sample of this many (all of them in a corpus this size or smaller)


class IndexNotReady(RuntimeError):
    """The index is missing, stale or from another model; the message says what to run."""


class IndexBusy(RuntimeError):
    """Another build or update holds the lock."""


class RowFile:
    """Rows of a 2-D .npy file read with pread when asked for.

    Not memory-mapped: on this kernel a fault on a freshly written file maps a whole large page-cache
    folio, so scattered row reads through a mapping made about 1 MB resident per row read (2.5 GB of
    sentence vectors in qa serve at 1M passages). pread copies only the bytes asked for.
    """

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(handle)
            self.offset = handle.tell()
        if len(shape) != 2 or fortran:
            raise ValueError(f"{path}: expected a C-ordered 2-D array, got shape {shape}")
        self.shape, self.dtype = shape, np.dtype(dtype)
        self.row_bytes = shape[1] * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, start: int, end: int) -> np.ndarray:
        end = min(end, self.shape[0])
        if end <= start:
            return np.zeros((0, self.shape[1]), dtype=self.dtype)
        data = os.pread(self._fd, (end - start) * self.row_bytes, self.offset + start * self.row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(end - start, self.shape[1])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self.rows(0, self.shape[0])
        return whole.astype(dtype) if dtype is not None else whole

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


class PassageStore(Sequence):
    """Passages in index order, parsed from passages.jsonl when asked for.

    Holds two integers a passage in memory instead of a Python object with its text; the few hundred
    passages a question reads are parsed on demand (about 10 µs each) and the latest are kept parsed.
    """

    CACHE = 4096

    def __init__(self, path: Path, offsets: np.ndarray, documents: np.ndarray, spans: np.ndarray) -> None:
        self.path = path
        self.offsets = offsets  # byte offsets of each line, len(self) + 1 entries
        self.documents = documents  # row of each passage's document
        self.spans = spans  # (start, end) of each passage in its document's text
        self._fd = os.open(path, os.O_RDONLY)  # read with pread, not mapped (see RowFile)
        self._parsed: OrderedDict[int, Passage] = OrderedDict()
        self._lock = threading.Lock()  # server threads share the parsed cache

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        row = int(row)
        if row < 0:
            row += len(self)
        if not 0 <= row < len(self):
            raise IndexError(f"passage row {row} out of range ({len(self)} passages)")
        with self._lock:
            passage = self._parsed.get(row)
        if passage is None:
            start = int(self.offsets[row])
            line = os.pread(self._fd, int(self.offsets[row + 1]) - start, start)
            passage = Passage.from_dict(json.loads(line))
            with self._lock:
                self._parsed[row] = passage
                if len(self._parsed) > self.CACHE:
                    self._parsed.popitem(last=False)
        return passage

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)


@dataclass
class Index:
    """A loaded index: document headers, passages, their vectors and both search structures."""

    path: Path
    manifest: dict
    documents: dict[str, Document]  # headers: metadata and judgements; `document(id)` reads the text
    passages: Sequence[Passage]
    vectors: np.ndarray
    dense: faiss.Index
    lexical: bm25s.BM25 | None
    sentence_vectors: RowFile | np.ndarray | None = None  # one row per passage sentence, in passage order
    sentence_offsets: np.ndarray | None = None  # passage i's sentences are rows offsets[i]:offsets[i+1]
    sentence_hubness: np.ndarray | None = None  # one value per sentence row (see sentence_hubness())
    document_frequency: dict[str, int] = field(default_factory=dict)
    document_rows: dict[str, np.ndarray] = field(default_factory=dict)
    document_lines: dict[str, tuple[int, int]] = field(default_factory=dict)  # byte range in documents.jsonl
    word_stems: np.ndarray | None = None  # the corpus vocabulary (bytes), one embedded word per stem
    word_vectors: np.ndarray | None = None  # their embeddings, memory-mapped
    glossary: Glossary = field(default_factory=Glossary)  # abbreviations and glosses the reports define
    heading_vectors: np.ndarray | None = None  # one row per distinct heading
    heading_rows: np.ndarray | None = None  # each passage's heading row, -1 when it has none
    improvement_rows: np.ndarray | None = None  # rows of the lists of what needs to improve
    # each sentence's contextual token vectors (int8, one scale per token) and wordpiece ids, for MaxSim
    token_vectors: RowFile | None = None
    token_scales: RowFile | None = None
    token_ids: RowFile | None = None
    token_offsets: np.ndarray | None = None  # sentence s's tokens are rows token_offsets[s]:token_offsets[s+1]
    wordpiece_idf: np.ndarray | None = None  # idf of each wordpiece over the sentences

    def __post_init__(self) -> None:
        if self.document_rows:
            return
        # rows of each document's passages, so a filter costs per document, not per passage
        owners = getattr(self.passages, "documents", None)
        names = list(self.documents)
        if owners is None:  # passages given as a list (tools, tests): number their documents here
            ids = {name: i for i, name in enumerate(names)}
            for passage in self.passages:
                ids.setdefault(passage.document_id, len(ids))
            names = list(ids)
            owners = np.array([ids[p.document_id] for p in self.passages], dtype=np.int32)
        if len(owners):
            order = np.argsort(owners, kind="stable")
            found, starts = np.unique(owners[order], return_index=True)
            bounds = list(starts[1:]) + [len(order)]
            self.document_rows = {names[d]: order[a:b].astype(np.int64) for d, a, b in zip(found, starts, bounds)}

    def graded(self, area: str) -> list[tuple[Document, Judgement, int]]:
        """Every judgement of one area across the corpus, with the row of the passage holding its grade."""
        if not hasattr(self, "_graded"):
            spans = getattr(self.passages, "spans", None)
            table: dict[str, list[tuple[Document, Judgement, int]]] = {}
            for document in self.documents.values():
                rows = self.document_rows.get(document.id, np.zeros(0, dtype=np.int64))
                starts, ends = (spans[rows].T if spans is not None else
                                np.array([[self.passages[r].start, self.passages[r].end] for r in rows]).reshape(-1, 2).T)
                for judgement in document.judgements:
                    inside = np.flatnonzero((starts <= judgement.start) & (judgement.end <= ends))
                    if len(inside):
                        table.setdefault(judgement.area, []).append((document, judgement, int(rows[inside[0]])))
            self._graded = table
        return self._graded.get(area, [])

    def authorities(self) -> list[str]:
        """The councils the corpus covers."""
        if not hasattr(self, "_authorities"):
            self._authorities = sorted({d.authority for d in self.documents.values() if d.authority})
        return self._authorities

    def passage_by_id(self, passage_id: str) -> tuple[int, Passage] | None:
        """The row and passage with this id ('p-<document id>-<position>'), or None."""
        for document_id, rows in self.document_rows.items():
            if passage_id.startswith(f"p-{document_id}-"):
                for row in rows.tolist():
                    if self.passages[row].id == passage_id:
                        return row, self.passages[row]
        return None

    def registry(self) -> Registry:
        """The councils the corpus covers, with the forms of their names and their documents."""
        if not hasattr(self, "_registry"):
            self._registry = Registry.of(self.documents.values())
        return self._registry

    def authority_words(self) -> frozenset[str]:
        """The (stemmed) words of the councils' names: they say whose report, not what is in it."""
        if not hasattr(self, "_authority_words"):
            self._authority_words = frozenset(t for authority in self.authorities() for t in tokens(authority))
        return self._authority_words

    def document(self, document_id: str) -> Document | None:
        """The whole document (text and paragraphs), read back from documents.jsonl."""
        if document_id not in self.documents:
            return None
        if document_id not in self.document_lines:
            return self.documents[document_id]
        start, end = self.document_lines[document_id]
        with (self.path / "documents.jsonl").open("rb") as handle:
            handle.seek(start)
            return _document_from_json(json.loads(handle.read(end - start)))

    def full_documents(self) -> list[Document]:
        """Every document whole, in index order (for rebuilding after an add or remove)."""
        return [self.document(document_id) for document_id in self.documents]

    def idf(self, token: str) -> float:
        """Inverse document frequency over passages; a token the corpus never uses gets the maximum."""
        n = len(self.passages) or 1
        return float(np.log((n + 1) / (self.document_frequency.get(token, 0) + 0.5)))

    def uses_phrase(self, phrase: tuple[str, ...]) -> bool:
        """Does any passage hold these stems (`qa.text.stems`, stopwords included) side by side? Only the
        passages using the phrase's rarest content word are read, at most PHRASE_SCAN of them: a phrase of
        common words not met by then counts as unused (on a large corpus, a phrase in use is met early)."""
        if not hasattr(self, "_phrases_used"):
            self._phrases_used: dict[tuple[str, ...], bool] = {}
        if phrase not in self._phrases_used:
            content = [s for s in phrase if s not in STOPWORD_STEMS]
            if not content or any(self.document_frequency.get(s, 0) == 0 for s in content):
                used = False
            elif len(phrase) == 1:
                used = True
            else:
                rarest = min(content, key=lambda s: self.document_frequency[s])
                used = any(_holds(stems(self.passages[int(row)].text), phrase)
                           for row in self.rows_using(rarest)[:PHRASE_SCAN])
            self._phrases_used[phrase] = used
        return self._phrases_used[phrase]

    def rows_using(self, token: str) -> np.ndarray:
        """Rows of the passages that use the (stemmed) token, from the BM25 postings."""
        column = self.lexical.vocab_dict.get(token) if self.lexical is not None else None
        if column is None:
            return np.zeros(0, dtype=np.int64)
        postings = self.lexical.scores
        return np.asarray(postings["indices"][postings["indptr"][column]:postings["indptr"][column + 1]])

    def similar_words(self, vectors: np.ndarray, min_similarity: float, limit: int) -> list[list[tuple[str, float]]]:
        """For each word vector, the corpus stems whose words it is closest to (at least min_similarity)."""
        if self.word_vectors is None or self.word_stems is None or not len(self.word_stems) or not len(vectors):
            return [[] for _ in range(len(vectors))]
        similarity = np.asarray(vectors, dtype=np.float32) @ np.asarray(self.word_vectors).T
        found = []
        for row in similarity:
            best = np.argsort(-row)[:limit]
            found.append([(self.word_stems[i].decode(), float(row[i])) for i in best if row[i] >= min_similarity])
        return found

    def word_rows(self) -> dict[str, int]:
        """Row of each embedded corpus stem in `word_vectors`."""
        if not hasattr(self, "_word_rows"):
            stems_ = self.word_stems if self.word_stems is not None else []
            self._word_rows = {stem.decode(): i for i, stem in enumerate(stems_)}
        return self._word_rows

    def word_vectors_of(self, stems_: list[str]) -> np.ndarray:
        """The embeddings of these corpus stems' words (zero rows for stems not embedded)."""
        rows = self.word_rows()
        out = np.zeros((len(stems_), self.vectors.shape[1]), dtype=np.float32)
        if self.word_vectors is None:
            return out
        found = [(i, rows[s]) for i, s in enumerate(stems_) if s in rows]
        if found:
            at, where = zip(*found)
            out[list(at)] = np.asarray(self.word_vectors[list(where)], dtype=np.float32)
        return out

    def sentence_vectors_of(self, row: int) -> np.ndarray:
        if self.sentence_vectors is None or self.sentence_offsets is None:
            return np.zeros((0, self.vectors.shape[1]), dtype=np.float32)
        start, end = int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1])
        if isinstance(self.sentence_vectors, RowFile):
            return self.sentence_vectors.rows(start, end)
        return np.asarray(self.sentence_vectors[start:end], dtype=np.float32)

    def sentence_tokens_of(self, row: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Passage `row`'s sentences as (wordpiece ids, unit token vectors), read from disk for this passage
        only; empty lists for an index built without them."""
        if self.token_vectors is None or self.token_offsets is None or self.sentence_offsets is None:
            return []
        first, last = int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1])
        bounds = self.token_offsets[first:last + 1] - self.token_offsets[first]
        start, end = int(self.token_offsets[first]), int(self.token_offsets[last])
        vectors = self.token_vectors.rows(start, end).astype(np.float32) * self.token_scales.rows(start, end)
        ids = self.token_ids.rows(start, end)[:, 0]
        return [(ids[a:b], vectors[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    def uses_within(self, token: str, rows: np.ndarray) -> bool:
        """Does any of these passages use the (stemmed) token?"""
        return not self.unused_within([token], rows)

    def unused_within(self, tokens: list[str], rows: np.ndarray) -> set[str]:
        """The (stemmed) tokens none of these passages use, read from the BM25 postings."""
        if self.lexical is None:
            return set(tokens)
        inside = np.zeros(int(self.lexical.scores["num_docs"]), dtype=bool)  # one mask for all the tokens
        inside[rows] = True
        unused = set()
        for token in tokens:
            users = self.rows_using(token)
            # a common word is met early: look in chunks rather than through all its postings
            if not any(inside[users[start:start + 4096]].any() for start in range(0, len(users), 4096)):
                unused.add(token)
        return unused

    def heading_similarities(self, vector: np.ndarray) -> np.ndarray | None:
        """Cosine of the question with every distinct heading (index them with `heading_rows`)."""
        if self.heading_vectors is None or self.heading_rows is None or not len(self.heading_vectors):
            return None
        return np.asarray(self.heading_vectors, dtype=np.float32) @ np.asarray(vector, dtype=np.float32)

    def sentence_hubness_of(self, row: int) -> np.ndarray:
        """Hubness of passage `row`'s sentences (zeros for an index built without it)."""
        if self.sentence_hubness is None or self.sentence_offsets is None:
            return np.zeros(len(self.sentence_vectors_of(row)), dtype=np.float32)
        start, end = int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1])
        return np.asarray(self.sentence_hubness[start:end], dtype=np.float32)

    @property
    def version(self) -> str:
        return self.path.name

    def search_dense(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and cosine similarities of the k nearest passages (only rows in `allowed`, when given)."""
        k = min(k, len(self.passages))
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
            if isinstance(self.dense, faiss.IndexIVF):
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.dense.nprobe)
            else:
                params = faiss.SearchParameters(sel=selector)
            k = min(k, len(allowed))
        scores, rows = self.dense.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def search_lexical(self, query_tokens: list[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Rows and BM25 scores of the k best lexical matches (zero scores dropped)."""
        if self.lexical is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vocab = self.lexical.vocab_dict
        known = [t for t in query_tokens if t in vocab]
        if not known:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.lexical.get_scores(known)
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[allowed] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        rows = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        rows = rows[np.argsort(-scores[rows])]
        rows = rows[scores[rows] > 0]
        return rows, scores[rows].astype(np.float32)


def _holds(sequence: list[str], phrase: tuple[str, ...]) -> bool:
    """Does the phrase stand in the sequence, word for word?"""
    n = len(phrase)
    return any(tuple(sequence[i:i + n]) == phrase for i in range(len(sequence) - n + 1) if sequence[i] == phrase[0])


# ---------------------------------------------------------------- serialisation

def _document_to_json(document: Document) -> dict:
    return asdict(document)


def _document_from_json(data: dict) -> Document:
    data = dict(data)
    data["paragraphs"] = tuple(Paragraph(**p) for p in data.get("paragraphs", ()))
    data["judgements"] = tuple(Judgement(**j) for j in data.get("judgements", ()))
    data["aliases"] = tuple(data.get("aliases", ()))
    return Document(**data)


def _write_jsonl(path: Path, rows) -> np.ndarray:
    """Write one JSON object a line; returns the byte offset of each line and of the end."""
    offsets = [0]
    with path.open("wb") as handle:
        for row in rows:
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            handle.write(line)
            offsets.append(offsets[-1] + len(line))
        handle.flush()
        os.fsync(handle.fileno())
    return np.array(offsets, dtype=np.int64)


def corpus_fingerprint(documents: list[Document]) -> str:
    digest = hashlib.sha256(PIPELINE_VERSION.encode())
    for document in sorted(documents, key=lambda d: d.id):
        meta = (document.id, document.fingerprint, document.title, document.kind, document.authority,
                document.date, document.period_start, document.period_end)
        digest.update(json.dumps(meta).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- locations

def index_embedder(index_dir: Path) -> Embedder:
    """The embedder (backend) that built the index in index_dir; the default one when there is none."""
    return embedder_for((read_manifest(index_dir) or {}).get("model"))


def current_version(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    return folder if (folder / "manifest.json").exists() else None


def read_manifest(index_dir: Path) -> dict | None:
    folder = current_version(index_dir)
    if folder is None:
        return None
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Only one build or update at a time; a second is refused, not queued or interleaved."""
    index_dir.mkdir(parents=True, exist_ok=True)
    handle = open(index_dir / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise IndexBusy(f"another build or update is running on {index_dir} ({holder}); wait for it to finish")
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        yield
    finally:
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


# ---------------------------------------------------------------- writing

def _cached_vectors(index_dir: Path, keys_name: str, vectors_name: str, model: str) -> tuple[dict[str, int], np.ndarray]:
    """Rows of the live index's vectors by content key, and those vectors (memory-mapped), so unchanged
    texts are not embedded again (only when the same model and backend made them)."""
    nothing: tuple[dict[str, int], np.ndarray] = ({}, np.zeros((0, 0), dtype=np.float32))
    folder = current_version(index_dir)
    if folder is None:
        return nothing
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        keys = np.load(folder / keys_name)
        vectors = np.load(folder / vectors_name, mmap_mode="r")
    except (OSError, ValueError) as exc:
        log.info("not reusing vectors from %s: %s", folder, exc)
        return nothing
    if len(keys) != len(vectors) or manifest.get("model") != model:
        return nothing
    return {key.decode(): i for i, key in enumerate(keys.tolist())}, vectors


ENCODE_CHUNK = 8192  # texts encoded per call: bounds the memory a build holds besides the output file


def _embed_with_cache(texts: list[str], keys: list[str], cache: tuple[dict[str, int], np.ndarray],
                      embedder: Embedder, progress: bool, path: Path) -> tuple[np.ndarray, int]:
    """Vectors for texts written to a .npy file (memory-mapped, not held on the heap), reusing cached ones
    by key; returns (vectors, how many were embedded)."""
    rows, old = cache
    vectors = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(len(texts), embedder.dimension))
    missing = []
    for i, key in enumerate(keys):
        if key in rows:
            vectors[i] = old[rows[key]]
        else:
            missing.append(i)
    size = getattr(embedder, "encode_chunk", ENCODE_CHUNK)
    chunks = range(0, len(missing), size)
    if progress and len(chunks) > 1:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc=f"Embedding {len(missing):,} texts", unit="chunk")
    for first in chunks:
        part = missing[first:first + size]
        vectors[part] = embedder.encode([texts[i] for i in part], show_progress=progress and len(missing) <= size)
    vectors.flush()
    return vectors, len(missing)


class _NpyAppender:
    """A 2-D .npy file written a block of rows at a time, its length known only at the end."""

    HEADER = 128  # a v1.0 .npy header of a 2-D array is padded to 128 bytes

    def __init__(self, path: Path, dtype, width: int) -> None:
        self.path, self.dtype, self.width, self.rows = path, np.dtype(dtype), width, 0
        self.handle = open(path, "wb")
        self.handle.write(b"\0" * self.HEADER)

    def append(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=self.dtype).reshape(-1, self.width)
        self.handle.write(block.tobytes())
        self.rows += len(block)

    def close(self) -> None:
        import io

        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                      "fortran_order": False, "shape": (self.rows, self.width)})
        if len(header.getvalue()) != self.HEADER:
            raise ValueError(f"unexpected .npy header length {len(header.getvalue())}")
        self.handle.seek(0)
        self.handle.write(header.getvalue())
        self.handle.close()


def _quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit token vectors -> int8 rows and one float32 scale per row (max |x| / 127)."""
    scales = np.clip(np.abs(vectors).max(axis=1, keepdims=True), 1e-12, None) / 127.0
    return np.round(vectors / scales).astype(np.int8), scales.astype(np.float32)


def _embed_sentences(sentences: list[str], keys: list[str], index_dir: Path, embedder: Embedder, progress: bool,
                     staging: Path) -> int:
    """Sentence vectors (sentence_vectors.npy) and their token vectors (token_*.npy) in one model pass,
    reusing both from the live index for unchanged sentences; returns how many were encoded."""
    old_rows, old_vectors = _cached_vectors(index_dir, "sentence_keys.npy", "sentence_vectors.npy", embedder.name)
    old_tokens = None
    folder = current_version(index_dir)
    if old_rows and folder is not None and (folder / "token_offsets.npy").exists():
        old_tokens = (np.load(folder / "token_offsets.npy"), RowFile(folder / "token_vectors.npy"),
                      RowFile(folder / "token_scales.npy"), RowFile(folder / "token_ids.npy"))
    if old_tokens is None:
        old_rows = {}
    dimension = embedder.dimension
    vectors = np.lib.format.open_memmap(staging / "sentence_vectors.npy", mode="w+", dtype=np.float32,
                                        shape=(len(sentences), dimension))
    token_vectors = _NpyAppender(staging / "token_vectors.npy", np.int8, dimension)
    token_scales = _NpyAppender(staging / "token_scales.npy", np.float32, 1)
    token_ids = _NpyAppender(staging / "token_ids.npy", np.int32, 1)
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    frequency = np.zeros(embedder.vocabulary_size(), dtype=np.int64)
    encoded = 0
    size = getattr(embedder, "encode_chunk", ENCODE_CHUNK)
    chunks = range(0, len(sentences), size)
    if progress and len(sentences) > size:
        from tqdm import tqdm

        chunks = tqdm(chunks, desc=f"Embedding {len(sentences):,} sentences", unit="chunk")
    for first in chunks:
        part = range(first, min(first + size, len(sentences)))
        missing = [i for i in part if keys[i] not in old_rows]
        fresh: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if missing:
            new_vectors, new_tokens = embedder.encode_tokens([sentences[i] for i in missing])
            for i, vector, (ids, tokens_) in zip(missing, new_vectors, new_tokens):
                quantised, scales = _quantise(tokens_)
                fresh[i] = (vector, ids, quantised, scales)
            encoded += len(missing)
        for i in part:
            if i in fresh:
                vector, ids, quantised, scales = fresh[i]
            else:
                old = old_rows[keys[i]]
                t0, t1 = int(old_tokens[0][old]), int(old_tokens[0][old + 1])
                vector = old_vectors[old]
                quantised, scales, ids = old_tokens[1].rows(t0, t1), old_tokens[2].rows(t0, t1), old_tokens[3].rows(t0, t1)[:, 0]
            vectors[i] = vector
            token_vectors.append(quantised)
            token_scales.append(scales)
            token_ids.append(ids)
            frequency[np.unique(ids)] += 1
            offsets[i + 1] = offsets[i] + len(ids)
    vectors.flush()
    del vectors
    for appender in (token_vectors, token_scales, token_ids):
        appender.close()
    np.save(staging / "token_offsets.npy", offsets)
    np.save(staging / "wordpiece_idf.npy",
            np.log((len(sentences) + 1) / (frequency + 0.5)).astype(np.float32))
    return encoded


def _text_key(text: str) -> str:
    return hashlib.sha1(f"{EMBEDDING_KEY_VERSION}\x00{text}".encode()).hexdigest()


EXACT_SEARCH_LIMIT = 200_000  # below this many passages exact search is fast enough (bench/scale.py)
IVF_NPROBE = 64  # lists searched per query: recall@10 0.98 against exact search at 1M (bench/scale.py)
LARGE_INDEX = "IVF-SQ8"  # above EXACT_SEARCH_LIMIT: "IVF-SQ8" or "IVF-Flat" (bench/scale.py measures both)


def sentence_hubness(vectors: np.ndarray, neighbours: int = HUB_NEIGHBOURS, sample: int = HUB_SAMPLE,
                     block: int = 8192) -> np.ndarray:
    """Each sentence's mean cosine similarity to its nearest `neighbours` other sentences.

    Embedding spaces have hubs: generic sentences ('Children in care receive an outstanding level of help
    and support.') sit close to nearly every question and outscore the sentence that answers it.
    Subtracting a share of this value from a sentence's similarity to the question is the retrieval side of
    CSLS (Conneau et al., 2018, "Word translation without parallel data"). Large corpora are measured
    against a fixed random sample of sentences, which keeps the build linear in the corpus size."""
    n = len(vectors)
    if n < 2:
        return np.zeros(n, dtype=np.float32)
    chosen = np.sort(np.random.default_rng(0).choice(n, size=sample, replace=False)) if n > sample else np.arange(n)
    reference = np.asarray(vectors[chosen], dtype=np.float32)
    k = min(neighbours, len(chosen) - 1)
    out = np.empty(n, dtype=np.float32)
    for start in range(0, n, block):
        rows = np.asarray(vectors[start:start + block], dtype=np.float32)
        similarity = rows @ reference.T
        # a sentence is not its own neighbour (nor is an exact copy of it)
        similarity[similarity > 0.9999] = -1.0
        out[start:start + len(rows)] = np.partition(similarity, -k, axis=1)[:, -k:].mean(axis=1)
    return out


def dense_index_for(vectors: np.ndarray) -> faiss.Index:
    """Exact inner-product search while it is fast enough; an inverted-file index beyond that."""
    n, dimension = vectors.shape
    if n <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dimension)
        if n:
            index.add(vectors)
        return index
    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatIP(dimension)
    if LARGE_INDEX == "IVF-SQ8":  # a byte a dimension: a quarter of the memory a query's lists touch
        index = faiss.IndexIVFScalarQuantizer(quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = vectors[np.random.default_rng(0).choice(n, size=min(n, nlist * 64), replace=False)]
    index.train(sample)
    index.add(vectors)
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


def write_index(documents: list[Document], index_dir: Path, embedder: Embedder, progress: bool = False) -> dict:
    """Write a new index version for these documents and make it the live one. Caller holds the lock."""
    started = time.perf_counter()
    titles = {d.id: d.title for d in documents}
    passages = [p for d in documents for p in split_document(d)]
    glossary = Glossary.from_definitions(found for d in documents for found in definitions(d.text))
    texts = [p.index_text(titles[p.document_id]) for p in passages]
    # what the model embeds has the reports' abbreviations spelled out, as the questions' have (qa.glossary);
    # BM25 keeps the words as written and expands the question instead
    embedded_texts = [glossary.spell_out(t) for t in texts]
    keys = [_text_key(t) for t in embedded_texts]
    fingerprint = corpus_fingerprint(documents)
    staging = index_dir / f".staging-{os.getpid()}-{int(time.time() * 1000)}"
    staging.mkdir(parents=True)
    try:
        cache = _cached_vectors(index_dir, "passage_keys.npy", "vectors.npy", embedder.name)
        vectors, embedded = _embed_with_cache(embedded_texts, keys, cache, embedder, progress, staging / "vectors.npy")
        del cache, embedded_texts
        sentences = [p.text[a:b] for p in passages for a, b in p.sentences]
        sentence_keys = [_text_key(t) for t in sentences]
        sentences_embedded = _embed_sentences(sentences, sentence_keys, index_dir, embedder, progress, staging)
        del sentences
        np.save(staging / "sentence_hubness.npy",
                sentence_hubness(np.load(staging / "sentence_vectors.npy", mmap_mode="r")))
        np.save(staging / "improvement_rows.npy",
                np.array([i for i, p in enumerate(passages) if is_improvement_list(p)], dtype=np.int64))
        headings = [p.heading(titles[p.document_id]) for p in passages]
        distinct = {h: i for i, h in enumerate(dict.fromkeys(h for h in headings if h))}
        np.save(staging / "heading_rows.npy", np.array([distinct.get(h, -1) for h in headings], dtype=np.int32))
        np.save(staging / "heading_vectors.npy", embedder.encode([glossary.spell_out(h) for h in distinct]) if distinct
                else np.zeros((0, embedder.dimension), dtype=np.float32))
        offsets = np.cumsum([0] + [len(p.sentences) for p in passages]).astype(np.int64)
        frequency: dict[str, int] = {}
        surface: dict[str, str] = {}  # a word each stem came from, to embed for alias look-ups
        passage_tokens = []
        for text in texts:
            pairs = stemmed_words(text)
            passage_tokens.append([stem for stem, _ in pairs])
            for stem, word in pairs:
                if stem not in surface:
                    surface[stem] = word
            for token in {stem for stem, _ in pairs}:
                frequency[token] = frequency.get(token, 0) + 1
        vocabulary = sorted((s for s in surface if s.isalpha() and len(s) > 1), key=lambda s: (-frequency[s], s))
        vocabulary = vocabulary[:MAX_VOCABULARY]
        word_texts = [surface[s] for s in vocabulary]
        word_keys = [_text_key("word\x00" + w) for w in word_texts]
        cache = _cached_vectors(index_dir, "word_keys.npy", "word_vectors.npy", embedder.name)
        _, words_embedded = _embed_with_cache(word_texts, word_keys, cache, embedder, False, staging / "word_vectors.npy")
        del cache, surface
        np.save(staging / "word_stems.npy", np.array(vocabulary, dtype="S"))
        np.save(staging / "word_keys.npy", np.array(word_keys, dtype="S40"))
        log.info("%d passages from %d documents: embedded %d passages, %d sentences and %d words, reused the rest",
                 len(passages), len(documents), embedded, sentences_embedded, words_embedded)
        _write_jsonl(staging / "documents.jsonl", (_document_to_json(d) for d in documents))
        np.save(staging / "passage_offsets.npy", _write_jsonl(staging / "passages.jsonl", (p.to_dict() for p in passages)))
        rows = {d.id: i for i, d in enumerate(documents)}
        np.save(staging / "passage_documents.npy", np.array([rows[p.document_id] for p in passages], dtype=np.int32))
        np.save(staging / "passage_spans.npy", np.array([(p.start, p.end) for p in passages], dtype=np.int64).reshape(-1, 2))
        np.save(staging / "passage_keys.npy", np.array(keys, dtype="S40"))
        np.save(staging / "sentence_keys.npy", np.array(sentence_keys, dtype="S40"))
        np.save(staging / "sentence_offsets.npy", offsets)
        (staging / "lexicon.json").write_text(json.dumps(frequency), encoding="utf-8")
        (staging / "glossary.json").write_text(json.dumps(glossary.to_json()), encoding="utf-8")
        faiss.write_index(dense_index_for(vectors), str(staging / "dense.faiss"))
        if passages:
            lexical = bm25s.BM25()
            lexical.index([toks or ["_"] for toks in passage_tokens], show_progress=False)
            lexical.save(str(staging / "bm25"))
        manifest = {
            "format_version": FORMAT_VERSION,
            "pipeline_version": PIPELINE_VERSION,
            "model": embedder.name,
            "dimension": embedder.dimension,
            "corpus_fingerprint": fingerprint,
            "documents": len(documents),
            "passages": len(passages),
            "sentences": len(sentence_keys),
            "words": len(vocabulary),
            "glossary": len(glossary.terms),
            "headings": len(distinct),
            "embedded": embedded,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        version = f"v{time.strftime('%Y%m%dT%H%M%S')}-{int(time.time() * 1000) % 1000:03d}-{fingerprint[:8]}"
        final = index_dir / version
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _swap_current(index_dir, version)
    _prune(index_dir, keep=version)
    log.info("index %s written in %.1f s", version, time.perf_counter() - started)
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


# ---------------------------------------------------------------- reading

def load_index(index_dir: Path, model: str | None = None) -> Index:
    """The live index; refuses a missing or mismatched one with the command that fixes it."""
    folder = current_version(index_dir)
    if folder is None:
        raise IndexNotReady(f"no index at {index_dir}: run `qa build`")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexNotReady(f"index at {index_dir} has format {manifest.get('format_version')}, "
                          f"this version reads {FORMAT_VERSION}: run `qa build`")
    if model and manifest.get("model") != model:
        raise IndexNotReady(f"index at {index_dir} was built with {manifest.get('model')}, not {model}: run `qa build`")
    documents: dict[str, Document] = {}
    lines: dict[str, tuple[int, int]] = {}
    with (folder / "documents.jsonl").open("rb") as handle:
        position = 0
        for line in handle:  # one at a time: only the header of each stays in memory
            if line.strip():
                document = _document_from_json(json.loads(line)).header()
                documents[document.id] = document
                lines[document.id] = (position, position + len(line))
            position += len(line)
    passages = PassageStore(folder / "passages.jsonl", np.load(folder / "passage_offsets.npy"),
                            np.load(folder / "passage_documents.npy"), np.load(folder / "passage_spans.npy"))
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")  # not read when serving
    try:  # memory-mapped where FAISS allows, so several server processes share one copy
        dense = faiss.read_index(str(folder / "dense.faiss"), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        dense = faiss.read_index(str(folder / "dense.faiss"))
    lexical = bm25s.BM25.load(str(folder / "bm25"), mmap=True) if (folder / "bm25").exists() else None
    sentence_vectors = RowFile(folder / "sentence_vectors.npy")
    sentence_offsets = np.load(folder / "sentence_offsets.npy")
    hubness = np.load(folder / "sentence_hubness.npy", mmap_mode="r")
    frequency = json.loads((folder / "lexicon.json").read_text(encoding="utf-8"))
    return Index(folder, manifest, documents, passages, vectors, dense, lexical, sentence_vectors,
                 sentence_offsets, hubness, frequency, document_lines=lines, word_stems=np.load(folder / "word_stems.npy"),
                 word_vectors=np.load(folder / "word_vectors.npy", mmap_mode="r"),
                 glossary=Glossary.from_json(json.loads((folder / "glossary.json").read_text(encoding="utf-8"))),
                 heading_vectors=np.load(folder / "heading_vectors.npy", mmap_mode="r"),
                 heading_rows=np.load(folder / "heading_rows.npy"),
                 improvement_rows=np.load(folder / "improvement_rows.npy"),
                 token_vectors=RowFile(folder / "token_vectors.npy"), token_scales=RowFile(folder / "token_scales.npy"),
                 token_ids=RowFile(folder / "token_ids.npy"), token_offsets=np.load(folder / "token_offsets.npy"),
                 wordpiece_idf=np.load(folder / "wordpiece_idf.npy"))
