"""What a test may leave behind: nothing.  Helpers to find cluster processes and segments."""

from __future__ import annotations

import os
import threading
import time

import psutil

SHM = "/dev/shm"


def cluster_processes(cluster_id: str | None = None) -> list[psutil.Process]:
    """Processes whose environment names a jupyter_raylite cluster (optionally one cluster)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        value = env.get("JUPYTER_RAYLITE_CLUSTER")
        if value and (cluster_id is None or value == cluster_id):
            found.append(proc)
    return found


def segments(prefix: str = "raylite_") -> set[str]:
    return {name for name in os.listdir(SHM) if name.startswith(prefix)}


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive()}
