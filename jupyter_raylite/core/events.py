"""What happened to tasks and actors, in order: the feed that widgets, ``%raylite`` and the
timeline read, so that none of them reaches into the head's tables.

The head appends one small tuple per transition (a task submitted, queued, running, ended; an
actor started or died; a line a task printed).  Observers poll ``since(seq)`` from their own
thread and fold the events into their own model.  The log is bounded: an observer that falls
more than ``capacity`` events behind is told how many it missed, and the head never waits for
anyone.  Counts of tasks by (cell, function) and state are kept as events are written
(``counts()``), so that an observer can show thousands of tasks a second without folding each.

Event shapes (``t`` is ``time.time()`` on the head):

    ("task",   t, task_id, name, kind, parent_task_id, dependencies, return_ids, cell,
               resources, args_summary, actor_id, state)
               kind: "task" or "actor_call"; state: the first one, "waiting" or "queued"
    ("state",  t, task_id, state, pid, detail, ran)   detail: error type, "retry", or None;
               ran: (started, ended) by the worker's clock, on the event that ends a run
    ("output", t, task_id, stream, text)
    ("actor",  t, actor_id, class_name, state, pid, detail, cell, name)
"""

from __future__ import annotations

import threading
from collections import deque
from itertools import islice

DEFAULT_CAPACITY = 200_000


_ENDED = frozenset(("finished", "failed", "cancelled"))


class EventLog:
    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self._events: deque = deque(maxlen=capacity)
        self._next_seq = 0
        self._lock = threading.Lock()
        # Tasks by (cell, function) and state, kept as the events are written: exact however
        # far behind an observer is, and cheap to read at any rate.
        self._counts: dict[tuple, dict[str, int]] = {}
        self._live: dict[str, tuple] = {}  # task id -> (its counter, its state), until it ends

    def emit(self, *event) -> None:
        with self._lock:
            self._events.append(event)
            self._next_seq += 1

    def task(self, t, task_id, name, kind, parent, dependencies, return_ids, cell, resources,
             args_summary, actor_id, state) -> None:
        """A task or actor call was submitted; ``state`` is its first one."""
        with self._lock:
            counter = self._counts.get((cell, name))
            if counter is None:
                counter = self._counts[(cell, name)] = {}
            counter[state] = counter.get(state, 0) + 1
            self._live[task_id] = (counter, state)
            self._events.append(("task", t, task_id, name, kind, parent, dependencies,
                                 return_ids, cell, resources, args_summary, actor_id, state))
            self._next_seq += 1

    def state(self, t, task_id, state, pid=None, detail=None, ran=None) -> None:
        with self._lock:
            entry = self._live.pop(task_id, None)
            if entry is not None:
                counter, old = entry
                counter[old] -= 1
                counter[state] = counter.get(state, 0) + 1
                if state not in _ENDED:
                    self._live[task_id] = (counter, state)
            self._events.append(("state", t, task_id, state, pid, detail, ran))
            self._next_seq += 1

    def counts(self) -> dict[tuple, dict[str, int]]:
        """Every task submitted so far, by (cell, function) and state."""
        with self._lock:
            return {key: dict(counter) for key, counter in self._counts.items()}

    def since(self, seq: int) -> tuple[int, list, int]:
        """The events numbered ``seq`` and later: ``(next_seq, events, missed)``, where
        ``missed`` counts the ones that fell out of the log before they were read."""
        with self._lock:
            first = self._next_seq - len(self._events)
            start = max(seq, first)
            count = self._next_seq - start
            # From the right: a poll costs what it returns, not the size of the log.
            events = list(islice(reversed(self._events), count))
            events.reverse()
            return self._next_seq, events, start - seq


def cell_of(origin) -> str | None:
    """The id of the notebook request (cell) a submission came from: its origin's msg_id."""
    try:
        return origin["header"]["msg_id"]
    except (TypeError, KeyError):
        return None


def summarize_arguments(args: tuple, kwargs: dict, limit: int = 160) -> str:
    """A short, cheap description of a call's arguments for the task inspector: small scalars
    by value, everything else by type and size (and shape, for arrays).  Never calls a
    user-defined ``__repr__``, and never fails."""
    parts = [_describe(a) for a in args]
    parts += [f"{k}={_describe(v)}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    return text if len(text) <= limit else text[:limit - 1] + "…"


_SCALARS = (int, float, bool, complex, type(None))


def _describe(value) -> str:
    kind = type(value)
    if kind in _SCALARS:
        return repr(value)
    if kind is str:
        return repr(value) if len(value) <= 24 else repr(value[:21] + "…")
    if kind.__name__ == "ObjectRef":
        return f"ObjectRef({value.hex()[:10]}…)"
    if kind in (list, tuple, dict, set, frozenset, bytes, bytearray):
        return f"{kind.__name__}[{len(value)}]"
    try:  # a user's __getattr__ may raise anything: a summary must never fail a submission
        shape = getattr(value, "shape", None)
        if isinstance(shape, tuple) and hasattr(value, "dtype"):  # numpy, pandas, torch, ...
            return f"{kind.__name__}{list(shape)} {value.dtype}"
    except Exception:
        pass
    return kind.__name__
