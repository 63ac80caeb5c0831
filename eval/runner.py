"""`qa eval`: run every gold question through `Pipeline.ask` and score what users would get.

Hybrid retrieval is the system under test; dense-only and BM25-only runs of the same questions sit
beside it so every gain shows as a delta. Metric definitions live in qa/metrics.py.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval import batches
from qa import metrics

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "lexical")
CONFIDENT = 0.7  # an answer shown at this confidence or above is 'likely right' on the page
KS = (1, 3, 5, 10)
FLOORS_FILE = Path(__file__).resolve().parent / "floors.json"
EVAL_DIR = Path(__file__).resolve().parent  # the question sets


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answers: list[str]
    evidence: str
    year: int | None
    kind: str

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_gold(path: Path) -> list[GoldItem]:
    """Read a gold file in the contract's format; a malformed line is an error naming its number."""
    items = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                items.append(GoldItem(str(row["id"]), row["question"], list(row["answers"]), row.get("evidence", ""),
                                      row.get("year"), row.get("kind", "")))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a gold item ({exc})") from exc
    if not items:
        raise ValueError(f"{path} holds no gold items")
    return items


@dataclass
class Scored:
    item: GoldItem
    reply: dict
    rank: int | None
    prediction: str | None
    confidence: float  # of the answer given, or of the best candidate when it abstained
    candidate_text: str | None
    em: float
    f1: float
    candidate_f1: float  # F1 had it answered with its best candidate (for the best threshold)
    ranks_by_mode: dict[str, int | None] = field(default_factory=dict)


def score_reply(item: GoldItem, reply: dict) -> Scored:
    """Score one /api/ask reply against its gold item (answers, evidence rank, confidences)."""
    answer = reply.get("answer")
    candidate = answer or reply.get("candidate")
    prediction = answer["text"] if answer else None
    candidate_text = candidate["text"] if candidate else None
    return Scored(
        item=item, reply=reply,
        rank=metrics.evidence_rank(reply["passages"], item.evidence, item.year) if item.answerable else None,
        prediction=prediction,
        confidence=float(candidate["confidence"]) if candidate else 0.0,
        candidate_text=candidate_text,
        em=metrics.exact_match(prediction, item.answers),
        f1=metrics.f1_score(prediction, item.answers),
        candidate_f1=metrics.f1_score(candidate_text, item.answers) if candidate_text else (0.0 if item.answerable else 1.0),
    )


def summarise(scored: list[Scored], latencies: list[float], mode_ranks: dict[str, list[int | None]]) -> dict[str, Any]:
    answerable = [s for s in scored if s.item.answerable]
    unanswerable = [s for s in scored if not s.item.answerable]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    retrieval = {}
    for mode, ranks in mode_ranks.items():
        retrieval[mode] = {f"hit@{k}": metrics.hit_at(ranks, k) for k in KS} | {"mrr": metrics.mrr(ranks)}
    # right: F1 >= 0.5 or the answer contains a right answer (a sentence holding the asked name); one
    # definition, eval.batches.outcome, for these figures, their intervals and a comparison of two runs
    outcomes = [batches.outcome(s, "", CONFIDENT) for s in scored]
    answered = [s for s in scored if s.prediction]
    correct = [o.right for s, o in zip(scored, outcomes) if s.prediction]
    sure_wrong = [s for s, o in zip(scored, outcomes) if o.confidently_wrong]
    curve = metrics.risk_coverage([s.confidence for s in answered], correct, len(scored))
    confidences = [s.confidence for s in answered]
    threshold, threshold_f1 = metrics.best_threshold(
        [s.confidence for s in scored], [s.candidate_f1 for s in scored], [s.item.answerable for s in scored])
    by_kind: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        groups[s.item.kind].append(s)
    for kind, group in sorted(groups.items()):
        ranks = [s.rank for s in group if s.item.answerable]
        by_kind[kind] = {"n": len(group), "em": mean([s.em for s in group]), "f1": mean([s.f1 for s in group]),
                         "hit@1": metrics.hit_at(ranks, 1) if ranks else None,
                         "answered": mean([float(bool(s.prediction)) for s in group])}
    return {
        "questions": len(scored),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "retrieval": retrieval,
        "answers": {
            "overall": {"em": mean([s.em for s in scored]), "f1": mean([s.f1 for s in scored])},
            "HasAns": {"em": mean([s.em for s in answerable]), "f1": mean([s.f1 for s in answerable])},
            "NoAns": {"em": mean([s.em for s in unanswerable]), "f1": mean([s.f1 for s in unanswerable])},
        },
        "abstention": {
            "unanswerable_abstained": mean([float(not s.prediction) for s in unanswerable]),
            "answerable_answered": mean([float(bool(s.prediction)) for s in answerable]),
            "best_threshold": threshold,
            "best_threshold_f1": threshold_f1,
        },
        "calibration": {
            "ece": metrics.expected_calibration_error(confidences, correct),
            # what a perfectly calibrated reader would show at these answers' confidences (ECE is biased
            # upwards on few answers): the batch's ECE says more than noise only well above it
            "ece_if_calibrated": metrics.ece_if_calibrated(confidences),
            "answered": len(answered),
            "reliability": [vars(b) for b in metrics.reliability(confidences, correct)],
        },
        # answerable questions whose answer is right or contains a right answer
        "holds": mean([float(o.right) for o in outcomes if o.answerable]),
        # answers given at confidence >= 0.7 that are wrong, plus any answer to an unanswerable question
        "confidently_wrong": {"count": len(sure_wrong),
                              "share_of_answers": len(sure_wrong) / len(answered) if answered else 0.0,
                              "ids": [s.item.id for s in sure_wrong]},
        # accuracy of the answers at or above each confidence against the share of questions answered
        "risk_coverage": {"aurc": metrics.aurc([s.confidence for s in answered], correct, len(scored)),
                          "curve": [{"threshold": round(t, 4), "coverage": round(c, 4), "accuracy": round(a, 4)}
                                    for t, c, a in curve]},
        "granularity": {g: sum(1 for s in answered if (s.reply.get("answer") or {}).get("granularity") == g)
                        for g in ("span", "sentence")},
        "by_kind": by_kind,
        "latency_ms": {"p50": metrics.percentile(latencies, 0.5), "p95": metrics.percentile(latencies, 0.95)},
    }


def evaluate(gold: list[GoldItem], pipeline, sets: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[Scored]]:
    """Ask every gold question in each retrieval mode; score the hybrid replies in full. `sets`: the question
    sets (file stems) the questions come from; the reader's memory recalls none of their questions, so a set
    the reader was fitted on is scored as if it were new."""
    excluded = getattr(pipeline, "memory_exclude", frozenset())
    pipeline.memory_exclude = frozenset(excluded | set(sets))
    try:
        return _evaluate(gold, pipeline)
    finally:
        pipeline.memory_exclude = excluded


def _evaluate(gold: list[GoldItem], pipeline) -> tuple[dict[str, Any], list[Scored]]:
    pipeline.warm_up()
    scored: list[Scored] = []
    latencies: list[float] = []
    mode_ranks: dict[str, list[int | None]] = {mode: [] for mode in MODES}
    for item in gold:
        started = time.perf_counter()
        reply = pipeline.ask(item.question, top_k=10)
        latencies.append((time.perf_counter() - started) * 1000)
        result = score_reply(item, reply)
        scored.append(result)
        if not item.answerable:
            continue
        mode_ranks["hybrid"].append(result.rank)
        for mode in MODES[1:]:
            other = pipeline.ask(item.question, top_k=10, mode=mode)
            mode_ranks[mode].append(metrics.evidence_rank(other["passages"], item.evidence, item.year))
    return summarise(scored, latencies, mode_ranks), scored


def render(summary: dict[str, Any]) -> str:
    """The terminal table."""
    lines = [f"{summary['questions']} questions ({summary['answerable']} answerable, "
             f"{summary['unanswerable']} unanswerable)", "", "Retrieval (evidence passage, right year)"]
    header = f"  {'mode':<9}" + "".join(f"{f'hit@{k}':>9}" for k in KS) + f"{'MRR':>9}"
    lines.append(header)
    base = summary["retrieval"]["hybrid"]
    for mode, row in summary["retrieval"].items():
        cells = "".join(f"{row[f'hit@{k}']:>9.3f}" for k in KS) + f"{row['mrr']:>9.3f}"
        lines.append(f"  {mode:<9}{cells}")
        if mode != "hybrid":
            lines.append(f"  {'  delta':<9}" + "".join(f"{base[f'hit@{k}'] - row[f'hit@{k}']:>+9.3f}" for k in KS)
                         + f"{base['mrr'] - row['mrr']:>+9.3f}")
    answers = summary["answers"]
    lines += ["", "Answers (SQuAD 2.0 normalisation)", f"  {'':<9}{'EM':>9}{'F1':>9}"]
    for name in ("overall", "HasAns", "NoAns"):
        lines.append(f"  {name:<9}{answers[name]['em']:>9.3f}{answers[name]['f1']:>9.3f}")
    a = summary["abstention"]
    lines += ["", "Abstention",
              f"  unanswerable abstained on  {a['unanswerable_abstained']:.3f}",
              f"  answerable answered        {a['answerable_answered']:.3f}",
              f"  best threshold             {a['best_threshold']:.3f} (F1 {a['best_threshold_f1']:.3f})"]
    wrong = summary["confidently_wrong"]
    lines += [f"  holds (answerable: right or contains a right answer)  {summary['holds']:.3f}",
              f"  confidently wrong (>= {CONFIDENT} and wrong, or any answer to an unanswerable one)  "
              f"{wrong['count']} ({wrong['share_of_answers']:.1%} of answers given)",
              f"  risk-coverage AURC {summary['risk_coverage']['aurc']:.3f}; answers as spans "
              f"{summary['granularity']['span']}, as sentences {summary['granularity']['sentence']}"]
    c = summary["calibration"]
    reference = c["ece_if_calibrated"]
    lines += ["", f"Calibration: ECE {c['ece']:.3f} over {c['answered']} answers (a perfectly calibrated reader "
              f"would show {reference['mean']:.3f} at these confidences, above {reference['p90']:.3f} "
              "in 1 batch of 10)",
              f"  {'confidence':<12}{'n':>5}{'mean conf':>11}{'accuracy':>10}"]
    for b in c["reliability"]:
        if b["count"]:
            lines.append(f"  {b['low']:.1f}-{b['high']:.1f}    {b['count']:>5}{b['confidence']:>11.3f}{b['accuracy']:>10.3f}")
    lines += ["", "By kind", f"  {'kind':<14}{'n':>4}{'EM':>8}{'F1':>8}{'hit@1':>8}{'answered':>10}"]
    for kind, row in summary["by_kind"].items():
        hit = f"{row['hit@1']:.3f}" if row["hit@1"] is not None else "-"
        lines.append(f"  {kind:<14}{row['n']:>4}{row['em']:>8.3f}{row['f1']:>8.3f}{hit:>8}{row['answered']:>10.3f}")
    lat = summary["latency_ms"]
    lines += ["", f"Latency of ask: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms"]
    return "\n".join(lines)


def write_report(summary: dict[str, Any], scored: list[Scored], folder: Path) -> Path:
    """A markdown report with a hit@k curve and a reliability diagram, for looking rather than reading."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for mode, row in summary["retrieval"].items():
        ax.plot(KS, [row[f"hit@{k}"] for k in KS], marker="o", label=mode)
    ax.set(xlabel="k", ylabel="hit@k", title="Evidence passage within the top k", ylim=(0, 1.02), xticks=KS)
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "hit_at_k.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    bins = [b for b in summary["calibration"]["reliability"] if b["count"]]
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins], width=0.09,
           alpha=0.7, label="accuracy")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color="black")
    ax.set(xlabel="confidence", ylabel="share correct", xlim=(0, 1), ylim=(0, 1),
           title=f"Reliability (ECE {summary['calibration']['ece']:.3f})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "reliability.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    curve = summary["risk_coverage"]["curve"]
    ax.plot([p["coverage"] for p in curve], [p["accuracy"] for p in curve], marker=".", color="black")
    ax.set(xlabel="share of questions answered", ylabel="accuracy of those answers", xlim=(0, 1), ylim=(0, 1.02),
           title=f"Risk-coverage (AURC {summary['risk_coverage']['aurc']:.3f})")
    fig.tight_layout()
    fig.savefig(folder / "risk_coverage.png", dpi=110)
    plt.close(fig)

    misses = [s for s in scored if s.em < 1.0]
    lines = ["# Evaluation report", "", "```", render(summary), "```", "",
             "![hit@k](hit_at_k.png) ![reliability](reliability.png) ![risk-coverage](risk_coverage.png)", "",
             f"## Questions not answered exactly ({len(misses)})", "",
             "| id | kind | rank | F1 | conf | predicted | gold |", "|---|---|---|---|---|---|---|"]
    for s in misses:
        gold = (s.item.answers[0] if s.item.answers else "(abstain)").replace("|", "/")[:80]
        predicted = (s.prediction or "(abstained)").replace("|", "/").replace("\n", " ")[:80]
        lines.append(f"| {s.item.id} | {s.item.kind} | {s.rank or '-'} | {s.f1:.2f} | {s.confidence:.2f} | "
                     f"{predicted} | {gold} |")
    (folder / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return folder / "report.md"


def check_floors(summary: dict[str, Any], floors: dict[str, float]) -> list[str]:
    """Figures below their floor (or above a '_max' ceiling). Floors name paths like 'answers.HasAns.f1'."""
    failures = []
    for path, limit in floors.items():
        if path.startswith("_"):
            continue
        ceiling = path.endswith("_max")  # 'calibration.ece_max': the figure must stay at or below it
        value: Any = summary
        for part in path.removesuffix("_max").split("."):
            value = value[part]
        if ceiling and value > limit:
            failures.append(f"{path.removesuffix('_max')}: {value:.3f} > ceiling {limit:.3f}")
        elif not ceiling and value < limit:
            failures.append(f"{path}: {value:.3f} < floor {limit:.3f}")
    return failures


def load_sets(paths: list[Path]) -> tuple[list[GoldItem], list[str]]:
    """The items of several gold files, in order, with the set (file stem) each came from; an id given twice
    is an error naming both files, since a comparison matches questions by set and id."""
    items, sets, seen = [], [], {}
    for path in paths:
        for item in load_gold(path):
            if item.id in seen:
                raise ValueError(f"{path}: id {item.id!r} is already used in {seen[item.id]}")
            seen[item.id] = path
            items.append(item)
            sets.append(Path(path).stem)
    return items, sets


def main(gold: Path | list[Path], index_dir: Path, as_json: bool = False, report_dir: Path | None = None,
         floors: bool = False, save_outcomes: Path | None = None, compare_with: Path | None = None) -> int:
    """Score one gold file, or several pooled (each set's figures beside them); every headline figure gets a
    95% bootstrap interval, and a run saved with `save_outcomes` can be compared with this one."""
    from qa.pipeline import Pipeline

    paths = [gold] if isinstance(gold, (str, Path)) else list(gold)
    items, sets = load_sets(paths)
    before = batches.load(compare_with) if compare_with else None  # a bad file fails before the long run
    summary, scored = evaluate(items, Pipeline(index_dir), tuple(sorted(set(sets))))
    outcomes = [batches.outcome(s, name, CONFIDENT) for s, name in zip(scored, sets)]
    summary["intervals"] = batches.intervals(outcomes)
    if len(paths) > 1:
        summary["by_set"] = batches.by_set(outcomes)
    if before is not None:
        summary["compared"] = batches.compare(before, outcomes)
    if save_outcomes:
        batches.save(outcomes, save_outcomes)
    if as_json:
        print(json.dumps(summary, indent=1))
    else:
        print("\n".join(filter(None, [render(summary), batches.render(summary)])))
    if report_dir is not None:
        path = write_report(summary, scored, report_dir)
        print(f"\nreport: {path}", file=sys.stderr)
    if floors:
        failures = check_floors(summary, json.loads(FLOORS_FILE.read_text(encoding="utf-8")))
        for failure in failures:
            print(f"below floor: {failure}", file=sys.stderr)
        return 1 if failures else 0
    return 0


def training_sets(folder: Path = EVAL_DIR) -> list[Path]:
    """Every question set the reader is fitted on: each eval/*.jsonl but the untouched batches
    (eval/unseen-*.jsonl), which are written before a change, measured once before and once after it, and
    never fitted on."""
    return sorted(p for p in folder.glob("*.jsonl") if not p.name.startswith("unseen-"))


def calibrate(sets: list[Path] | None, index_dir: Path, keep_outcomes: Path | None = None,
              confidence_only: Path | None = None) -> int:
    """Refit the reader (sentence ranker, span scorer, confidence) on the training sets and save it; or, given
    `confidence_only` (answers a refit kept with `keep_outcomes`), refit only its confidence and threshold."""
    from qa.reader.model import MODEL_FILE
    from qa.reader.train import fit_and_save, refit_confidence

    if confidence_only is not None:
        if not confidence_only.is_file():
            print(f"error: no kept answers at {confidence_only} (`qa calibrate --keep-outcomes FILE` keeps them)",
                  file=sys.stderr)
            return 2
        print(refit_confidence(confidence_only))
        print(f"saved to {MODEL_FILE}")
        return 0
    from qa.pipeline import Pipeline

    chosen = sets or training_sets()
    print(fit_and_save(Pipeline(index_dir), chosen, keep_outcomes=keep_outcomes))
    print(f"saved to {MODEL_FILE}")
    return 0
