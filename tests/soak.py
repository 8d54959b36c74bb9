"""Soak: many tasks of every kind, random application errors and random worker kills.

    python tests/soak.py                       # the long run: 200,000 tasks, about 3 minutes
    python tests/soak.py --tasks 2000 --seed 7 # what CI runs (tests/integration/test_soak.py)

Each round submits a mix: plain tasks, tasks that fail on purpose, nested tasks (a task that
submits and waits for another), tasks returning 1.6 MB numpy arrays (shared memory), and calls
on an actor; meanwhile a thread SIGKILLs a random task worker every so often.  Every ObjectRef
must resolve to its value or to the error it must give (the task's own ValueError, or
WorkerCrashedError once a killed task has used its retries); nothing may hang.  At the end, the
driver's open files and the cluster's shared-memory segments are back to where they started
and its memory is within bounds.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import signal
import sys
import threading
import time

import numpy as np
import psutil

import jupyter_raylite as ray
from jupyter_raylite.core.head import IDLE_WORKER_TIMEOUT
from jupyter_raylite.exceptions import WorkerCrashedError

ROUND = 500


@ray.remote
def square(i):
    return i * i


@ray.remote(max_retries=0)
def fails(i):
    raise ValueError(f"task {i} fails on purpose")


@ray.remote
def inner(i):
    return i + 1


@ray.remote
def outer(i):
    return ray.get(inner.remote(i)) * 2


@ray.remote
def big(i):
    return np.full(200_000, i, dtype=np.float64)  # 1.6 MB: goes through shared memory


@ray.remote
class Tally:
    def __init__(self):
        self.total = 0

    def add(self, i):
        self.total += i
        return i

    def seen(self):
        return self.total


def _submit(kind: str, i: int):
    """(ref, check): check(value_or_error) says whether the outcome is right."""
    crashed = (WorkerCrashedError,)  # a task killed more times than it may retry
    if kind == "square":
        return square.remote(i), lambda v: v == i * i or isinstance(v, crashed)
    if kind == "fails":
        return fails.remote(i), lambda v: isinstance(v, ValueError) and f"task {i}" in str(v) \
            or isinstance(v, crashed)
    if kind == "nested":
        return outer.remote(i), lambda v: v == (i + 1) * 2 or isinstance(v, crashed)
    if kind == "big":
        return big.remote(i), lambda v: (isinstance(v, np.ndarray) and v[0] == i
                                         and v.size == 200_000) or isinstance(v, crashed)
    raise ValueError(kind)


class WorkerKiller(threading.Thread):
    """SIGKILLs a random task worker (never an actor's) every ``interval`` seconds."""

    def __init__(self, rng: random.Random, interval: float):
        super().__init__(name="soak-killer", daemon=True)
        self.rng, self.interval = rng, interval
        self.stop = threading.Event()
        self.kills = 0

    def run(self):
        client = ray.api._cluster.client
        while not self.stop.wait(self.interval):
            pids = [pid for pid, actor in client.statistics().worker_pids.values()
                    if actor is None]
            if pids:
                try:
                    os.kill(self.rng.choice(pids), signal.SIGKILL)
                    self.kills += 1
                except ProcessLookupError:
                    pass


def _shm_segments(cluster_id: str) -> int:
    return sum(1 for name in os.listdir("/dev/shm") if name.startswith(f"raylite_{cluster_id}_"))


def soak(tasks: int, seed: int = 0, kill_interval: float = 0.25, timeout: float = 120,
         log=print) -> dict:
    """Run the soak on the running cluster; returns what was measured.  Raises AssertionError
    on the first wrong outcome or leak."""
    rng = random.Random(seed)
    driver = psutil.Process()
    cluster_id = ray.api._cluster.cluster_id
    tally = Tally.remote()
    ray.get(square.remote(0))  # workers warm before the baseline
    gc.collect()
    base_fds, base_rss = driver.num_fds(), driver.memory_info().rss
    base_segments = _shm_segments(cluster_id)
    killer = WorkerKiller(random.Random(seed + 1), kill_interval)  # its own: runs replay
    killer.start()
    outcomes = {"ok": 0, "error": 0, "crashed": 0}
    expected_total = 0
    started = time.monotonic()
    try:
        done = 0
        while done < tasks:
            batch, calls = [], []
            for _ in range(min(ROUND, tasks - done)):
                i = rng.randrange(10_000)
                kind = rng.choices(["square", "fails", "nested", "big", "actor"],
                                   [50, 10, 15, 10, 15])[0]
                if kind == "actor":
                    calls.append((tally.add.remote(i), i))
                    expected_total += i
                else:
                    batch.append(_submit(kind, i))
            for ref, check in batch:
                try:
                    value = ray.get(ref, timeout=timeout)
                    outcomes["ok"] += 1
                except (ValueError, WorkerCrashedError) as error:
                    value = error
                    outcomes["crashed" if isinstance(error, WorkerCrashedError) else "error"] += 1
                assert check(value), f"wrong outcome: {value!r}"
            assert [ray.get(ref, timeout=timeout) for ref, _ in calls] == [i for _, i in calls]
            done += len(batch) + len(calls)
            del batch, calls, ref, check, value  # hold no ref across rounds
            log(f"{done} tasks, {killer.kills} workers killed, {time.monotonic() - started:.0f} s")
    finally:
        killer.stop.set()
        killer.join()
    # The actor saw every call exactly once, whatever happened to the task workers.
    assert ray.get(tally.seen.remote(), timeout=timeout) == expected_total
    del tally
    gc.collect()
    # Workers started for blocked nested tasks exit after being idle for a while (10 s):
    # until then each holds a socket in the driver.  Wait for the cluster to settle.
    settle = time.monotonic() + IDLE_WORKER_TIMEOUT + 30  # 30 s more: only a hang misses it
    while time.monotonic() < settle and (driver.num_fds() > base_fds + 2
                                         or _shm_segments(cluster_id) > base_segments):
        time.sleep(0.2)
    measured = {"tasks": tasks, "seconds": time.monotonic() - started, "kills": killer.kills,
                **outcomes, "fds_before": base_fds, "fds_after": driver.num_fds(),
                "rss_before_mib": base_rss / 2**20,
                "rss_after_mib": driver.memory_info().rss / 2**20,
                "segments_before": base_segments, "segments_after": _shm_segments(cluster_id)}
    assert measured["segments_after"] <= base_segments, measured
    assert measured["fds_after"] <= base_fds + 2, measured
    assert measured["rss_after_mib"] - measured["rss_before_mib"] < 150, measured
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kill-interval", type=float, default=0.25)
    args = parser.parse_args()
    ray.init(num_cpus=2)
    try:
        measured = soak(args.tasks, args.seed, args.kill_interval)
    finally:
        ray.shutdown()
    print("held:", ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                             for k, v in measured.items()))


if __name__ == "__main__":
    sys.exit(main())
