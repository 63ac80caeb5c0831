"""Index build throughput: the local engine against `--engine ray` with 1 and 2 encoder workers, on one synthetic
corpus (bench/national.py's generator), each from scratch (no embedding cache), in one run so the ratios mean
something on a noisy machine. Also checks that each Ray build wrote the same passages and vectors as the local one.

Run: .venv/bin/python bench/ray_build.py --authorities 75 --inspections 4     (300 reports, 4,800 passages)
     .venv/bin/python bench/ray_build.py --authorities 250 --inspections 5 --skip-one-worker  (20,000 passages, equality)
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine  # noqa: E402
from bench.national import generate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authorities", type=int, default=75)
    parser.add_argument("--inspections", type=int, default=4)
    parser.add_argument("--skip-one-worker", action="store_true",
                        help="only the local build and Ray with 2 workers (an equality check on a bigger corpus)")
    args = parser.parse_args()

    from qa.builder import build
    from qa.index import load_index
    from qa.ray_engine import build_with_ray

    root = Path(tempfile.mkdtemp(prefix="qa-ray-bench-"))
    try:
        reports = generate(root / "corpus", args.authorities, args.inspections)
        print(f"machine: {machine()}")
        runs: dict[str, tuple[float, Path]] = {}
        engines = (("local engine (baseline)", lambda d: build(root / "corpus", d)),
                   ("ray, 1 worker", lambda d: build_with_ray(root / "corpus", d, workers=1)),
                   ("ray, 2 workers", lambda d: build_with_ray(root / "corpus", d, workers=2)))
        for label, run in [e for e in engines if not (args.skip_one_worker and e[0] == "ray, 1 worker")]:
            folder = root / label.split(" ")[0] / label.replace(" ", "-").replace(",", "")
            started = time.perf_counter()
            summary = run(folder)
            runs[label] = (time.perf_counter() - started, folder)
            print(f"  {label:24s} {runs[label][0]:7.1f} s   {summary['passages'] / runs[label][0]:6.1f} passages/s")
        base_seconds, base_folder = runs["local engine (baseline)"]
        base = load_index(base_folder)
        print(f"corpus: {reports} reports, {len(base.passages)} passages")
        for label, (seconds, folder) in runs.items():
            other = load_index(folder)
            same = all(base.passages[r].to_dict() == other.passages[r].to_dict() for r in range(len(base.passages)))
            drift = float(np.abs(np.asarray(base.vectors) - np.asarray(other.vectors)).max())
            sentences = float(np.abs(np.asarray(base.sentence_vectors) - np.asarray(other.sentence_vectors)).max())
            tokens = bool(np.array_equal(np.asarray(base.token_ids), np.asarray(other.token_ids)))
            print(f"  {label:24s} time / local {seconds / base_seconds:5.2f}x   same passages {same}   "
                  f"max vector difference {drift:.1e} (sentences {sentences:.1e}, same token ids {tokens})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
