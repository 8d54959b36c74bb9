"""The head's actor table: create, call in order, restart, kill and reclaim actors.

    create_actor ──> PENDING (waits for its constructor's arguments and its resources)
                       └─ fork a dedicated worker ─> "actor_init" ─> ALIVE
    ALIVE ── calls leave the queue in submission order, pipelined to the actor's process
          ── a call raises what its method's retry_exceptions covers ─> queued again, at the
                             back, up to max_task_retries (the method's own, else the actor's)
          ── process dies ─> restarts left? back to PENDING (a new process runs __init__
                             again; in-flight calls are retried up to max_task_retries) : DEAD
    DEAD  ── every queued and later call fails with ActorDiedError naming the cause

The head thread owns this table (no locks).  An actor's liveness is tracked like an object's:
its id is an entry of the object directory whose holders are the processes with a handle.
When that entry is freed (no handle left, not named, not detached) the actor finishes its
queued calls and exits.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field

from jupyter_raylite.core.events import cell_of
from jupyter_raylite.core.serialization import Payload, serialize
from jupyter_raylite.core.task_spec import ActorCallSpec, ActorSpec
from jupyter_raylite.exceptions import ActorDiedError

PENDING, ALIVE, DEAD = "pending", "alive", "dead"

# The directory entry that stands for an actor holds this empty payload.
_ACTOR_MARKER = Payload(b"")
_NO_ARGUMENTS = Payload(b"")


@dataclass
class ActorRecord:
    spec: ActorSpec
    state: str = PENDING
    worker_id: str | None = None
    queue: deque = field(default_factory=deque)  # ActorCallSpec, in submission order
    in_flight: dict = field(default_factory=dict)  # task id -> (ActorCallSpec, retries left)
    # Of the in-flight calls, those the actor runs now (as many as its concurrency allows)
    # and those that wait in its process, in order: what observers show as running or queued.
    running: set = field(default_factory=set)
    waiting: deque = field(default_factory=deque)
    restarts_left: int = 0
    holding_resources: bool = False
    no_restart: bool = False
    out_of_scope: bool = False
    death_cause: str | None = None
    name_key: tuple | None = None
    kill_requested: bool = False
    awaiting: set = field(default_factory=set)  # object ids it has asked to be woken for


class ActorSupervisor:
    def __init__(self, head):
        self.head = head
        self.objects = head.objects
        self.actors: dict[str, ActorRecord] = {}
        self.names: dict[tuple, str] = {}
        self.classes: dict[str, bytes] = {}
        self._waiting_for_resources: set[str] = set()  # pending actors whose demand did not fit
        self.objects.on_free = self._on_handle_freed

    # -- creation -----------------------------------------------------------------------------
    def create(self, spec: ActorSpec, owner: str, registered: bool) -> tuple[str, bool]:
        """Create (or, with get_if_exists, find) an actor; ``registered`` if the owner's
        hold on the actor id is already in the directory."""
        options = spec.options
        # The class is stored before anything can refuse the actor: the sender marks it
        # as shipped once this call returns, even when it returns an existing actor.
        if spec.class_blob is not None and spec.class_id not in self.classes:
            self.classes[spec.class_id] = spec.class_blob
            self.objects.pin(spec.captured_refs, +1)
        spec.class_blob = None
        if options.name is not None:
            key = (spec.namespace, options.name)
            existing = self.names.get(key)
            if existing is not None and self.actors[existing].state != DEAD:
                if options.get_if_exists:
                    return existing, False
                raise ValueError(
                    f"The name {options.name} (namespace={spec.namespace}) is already taken. "
                    "Pass get_if_exists=True to get the existing actor, kill it first with "
                    "ray.kill(ray.get_actor(name)), or choose another name.")
        record = ActorRecord(spec, restarts_left=options.max_restarts)
        self.actors[spec.actor_id] = record
        self.head.note_origin(spec.actor_id, spec, owner)
        self._emit(record, PENDING)
        if not registered:
            self.objects.add_ready(spec.actor_id, _ACTOR_MARKER, owner)
        if options.name is not None:
            record.name_key = (spec.namespace, options.name)
            self.names[record.name_key] = spec.actor_id
        if options.name is not None or options.detached:
            self.objects.pin([spec.actor_id], +1)  # lives until kill() or shutdown()
        self.objects.pin(spec.dependencies, +1)
        self.objects.pin(spec.args.contained, +1)
        self.try_start(record)
        return spec.actor_id, True

    def register_driver_actor(self, actor_id: str) -> None:
        """The driver registers its hold before the spec reaches the head thread."""
        self.objects.add_ready(actor_id, _ACTOR_MARKER, "driver")

    def try_start(self, record: ActorRecord) -> bool:
        """Start a pending actor once its arguments are ready and its resources are free."""
        if record.state != PENDING or record.worker_id is not None:
            return False
        for oid in record.spec.dependencies:
            payload = self.objects.payload(oid)
            if payload is None and not self.objects.known(oid):
                record.no_restart = True
                record.death_cause = (f"its constructor's argument {oid} is no longer "
                                      "available (freed, or from a cluster that was shut down)")
                self._mark_dead(record)
                return False
            if payload is None:
                self._await(record, oid)
                return False
        demand = record.spec.options.resource_demand()
        pool = self.head.scheduler.pool
        if not record.holding_resources:
            if not pool.fits(demand):
                self._waiting_for_resources.add(record.spec.actor_id)
                return False
            pool.acquire(demand)
            record.holding_resources = True
        self._waiting_for_resources.discard(record.spec.actor_id)
        record.worker_id = self.head.start_actor_worker(record.spec.actor_id)
        return True

    def _await(self, record: ActorRecord, object_id: str) -> None:
        """Be woken once when an object the actor needs becomes ready."""
        if object_id not in record.awaiting:
            record.awaiting.add(object_id)
            self.head.wait_for_object(object_id, ("actor", record.spec.actor_id))

    def object_arrived(self, record: ActorRecord, object_id: str) -> None:
        record.awaiting.discard(object_id)
        if record.state == PENDING:
            self.try_start(record)
        else:
            self.pump(record)

    def retry_pending(self) -> None:
        """Start the actors that wait for resources, if some were freed."""
        for actor_id in list(self._waiting_for_resources):
            self.try_start(self.actors[actor_id])

    def on_worker_ready(self, record: ActorRecord, handle) -> None:
        if record.kill_requested:  # killed before its process could be told
            self._kill_process(record)
            return
        spec = record.spec
        blob = self.classes[spec.class_id]
        deps = [self.objects.payload(oid) for oid in spec.dependencies]
        self.head.send(handle, ("actor_init", spec.actor_id, spec.class_name, blob, spec.args,
                                deps, spec.options.max_concurrency, spec.is_async,
                                spec.options.concurrency_groups))

    def on_init_done(self, record: ActorRecord, error_text: str | None) -> None:
        if error_text is not None:
            record.no_restart = True
            record.death_cause = f"the actor's constructor raised {error_text}"
            self._kill_process(record)
            return
        record.state = ALIVE
        self._emit(record, ALIVE)
        self.pump(record)

    def _emit(self, record: ActorRecord, state: str, detail: str | None = None) -> None:
        handle = self.head.workers.get(record.worker_id) if record.worker_id else None
        spec = record.spec
        self.head.events.emit("actor", time.time(), spec.actor_id, spec.class_name, state,
                              handle.pid if handle else None, detail,
                              cell_of(spec.origin), spec.options.name)

    # -- calls --------------------------------------------------------------------------------
    def submit(self, spec: ActorCallSpec, owner: str) -> None:
        if owner != "driver":
            self.objects.expect(spec.return_ids, spec.task_id, owner)
        self.head.note_origin(spec.task_id, spec, owner)
        self.head.events.task(time.time(), spec.task_id, spec.name, "actor_call",
                              spec.parent_task_id, spec.dependencies, spec.return_ids,
                              cell_of(spec.origin), {}, spec.args_summary, spec.actor_id,
                              "queued")
        self.objects.pin(spec.dependencies, +1)
        self.objects.pin(spec.args.contained, +1)
        record = self.actors.get(spec.actor_id)
        if record is None:
            self._fail_call(spec, "the actor is unknown to this cluster (it may belong to a "
                                  "cluster that was shut down)")
            return
        if record.state == DEAD:
            self._fail_call(spec, record.death_cause)
            return
        retries = record.spec.options.max_task_retries
        method = record.spec.methods.get(spec.method)
        if method is not None and method.max_task_retries is not None:
            retries = method.max_task_retries  # the method's own (@method), as in Ray
        record.queue.append((spec, retries))
        self.pump(record)

    def pump(self, record: ActorRecord) -> None:
        """Send queued calls to the actor, in order, as far as their arguments are ready."""
        if record.state != ALIVE:
            return
        handle = self.head.workers.get(record.worker_id)
        while record.queue and handle is not None:
            spec, retries = record.queue[0]
            payloads = [self.objects.payload(oid) for oid in spec.dependencies]
            waiting = [oid for oid, p in zip(spec.dependencies, payloads)
                       if p is None and self.objects.known(oid)]
            if waiting:
                self._await(record, waiting[0])
                return
            record.queue.popleft()
            lost = [oid for oid, p in zip(spec.dependencies, payloads) if p is None]
            if lost:
                from jupyter_raylite.core.head import _lost_error
                self._complete(spec, [_lost_error(lost[0])] * len(spec.return_ids),
                               "failed", "ObjectLostError")
                continue
            failed = next((p for p in payloads if p.is_error), None)
            if failed is not None:
                self._complete(spec, [failed] * len(spec.return_ids), "failed",
                               "failed argument")
                continue
            record.in_flight[spec.task_id] = (spec, retries)
            record.waiting.append(spec.task_id)
            self._mark_running(record)
            self.head.send(handle, ("call", spec.task_id, spec.method, spec.name, spec.args,
                                    payloads, spec.return_ids))
        self._maybe_retire(record)

    def _mark_running(self, record: ActorRecord) -> None:
        """Calls are pipelined to the actor's process; the first ones its concurrency allows
        run, the others wait there in order."""
        # (Concurrency groups are counted as one pool: this only decides what observers show.)
        options = record.spec.options
        concurrency = options.concurrency(record.spec.is_async) + sum(
            size for _, size in options.concurrency_groups)
        handle = self.head.workers.get(record.worker_id)
        while record.waiting and len(record.running) < concurrency:
            task_id = record.waiting.popleft()
            if task_id in record.in_flight:
                record.running.add(task_id)
                self.head.events.state(time.time(), task_id, "running",
                                       handle.pid if handle else None)

    def on_call_done(self, record: ActorRecord, handle, task_id: str, status: str, payloads,
                     cause_types=(), started=None, ended=None) -> None:
        entry = record.in_flight.pop(task_id, None)
        record.running.discard(task_id)
        retried = False
        if entry is not None:
            spec, retries = entry
            ran = (started, ended) if started is not None else None
            if status == "error" and retries != 0 and _retries_on(record, spec, cause_types):
                # As in Ray, the retry goes behind the calls queued meanwhile.
                record.queue.append((spec, retries - 1 if retries > 0 else retries))
                self.head.events.state(time.time(), task_id, "queued", handle.pid, "retry", ran)
                retried = True
            else:
                from jupyter_raylite.core.head import error_type
                self._complete(spec, payloads, "finished" if status == "ok" else "failed",
                               error_type(cause_types), ran, handle.pid)
            self._mark_running(record)
        if not record.in_flight:
            # Refs received in get replies were announced by the actor before this message.
            self.head.release_transit(handle)
        if retried:
            self.pump(record)
        self._maybe_retire(record)

    def cancel(self, task_id: str) -> bool:
        """Cancel a call still queued at the head, or one an async actor runs (running calls
        of sync actors run on, as in Ray)."""
        for record in self.actors.values():
            if task_id in record.in_flight and record.spec.is_async:
                handle = self.head.workers.get(record.worker_id)
                if handle is not None:
                    self.head.send(handle, ("cancel_call", task_id))
                return True
            for item in record.queue:
                if item[0].task_id == task_id:
                    record.queue.remove(item)
                    from jupyter_raylite.core.head import _cancelled
                    self._complete(item[0], [_cancelled(task_id)] * len(item[0].return_ids),
                                   "cancelled")
                    return True
        return False

    def cancel_all_queued(self) -> None:
        from jupyter_raylite.core.head import _cancelled
        for record in self.actors.values():
            while record.queue:
                spec, _ = record.queue.popleft()
                self._complete(spec, [_cancelled(spec.task_id)] * len(spec.return_ids),
                               "cancelled")

    def _complete(self, spec: ActorCallSpec, payloads, state: str, detail: str | None = None,
                  ran: tuple | None = None, pid: int | None = None) -> None:
        self.head.complete(spec.return_ids, payloads)
        self.head.release_arguments(spec)
        # After the results are stored: whoever reads the event finds them.
        self.head.events.state(time.time(), spec.task_id, state, pid, detail, ran)

    def _fail_call(self, spec: ActorCallSpec, cause: str | None) -> None:
        error = ActorDiedError(
            f"The actor {spec.actor_id} died, so {spec.name}() could not run: {cause}")
        self._complete(spec, [serialize(error, is_error=True)] * len(spec.return_ids),
                       "failed", "ActorDiedError")

    # -- lifetime -----------------------------------------------------------------------------
    def kill(self, actor_id: str, no_restart: bool) -> None:
        record = self.actors.get(actor_id)
        if record is None or record.state == DEAD:
            return
        if no_restart:
            record.no_restart = True
        elif record.restarts_left != 0 and record.state == ALIVE:
            # It will restart: calls made from now on wait for the new process instead of
            # reaching the one being killed.
            record.state = PENDING
        record.death_cause = "it was killed by ray.kill()"
        if record.worker_id is None:
            self._mark_dead(record)
        else:
            record.kill_requested = True
            self._kill_process(record)

    def _kill_process(self, record: ActorRecord) -> None:
        handle = self.head.workers.get(record.worker_id)
        if handle is not None and handle.pid is not None:
            try:
                os.kill(handle.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _on_handle_freed(self, object_id: str) -> None:
        record = self.actors.get(object_id)
        if record is not None and record.state != DEAD:
            record.out_of_scope = True
            self._maybe_retire(record)

    def _maybe_retire(self, record: ActorRecord) -> None:
        """No handle is left: exit once every queued call has run."""
        if not record.out_of_scope or record.queue or record.in_flight:
            return
        record.no_restart = True
        record.death_cause = "all references to the actor were removed"
        handle = self.head.workers.get(record.worker_id)
        if handle is not None and record.state == ALIVE:
            self.head.send(handle, ("exit",))
        elif record.worker_id is None:
            self._mark_dead(record)

    def on_exit_requested(self, record: ActorRecord) -> None:
        record.no_restart = True
        record.death_cause = "exit_actor() was called in the actor"

    def on_worker_gone(self, record: ActorRecord, how: str) -> None:
        """The actor's process died: restart it, or fail everything that waits on it."""
        record.worker_id = None
        for spec, _ in record.in_flight.values():  # results it may have written, unreported
            self.head.discard_unreported_results(spec.return_ids)
        if record.state == DEAD:
            return
        if record.death_cause is None:
            record.death_cause = f"the actor's process {how}"
        if not record.no_restart and record.restarts_left != 0:
            if record.restarts_left > 0:
                record.restarts_left -= 1
            for task_id, (spec, retries) in reversed(list(record.in_flight.items())):
                if retries != 0:
                    record.queue.appendleft((spec, retries - 1 if retries > 0 else retries))
                    self.head.events.state(time.time(), task_id, "queued", detail="retry")
                else:
                    self._fail_call(spec, record.death_cause)
            record.in_flight.clear()
            record.running.clear()
            record.waiting.clear()
            self._emit(record, "restarting", record.death_cause)
            # A kill(no_restart=False) is done once the process is gone: the new one lives.
            record.state, record.death_cause, record.kill_requested = PENDING, None, False
            self.try_start(record)
            return
        self._mark_dead(record)

    def _mark_dead(self, record: ActorRecord) -> None:
        if record.state == DEAD:  # its pins and arguments were released the first time
            return
        record.state = DEAD
        self._emit(record, DEAD, record.death_cause)
        self._waiting_for_resources.discard(record.spec.actor_id)
        for spec, _ in list(record.in_flight.values()) + list(record.queue):
            self._fail_call(spec, record.death_cause)
        record.in_flight.clear()
        record.running.clear()
        record.waiting.clear()
        record.queue.clear()
        if record.holding_resources:
            self.head.scheduler.pool.release(record.spec.options.resource_demand())
            record.holding_resources = False
        if record.name_key is not None and self.names.get(record.name_key) == record.spec.actor_id:
            del self.names[record.name_key]
        spec = record.spec
        self.head.release_arguments(spec)
        spec.args, spec.dependencies = _NO_ARGUMENTS, ()  # a dead record keeps only its cause
        if spec.options.name is not None or spec.options.detached:
            self.objects.pin([spec.actor_id], -1)

    # -- lookups ------------------------------------------------------------------------------
    def named(self) -> list[tuple[str, str]]:
        """(namespace, name) of every named actor that is not dead."""
        return sorted(key for key, actor_id in self.names.items()
                      if self.actors[actor_id].state != DEAD)

    def lookup(self, name: str, namespace: str) -> tuple | None:
        actor_id = self.names.get((namespace, name))
        record = self.actors.get(actor_id) if actor_id else None
        if record is None or record.state == DEAD:
            return None
        spec = record.spec
        return (actor_id, spec.class_name, spec.methods, spec.is_async)


def _retries_on(record: ActorRecord, spec: ActorCallSpec, cause_types) -> bool:
    """Whether the method's retry_exceptions (@method) covers the error its call raised."""
    method = record.spec.methods.get(spec.method)
    retry = method.retry_exceptions if method is not None else False
    if isinstance(retry, bool):
        return retry
    return not set(retry).isdisjoint(cause_types)  # by class name, as for tasks
