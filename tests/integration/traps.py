"""Objects that fail while they are pickled or unpickled, in the process chosen ("driver" or
"worker"), in the way chosen: an exception, sys.exit, os._exit, a segfault, or SIGKILL.

Workers import this module by name (the test directory is on their path, as the driver's)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

KINDS = ("exception", "exit", "os_exit", "segfault", "kill")


def in_worker() -> bool:
    return "JUPYTER_RAYLITE_CLUSTER" in os.environ


def fail(kind: str) -> None:
    if kind == "exception":
        raise RuntimeError("the trap was sprung")
    if kind == "exit":
        sys.exit(3)
    if kind == "os_exit":
        os._exit(4)
    if kind == "segfault":
        ctypes.string_at(0)
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)


def _spring_if_in(where: str, kind: str):
    """Called when a pickled UnpickleTrap is loaded."""
    if (where == "worker") == in_worker():
        fail(kind)
    return None


class PickleTrap:
    """Fails when it is pickled in ``where``."""

    def __init__(self, where: str, kind: str):
        self.where, self.kind = where, kind

    def __reduce__(self):
        if (self.where == "worker") == in_worker():
            fail(self.kind)
        return (PickleTrap, (self.where, self.kind))

    def __repr__(self) -> str:
        return f"PickleTrap({self.where!r}, {self.kind!r})"


class UnpickleTrap:
    """Pickles fine; fails when it is unpickled in ``where``."""

    def __init__(self, where: str, kind: str):
        self.where, self.kind = where, kind

    def __reduce__(self):
        return (_spring_if_in, (self.where, self.kind))
