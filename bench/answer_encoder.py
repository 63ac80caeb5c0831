"""Would an answer encoder help the reader? The bundled MiniLM fine-tuned, as a bi-encoder, to put a question
next to the sentence that answers it, measured out of fold on every training question set.

For each training question the reader's candidate sentences are gathered as `qa calibrate` gathers them
(with their feature rows and labels). Folds group questions by their answering *passage*, so a held-out
question's passage was never a positive in training. Per fold the model is fine-tuned on the other folds'
(question, answering sentence) pairs against in-batch and hard negatives (the best-matching wrong sentences
by token MaxSim), with low-rank adapters (LoRA, rank `--rank`) on every linear layer, or all weights with
`--full`. Printed, out of fold: the answering sentence ranked first by token MaxSim alone, by the base
model's sentence cosine alone, by the tuned model's cosine alone, and by the reader's LightGBM ranker
without and with the tuned cosine as two more features. Also the adapters' size and the time taken.

It ships nothing: it answers whether the encoder is worth building into the index and `qa calibrate`
(docs/reader.md). Run: .venv/bin/python bench/answer_encoder.py [--folds 5] [--only 1] [--full]
About 8 minutes a fold on 2 cores with LoRA.
"""
from __future__ import annotations

import argparse
import copy
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
        found.append(Question(item.question, bool(item.answers), np.stack([c.features for c in example.candidates]),
                              labels, [c.text for c in example.candidates], answering))
    return found


class LowRank(torch.nn.Module):
    """A linear layer plus a trainable low-rank update (LoRA): W x + (B A x) * alpha / r, B starting at 0."""

    def __init__(self, linear: torch.nn.Linear, rank: int) -> None:
        super().__init__()
        self.linear = linear
        self.down = torch.nn.Parameter(torch.randn(rank, linear.in_features) * 0.01)
        self.up = torch.nn.Parameter(torch.zeros(linear.out_features, rank))
        self.scale = 2.0  # alpha = 2 r

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + (x @ self.down.T @ self.up.T) * self.scale


def adapted(model, rank: int):
    """The model with every transformer linear layer adapted; only the adapters train."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for layer in model.encoder.layer:
        attention = layer.attention
        for name in ("query", "key", "value"):
            setattr(attention.self, name, LowRank(getattr(attention.self, name), rank))
        attention.output.dense = LowRank(attention.output.dense, rank)
        layer.intermediate.dense = LowRank(layer.intermediate.dense, rank)
        layer.output.dense = LowRank(layer.output.dense, rank)
    return model


def encode(model, tokenizer, texts: list[str], batch: int = 64):
    """Mean-pooled, unit-length vectors, as sentence-transformers pools all-MiniLM-L6-v2."""

    out = []
    for start in range(0, len(texts), batch):
        encoded = tokenizer(texts[start:start + batch], padding=True, truncation=True, max_length=96,
                            return_tensors="pt")
        hidden = model(**encoded).last_hidden_state
        mask = encoded["attention_mask"][..., None].float()
        out.append(torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1))
    return torch.cat(out)


def fine_tune(base, tokenizer, questions: list[Question], args: argparse.Namespace):
    """In-batch negatives plus one hard negative a question (a sentence that matches well but does not answer)."""

    model = copy.deepcopy(base)
    if not args.full:
        model = adapted(model, args.rank)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=args.lr if not args.full else 2e-5, weight_decay=0.01)
    maxsim = 0  # features.SENTENCE_FEATURES[0]
    pairs = []
    for q in questions:
        if not q.answerable or not q.labels.any() or q.labels.all():
            continue
        positives = [s for s, label in zip(q.sentences, q.labels) if label]
        order = np.argsort(-q.features[:, maxsim])
        negatives = [q.sentences[i] for i in order if not q.labels[i]][:3]
        pairs.append((q.text, positives, negatives))
    rng = np.random.RandomState(0)
    for _ in range(args.epochs):
        order = rng.permutation(len(pairs))
        for start in range(0, len(pairs), 16):
            batch = [pairs[i] for i in order[start:start + 16]]
            texts = [p[0] for p in batch]
            positives = [p[1][rng.randint(len(p[1]))] for p in batch]
            negatives = [p[2][rng.randint(len(p[2]))] for p in batch]
            documents = positives + negatives
            logits = 20.0 * encode(model, tokenizer, texts) @ encode(model, tokenizer, documents).T
            # a sentence that answers two questions of the batch is no negative for either
            same = torch.tensor([[positives[i] == d for d in documents] for i in range(len(batch))])
            target = torch.arange(len(batch))
            same[target, target] = False
            loss = torch.nn.functional.cross_entropy(logits.masked_fill(same, -1e4), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    model.eval()
    return model, sum(p.numel() for p in trainable)


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
    parser.add_argument("--rank", type=int, default=8, help="LoRA rank")
    parser.add_argument("--lr", type=float, default=5e-4, help="LoRA learning rate (full fine-tuning uses 2e-5)")
    parser.add_argument("--full", action="store_true", help="fine-tune every weight instead of adapters")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from sklearn.model_selection import GroupKFold
    from transformers import AutoModel, AutoTokenizer

    from qa.embed import model_path
    from qa.reader import features as F

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    print(machine())
    started = time.perf_counter()
    questions = gather(Path(args.index))
    print(f"{len(questions)} questions ranked by the reader ({time.perf_counter() - started:.0f} s to gather)")
    path = model_path()
    tokenizer, base = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    folds = list(GroupKFold(args.folds).split(np.zeros(len(questions)), groups=[q.passage for q in questions]))
    if args.only:
        folds = folds[:args.only]
    tuned: list[np.ndarray] = [np.zeros(len(q.labels)) for q in questions]
    dense = F.SENTENCE_FEATURES.index("dense_question")
    for number, (train, test) in enumerate(folds, start=1):
        t0 = time.perf_counter()
        model, size = fine_tune(base, tokenizer, [questions[i] for i in train], args)
        with torch.inference_mode():
            for i in test:
                vectors = encode(model, tokenizer, [questions[i].text] + questions[i].sentences)
                tuned[i] = (vectors[1:] @ vectors[0]).numpy()
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
