"""Does the answer encoder help retrieval? The passages search returns re-ranked by each one's best sentence
cosine in the answer encoder's space (qa.retrieve.rerank, ANSWER_WEIGHT), measured out of fold.

The training question sets are split in two at random (by set: a held-out question's writer never wrote a
training question). Per half, the answer encoder's adapters are fitted as `qa calibrate` fits them
(qa/reader/encoder_fit.py) on the other half's pairs, then encode every sentence of the index and the
held-out questions. Each held-out answerable question is searched as the service searches it (hybrid,
its own filters), and the evidence passage's rank is read with the re-ranking at each weight (0 is the
search without it), re-ranking the passages the reader reads (the top 10) as the service does, and, for
comparison, every passage of the index. Printed: hit@1/3/5/10/20 per weight, pooled over both halves,
and per half. Also what the reader reads (qa.reader.sentences.read_hits): the share of those questions whose
evidence passage is among the search's READ_DEPTH passages and the answer encoder's best w passages (by their
best sentence, among the passages the question's filters allow), for each w in WIDER (0: the search alone;
the service reads WIDER_DEPTH).

It writes nothing. Run: .venv/bin/python bench/answer_retrieval.py [--seed 1]. About 6 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine  # noqa: E402

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 3.0)
DEPTHS = (1, 3, 5, 10, 20)
WIDER = (0, 1, 3, 5, 10)


def corpus_answer_vectors(index, scorer) -> tuple[np.ndarray, np.ndarray]:
    """Every sentence of the index as `scorer` encodes it, and where each passage's sentences start."""
    from qa.reader.train import sentence_texts

    return scorer.encode(sentence_texts(index)), np.asarray(index.sentence_offsets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=Path("index_store"), help="the built index (qa build)")
    parser.add_argument("--seed", type=int, default=1, help="how the question sets are split in two")
    args = parser.parse_args()

    from eval.runner import load_gold, training_sets
    from qa import metrics
    from qa.pipeline import Pipeline
    from qa.reader import train
    from qa.reader.encoder_fit import Scorer, fit_adapters
    from qa.reader.sentences import READ_DEPTH

    print(machine())
    pipeline = Pipeline(args.index)
    pipeline.warm_up()
    loaded = [(path.stem, item) for path in training_sets() for item in load_gold(path)]
    examples = train.collect(pipeline, [item for _, item in loaded])
    sources = [name for name, _ in loaded]
    names = sorted(set(sources))
    np.random.RandomState(args.seed).shuffle(names)
    half = {name: i % 2 for i, name in enumerate(names)}
    index = pipeline.index
    ranks: dict[tuple[int, int], list[np.ndarray]] = {(h, d): [] for h in (0, 1) for d in (READ_DEPTH, 0)}
    reading: dict[int, list[np.ndarray]] = {0: [], 1: []}
    for held in (0, 1):
        started = time.perf_counter()
        fitted_on = [ex for ex, s in zip(examples, sources) if half[s] != held]
        scorer = Scorer(fit_adapters(train._pairs(fitted_on)))
        encoded, offsets = corpus_answer_vectors(index, scorer)
        tested = [ex for ex, s in zip(examples, sources) if half[s] == held and ex.answers and ex.evidence
                  and (ex.candidates or ex.given is not None)]
        questions = scorer.encode([ex.ctx.question.text for ex in tested])
        print(f"half {held + 1}: adapters fitted on {len(fitted_on)} questions, {len(tested)} held out "
              f"({time.perf_counter() - started:.0f} s)", flush=True)
        for ex, question in zip(tested, questions):
            ctx = ex.ctx
            hits = pipeline.retriever.search(ctx.question.text, len(index.passages), ctx.filters, "hybrid",
                                             query_vector=ctx.vector, aliases=ctx.aliases)
            if not hits:
                continue
            fused = np.asarray([h.score for h in hits])
            best = np.asarray([float(np.max(encoded[offsets[h.row]:offsets[h.row + 1]] @ question))
                               if offsets[h.row + 1] > offsets[h.row] else 0.0 for h in hits])
            needle = metrics.normalise_answer(ex.evidence)
            holds = np.asarray([needle in metrics.normalise_answer(h.passage.text) for h in hits])
            by_best = np.argsort(-best, kind="stable")
            reading[held].append(np.asarray([holds[sorted(set(range(min(READ_DEPTH, len(hits))))
                                                          | set(by_best[:wider].tolist()))].any() for wider in WIDER]))
            for depth in (READ_DEPTH, 0):  # the read passages only, as the service does; or every passage
                reach = depth or len(hits)
                row = []
                for weight in WEIGHTS:
                    score = fused.copy()
                    score[:reach] = fused[:reach] + weight * np.maximum(best[:reach], 0.0)
                    order = np.concatenate([np.argsort(-score[:reach], kind="stable"), np.arange(reach, len(hits))])
                    found = np.nonzero(holds[order])[0]
                    row.append(found[0] + 1 if len(found) else 10 ** 6)
                ranks[held, depth].append(np.asarray(row))

    def table(rows: list[np.ndarray], label: str) -> None:
        matrix = np.stack(rows)
        print(f"\n{label}: {len(rows)} answerable questions, evidence passage within the top k")
        print("  weight " + "".join(f"  hit@{k:<3d}" for k in DEPTHS))
        for column, weight in enumerate(WEIGHTS):
            print(f"  {weight:6.2f} " + "".join(f"  {np.mean(matrix[:, column] <= k):6.3f}" for k in DEPTHS))

    for depth, label in ((READ_DEPTH, f"re-ranking the {READ_DEPTH} read passages (as shipped)"),
                         (0, "re-ranking every passage")):
        table(ranks[0, depth] + ranks[1, depth], f"{label}, both halves")
        for held in (0, 1):
            table(ranks[held, depth], f"{label}, half {held + 1} held out")
    print(f"\nwhat the reader reads: the search's {READ_DEPTH} passages and the answer encoder's best w; the share "
          "of answerable questions whose evidence passage is among them")
    print("  questions " + "".join(f"   w={w:<3d}" for w in WIDER))
    for label, rows in (("both halves", reading[0] + reading[1]), ("half 1", reading[0]), ("half 2", reading[1])):
        matrix = np.stack(rows)
        print(f"  {label:11s}{len(rows):5d} " + "".join(f"  {np.mean(matrix[:, i]):6.3f}" for i in range(len(WIDER))))

if __name__ == "__main__":
    main()
