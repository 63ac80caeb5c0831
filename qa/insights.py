"""What the question log and the feedback say: the most-asked questions, those the service abstained on, the
answers staff marked wrong, and the words people ask with that the reports never use, each with the report
terms nearest it in meaning: candidate lines for qa/synonyms.txt, for a person to accept or not."""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from qa.store import Store
from qa.text import STOPWORD_STEMS, stemmed_words

NEAREST = 3
MIN_SIMILARITY = 0.55  # looser than retrieval's: a person reads these


def _key(question: str) -> str:
    return re.sub(r"\s+", " ", question.strip().lower().rstrip("?. "))


def insights(store: Store, pipeline, top: int = 10) -> dict[str, Any]:
    """The figures `qa insights` prints and the admin page shows."""
    asked = store.questions()
    counted = Counter(_key(row["question"]) for row in asked)
    shown = {}
    for row in asked:
        shown.setdefault(_key(row["question"]), row["question"])
    abstained = Counter(_key(row["question"]) for row in asked if not row["answered"])
    wrong = [{"question": row["question"], "answer": row["answer_text"], "verdict": row["verdict"],
              "picked": row["picked_text"], "note": row["note"]}
             for row in store.feedback() if row["verdict"] != "right"]
    return {
        "questions_logged": len(asked),
        "most_asked": [{"question": shown[k], "count": n} for k, n in counted.most_common(top)],
        "abstained": [{"question": shown[k], "count": n} for k, n in abstained.most_common(top)],
        "marked_wrong": wrong[-top:][::-1],
        "unknown_words": unknown_words([row["question"] for row in asked], pipeline, top),
    }


def unknown_words(questions: list[str], pipeline, top: int = 10) -> list[dict[str, Any]]:
    """Words of the questions that no report uses, most frequent first, with the report words nearest them."""
    index = pipeline.index
    counts: Counter[str] = Counter()
    surface: dict[str, str] = {}
    for question in questions:
        for stem, word in stemmed_words(question):
            if stem in STOPWORD_STEMS or not word.isalpha() or len(word) < 3 or stem in index.document_frequency:
                continue
            counts[stem] += 1
            surface.setdefault(stem, word.lower())
    chosen = [stem for stem, _ in counts.most_common(top)]
    if not chosen:
        return []
    vectors = pipeline.embedder.encode([surface[stem] for stem in chosen])
    nearest = index.similar_words(np.asarray(vectors), MIN_SIMILARITY, NEAREST)
    return [{"word": surface[stem], "count": counts[stem],
             "nearest": [{"term": term, "similarity": round(float(similarity), 3)} for term, similarity in near]}
            for stem, near in zip(chosen, nearest)]


def render(found: dict[str, Any]) -> str:
    """The insights as plain text."""
    lines = [f"{found['questions_logged']} questions in the log"]
    for title, key in (("Most asked", "most_asked"), ("Abstained on", "abstained")):
        lines += ["", f"{title}:"] + [f"  {item['count']:4d}  {item['question']}" for item in found[key]]
    lines += ["", "Marked wrong or not in the reports:"]
    for item in found["marked_wrong"]:
        picked = f" -> picked: {item['picked']!r}" if item["picked"] else ""
        lines.append(f"  {item['question']}  (answer {item['answer']!r}, {item['verdict']}){picked}")
    lines += ["", "Words the reports never use, with the report terms nearest them (candidate synonym lines):"]
    for item in found["unknown_words"]:
        near = ", ".join(f"{n['term']} ({n['similarity']:.2f})" for n in item["nearest"]) or "nothing close"
        lines.append(f"  {item['count']:4d}  {item['word']}: {near}")
    return "\n".join(lines)
