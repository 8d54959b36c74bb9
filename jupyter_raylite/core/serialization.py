"""Values to payloads and back: small ones inline, large ones in shared memory, zero-copy reads.

A value is pickled once with cloudpickle at protocol 5, with out-of-band buffers (numpy arrays,
``PickleBuffer``), while ``collect_refs`` records the ObjectRefs it contains.  If the pickle
stream and buffers together are small, they travel inline in the message; otherwise they go
into one shared-memory segment and only its layout travels.

A task's exception travels the same way, as a ``RayTaskError`` marked as an error payload.
"""

from __future__ import annotations

import io
import pickle
import types
from collections import ChainMap
from dataclasses import dataclass

import cloudpickle

from jupyter_raylite.core import object_store
from jupyter_raylite.core.refs import collect_refs

# Values whose pickled size is at most this travel inline in messages; Ray's own limit for
# inlining small objects is 100 KiB as well.
INLINE_LIMIT = 100 * 1024


@dataclass(frozen=True)
class Payload:
    """A serialized value: inline bytes and buffers, or a segment layout; plus contained refs."""

    meta: bytes | None
    buffers: tuple[bytes, ...] = ()
    segment: object_store.SegmentLayout | None = None
    contained: tuple[str, ...] = ()
    is_error: bool = False

    @property
    def nbytes(self) -> int:
        if self.segment is not None:
            return self.segment.size
        return len(self.meta) + sum(len(b) for b in self.buffers)


class SerializationError(TypeError):
    """A value could not be pickled; the message names it and says what to do."""


def pickle_value(value) -> tuple[bytes, list[pickle.PickleBuffer], tuple[str, ...]]:
    buffers: list[pickle.PickleBuffer] = []
    with collect_refs() as ids:
        meta = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    return meta, buffers, tuple(ids)


def serialize(value, segment_name: str | None = None, *, is_error: bool = False,
              what: str = "value") -> Payload:
    """Serialize ``value``; big values go to the segment ``segment_name`` if one is given."""
    try:
        meta, buffers, contained = pickle_value(value)
    except TypeError as exc:
        if "ObjectRef" in str(exc) and "pickled by the cluster" in str(exc):
            raise
        raise SerializationError(_unpicklable_message(value, what, exc)) from exc
    except (RecursionError, MemoryError):
        raise  # too deep or too big: not a matter of the object's kind, keep the real error
    except Exception as exc:  # whatever a __reduce__ raises: said at the call that caused it
        raise SerializationError(_unpicklable_message(value, what, exc)) from exc
    raws = [b.raw() for b in buffers]
    size = len(meta) + sum(r.nbytes for r in raws)
    if size > INLINE_LIMIT and segment_name is not None:
        layout = object_store.write_segment(segment_name, meta, raws)
        return Payload(None, (), layout, contained, is_error)
    return Payload(meta, tuple(r.tobytes() for r in raws), None, contained, is_error)


def _unpicklable_message(value, what: str, exc: BaseException) -> str:
    return (f"Could not serialize the {what} {_short_repr(value)}: {exc}. "
            "Objects such as locks, open files, sockets and database connections cannot be "
            "sent to another process; create them inside the task instead.")


def _short_repr(value) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def deserialize(payload: Payload):
    """Rebuild a value; numpy arrays from a segment are read-only views of shared memory."""
    if payload.segment is not None:
        meta, buffers = object_store.read_segment(payload.segment)
        return pickle.loads(meta, buffers=buffers)
    return pickle.loads(payload.meta, buffers=payload.buffers)


class _CodePickler(cloudpickle.Pickler):
    """cloudpickle, but code pickled by value keeps its file name.

    cloudpickle replaces ``co_filename`` with "<dynamic-code>" to make payloads deterministic;
    we want remote tracebacks to name the notebook cell or file the user wrote instead.
    """

    dispatch_table = ChainMap({types.CodeType: lambda code: _code_reduce_keeping_filename(code)},
                              cloudpickle.Pickler.dispatch_table)


def _code_reduce_keeping_filename(code: types.CodeType):
    constructor, args = _cloudpickle_code_reduce(code)
    return constructor, tuple(code.co_filename if a == "<dynamic-code>" else a for a in args)


_cloudpickle_code_reduce = getattr(cloudpickle.cloudpickle, "_code_reduce", None)
if _cloudpickle_code_reduce is None:  # a cloudpickle without the hook: keep its behaviour
    _CodePickler = cloudpickle.Pickler  # noqa: F811


def dumps_code(function) -> tuple[bytes, tuple[str, ...]]:
    """Pickle a function or class by value where needed; also return the refs it captures."""
    stream = io.BytesIO()
    try:
        with collect_refs() as captured:
            _CodePickler(stream, protocol=5).dump(function)
    except (TypeError, pickle.PicklingError, AttributeError) as exc:
        name = getattr(function, "__qualname__", repr(function))
        raise SerializationError(
            f"Could not serialize {name} to ship it to the workers: {exc}. It refers (through "
            "a global or a closure) to something that cannot be pickled, such as a lock, an "
            "open file or a connection; create that object inside the function instead."
        ) from exc
    return stream.getvalue(), tuple(captured)
