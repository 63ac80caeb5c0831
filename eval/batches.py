"""Several question sets scored as one, with the noise on every figure, and two runs compared question by question.

One batch of 50 questions cannot tell a change of a few points from noise: two batches written the same way,
run on the same reader, differed by 0.20 in holds (docs/reader.md). So `qa eval` takes several `--gold`
files and scores them pooled, shows each set's own figures beside the pooled ones, and gives every headline
figure a 95% bootstrap interval (questions resampled with replacement). `--save-outcomes` keeps each
question's outcome; `--compare` reads a saved run and reports the change on the questions both runs asked,
with a paired bootstrap interval: the difference a change made, not the spread between two batches.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa import metrics

RESAMPLES = 2000
SEED = 20261206  # fixed, so the same run prints the same intervals
# the figures given an interval, as `figures` names them
HEADLINE = ("holds", "answerable_f1", "answerable_answered", "unanswerable_abstained", "confidently_wrong_share")


@dataclass(frozen=True)
class Outcome:
    """What one question came to: the unit the figures, their intervals and a comparison are built from."""

    id: str
    set: str
    answerable: bool
    answered: bool
    right: bool  # answerable, answered, and F1 >= 0.5 or holding a right answer
    f1: float
    confidence: float
    confidently_wrong: bool  # answered, not right, and shown at >= 0.7 or to an unanswerable question


def outcome(scored, set_name: str, confident: float) -> Outcome:
    """One scored reply (eval.runner.Scored) as an Outcome, with the definitions `summarise` uses."""
    item, prediction = scored.item, scored.prediction
    answered = bool(prediction)
    right = item.answerable and answered and (metrics.f1_score(prediction, item.answers) >= metrics.CORRECT_F1
                                              or metrics.holds(prediction, item.answers))
    return Outcome(item.id, set_name, item.answerable, answered, bool(right), float(scored.f1),
                   float(scored.confidence),
                   answered and not right and (scored.confidence >= confident or not item.answerable))


def _columns(outcomes: list[Outcome]) -> dict[str, np.ndarray]:
    return {name: np.asarray([getattr(o, name) for o in outcomes], dtype=float)
            for name in ("answerable", "answered", "right", "f1", "confidently_wrong")}


def _figures(c: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    """The headline figures for each row of `rows` (question indices, one resample a row)."""
    answerable, answered = c["answerable"][rows], c["answered"][rows]
    unanswerable = 1.0 - answerable

    def share(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
        total = denominator.sum(axis=-1)
        return np.divide(numerator.sum(axis=-1), total, out=np.full(total.shape, np.nan), where=total > 0)

    return {"holds": share(c["right"][rows] * answerable, answerable),
            "answerable_f1": share(c["f1"][rows] * answerable, answerable),
            "answerable_answered": share(answered * answerable, answerable),
            "unanswerable_abstained": share((1.0 - answered) * unanswerable, unanswerable),
            "confidently_wrong_share": share(c["confidently_wrong"][rows], answered)}


def figures(outcomes: list[Outcome]) -> dict[str, float | None]:
    """The headline figures of a set of outcomes (None where a figure has nothing to count)."""
    values = _figures(_columns(outcomes), np.arange(len(outcomes)))
    return {k: None if np.isnan(v) else round(float(v), 4) for k, v in values.items()}


def intervals(outcomes: list[Outcome], resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, list[float]]:
    """A 95% percentile-bootstrap interval for each headline figure, questions resampled with replacement."""
    if not outcomes:
        return {}
    rows = np.random.default_rng(seed).integers(0, len(outcomes), size=(resamples, len(outcomes)))
    values = _figures(_columns(outcomes), rows)
    return {k: [round(float(np.nanpercentile(v, 2.5)), 4), round(float(np.nanpercentile(v, 97.5)), 4)]
            for k, v in values.items() if not np.isnan(v).all()}


def by_set(outcomes: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Each set's own figures, in the order the sets were given."""
    names = list(dict.fromkeys(o.set for o in outcomes))
    return {name: {"questions": sum(1 for o in outcomes if o.set == name),
                   "confidently_wrong": sum(1 for o in outcomes if o.set == name and o.confidently_wrong)}
            | figures([o for o in outcomes if o.set == name]) for name in names}


def compare(before: list[Outcome], after: list[Outcome], resamples: int = RESAMPLES,
            seed: int = SEED) -> dict[str, Any]:
    """After against before on the questions both runs asked (matched by set and id): each figure before and
    after, the change, and a 95% paired-bootstrap interval of the change (the same questions resampled for
    both runs); and how many answers turned right or wrong."""
    earlier = {(o.set, o.id): o for o in before}
    pairs = [(earlier[(o.set, o.id)], o) for o in after if (o.set, o.id) in earlier]
    if not pairs:
        return {"questions": 0}
    first, second = _columns([b for b, _ in pairs]), _columns([a for _, a in pairs])
    everything = np.arange(len(pairs))
    rows = np.random.default_rng(seed).integers(0, len(pairs), size=(resamples, len(pairs)))
    then, now = _figures(first, everything), _figures(second, everything)
    resampled_then, resampled_now = _figures(first, rows), _figures(second, rows)
    spread = {k: resampled_now[k] - resampled_then[k] for k in HEADLINE}
    changes = {}
    for k in HEADLINE:
        if np.isnan(then[k]) or np.isnan(now[k]):
            continue
        changes[k] = {"before": round(float(then[k]), 4), "after": round(float(now[k]), 4),
                      "change": round(float(now[k] - then[k]), 4),
                      "interval": [round(float(np.nanpercentile(spread[k], 2.5)), 4),
                                   round(float(np.nanpercentile(spread[k], 97.5)), 4)]}
    answerable = [(b, a) for b, a in pairs if a.answerable]
    return {"questions": len(pairs), "figures": changes,
            "turned_right": sum(1 for b, a in answerable if a.right and not b.right),
            "turned_wrong": sum(1 for b, a in answerable if b.right and not a.right),
            "confidently_wrong_before": sum(1 for b, _ in pairs if b.confidently_wrong),
            "confidently_wrong_after": sum(1 for _, a in pairs if a.confidently_wrong)}


def save(outcomes: list[Outcome], path: Path) -> None:
    """One JSON line per question, for a later `--compare`."""
    Path(path).write_text("".join(json.dumps(asdict(o)) + "\n" for o in outcomes), encoding="utf-8")


def load(path: Path) -> list[Outcome]:
    """Outcomes saved by `save`; a line that is not one is an error naming its number."""
    outcomes = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            outcomes.append(Outcome(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a saved outcome ({exc})") from exc
    return outcomes


def render(summary: dict[str, Any]) -> str:
    """The intervals, each set's figures and the comparison, for the terminal."""
    names = {"holds": "holds", "answerable_f1": "answerable F1", "answerable_answered": "answered",
             "unanswerable_abstained": "abstained", "confidently_wrong_share": "confidently wrong"}
    lines = []
    if summary.get("intervals"):
        lines += ["", "95% intervals (questions resampled)"]
        lines += [f"  {names[k]:<20}{low:.3f} - {high:.3f}" for k, (low, high) in summary["intervals"].items()]
    if summary.get("by_set"):
        lines += ["", "By question set", f"  {'set':<34}{'n':>4}{'holds':>8}{'F1':>8}{'answered':>10}"
                  f"{'abstained':>11}{'conf. wrong':>13}"]
        for name, row in summary["by_set"].items():
            cells = [row[k] for k in ("holds", "answerable_f1", "answerable_answered", "unanswerable_abstained")]
            lines.append(f"  {name:<34}{row['questions']:>4}" + "".join(
                f"{'-' if v is None else f'{v:.3f}':>{w}}" for v, w in zip(cells, (8, 8, 10, 11)))
                + f"{row['confidently_wrong']:>13}")
    compared = summary.get("compared")
    if compared:
        lines += ["", f"Against the saved run, on the {compared['questions']} questions both asked"]
        for k, row in compared.get("figures", {}).items():
            low, high = row["interval"]
            lines.append(f"  {names[k]:<20}{row['before']:.3f} -> {row['after']:.3f}  ({row['change']:+.3f}, "
                         f"95% interval {low:+.3f} to {high:+.3f})")
        if compared["questions"]:
            lines.append(f"  answers turned right {compared['turned_right']}, turned wrong {compared['turned_wrong']}; "
                         f"confidently wrong {compared['confidently_wrong_before']} -> "
                         f"{compared['confidently_wrong_after']}")
    return "\n".join(lines)
