"""Shared helpers for the benchmark scripts: timing, percentiles, memory, a machine line."""
from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from contextlib import contextmanager

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def machine() -> str:
    cpus = os.cpu_count()
    with open("/proc/meminfo") as handle:
        total = int(handle.readline().split()[1]) / 1024 / 1024
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{cpus} cores ({model}), {total:.0f} GiB, Python {platform.python_version()}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary_ms(values: list[float]) -> str:
    """'p50 12.3 ms, p95 20.1 ms' from seconds."""
    ms = [v * 1000 for v in values]
    return f"p50 {statistics.median(ms):7.2f} ms   p95 {percentile(ms, 0.95):7.2f} ms"


def timed(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def rss_mb(pid: int | None = None) -> float:
    """Resident memory of a process now, in MB."""
    with open(f"/proc/{pid or os.getpid()}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def memory_mb(pid: int | None = None) -> dict[str, float]:
    """Resident memory split by kind, in MB: RSS = anon (private heap) + file (mapped files, shared
    with every process that maps them and dropped by the kernel under pressure) + shmem."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}
    found = {}
    with open(f"/proc/{pid or os.getpid()}/status") as handle:
        for line in handle:
            key = line.split(":", 1)[0]
            if key in fields:
                found[fields[key]] = int(line.split()[1]) / 1024
    return found


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def children_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@contextmanager
def stopwatch(label: str, results: dict):
    started = time.perf_counter()
    yield
    results[label] = time.perf_counter() - started
