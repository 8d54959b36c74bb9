"""Concurrency asserted as behaviour: parties that run at the same time can meet.

A test that wants N tasks (or actor calls) to run at once has each of them arrive at a meeting
place (a directory that every process of the machine sees) and wait there for the others. If
they run at once, all arrive and each returns True, however slow the machine is; if they run
one after another, the first waits in vain and returns False at a deadline that only a hang
would miss. No test measures a duration to learn whether work overlapped.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

DEADLINE = 60.0  # seconds a party waits for the others: far beyond any slow start


def arrive(place: str) -> None:
    os.makedirs(place, exist_ok=True)
    name = f"{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}"
    with open(os.path.join(place, name), "w"):
        pass


def arrived(place: str) -> int:
    try:
        return len(os.listdir(place))
    except FileNotFoundError:
        return 0


def meet(place: str, parties: int, deadline: float = DEADLINE) -> bool:
    """Arrive at ``place`` and wait until ``parties`` have; whether they all did in time."""
    arrive(place)
    return wait_for(place, parties, deadline)


def wait_for(place: str, parties: int, deadline: float = DEADLINE) -> bool:
    """Wait (without arriving) until ``parties`` have arrived at ``place``."""
    until = time.monotonic() + deadline
    while arrived(place) < parties:
        if time.monotonic() > until:
            return False
        time.sleep(0.01)
    return True
