"""ObjectRef, and the per-process reference count that tells the head when an object is free.

Every process (driver or worker) counts the live ``ObjectRef`` instances per object id.  Only the
edges matter to the head: when a process's count for an id goes 0 -> 1 it reports ``hold``, when
it goes 1 -> 0 it reports ``drop``.  Those reports travel in order with the process's other
messages, so a ``hold`` always reaches the head before anything that could release the object's
other pins (see ``core/head.py`` for the pins).

Pickling an ObjectRef is only allowed inside ``collect_refs()``, which the serializer opens: the
ids it collects are the refs *contained* in a value, which the head keeps alive as long as the
value.  Pickling a ref anywhere else (``pickle.dump`` into a file) would create a reference the
cluster cannot see, so it raises.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import threading
from collections import deque
from typing import Callable

_PROCESS_PREFIX = os.urandom(6).hex()
_counter = itertools.count()


def new_id(kind: str = "o") -> str:
    """A cluster-unique id: a random prefix per process, then a counter (cheap and ordered)."""
    return f"{kind}{_PROCESS_PREFIX}{next(_counter):010x}"


def reset_id_prefix() -> None:
    """Give this process a fresh id prefix (called in a worker right after fork)."""
    global _PROCESS_PREFIX
    _PROCESS_PREFIX = os.urandom(6).hex()


class ReferenceCounter:
    """Counts live ObjectRefs per id in this process and queues hold/drop edges for the head.

    ``__del__`` of a ref can run in any thread (garbage collection), so the queue is a deque
    (append and popleft are atomic) and the counts are guarded by a lock.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.edges: deque[tuple[str, str]] = deque()
        self.on_edge: Callable[[], None] | None = None

    def add(self, oid: str, announce: bool = True) -> None:
        """Count a new ref; ``announce=False`` when the head already counts this process as a
        holder (the process just submitted the task or put the object that the id names)."""
        with self._lock:
            count = self._counts.get(oid, 0)
            self._counts[oid] = count + 1
            if count or not announce:
                return
            self.edges.append(("hold", oid))

    def remove(self, oid: str) -> None:
        with self._lock:
            count = self._counts.get(oid, 0) - 1
            if count > 0:
                self._counts[oid] = count
                return
            self._counts.pop(oid, None)
            self.edges.append(("drop", oid))
        if self.on_edge is not None:
            self.on_edge()

    def take_edges(self) -> list[tuple[str, str]]:
        edges = []
        while self.edges:
            edges.append(self.edges.popleft())
        return edges


def split_edges(edges: list[tuple[str, str]]) -> tuple[list, list]:
    """Order a worker's pending edges around the message they ride with.

    Holds go before the message (a hold is always safe early), drops after it (the message
    may pin the object, e.g. a result that contains the ref).  An id dropped and then held
    again nets out to "still held" and sends nothing.
    """
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    for edge, oid in edges:
        first.setdefault(oid, edge)
        last[oid] = edge
    before = [("hold", oid) for oid, edge in first.items() if edge == "hold"]
    after = [("drop", oid) for oid, edge in last.items() if edge == "drop"]
    return before, after


# The counter of this process; replaced after fork so a worker starts with no inherited state.
counter = ReferenceCounter()


def reset_counter() -> ReferenceCounter:
    global counter
    counter = ReferenceCounter()
    return counter


_collecting = threading.local()


@contextlib.contextmanager
def collect_refs():
    """Allow ObjectRefs to be pickled; yields the list of the ids pickled meanwhile."""
    outer = getattr(_collecting, "ids", None)
    ids: list[str] = []
    _collecting.ids = ids
    try:
        yield ids
    finally:
        _collecting.ids = outer


def record_pickled(object_id: str, what: str, instead: str) -> None:
    """Note that a ref (or actor handle) is being pickled by the cluster's serializer, or
    refuse: pickled anywhere else it would be a reference the cluster cannot see."""
    ids = getattr(_collecting, "ids", None)
    if ids is None:
        raise TypeError(
            f"{what} can only be pickled by the cluster (as a task or actor argument, a return "
            f"value or inside ray.put); pickled to a file or another program it would be a "
            f"reference the cluster cannot track. {instead}")
    ids.append(object_id)


class _ObjectRefType(type):
    """On the Ray backend the refs are Ray's own: ``isinstance(ref, ObjectRef)`` holds for them
    too, so code written against ``ray.ObjectRef`` runs unchanged.  (An exact type match never
    reaches this method: the local runtime's checks stay as fast as they were.)"""

    # Ref types of another runtime that count as ours: Ray's, once the Ray backend runs.  A
    # registry rather than a look at sys.modules["ray"], which may be this very module's
    # package under the drop-in (that look recursed forever).
    foreign: tuple[type, ...] = ()

    def __instancecheck__(cls, value) -> bool:
        if type.__instancecheck__(cls, value):
            return True
        return bool(_ObjectRefType.foreign) and isinstance(value, _ObjectRefType.foreign)


def recognize_ref_type(ref_type: type) -> None:
    """Let ``isinstance(x, ObjectRef)`` hold for another runtime's refs (Ray's)."""
    if ref_type is not ObjectRef and ref_type not in _ObjectRefType.foreign:
        _ObjectRefType.foreign += (ref_type,)


class ObjectRef(metaclass=_ObjectRefType):
    """A future for a value in the cluster's object store; ``get(ref)`` returns the value."""

    __slots__ = ("_id", "_owner_hint", "__weakref__")

    def __init__(self, object_id: str, owner_hint: str | None = None, _announce: bool = True):
        self._id = object_id
        self._owner_hint = owner_hint  # the task name that produces it, for reprs
        counter.add(object_id, _announce)

    def __del__(self):
        try:
            counter.remove(self._id)
        except Exception:  # interpreter shutdown: module globals may be gone already
            pass

    def hex(self) -> str:
        return self._id

    def binary(self) -> bytes:
        return self._id.encode()

    def __hash__(self) -> int:
        return hash(self._id)

    def __eq__(self, other) -> bool:
        return isinstance(other, ObjectRef) and other._id == self._id

    def __repr__(self) -> str:
        return f"ObjectRef({self._id})"

    def __bool__(self):
        raise TypeError(
            "An ObjectRef is a future, not a value, so it has no truth value. "
            "Call ray.get(ref) to fetch the value, or compare it with `is not None`.")

    def __reduce__(self):
        record_pickled(self._id, f"{self!r}", "Store ray.get(ref) instead.")
        return (ObjectRef, (self._id, self._owner_hint))

    def future(self) -> concurrent.futures.Future:
        """A concurrent.futures.Future that completes with the value (or the task's error)."""
        from jupyter_raylite.core import context
        return context.current_runtime().future(self)

    def __await__(self):
        return asyncio.wrap_future(self.future()).__await__()
