"""Index build of the bundled corpus: from scratch (model load included) and with nothing changed, with peak memory.

Each build runs in a fresh process, as `qa build` would. Baseline in the same run: starting Python and
importing the package (what any command pays before it does work).
Run: .venv/bin/python bench/build.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, resource, sys, time
started = time.perf_counter()
from pathlib import Path
mode = sys.argv[1]
if mode != "import":
    from qa.builder import build
    summary = build(Path(sys.argv[2]), Path(sys.argv[3]), force=(mode == "scratch"))
else:
    import qa.builder
    summary = {}
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "passages": summary.get("passages"), "embedded": summary.get("embedded")}))
"""


def run(mode: str, index: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, mode, str(ROOT / "corpus"), str(index)], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[dict]] = {"import": [], "scratch": [], "unchanged": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            index = Path(folder) / "index"
            rows["import"].append(run("import", index))
            rows["scratch"].append(run("scratch", index))
            rows["unchanged"].append(run("unchanged", index))
    print(f"machine: {machine()}")
    base = statistics.median(r["seconds"] for r in rows["import"])
    for mode, label in (("import", "baseline: start + import"), ("scratch", "build from scratch"),
                        ("unchanged", "build, nothing changed")):
        seconds = statistics.median(r["seconds"] for r in rows[mode])
        peak = max(r["peak_mb"] for r in rows[mode])
        extra = ""
        if mode == "scratch":
            passages = rows[mode][0]["passages"]
            extra = f"   {passages} passages, {passages / seconds:.1f} passages/s (model load included)"
        print(f"  {label:<26} median {seconds:6.2f} s  ({seconds / base:5.1f}x baseline)  peak RSS {peak:6.0f} MB{extra}")


if __name__ == "__main__":
    main()
