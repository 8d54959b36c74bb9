"""Run every workload on jupyter_raylite and (when installed) Ray, side by side; print a table.

    python benchmarks/run.py [--only NAME ...] [--size NAME=N ...]

Each (implementation, workload) pair runs in a fresh process, one after another, so they do
not compete for the two cores.  Ratios are jupyter_raylite / Ray (and / the process pool).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from workloads import POOL_WORKLOADS, WORKLOADS  # noqa: E402


def run_one(impl: str, name: str, size: int) -> dict:
    proc = subprocess.run([sys.executable, os.path.join(HERE, "workloads.py"), impl, name,
                           str(size)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--size", nargs="*", default=[], help="NAME=N, e.g. throughput=20000")
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    sizes = dict(s.split("=") for s in args.size)
    impls = ["raylite"]
    if not args.no_ray and importlib.util.find_spec("ray") is not None:
        impls.append("ray")
    print(f"# {platform.node()} {platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"| workload | metric | {' | '.join(impls)} | raylite/ray | raylite/pool |")
    print("|---|---|" + "---|" * (len(impls) + 2))
    for name in args.only:
        size = int(sizes.get(name, 0))
        results = {impl: run_one(impl, name, size) for impl in impls}
        if name in POOL_WORKLOADS:
            results["pool"] = run_one("pool", name, size)
        for metric in results["raylite"]:
            row = [results[i].get(metric, results[i].get("error", "")) for i in impls]
            ratio = _ratio(results["raylite"].get(metric), results.get("ray", {}).get(metric))
            pool = _ratio(results["raylite"].get(metric),
                          results.get("pool", {}).get(metric))
            cells = " | ".join(_fmt(v) for v in row)
            print(f"| {name} | {metric} | {cells} | {ratio} | {pool} |", flush=True)


def _ratio(a, b) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b and \
            not isinstance(a, bool):
        return f"{a / b:.2f}"
    return ""


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
