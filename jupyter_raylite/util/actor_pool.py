"""ActorPool: spread work over a fixed set of actors, one call per idle actor (Ray's API)."""

from __future__ import annotations

from collections import deque

from jupyter_raylite import api


class ActorPool:
    """Submit ``fn(actor, value)`` calls to whichever actor is idle; collect the results in
    submission order (``get_next``) or as they finish (``get_next_unordered``)."""

    def __init__(self, actors: list):
        self._idle = list(actors)
        self._busy: dict = {}  # ObjectRef -> (submission index, actor)
        self._order: dict[int, object] = {}  # submission index -> ObjectRef
        self._waiting: deque = deque()  # (fn, value) submitted while no actor was idle
        self._next_submit = 0
        self._next_return = 0

    def submit(self, fn, value) -> None:
        """Schedule ``fn(actor, value)`` (which must return an ObjectRef) on an idle actor."""
        if not self._idle:
            self._waiting.append((fn, value))
            return
        actor = self._idle.pop()
        ref = fn(actor, value)
        self._busy[ref] = (self._next_submit, actor)
        self._order[self._next_submit] = ref
        self._next_submit += 1

    def has_next(self) -> bool:
        return bool(self._busy)

    def has_free(self) -> bool:
        return bool(self._idle) and not self._waiting

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False):
        """The next result in submission order; TimeoutError if it is not ready in time."""
        if not self.has_next():
            raise StopIteration("No more results to get")
        if self._next_return not in self._order:
            raise ValueError("get_next() cannot be mixed with get_next_unordered()")
        ref = self._order[self._next_return]
        ready, _ = api.wait([ref], timeout=timeout)
        if not ready:
            if ignore_if_timedout:
                self._forget(ref)
                self._next_return += 1
            raise TimeoutError(f"Timed out waiting for result after {timeout} s")
        self._next_return += 1
        return self._collect(ref)

    def get_next_unordered(self, timeout: float | None = None,
                           ignore_if_timedout: bool = False):
        """Any finished result; TimeoutError if none finishes in time."""
        if not self.has_next():
            raise StopIteration("No more results to get")
        ready, _ = api.wait(list(self._busy), num_returns=1, timeout=timeout)
        if not ready:
            raise TimeoutError(f"Timed out waiting for result after {timeout} s")
        ref = ready[0]
        index = self._busy[ref][0]
        self._order.pop(index, None)
        return self._collect(ref)

    def _collect(self, ref):
        _, actor = self._forget(ref)
        try:
            return api.get(ref)
        finally:
            self._return_actor(actor)

    def _forget(self, ref):
        index, actor = self._busy.pop(ref)
        self._order.pop(index, None)
        return index, actor

    def _return_actor(self, actor) -> None:
        self._idle.append(actor)
        if self._waiting:
            self.submit(*self._waiting.popleft())

    def map(self, fn, values):
        """Results of ``fn(actor, v)`` for every value, in order, as a generator."""
        while self.has_next():  # drain what an earlier map left
            self.get_next_unordered()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next()

    def map_unordered(self, fn, values):
        """Like ``map`` but yields each result as soon as it is ready."""
        while self.has_next():
            self.get_next_unordered()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next_unordered()

    def pop_idle(self):
        """Remove and return an idle actor, or None."""
        return self._idle.pop() if self.has_free() else None

    def push(self, actor) -> None:
        """Add an actor to the pool."""
        busy = {a for _, a in self._busy.values()}
        if actor in self._idle or actor in busy:
            raise ValueError("Actor already belongs to current ActorPool")
        self._return_actor(actor)
