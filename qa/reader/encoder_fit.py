"""Fitting the answer encoder's adapters (qa/reader/encoder.py), for `qa calibrate`. Needs torch; the
service never imports this module.

A bi-encoder fine-tuned on (question, answering sentence) pairs: both pass through the bundled model with
trainable low-rank adapters. The negatives are the batch's other sentences (in-batch) plus one hard
negative a question: one of its three best-matching candidates by token MaxSim that does not answer.
Questions the reports do not answer train too, as in SQuAD 2.0: beside the sentences, each softmax has a
learnt 'no answer' logit, their target, which an answering sentence must outscore. So the cosine is
meant to stay lower for every sentence when nothing answers, which the confidence reads.
Measured with bench/answer_encoder.py, which this follows (5 folds by answering passage): the answering
sentence first for 0.679 by the tuned cosine alone against 0.489 by the base model's, and 0.755 against
0.724 for the reader's ranker with it; about 4 minutes a fold on 2 cores. Adapting the question side alone
against the index's fixed sentence vectors was measured too: 0.619 alone, 0.728 with the ranker.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer
from transformers.utils import logging as hf_logging

from qa.embed import model_path
from qa.reader.encoder import RANK, SCALE, deltas, module_names

EPOCHS = 2
LEARNING_RATE = 5e-4
BATCH = 16
TEMPERATURE = 20.0  # cosines x 20 as logits, the scale sentence-transformers' ranking losses use
TRAIN_TOKENS = 96  # training reads the first 96 wordpieces of a sentence; encoding reads up to 256
HARD_NEGATIVES = 3  # a question's hard negative is drawn from its best-matching non-answering candidates
NULL_COSINE = 0.5  # where the 'no answer' logit starts, as a cosine

hf_logging.disable_progress_bar()


@dataclass
class Pair:
    """One training question: its text, the sentences that answer it (none when the reports do not answer
    it), and its hardest wrong candidates."""

    question: str
    positives: list[str]
    negatives: list[str]


class LowRank(torch.nn.Module):
    """W x + (up down x) * SCALE; `up` starts at zero, so an untrained adapter changes nothing."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        self.linear = linear
        self.down = torch.nn.Parameter(torch.randn(RANK, linear.in_features) * 0.01)
        self.up = torch.nn.Parameter(torch.zeros(linear.out_features, RANK))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + (x @ self.down.T @ self.up.T) * SCALE


def fit_adapters(pairs: list[Pair], epochs: int = EPOCHS, seed: int = 0) -> dict[str, np.ndarray]:
    """The adapters (fp16 arrays by '<module>.down' / '<module>.up'), or {} when there is nothing to learn."""
    usable = [p for p in pairs if p.negatives]
    if not any(p.positives for p in usable):
        return {}
    torch.manual_seed(seed)
    tokenizer, model = AutoTokenizer.from_pretrained(model_path()), AutoModel.from_pretrained(model_path())
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    layers: dict[str, LowRank] = {}
    for name in module_names():
        parent_name, _, attribute = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        layers[name] = LowRank(getattr(parent, attribute))
        setattr(parent, attribute, layers[name])
    model.train()
    # the logit of 'no sentence here answers', learnt with the adapters: an unanswerable question's target,
    # and the bar an answering sentence must clear, so the cosine itself says whether anything answers
    null = torch.nn.Parameter(torch.tensor(TEMPERATURE * NULL_COSINE))
    trainable = [p for layer in layers.values() for p in (layer.down, layer.up)] + [null]
    optimiser = torch.optim.AdamW(trainable, lr=LEARNING_RATE, weight_decay=0.01)
    rng = np.random.RandomState(seed)
    for _ in range(epochs):
        order = rng.permutation(len(usable))
        for first in range(0, len(usable), BATCH):
            batch = [usable[i] for i in order[first:first + BATCH]]
            positives = [p.positives[rng.randint(len(p.positives))] for p in batch if p.positives]
            negatives = [p.negatives[rng.randint(len(p.negatives))] for p in batch]
            documents = positives + negatives
            logits = TEMPERATURE * pooled(model, tokenizer, [p.question for p in batch]) @ pooled(
                model, tokenizer, documents).T
            # a sentence that answers a question is no negative for it (the same sentence can answer two)
            same = torch.tensor([[d in batch[i].positives for d in documents] for i in range(len(batch))])
            target, found = [], 0
            for i, p in enumerate(batch):
                target.append(found if p.positives else len(documents))  # the last column: no answer here
                if p.positives:
                    same[i, found] = False
                    found += 1
            logits = torch.cat([logits.masked_fill(same, -1e4), null.expand(len(batch), 1)], dim=1)
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(target))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return {f"{name}.{part}": getattr(layer, part).detach().numpy().astype(np.float16)
            for name, layer in layers.items() for part in ("down", "up")}


def pooled(model, tokenizer, texts: list[str], max_tokens: int = TRAIN_TOKENS) -> torch.Tensor:
    """Unit mean-pooled vectors, as sentence-transformers pools the bundled model."""
    encoded = tokenizer(texts, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    hidden = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"][..., None].float()
    return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)


class Scorer:
    """Adapters held in memory during `qa calibrate`: encodes questions with them, writing nothing."""

    def __init__(self, adapters: dict[str, np.ndarray]) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(model_path())
        model = AutoModel.from_pretrained(model_path())
        state = model.state_dict()
        for name, delta in deltas(adapters).items():
            state[f"{name}.weight"] += torch.from_numpy(delta)
        model.load_state_dict(state)
        self.model = model.eval()

    def encode(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """Unit vectors as the merged model in the service gives them (up to 256 wordpieces)."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with torch.inference_mode():
            return np.vstack([pooled(self.model, self.tokenizer, texts[i:i + batch], 256).numpy()
                              for i in range(0, len(texts), batch)]).astype(np.float32)
