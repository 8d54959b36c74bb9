"""Which runtime serves the public API in this process: the driver's, a worker's, or none yet.

A driver gets its runtime from ``init()`` (or automatically on first use, as in Ray); a worker
process gets one connected to the head before it runs any task, so that tasks can submit tasks,
put and get with the same public calls.
"""

from __future__ import annotations

import threading

_runtime = None
_lock = threading.RLock()
# Set by the public API: how to start a default cluster when a call needs one.
auto_init = None


def current_runtime(auto: bool = True):
    runtime = _runtime
    if runtime is not None:
        return runtime
    if not auto or auto_init is None:
        return None
    with _lock:
        if _runtime is None:
            auto_init()
        return _runtime


def set_runtime(runtime) -> None:
    global _runtime
    _runtime = runtime


def lock() -> threading.RLock:
    return _lock
