"""What a test may leave behind: nothing.  Helpers to find this test run's cluster processes
and segments, and only this run's.

A machine may run other jupyter_raylite programs beside the tests (a notebook the user has
open, another test run, the stress pass's neighbour): their processes and segments are none of
this run's business.  So every process this run starts (clusters in this process, kernels,
drivers in subprocesses, and all that they start in turn) inherits one token in its
environment, ``JUPYTER_RAYLITE_TEST_RUN``; a process is this run's when it carries the token,
even after its parent died and it was re-parented.  A segment is this run's when the cluster
it names is: the cluster's driver (the pid its id begins with) is this process or one of this
run's processes, or a process of this run was seen serving that cluster.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import psutil

SHM = "/dev/shm"
RUN_VARIABLE = "JUPYTER_RAYLITE_TEST_RUN"
CLUSTER_VARIABLE = "JUPYTER_RAYLITE_CLUSTER"

# A deadline that only a hang misses, for anything a loaded machine may merely make slow.
HANG = 30.0


def mark_this_run() -> str:
    """Give this test run its token (once, before it starts anything); returns it.  A run
    started by another run (pytest through the drop-in runner) keeps the token it inherited:
    it is part of that run, whose checks then cover it too."""
    token = os.environ.get(RUN_VARIABLE)
    if not token:
        token = os.environ[RUN_VARIABLE] = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    return token


def _cluster_environments():
    """(process, its cluster id, whether it carries this run's token) for every live,
    non-zombie process of any jupyter_raylite cluster on the machine."""
    token = os.environ.get(RUN_VARIABLE)
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            env = proc.environ()
            cluster = env.get(CLUSTER_VARIABLE)
            # Zombies do not count: their memory is already gone.
            if not cluster or proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except (psutil.Error, OSError):
            continue
        yield proc, cluster, token is not None and env.get(RUN_VARIABLE) == token


def cluster_processes(cluster_id: str | None = None,
                      exclude: str | None = None) -> list[psutil.Process]:
    """Live processes of one cluster (``cluster_id``: ids are unique, whoever started it), or
    of every cluster this test run started, less one (``exclude``)."""
    found = []
    for proc, cluster, ours in _cluster_environments():
        if cluster_id is not None:
            if cluster == cluster_id:
                found.append(proc)
        elif cluster != exclude and (ours or _driver_pid(cluster) == os.getpid()):
            found.append(proc)
    return found


def segments(prefix: str = "raylite_") -> set[str]:
    """Segment names in /dev/shm that start with ``prefix``, whoever made them."""
    return {name for name in os.listdir(SHM) if name.startswith(prefix)}


def run_segments() -> set[str]:
    """The segments of the clusters this test run started (see the module docstring)."""
    our_clusters, our_pids = set(), {os.getpid()}
    for proc, cluster, ours in _cluster_environments():
        if ours:
            our_clusters.add(cluster)
            our_pids.add(proc.pid)
    found = set()
    for name in segments():
        cluster = _segment_cluster(name)
        if cluster in our_clusters or _driver_pid(cluster) in our_pids or (
                _carries_this_run(_driver_pid(cluster))):
            found.add(name)
    return found


def leftovers(segments_before: set[str], keep: str | None = None) -> tuple[list, set[str]]:
    """What this run has that it should not: processes of its clusters other than ``keep``
    (a cluster a fixture keeps alive), and segments of its clusters made since
    ``segments_before`` that still exist."""
    return cluster_processes(exclude=keep), run_segments() - segments_before


def _segment_cluster(name: str) -> str:
    # raylite_<driver pid>x<random hex>_<object id>
    return name[len("raylite_"):].split("_", 1)[0]


def _driver_pid(cluster_id: str) -> int | None:
    head = cluster_id.split("x", 1)[0]
    return int(head) if head.isdigit() else None


def _carries_this_run(pid: int | None) -> bool:
    """Whether ``pid`` is a live driver (of a cluster or a kernel) started by this run."""
    token = os.environ.get(RUN_VARIABLE)
    if pid is None or token is None:
        return False
    try:
        return psutil.Process(pid).environ().get(RUN_VARIABLE) == token
    except (psutil.Error, OSError):
        return False


def wait_until(predicate, timeout: float = HANG, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}
