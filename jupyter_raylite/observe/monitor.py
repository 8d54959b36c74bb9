"""One background thread that watches the cluster for every widget in the kernel.

Each tick (``INTERVAL``, so at most a few updates a second however fast tasks run) it reads the
new events and a statistics snapshot from the runtime, folds the events into one shared
``ClusterModel`` and hands each subscriber the model and what changed.  Widgets turn that into
state changes for the front end; they never poll the runtime themselves.

The thread runs only while something subscribes, and follows the cluster: after
``shutdown()`` and a new ``init()`` the model starts over.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from dataclasses import dataclass

from jupyter_raylite.observe.model import Changes, ClusterModel

INTERVAL = 0.25
# Per-task detail is folded for at most this many events a tick (about 1,300 tasks); beyond
# that the views show counts, which stay exact.  Keeps the views' cost on the kernel's GIL
# bounded however fast tasks run.
DETAIL_EVENTS_PER_TICK = 4000

log = logging.getLogger(__name__)


def current_source():
    """The running cluster's client (what events and statistics are read from), or None."""
    from jupyter_raylite import api
    cluster = api._cluster
    return getattr(cluster, "client", None) if cluster is not None else None


@dataclass
class Update:
    changes: Changes
    statistics: object | None  # the runtime's ClusterStatistics, None without a cluster
    now: float
    reset: bool = False  # the model was started over (a new cluster)
    connected: bool = True  # False once the cluster is gone (the model keeps its last state)


class Monitor:
    def __init__(self, source=current_source, interval: float = INTERVAL):
        self._source_of = source
        self.interval = interval
        self.model = ClusterModel()
        self.last: Update | None = None
        self._source = None
        self._seq = 0
        self._subscribers: list = []
        # One poll at a time; subscribers change, and views read the model, under it too.
        self.lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()  # starting and stopping the thread
        self._stop = threading.Event()

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(self, callback) -> None:
        """Call ``callback(model, update)`` after every poll, from the monitor thread.  A bound
        method is held weakly: a widget that is garbage collected stops being called."""
        ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else (
            lambda: callback)
        with self.lock:
            self._subscribers.append(ref)
            if self.last is None:
                self.poll()
            else:
                self._deliver([ref], self.last)
        self._ensure_thread()

    def unsubscribe(self, callback) -> None:
        with self.lock:
            self._subscribers = [r for r in self._subscribers if r() not in (None, callback)]
            if not self._subscribers:
                # The thread sees this at once and ends.  Not joined here: the caller may hold
                # the lock the thread is waiting for (a subscriber leaving from a callback).
                self._stop.set()

    # -- polling ------------------------------------------------------------------------------
    def poll(self) -> Update:
        """Read what happened since the last poll and tell every subscriber."""
        with self.lock:
            source = self._source_of()
            # A new cluster starts the model over; a cluster that went away leaves its last
            # picture on screen (marked disconnected) until then.
            reset = source is not None and source is not self._source
            if reset:
                self._source, self._seq = source, 0
                self.model = ClusterModel()
            changes, statistics = Changes(), None
            if source is not None:
                try:
                    self._seq, events, missed = source.events_since(self._seq)
                    changes = self.model.apply(
                        events, missed, detail_from=len(events) - DETAIL_EVENTS_PER_TICK)
                    self.model.set_counts(source.task_counts(), time.time(), changes)
                    statistics = source.statistics()
                except Exception:  # the cluster went away mid-poll; the next poll resets
                    log.debug("monitor poll failed", exc_info=True)
            update = Update(changes, statistics, time.time(), reset, source is not None)
            self.last = update
            self._deliver(self._subscribers, update)
            return update

    def _deliver(self, refs, update: Update) -> None:
        for ref in list(refs):
            callback = ref()
            if callback is None:
                continue
            try:
                callback(self.model, update)
            except Exception:  # one broken view must not stop the others
                log.exception("a cluster widget failed to update")
        self._subscribers = [r for r in self._subscribers if r() is not None]

    # -- the thread ---------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._thread_lock:
            thread = self._thread
            if thread is not None and thread.is_alive():
                if not self._stop.is_set():
                    return
                thread.join()  # it was told to stop: let it finish before starting anew
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="raylite-monitor",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and self._subscribers:
            self.poll()

    def stop(self) -> None:
        """Stop the thread (subscribers stay); it restarts on the next subscription."""
        with self._thread_lock:
            self._stop.set()
            thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=5)


_monitor: Monitor | None = None


def get_monitor() -> Monitor:
    """The kernel's monitor, shared by every widget."""
    global _monitor
    if _monitor is None:
        _monitor = Monitor()
    return _monitor
