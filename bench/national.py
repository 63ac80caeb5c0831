"""A synthetic national corpus (150 councils, 4 inspections each, judgement tables included), and the latency of
questions answered across it from the judgement data, against a plain passage question in the same run.

The generator writes plain-text reports the way the real ones read: a title naming the council in one of its
official forms, inspection dates, a judgement table (both layouts), graded section headings and numbered
paragraphs whose findings vary with the grade. Councils' names are invented (two syllables joined), so none is
a real English authority. The build is the real `qa build`; the questions go through `Pipeline.ask`.

Run: .venv/bin/python bench/national.py --authorities 150 --inspections 4 --keep /tmp/national
     (the corpus and index are reused from --keep when present; about 5 minutes to build the first time)
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine, percentile, rss_mb  # noqa: E402

FIRST = ("Ash", "Brack", "Cold", "Dun", "Elm", "Fern", "Glen", "Hart", "Ivy", "Kel", "Lang", "Marl", "Nor", "Oak",
         "Pen", "Quen", "Rook", "Stour", "Thorn", "Wex", "Ald", "Bram", "Crow", "Dray", "Eb")
SECOND = ("ford", "ley", "mouth", "bury", "wick", "field", "ham", "ton", "stead", "combe", "more", "dale")
FORMS = ("London Borough of {n}", "{n} County Council", "City of {n} Council", "Royal Borough of {n}",
         "{n} Metropolitan Borough Council", "{n} Council")
GRADES = ("Outstanding", "Good", "Requires improvement to be good", "Inadequate")
AREAS = ("The impact of leaders on social work practice with children and families",
         "The experiences and progress of children who need help and protection",
         "The experiences and progress of children in care",
         "The experiences and progress of care leavers")
FINDINGS = {
    "Outstanding": ("Practice is consistently strong and children benefit from exceptional support.",
                    "Leaders know their services well and act swiftly on what audits tell them."),
    "Good": ("Most children receive timely and effective help from skilled social workers.",
             "Management oversight is regular and plans are reviewed in good time."),
    "Requires improvement to be good": ("The quality of practice is too variable, and some children wait too long.",
                                        "Supervision does not always drive plans forward for children."),
    "Inadequate": ("Serious and widespread weaknesses leave some children at risk of harm.",
                   "Leaders have not understood the scale of the weaknesses in frontline practice."),
}
TOPICS = ("return home interviews", "personal advisers", "pathway plans", "the front door", "private fostering",
          "the local authority designated officer", "placement sufficiency", "the virtual school",
          "caseloads", "disabled children", "unaccompanied asylum-seeking children", "early help")

ACROSS = ("Which councils were rated inadequate for care leavers?", "Which authorities are outstanding overall?",
          "Who has improved since their last inspection?", "How many councils were judged good in 2024?")
GRADE_ANY = ("How were care leavers rated?",)
PLAIN = ("What do inspectors say about return home interviews?",)


def names(count: int, rng: random.Random) -> list[str]:
    pool = sorted({a + b for a in FIRST for b in SECOND})
    rng.shuffle(pool)
    if count > len(pool):
        raise SystemExit(f"at most {len(pool)} invented names")
    return sorted(pool[:count])


def report(name: str, form: str, start: date, grades: list[str], layout: str, rng: random.Random) -> str:
    end = start + timedelta(days=4 if rng.random() < 0.5 else 11)
    overall = grades[-1]
    first = f"{start.day}" if start.month == end.month else f"{start.day} {start:%B}"
    lines = [f"Inspection of {form.format(n=name)} children's services", "",
             f"Inspection dates: {first} to {end.day} {end:%B %Y}", "",
             f"Lead inspector: Inspector {rng.randint(1, 999)}, His Majesty's Inspector", ""]
    rows = list(zip(AREAS, grades[:4])) + [("Overall effectiveness", overall)]
    if layout == "A":
        lines += ["Judgement\tGrade"] + [f"{area}\t{grade}" for area, grade in rows] + [""]
    else:
        lines += ["Judgement Grade", ""]
        for area, grade in rows:
            lines += [area, "", grade, ""]
    lines += [f"Children in {name} receive services that are {overall.lower()}. {FINDINGS[overall][0]}", ""]
    number = 1
    for area, grade in zip(AREAS, grades[:4]):
        lines += [f"{area}: {grade.lower()}", ""]
        for _ in range(3):
            topic = rng.choice(TOPICS)
            finding = rng.choice(FINDINGS[grade])
            lines += [f"{number}. In {name}, inspectors looked closely at {topic}. {finding} "
                      f"Around {rng.randint(8, 40)} children were seen as part of this work.", ""]
            number += 1
    return "\n".join(lines)


def generate(folder: Path, authorities: int, inspections: int, seed: int = 7) -> int:
    """Write the corpus; returns the number of reports."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for i, name in enumerate(names(authorities, rng)):
        form = FORMS[i % len(FORMS)]
        level = rng.randint(0, 3)
        for k in range(inspections):
            year = 2025 - 3 * (inspections - 1 - k) + rng.randint(-1, 0)
            level = min(3, max(0, level + rng.choice((-1, 0, 0, 1))))
            grades = [GRADES[min(3, max(0, level + rng.choice((-1, 0, 0, 1))))] for _ in AREAS] + [GRADES[level]]
            start = date(year, rng.randint(1, 11), rng.randint(1, 14))
            text = report(name, form, start, grades, "A" if (i + k) % 2 else "B", rng)
            (folder / f"r{written:05d}.txt").write_text(text, encoding="utf-8")
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authorities", type=int, default=150)
    parser.add_argument("--inspections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=20, help="times each question is asked (warm)")
    parser.add_argument("--keep", default="/tmp/qa-national", help="folder for the corpus and index (reused)")
    args = parser.parse_args()

    from qa.builder import build
    from qa.pipeline import Pipeline

    root = Path(args.keep)
    corpus, index = root / "corpus", root / "index"
    if not corpus.exists():
        count = generate(corpus, args.authorities, args.inspections)
        print(f"wrote {count} reports to {corpus}")
    if not (index / "CURRENT").exists():
        started = time.perf_counter()
        summary = build(corpus, index)
        print(f"built {summary}: {time.perf_counter() - started:.0f} s")
    pipeline = Pipeline(index)
    pipeline.warm_up()
    print(f"machine: {machine()}")
    print(f"corpus: {len(pipeline.index.documents)} reports, {len(pipeline.index.passages)} passages, "
          f"{len(pipeline.index.registry().aliases)} authorities")
    results: dict[str, list[float]] = {}
    for label, questions in (("plain passage question (baseline)", PLAIN), ("grade, no authority named", GRADE_ANY),
                             ("across reports", ACROSS)):
        for question in questions:
            reply = pipeline.ask(question)  # warm this path
            rows = len((reply["answer"] or {}).get("rows", []))
            print(f"  {question!r}: {'answered' if reply['answer'] else 'abstained'}, {rows} rows")
        times = []
        for _ in range(args.rounds):
            for question in questions:
                started = time.perf_counter()
                pipeline.ask(question)
                times.append((time.perf_counter() - started) * 1000)
        results[label] = times
    base = statistics.median(results["plain passage question (baseline)"])
    for label, times in results.items():
        print(f"  {label:36s} p50 {statistics.median(times):7.2f} ms   p95 {percentile(times, 0.95):7.2f} ms   "
              f"median / baseline {statistics.median(times) / base:5.2f}x")
    print(f"  process RSS {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
