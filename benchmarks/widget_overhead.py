"""What the live views cost: tiny-task throughput in a real kernel with the task graph and the
meters displayed, against the same kernel with nothing displayed.

    python benchmarks/widget_overhead.py [--tasks N] [--rounds R]

Drives two kernels through jupyter_client, as a notebook front end does (every widget message
is serialized and sent on IOPub): one with the views displayed for the whole run, one without.
Rounds alternate between them, one at a time, so that drift in the machine's load hits both
alike; the figure is the ratio of the medians.  Target: the
views cost at most 5% (ratio >= 0.95).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests"), os.path.join(HERE, "..", "tests", "kernel")]
from test_kernel import Kernel  # noqa: E402

SETUP = """
%load_ext jupyter_raylite
import time, jupyter_raylite as ray
ray.init(num_cpus=2, ignore_reinit_error=True)
@ray.remote
def noop():
    return None
def rate(n):
    ray.get([noop.remote() for _ in range(200)])  # workers warm
    start = time.perf_counter()
    ray.get([noop.remote() for _ in range(n)])
    return n / (time.perf_counter() - start)
"""


def measure(kernel: Kernel, tasks: int) -> float:
    return float(kernel.value(f"rate({tasks})"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--views", nargs="+", default=["task_graph", "meters"],
                        choices=["task_graph", "meters", "inspector"])
    args = parser.parse_args()
    bare, shown = Kernel(), Kernel()
    try:
        for kernel in (bare, shown):
            kernel.execute(SETUP)
        # The views stay displayed for the whole run, as in a notebook.
        shown.execute(f"views = [{', '.join(f'ray.{v}()' for v in args.views)}]\n"
                      "display(*views)")
        without, with_views = [], []
        for kernel in (bare, shown):
            measure(kernel, args.tasks)  # warm
        for _ in range(args.rounds):
            without.append(measure(bare, args.tasks))
            with_views.append(measure(shown, args.tasks))
        a, b = statistics.median(without), statistics.median(with_views)
        print(f"tiny tasks/s without views: {a:,.0f}  (rounds: "
              + ", ".join(f"{x:,.0f}" for x in without) + ")")
        print(f"tiny tasks/s with {' + '.join(args.views)} displayed: {b:,.0f}  (rounds: "
              + ", ".join(f"{x:,.0f}" for x in with_views) + ")")
        print(f"ratio with/without: {b / a:.3f}  (target >= 0.95)")
    finally:
        bare.stop()
        shown.stop()


if __name__ == "__main__":
    main()
