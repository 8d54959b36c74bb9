"""What a test may leave behind: nothing.  Helpers to find cluster processes and segments."""

from __future__ import annotations

import os
import threading
import time

import psutil

SHM = "/dev/shm"


def cluster_processes(cluster_id: str | None = None,
                      exclude: str | None = None) -> list[psutil.Process]:
    """Processes whose environment names a jupyter_raylite cluster: any, one (``cluster_id``),
    or any but one (``exclude``).  Zombies do not count: their memory is already gone."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            env = proc.environ()
        except (psutil.Error, OSError):
            continue
        value = env.get("JUPYTER_RAYLITE_CLUSTER")
        if not value or value == exclude or (cluster_id is not None and value != cluster_id):
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except psutil.Error:
            continue
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
