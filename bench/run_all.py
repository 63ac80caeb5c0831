"""Run every benchmark in turn (`make bench`); each prints its own figures beside its baseline."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [["latency.py"], ["build.py"], ["encode.py"], ["serve_memory.py", "--passages", "20000"],
           ["scale.py", "--sizes", "10000", "100000"]]

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"\n### bench/{' '.join(script)}", flush=True)
        subprocess.run([sys.executable, str(HERE / script[0]), *script[1:]], cwd=HERE.parent, check=False)
