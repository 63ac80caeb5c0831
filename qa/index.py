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
    index_store/<version>/answer.faiss     FAISS index over the answer vectors (the reader's wider reading)
    index_store/<version>/answer_vectors.npy, answer_hubness.npy   each sentence as the reader's answer
                                          encoder reads it (fp16; qa/reader/encoder.py) and its hubness
                                          among them, which the reader discounts as above
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
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import bm25s
import faiss
import numpy as np

from qa.embed import Embedder, embedder_for
from qa.authority import Registry
from qa.glossary import Glossary
from qa.text import STOPWORD_STEMS, stems, tokens
from qa.types import Document, Judgement, Paragraph, Passage

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG on import

FORMAT_VERSION = 11  # 11: answer.faiss
EMBEDDING_KEY_VERSION = 2  # part of each embedded text's cache key: bump only when what is embedded changes
PHRASE_SCAN = 1_000  # passages read (about 0.25 ms each) to tell whether the corpus uses a phrase (Index.uses_phrase)
MAX_VOCABULARY = 100_000  # words embedded for alias look-ups: the most frequent stems beyond this
PIPELINE_VERSION = "clean-2/chunk-4/words-3"  # bump when cleaning or chunking changes what passages say
KEEP_VERSIONS = 2
HUB_NEIGHBOURS = 30  # a sentence's hubness: mean cosine of its nearest this many sentences...
HUB_SAMPLE = 4096  # ...among a fixed sample of this many (all of them in a corpus this size or smaller)
ANSWER_SEARCH_BREADTH = 4  # sentences first fetched a passage wanted by Index.search_answers (passages hold several)


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
    answer_vectors: RowFile | None = None  # each sentence as the reader's answer encoder reads it (fp16)
    answer_hubness: np.ndarray | None = None  # each sentence's hubness among the answer vectors
    answer_search: faiss.Index | None = None  # FAISS over the answer vectors, one entry a sentence

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

    def answer_vectors_of(self, row: int) -> np.ndarray | None:
        """Passage `row`'s sentences as the answer encoder reads them (qa/reader/encoder.py); None for an
        index built without them."""
        if self.answer_vectors is None or self.sentence_offsets is None:
            return None
        start, end = int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1])
        return self.answer_vectors.rows(start, end).astype(np.float32)

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

    def answer_hubness_of(self, row: int) -> np.ndarray | None:
        """Hubness of passage `row`'s sentences in the answer encoder's space (None for an index without it)."""
        if self.answer_hubness is None or self.sentence_offsets is None:
            return None
        start, end = int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1])
        return np.asarray(self.answer_hubness[start:end], dtype=np.float32)

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

    def search_answers(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of the k passages whose best sentence the answer encoder ranks highest for the question (its
        answer vector `query`), with that sentence's cosine; only rows in `allowed`, when given. Empty for an
        index built without the answer search (`qa build` adds it)."""
        if self.answer_search is None or self.sentence_offsets is None or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        offsets = np.asarray(self.sentence_offsets)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            allowed = np.asarray(allowed, dtype=np.int64)
            sentences = sentence_rows(offsets, allowed)
            selector = faiss.IDSelectorBatch(sentences)
            params = (faiss.SearchParametersIVF(sel=selector, nprobe=self.answer_search.nprobe)
                      if isinstance(self.answer_search, faiss.IndexIVF) else faiss.SearchParameters(sel=selector))
        total = int(offsets[-1]) if allowed is None else len(sentences)
        wanted = min(total, k * ANSWER_SEARCH_BREADTH)
        if wanted <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        vector = query.reshape(1, -1).astype(np.float32)
        while True:  # until k passages are found, or every sentence has been looked at
            scores, ids = self.answer_search.search(vector, wanted, params=params)
            keep = ids[0] >= 0
            rows = np.searchsorted(offsets, ids[0][keep], side="right") - 1
            best: dict[int, float] = {}
            for row, score in zip(rows.tolist(), scores[0][keep].tolist()):
                best.setdefault(int(row), float(score))  # FAISS returns the best first
            if len(best) >= k or wanted >= total:
                break
            wanted = min(total, wanted * 2)
        chosen = list(best.items())[:k]
        return (np.asarray([r for r, _ in chosen], dtype=np.int64), np.asarray([v for _, v in chosen], dtype=np.float32))

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


# ---------------------------------------------------------------- reading

def sentence_rows(offsets: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The sentence ids of passage `rows` (sentences of row r are offsets[r]..offsets[r + 1]), in one vectorised
    pass: a filter allowing 100k passages of a 1M index expands in milliseconds, not a Python loop's second."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = np.asarray(offsets, dtype=np.int64)[rows]
    lengths = np.asarray(offsets, dtype=np.int64)[rows + 1] - starts
    if not len(rows) or not lengths.sum():
        return np.zeros(0, dtype=np.int64)
    # each sentence id is its passage's first id plus its place within the passage
    places = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + places


def _read_faiss(path: Path) -> faiss.Index:
    """A FAISS index from disk, memory-mapped where FAISS allows, so several server processes share one copy."""
    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    except RuntimeError:
        return faiss.read_index(str(path))


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
    dense = _read_faiss(folder / "dense.faiss")
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
                 wordpiece_idf=np.load(folder / "wordpiece_idf.npy"),
                 answer_vectors=RowFile(folder / "answer_vectors.npy") if (folder / "answer_vectors.npy").exists() else None,
                 answer_hubness=np.load(folder / "answer_hubness.npy", mmap_mode="r")
                 if (folder / "answer_hubness.npy").exists() else None,
                 answer_search=_read_faiss(folder / "answer.faiss") if (folder / "answer.faiss").exists() else None)
