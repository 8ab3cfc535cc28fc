"""`make bench`: every benchmark in turn, each printing its figures and target ratios.

Run one alone with ``.venv/bin/python -m bench.<name> --help``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

BENCHMARKS: tuple[tuple[str, list[str]], ...] = (
    ("bench.p1_fanout_latency", []),
    ("bench.p2_pipeline_rate", []),
    ("bench.p3_audit_append", []),
    ("bench.p4_audit_verify", []),
    # Reduced sizes; the are --households 100000 --first 10000 (both P5 memory
    # benchmarks) and --households 2000 (P5 time).
    ("bench.p5_batch_memory", ["--households", "6000", "--first", "1000"]),
    ("bench.p5_roster_memory", ["--households", "2000", "--first", "1000"]),
    ("bench.p5_batch_rate", []),
    ("bench.rate_limited", ["--seconds", "10"]),
    ("bench.bytes_per_check", ["--checks", "200"]),
    ("bench.p7_workers", ["--max-workers", "2"]),
    ("bench.hsm_signing", ["--signatures", "500"]),
    ("bench.sm2_signing", ["--rounds", "1000"]),
    ("bench.printout_render", []),
    ("bench.console_pages", []),
    ("bench.observability_overhead", []),
)


def main() -> int:
    failed = 0
    for module, args in BENCHMARKS:
        try:
            importlib.util.find_spec(module)
        except ModuleNotFoundError:
            continue
        if importlib.util.find_spec(module) is None:
            continue
        print(f"\n== {module}", flush=True)
        # Each in its own process: no benchmark inherits another's warm caches or tasks.
        rc = subprocess.call([sys.executable, "-m", module, *args])
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
