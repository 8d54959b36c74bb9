"""ObjectRef, the ids of the cluster, and the per-process reference count that tells the head
when an object is free.

Ids are hexadecimal strings with Ray's layouts and lengths (see ``new_id``): the id the runtime
names an object by is the ``hex()`` Ray would show, so nothing translates between the two.

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
import warnings
from collections import deque
from typing import Callable

from jupyter_raylite.core import context

_PROCESS_PREFIX = os.urandom(6).hex()
_counter = itertools.count(1)
_SCRAMBLE = 0x9E3779B97F  # odd

# A local cluster runs one job, the driver's, numbered as Ray numbers a cluster's first driver.
JOB_ID_HEX = "01000000"
# Ray's worker id of that driver.
DRIVER_WORKER_ID_HEX = JOB_ID_HEX + "f" * 48

# Ids are hexadecimal and as long as Ray's, so that ``ObjectRef.hex()`` is both Ray's face of a
# ref and the name the runtime (messages, the object directory, segment names) knows it by:
#
#   task    e<unique>ff..ff<job>              24 bytes, as Ray's TaskID
#   object  <task id><index, 4 bytes LE>      28 bytes, as Ray's ObjectID; return i of a task
#           has index i + 1, as in Ray; a put object is b<unique>ff..ff<job> + index 0
#   actor   a<unique>f<job>                   16 bytes, as Ray's ActorID
#   function f<unique>, actor class c<unique> (never shown)
#
# <unique> is a counter, scrambled so that ids differ in their first digits as Ray's do (shown
# shortened), then the process prefix: 22 digits.  The first digit names the kind, and the
# object directory relies on it: an actor's id starts with "a", nothing else does.
_LAYOUTS = {
    "t": ("e", "f" * 17 + JOB_ID_HEX),
    "p": ("b", "f" * 17 + JOB_ID_HEX + "00000000"),
    "a": ("a", "f" + JOB_ID_HEX),
    "f": ("f", ""),
    "c": ("c", ""),
}
_TASK_ID_LENGTH = 48
_OBJECT_ID_SIZE = 28
_NIL_OBJECT_ID = "f" * (2 * _OBJECT_ID_SIZE)
# The index part of the first return ids, ready-made (most tasks return one value).
_RETURN_INDEXES = tuple((i + 1).to_bytes(4, "little").hex() for i in range(16))


def new_id(kind: str) -> str:
    """A cluster-unique id of a kind in ``_LAYOUTS`` ("t" task, "p" put object, "a" actor,
    "f" function, "c" actor class): a counter and a random prefix per process (cheap)."""
    digit, tail = _LAYOUTS.get(kind, ("0", ""))
    # Times an odd number modulo 2**40: a bijection, so scrambled counts stay unique.
    scrambled = next(_counter) * _SCRAMBLE & 0xFF_FFFF_FFFF
    return f"{digit}{scrambled:010x}{_PROCESS_PREFIX}{tail}"


def return_object_ids(task_id: str, count: int) -> tuple[str, ...]:
    """The object ids of a task's ``count`` return values (Ray's: the task id, then i + 1)."""
    if count <= len(_RETURN_INDEXES):
        return tuple([task_id + index for index in _RETURN_INDEXES[:count]])
    return tuple(task_id + (i + 1).to_bytes(4, "little").hex() for i in range(count))


def worker_id_hex(worker_id: str) -> str:
    """A worker process's id as Ray shows one: 28 bytes of hex (our ids are short names)."""
    return worker_id.encode().hex().ljust(56, "f")


def reset_id_prefix() -> None:
    """Give this process a fresh id prefix (called in a worker right after fork)."""
    global _PROCESS_PREFIX
    _PROCESS_PREFIX = os.urandom(6).hex()


def _checked_hex(binary: bytes, size: int, kind: str) -> str:
    if type(binary) is not bytes:
        raise TypeError(f"Unsupported type: {type(binary)}, expected bytes: a {kind} is built "
                        f"from the .binary() of another one.")
    if len(binary) != size:
        raise ValueError(f"ID string needs to have length {size}, got {len(binary)}: a {kind} "
                         f"is {size} bytes, such as the .binary() of another one.")
    return binary.hex()


def _bytes_of_hex(hex_id: str, kind: str) -> bytes:
    try:
        return bytes.fromhex(hex_id)
    except (TypeError, ValueError):
        raise ValueError(f"{hex_id!r:.80} is not the hex() of a {kind}.") from None


class BaseID:
    """Ray's id types (JobID, TaskID, ActorID, ...): a fixed number of bytes, shown as hex.

    Built from bytes as Ray's are (``TaskID(b)``, ``from_binary``, ``from_hex``, ``nil()``);
    the runtime makes them from its own hex ids with ``_of``, which neither checks nor copies.
    """

    __slots__ = ("_hex",)
    _size = 0

    def __init__(self, binary: bytes):
        self._hex = _checked_hex(binary, self._size, type(self).__name__)

    @classmethod
    def _of(cls, id_hex: str):
        new = cls.__new__(cls)
        new._hex = id_hex
        return new

    @classmethod
    def from_binary(cls, binary: bytes):
        return cls(binary)

    @classmethod
    def from_hex(cls, hex_id: str):
        return cls(_bytes_of_hex(hex_id, cls.__name__))

    @classmethod
    def nil(cls):
        return cls._of("f" * (2 * cls._size))

    @classmethod
    def size(cls) -> int:
        return cls._size

    def hex(self) -> str:
        return self._hex

    def binary(self) -> bytes:
        return bytes.fromhex(self._hex)

    def is_nil(self) -> bool:
        return self._hex == "f" * (2 * self._size)

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and other._hex == self._hex

    def __hash__(self) -> int:
        return hash(self._hex)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._hex})"

    def __reduce__(self):
        return (type(self)._of, (self._hex,))


class JobID(BaseID):
    __slots__ = ()
    _size = 4

    def int(self) -> int:
        return int.from_bytes(self.binary(), "little")

    @classmethod
    def from_int(cls, value: int) -> "JobID":
        return cls(value.to_bytes(4, "little"))


class TaskID(BaseID):
    __slots__ = ()
    _size = 24

    def job_id(self) -> JobID:
        if self.is_nil():
            raise ValueError("TaskID is nil")
        return JobID._of(self._hex[-8:])


class ActorID(BaseID):
    __slots__ = ()
    _size = 16


class NodeID(BaseID):
    __slots__ = ()
    _size = 28


class PlacementGroupID(BaseID):
    __slots__ = ()
    _size = 18


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
    """A future for a value in the cluster's object store; ``get(ref)`` returns the value.

    Its id is Ray's kind of id (see ``new_id``): ``hex()`` is also the name the runtime knows
    the object by, ``binary()`` its 28 bytes.  ``ObjectRef(binary)`` and ``from_binary`` make
    another ref to the same object, counted like any other: the object stays while one lives.
    """

    __slots__ = ("_id", "_owner_hint", "__weakref__")

    def __init__(self, object_id: str, owner_hint: str | None = None, _announce: bool = True):
        if object_id.__class__ is bytes:  # ObjectRef(ref.binary()), as in Ray
            object_id = _checked_hex(object_id, _OBJECT_ID_SIZE, "ObjectRef")
        self._id = object_id
        self._owner_hint = owner_hint  # the task name that produces it, for reprs
        counter.add(object_id, _announce)

    def __del__(self):
        try:
            counter.remove(self._id)
        except Exception:  # interpreter shutdown: module globals may be gone already
            pass

    @classmethod
    def from_binary(cls, binary: bytes) -> "ObjectRef":
        ray_type = _ray_ref_type()
        if ray_type is not None:
            return ray_type.from_binary(binary)
        return cls(_checked_hex(binary, _OBJECT_ID_SIZE, "ObjectRef"))

    @classmethod
    def nil(cls) -> "ObjectRef":
        ray_type = _ray_ref_type()
        if ray_type is not None:
            return ray_type.nil()
        return cls(_NIL_OBJECT_ID)  # names no object: the head ignores its edges

    @classmethod
    def size(cls) -> int:
        return _OBJECT_ID_SIZE

    def hex(self) -> str:
        return self._id

    def binary(self) -> bytes:
        return bytes.fromhex(self._id)

    def is_nil(self) -> bool:
        return self._id == _NIL_OBJECT_ID

    def task_id(self) -> TaskID:
        """The task that returns the object (for a ``put`` object: the put itself; Ray names
        the task that called put)."""
        return TaskID._of(self._id[:_TASK_ID_LENGTH])

    def job_id(self) -> JobID:
        return self.task_id().job_id()

    def __hash__(self) -> int:
        return hash(self._id)

    def __eq__(self, other) -> bool:
        # An exact type check: Ray's refs pass isinstance on the Ray backend but have no _id.
        return other.__class__ is ObjectRef and other._id == self._id

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
        return context.current_runtime().future(self)

    def as_future(self) -> asyncio.Future:
        """The value as an asyncio future of the running loop (deprecated in Ray)."""
        warnings.warn("ref.as_future() is deprecated in favor of "
                      "asyncio.wrap_future(ref.future()).", DeprecationWarning, stacklevel=2)
        return asyncio.wrap_future(self.future())

    def __await__(self):
        return asyncio.wrap_future(self.future()).__await__()


def _ray_ref_type() -> type | None:
    """Ray's ObjectRef while the Ray backend serves this process (its refs are Ray's)."""
    runtime = context.current_runtime(auto=False)
    if hasattr(runtime, "is_ref"):  # the Ray backend's client, as api._on_ray tells it
        return runtime.ray.ObjectRef
    return None
