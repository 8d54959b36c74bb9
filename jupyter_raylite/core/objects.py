"""The object directory: every object's state, who holds it, what keeps it alive, when to free.

An object stays alive while any of these is true:
- ``holders``: processes that have a live ObjectRef to it (each counted once; see core/refs.py);
- ``pins``: a queued or running task takes it as an argument, a live object contains a ref to
  it, or a worker is being sent it in a ``get`` reply.
When both reach zero and the value is there, the object is freed: its shared-memory segment is
unlinked and the pins it held on the objects it contains are released in turn.

The directory is shared by the head thread and driver threads (``get``, ``put``, ``wait``), so
every method takes ``lock``; ``changed`` is notified whenever an object becomes ready.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from jupyter_raylite.core import object_store
from jupyter_raylite.core.serialization import Payload


class ObjectEntry:
    __slots__ = ("payload", "holders", "pins", "task_id")

    def __init__(self, task_id: str | None = None):
        self.payload: Payload | None = None
        self.holders = 0
        self.pins = 0
        self.task_id = task_id


@dataclass(frozen=True)
class Statistics:
    objects: int
    pending: int
    shared_memory_bytes: int
    segments: int
    inline_bytes: int


class ObjectDirectory:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._entries: dict[str, ObjectEntry] = {}
        self._held_by: dict[str, set[str]] = {}  # process id -> object ids it holds
        self._shm_bytes = 0
        # Called (under the lock, on the head thread or a driver thread) when an actor's entry
        # is freed: the actor has no handle left.
        self.on_free = None

    # -- creating and filling -----------------------------------------------------------------
    def expect(self, object_ids, task_id: str, holder: str) -> None:
        """Register the pending returns of a task; the submitter holds them."""
        with self.lock:
            held = self._held_by.setdefault(holder, set())
            for oid in object_ids:
                entry = self._entries[oid] = ObjectEntry(task_id)
                entry.holders = 1
                held.add(oid)

    def add_ready(self, object_id: str, payload: Payload, holder: str) -> None:
        """A ``put``: the value is there at once and its creator holds it."""
        with self.lock:
            entry = self._entries[object_id] = ObjectEntry()
            entry.holders = 1
            self._held_by.setdefault(holder, set()).add(object_id)
            self._fill(object_id, entry, payload)

    def fill(self, object_id: str, payload: Payload) -> bool:
        """Store a task's result; False if nobody wants it any more (it is freed at once)."""
        with self.lock:
            entry = self._entries.get(object_id)
            if entry is None or entry.payload is not None:
                _discard(payload)
                return False
            self._fill(object_id, entry, payload)
            return True

    def _fill(self, object_id: str, entry: ObjectEntry, payload: Payload) -> None:
        entry.payload = payload
        if payload.segment is not None:
            self._shm_bytes += payload.segment.size
        for inner in payload.contained:
            self._pin(inner, +1)
        self.changed.notify_all()
        self._maybe_free(object_id, entry)

    # -- references ---------------------------------------------------------------------------
    def hold(self, holder: str, object_id: str) -> None:
        with self.lock:
            entry = self._entries.get(object_id)
            held = self._held_by.setdefault(holder, set())
            if entry is None or object_id in held:
                return
            held.add(object_id)
            entry.holders += 1

    def drop(self, holder: str, object_id: str) -> None:
        with self.lock:
            held = self._held_by.get(holder)
            if held is None or object_id not in held:
                return
            held.discard(object_id)
            entry = self._entries.get(object_id)
            if entry is not None:
                entry.holders -= 1
                self._maybe_free(object_id, entry)

    def drop_holder(self, holder: str) -> None:
        """A process died or disconnected: everything it held is released."""
        with self.lock:
            for oid in list(self._held_by.pop(holder, ())):
                entry = self._entries.get(oid)
                if entry is not None:
                    entry.holders -= 1
                    self._maybe_free(oid, entry)

    def pin(self, object_ids, delta: int) -> None:
        with self.lock:
            for oid in object_ids:
                self._pin(oid, delta)

    def _pin(self, object_id: str, delta: int) -> None:
        entry = self._entries.get(object_id)
        if entry is not None:
            entry.pins += delta
            if delta < 0:
                self._maybe_free(object_id, entry)

    def _maybe_free(self, object_id: str, entry: ObjectEntry) -> None:
        if entry.holders > 0 or entry.pins > 0 or entry.payload is None:
            return
        del self._entries[object_id]
        payload = entry.payload
        if payload.segment is not None:
            self._shm_bytes -= payload.segment.size
        _discard(payload)
        for inner in payload.contained:
            self._pin(inner, -1)
        if object_id[0] == "a" and self.on_free is not None:
            self.on_free(object_id)

    # -- reading ------------------------------------------------------------------------------
    def get_entry(self, object_id: str) -> ObjectEntry | None:
        with self.lock:
            return self._entries.get(object_id)

    def payload(self, object_id: str) -> Payload | None:
        with self.lock:
            entry = self._entries.get(object_id)
            return entry.payload if entry is not None else None

    def producer(self, object_id: str) -> str | None:
        with self.lock:
            entry = self._entries.get(object_id)
            return entry.task_id if entry is not None else None

    def known(self, object_id: str) -> bool:
        with self.lock:
            return object_id in self._entries

    def statistics(self) -> Statistics:
        with self.lock:
            payloads = [e.payload for e in self._entries.values() if e.payload is not None]
            return Statistics(
                objects=len(self._entries),
                pending=len(self._entries) - len(payloads),
                shared_memory_bytes=self._shm_bytes,
                segments=sum(1 for p in payloads if p.segment is not None),
                inline_bytes=sum(p.nbytes for p in payloads if p.segment is None),
            )

    def clear(self) -> None:
        """Forget everything (the cluster is shutting down); segments are unlinked."""
        with self.lock:
            for entry in self._entries.values():
                if entry.payload is not None:
                    _discard(entry.payload)
            self._entries.clear()
            self._held_by.clear()
            self._shm_bytes = 0
            self.changed.notify_all()


def _discard(payload: Payload) -> None:
    if payload.segment is not None:
        object_store.unlink_segment(payload.segment.name)
