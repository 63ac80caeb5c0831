"""Would an answer encoder help the reader? The bundled MiniLM fine-tuned, as a bi-encoder, to put a question
next to the sentence that answers it, measured out of fold on every training question set.

For each training question the reader's candidate sentences are gathered as `qa calibrate` gathers them
(with their feature rows and labels). Folds group questions by their answering *passage*, so a held-out
question's passage was never a positive in training. Per fold the model is fine-tuned on the other folds'
(question, answering sentence) pairs against in-batch and hard negatives (the best-matching wrong sentences
by token MaxSim), with low-rank adapters (LoRA) on every linear layer: `qa calibrate`'s own fit
(qa/reader/encoder_fit.py). Printed, out of fold: the answering sentence ranked first by token MaxSim alone, by the base
model's sentence cosine alone, by the tuned model's cosine alone, and by the reader's LightGBM ranker
without and with the tuned cosine as two more features. Also the adapters' size and the time taken.

The shipped encoder's own scores (the features answer_dense, rel_answer_dense) are fitted on these very
questions, so they are zeroed here: "reader's ranker" is the ranker without the encoder. It writes nothing:
it measures what the encoder is worth (docs/reader.md). Run: .venv/bin/python bench/answer_encoder.py
[--folds 5] [--only 1]. About 4 minutes a fold on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine  # noqa: E402


@dataclass
class Question:
    text: str
    answerable: bool
    features: np.ndarray  # the reader's sentence features, one row a candidate
    labels: np.ndarray  # 1 for each candidate sentence that answers
    sentences: list[str]
    passage: str  # the answering passage (the fold group)


def gather(index_dir: Path) -> list[Question]:
    """The training questions the sentence ranker learns from, with their candidate sentences."""
    from eval.runner import load_gold, training_sets
    from qa.pipeline import Pipeline
    from qa.reader import train

    pipeline = Pipeline(index_dir)
    pipeline.warm_up()
    items = [item for path in training_sets() for item in load_gold(path)]
    found = []
    for item, example in zip(items, train.collect(pipeline, items)):
        if example.given is not None or not example.candidates:
            continue  # answered from the reports' own data (grades, lists), or nothing to rank
        labels = example.labels
        answering = example.candidates[int(np.argmax(labels))].hit.passage.id if labels.any() else item.id
        rows = np.stack([c.features for c in example.candidates])
        rows[:, [train.F.SENTENCE_FEATURES.index(n) for n in ("answer_dense", "rel_answer_dense")]] = 0.0
        found.append(Question(example.ctx.question.text, bool(item.answers), rows,
                              labels, [c.text for c in example.candidates], answering))
    return found


def fine_tune(questions: list[Question], epochs: int):
    """qa calibrate's answer encoder (qa/reader/encoder_fit.py) fitted on these questions' pairs."""
    from qa.reader.encoder_fit import HARD_NEGATIVES, Pair, Scorer, fit_adapters

    pairs = []
    for q in questions:
        if not q.answerable or not q.labels.any() or q.labels.all():
            continue
        order = np.argsort(-q.features[:, 0], kind="stable")  # token MaxSim, features.SENTENCE_FEATURES[0]
        pairs.append(Pair(q.text, list(dict.fromkeys(s for s, label in zip(q.sentences, q.labels) if label)),
                          [q.sentences[i] for i in order if not q.labels[i]][:HARD_NEGATIVES]))
    adapters = fit_adapters(pairs, epochs=epochs)
    return Scorer(adapters), sum(a.size for a in adapters.values())


def first(scores: list[np.ndarray], questions: list[Question]) -> float:
    """Share of answerable questions with an answering candidate whose top-scored sentence answers."""
    found = [q.labels[int(np.argmax(s))] for s, q in zip(scores, questions) if q.answerable and q.labels.any()]
    return float(np.mean(found)) if found else 0.0


def ranker_first(questions: list[Question], folds, extra: list[np.ndarray] | None) -> float:
    from qa.reader import features as F
    from qa.reader.model import Ranker

    names = F.SENTENCE_FEATURES + (("tuned", "rel_tuned") if extra is not None else ())
    rows = [np.hstack([q.features, extra[i]]) if extra is not None else q.features for i, q in enumerate(questions)]
    scores: list[np.ndarray] = [np.zeros(0)] * len(questions)
    for train, test in folds:
        used = [i for i in train if questions[i].labels.any() and not questions[i].labels.all()]
        ranker = Ranker.fit_lightgbm(np.vstack([rows[i] for i in used]), np.concatenate([questions[i].labels for i in used]),
                                     [len(questions[i].labels) for i in used], names, "slow")
        for i in test:
            scores[i] = ranker.score(rows[i])
    held = [i for _, test in folds for i in test]
    return first([scores[i] for i in held], [questions[i] for i in held])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default="index_store")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only", type=int, default=0, help="stop after this many folds (0: all)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from sklearn.model_selection import GroupKFold

    from qa.reader import features as F

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    print(machine())
    started = time.perf_counter()
    questions = gather(Path(args.index))
    print(f"{len(questions)} questions ranked by the reader ({time.perf_counter() - started:.0f} s to gather)")
    folds = list(GroupKFold(args.folds).split(np.zeros(len(questions)), groups=[q.passage for q in questions]))
    if args.only:
        folds = folds[:args.only]
    tuned: list[np.ndarray] = [np.zeros(len(q.labels)) for q in questions]
    dense = F.SENTENCE_FEATURES.index("dense_question")
    for number, (train, test) in enumerate(folds, start=1):
        t0 = time.perf_counter()
        scorer, size = fine_tune([questions[i] for i in train], args.epochs)
        for i in test:
            vectors = scorer.encode([questions[i].text] + questions[i].sentences)
            tuned[i] = vectors[1:] @ vectors[0]
        held = [questions[i] for i in test]
        print(f"fold {number}: {time.perf_counter() - t0:.0f} s, {size:,} weights trained; answering sentence first: "
              f"token MaxSim {first([q.features[:, 0] for q in held], held):.3f}, "
              f"base cosine {first([q.features[:, dense] for q in held], held):.3f}, "
              f"tuned cosine {first([tuned[i] for i in test], held):.3f}", flush=True)
    held_out = [i for _, test in folds for i in test]
    subset = [questions[i] for i in held_out]
    print(f"out of fold over {len(folds)} folds ({len(subset)} questions):")
    print(f"  token MaxSim alone  {first([q.features[:, 0] for q in subset], subset):.3f}")
    print(f"  base cosine alone   {first([q.features[:, dense] for q in subset], subset):.3f}")
    print(f"  tuned cosine alone  {first([tuned[i] for i in held_out], subset):.3f}")
    if not args.only:
        extra = [np.stack([s, s - s.max()], axis=1) for s in tuned]
        print(f"  reader's ranker     {ranker_first(questions, folds, None):.3f}")
        print(f"  ranker + tuned      {ranker_first(questions, folds, extra):.3f}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
