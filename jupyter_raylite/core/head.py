"""The head: one coordinator thread that owns every decision of the local cluster.

    driver threads ──submit/cancel/ref edges──> inbox deque ──wake pipe──┐
    zygote ──"forked"/"exited"──────────────────────────────────────────┤
    worker connections ──ready/done/submit/get/put/refs/output──────────┤
                                                                        v
                                          head loop: wait(all of the above, next deadline)
                                            ├── task table + dependency tracking
                                            ├── Scheduler (pure rules) -> dispatch / start workers
                                            └── ObjectDirectory (shared with driver threads)

Only this thread touches the task table, the scheduler and the worker connections.  Driver
threads read and write the object directory under its lock (``put`` and ``get`` need no hop
through the head) and hand everything else over through the inbox, whose order is the order
of the driver's calls.  Wake-ups go through a pipe, never through a worker connection.

A worker that dies fails or retries its task with the exit code or signal that the zygote
reports; a task whose dependencies failed fails with their error without running.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import itertools
import logging
import os
import pickle
import selectors
import signal
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from jupyter_raylite.core import protocol
from jupyter_raylite.core.channel import Channel
from jupyter_raylite.core.events import EventLog, cell_of
from jupyter_raylite.core.actors import ActorSupervisor
from jupyter_raylite.core.objects import ObjectDirectory
from jupyter_raylite.core.scheduler import Scheduler
from jupyter_raylite.core.serialization import Payload, serialize
from jupyter_raylite.core.task_spec import TaskSpec
from jupyter_raylite.core import object_store
from jupyter_raylite.exceptions import RaySystemError, TaskCancelledError, WorkerCrashedError

log = logging.getLogger(__name__)

DRIVER = "driver"
# How long to wait for the zygote's exit status of a worker whose connection closed.
_EXIT_STATUS_GRACE = 1.0
_HISTORY = 10_000
OUTPUT_EVENT_LIMIT = 20_000  # characters of one output message kept in the event log
# Workers started beyond num_cpus (while others were blocked in get) exit after this long idle.
IDLE_WORKER_TIMEOUT = 10.0

WAITING, QUEUED, RUNNING, FINISHED, FAILED, CANCELLED = (
    "waiting", "queued", "running", "finished", "failed", "cancelled")


@dataclass
class TaskRecord:
    spec: TaskSpec
    owner: str
    state: str = WAITING
    missing: set = field(default_factory=set)
    worker_id: str | None = None
    retries_left: int = 0
    cancel_requested: bool = False
    children: list = field(default_factory=list)
    submitted_at: float = field(default_factory=time.time)
    pid: int | None = None  # of the worker that ran it last


@dataclass
class WorkerHandle:
    worker_id: str
    channel: Channel
    pid: int | None = None
    functions: set = field(default_factory=set)
    transit: list = field(default_factory=list)  # object ids pinned for a get reply
    closed_at: float | None = None
    actor_id: str | None = None  # set for a worker dedicated to one actor
    lost_task: str | None = None  # the task it ran when its connection closed
    waiters: list = field(default_factory=list)  # its open get/wait requests
    idle_since: float = field(default_factory=time.monotonic)


@dataclass
class Waiter:
    """A worker blocked in get or wait."""

    worker_id: str
    request_id: int
    object_ids: list
    num_returns: int  # len(object_ids) for get
    is_get: bool
    deadline: float | None
    done: bool = False


class Head:
    def __init__(self, cluster_id: str, total: dict[str, float], control: socket.socket,
                 output_sink):
        self.cluster_id = cluster_id
        self.objects = ObjectDirectory()
        self.inbox: deque = deque()
        self._worker_ids = (f"w{i}" for i in itertools.count())
        self.scheduler = Scheduler(total, lambda: next(self._worker_ids))
        self.tasks: dict[str, TaskRecord] = {}
        # Where each live task, actor call and actor came from: an opaque tag the driver
        # gives (the notebook cell that submitted it).  Nested work inherits its parent's, so
        # output and interrupts can be routed to the cell that started it all.
        self.origins: dict[str, object] = {}
        # The last tasks that ended, for ``%raylite tasks``; bounded so that a long session
        # does not grow without end.
        self.history: deque[TaskSummary] = deque(maxlen=_HISTORY)
        # Every transition, for observers (widgets, timeline) that poll it from their thread.
        self.events = EventLog()
        self.functions: dict[str, bytes] = {}
        self.workers: dict[str, WorkerHandle] = {}
        self._exit_codes: dict[int, int] = {}
        self._control = control
        self._output_sink = output_sink
        self._waiters: dict[str, list[Waiter]] = {}
        self._deadlines: list = []
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._wake_pending = False
        self._wake_closed = False
        # One selector for the life of the head: the wake-up pipe, the zygote's socket and
        # every worker channel (also for writing while a channel's outbox is not empty).
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._selector.register(control, selectors.EVENT_READ, "control")
        self._stopping = False
        self.crashed: BaseException | None = None
        self.thread = threading.Thread(target=self._loop, name="raylite-head", daemon=True)
        self.actors = ActorSupervisor(self)

    # -- called from driver threads -----------------------------------------------------------
    def wake(self) -> None:
        if self._wake_pending or self._wake_closed:
            return
        self._wake_pending = True
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def post(self, message) -> None:
        self.inbox.append(message)
        self.wake()

    def call(self, function, *args):
        """Run ``function(*args)`` on the head thread and return its result (or raise)."""
        future = concurrent.futures.Future()
        self.post(("call", function, args, future))
        while True:
            try:
                return future.result(timeout=0.1)
            except concurrent.futures.TimeoutError:
                self.check_alive()

    def check_alive(self) -> None:
        """Raise if the head thread has stopped: a caller must never wait for it forever."""
        if self.crashed is not None:
            raise RaySystemError(
                f"The cluster's coordinator thread crashed ({self.crashed!r}). Call "
                "ray.shutdown() and ray.init() to start a new cluster, and please report "
                "this bug.") from self.crashed
        if self._stopping:
            raise RaySystemError(
                "The cluster was shut down (or its launcher process died). Call ray.init() "
                "to start a new one.")

    def start(self, warm_workers: int) -> None:
        self._pool_size = warm_workers
        for worker_id in self.scheduler.add_workers(warm_workers):
            self._start_worker(worker_id)
        self.thread.start()

    def stop(self) -> None:
        self._stopping = True
        self.post(("stop",))
        self.thread.join(timeout=10)
        self._wake_closed = True
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the loop -----------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stopping:
                self._step()
        except Exception as exc:  # a bug in the head: make it loud, and fail every waiter
            log.exception("jupyter_raylite head thread crashed")
            self.crashed = exc
        finally:
            self._stopping = True
            with self.objects.changed:  # wake driver threads blocked in get/wait
                self.objects.changed.notify_all()
            for message in self.inbox:
                if message[0] == "call":
                    message[3].set_exception(RaySystemError("the cluster stopped"))
            for handle in list(self.workers.values()):
                handle.channel.close()
            self._selector.close()

    def _step(self) -> None:
        for key, events in self._selector.select(self._next_timeout()):
            if key.data == "wake":
                # Read first, then clear the flag, then (below) drain the inbox.  Clearing
                # before reading could swallow the byte of a post() that arrived in between
                # and leave the next post() believing a wake-up is still pending.
                os.read(self._wake_r, 4096)
                self._wake_pending = False
            elif key.data == "control":
                self._on_control()
            else:
                if events & selectors.EVENT_WRITE:
                    self._flush(key.data)
                if events & selectors.EVENT_READ:
                    self._on_worker(key.data)
        self._drain_inbox()
        self._expire()
        self._schedule()

    def _next_timeout(self) -> float | None:
        timeouts = []
        if self._deadlines:
            timeouts.append(self._deadlines[0][0] - time.monotonic())
        if any(h.closed_at is not None for h in self.workers.values()):
            timeouts.append(0.05)
        if len(self.scheduler.workers) > self._pool_size:
            timeouts.append(1.0)  # to retire extra workers once they idle long enough
        return max(min(timeouts), 0) if timeouts else None

    def _drain_inbox(self) -> None:
        objects = self.objects
        while self.inbox:
            message = self.inbox.popleft()
            kind = message[0]
            if kind == "drop":
                objects.drop(DRIVER, message[1])
            elif kind == "hold":
                objects.hold(DRIVER, message[1])
            elif kind == "submit":
                self._on_submit(message[1], DRIVER)
            elif kind == "cancel":
                self.cancel(*message[1:])
            elif kind == "actor_call":
                self.actors.submit(message[1], DRIVER)
            elif kind == "create_actor":
                self.actors.create(message[1], DRIVER, registered=True)
            elif kind == "kill_actor":
                self.actors.kill(*message[1:])
            elif kind == "cancel_origin":
                self.cancel_origin(message[1])
            elif kind == "call":
                _, function, args, future = message
                try:
                    future.set_result(function(*args))
                except Exception as exc:  # the caller's error, raised in the caller's thread
                    future.set_exception(exc)
            elif kind == "stop":
                self._stopping = True

    # -- tasks --------------------------------------------------------------------------------
    def _on_submit(self, spec: TaskSpec, owner: str) -> None:
        if spec.function_blob is not None:
            if spec.function_id not in self.functions:
                self.functions[spec.function_id] = spec.function_blob
                # A ref captured by a function's code lives as long as the cluster: the
                # function can be shipped to a new worker at any time.
                self.objects.pin(spec.captured_refs, +1)
            spec.function_blob = None
        if owner != DRIVER:  # the driver registered its returns itself, before submitting
            self.objects.expect(spec.return_ids, spec.task_id, owner)
        self.note_origin(spec.task_id, spec, owner)
        record = TaskRecord(spec, owner, retries_left=spec.options.max_retries)
        self.tasks[spec.task_id] = record
        parent = self.tasks.get(spec.parent_task_id) if spec.parent_task_id else None
        if parent is not None:
            parent.children.append(spec.task_id)
        self.objects.pin(spec.dependencies, +1)
        self.objects.pin(spec.args.contained, +1)
        for oid in spec.dependencies:
            # An unknown id (freed, or from an earlier cluster) fails in _make_runnable.
            if self.objects.payload(oid) is None and self.objects.known(oid):
                record.missing.add(oid)
                self._waiters.setdefault(oid, []).append(spec.task_id)
        # One event for "submitted" and its first state: observers fold every event, on the
        # kernel's GIL, so the common path stays at three per task (this, running, ended).
        self.events.task(record.submitted_at, spec.task_id, spec.name, "task",
                         spec.parent_task_id, spec.dependencies, spec.return_ids,
                         cell_of(spec.origin), spec.options.resource_demand(),
                         spec.args_summary, None, WAITING if record.missing else QUEUED)
        if not record.missing:
            self._make_runnable(record, announce=False)

    def _make_runnable(self, record: TaskRecord, announce: bool = True) -> None:
        for oid in record.spec.dependencies:
            payload = self.objects.payload(oid)
            if payload is None:
                self._finish(record, FAILED, [_lost_error(oid)] * len(record.spec.return_ids),
                             "ObjectLostError")
                return
            if payload.is_error:  # a failed argument fails the task with the same error
                self._finish(record, FAILED, [payload] * len(record.spec.return_ids),
                             "failed argument")
                return
        record.state = QUEUED
        if announce:
            self.events.state(time.time(), record.spec.task_id, QUEUED)
        self.scheduler.enqueue(record.spec.task_id, record.spec.options.resource_demand())

    def wait_for_object(self, object_id: str, waiter) -> None:
        self._waiters.setdefault(object_id, []).append(waiter)

    def object_ready(self, object_id: str) -> None:
        for item in self._waiters.pop(object_id, ()):
            if isinstance(item, Waiter):
                self._check_waiter(item)
                continue
            if isinstance(item, tuple):  # ("actor", actor_id): its constructor or next call
                record = self.actors.actors.get(item[1])
                if record is not None:
                    self.actors.object_arrived(record, object_id)
                continue
            record = self.tasks.get(item)
            if record is None or record.state != WAITING:
                continue
            record.missing.discard(object_id)
            if not record.missing:
                self._make_runnable(record)

    def _schedule(self) -> None:
        self.actors.retry_pending()
        dispatches, to_start = self.scheduler.schedule()
        for worker_id in to_start:
            self._start_worker(worker_id)
        for dispatch in dispatches:
            self._dispatch(self.tasks[dispatch.task_id], self.workers[dispatch.worker_id])

    def _dispatch(self, record: TaskRecord, handle: WorkerHandle) -> None:
        spec = record.spec
        record.state, record.worker_id, record.pid = RUNNING, handle.worker_id, handle.pid
        self.events.state(time.time(), spec.task_id, RUNNING, handle.pid)
        blob = None
        if spec.function_id not in handle.functions:
            blob = self.functions.get(spec.function_id)
            if blob is None:  # a client bug; fail the task rather than the head
                self.scheduler.task_finished(handle.worker_id)
                error = RaySystemError(f"The code of {spec.name}() never reached the cluster.")
                self._finish(record, FAILED,
                             [serialize(error, is_error=True)] * len(spec.return_ids))
                return
            handle.functions.add(spec.function_id)
        deps = [self.objects.payload(oid) for oid in spec.dependencies]
        self.send(handle, ("run", spec.task_id, spec.function_id, blob, spec.name, spec.args,
                            deps, spec.return_ids, spec.options.resource_demand()))

    def _on_done(self, handle: WorkerHandle, task_id: str, status: str, payloads,
                 cause_types=(), started=None, ended=None) -> None:
        self.scheduler.task_finished(handle.worker_id)
        handle.idle_since = time.monotonic()
        record = self.tasks.get(task_id)
        ran = (started, ended) if started is not None else None
        if record is None:
            pass
        elif status == "error" and self._retry_on_error(record, cause_types, ran):
            pass
        elif status == "cancelled" or record.cancel_requested:
            self._finish(record, CANCELLED, [_cancelled(task_id)] * len(record.spec.return_ids),
                         None, ran)
        else:
            self._finish(record, FINISHED if status == "ok" else FAILED, payloads,
                         error_type(cause_types), ran)
        # Only now: the results above may contain refs that arrived in a get reply.
        self.release_transit(handle)

    def _retry_on_error(self, record: TaskRecord, cause_types, ran=None) -> bool:
        retry = record.spec.options.retry_exceptions
        if not retry or record.retries_left == 0 or record.cancel_requested:
            return False
        if retry is not True:
            # Match by class name: the head never unpickles what user code produced.
            wanted = {f"{t.__module__}.{t.__qualname__}" for t in retry}
            if wanted.isdisjoint(cause_types):
                return False
        self._requeue(record, ran)
        return True

    def _requeue(self, record: TaskRecord, ran=None) -> None:
        """Run the task again; ``ran``: when the attempt that failed ran (for the timeline)."""
        if record.retries_left > 0:
            record.retries_left -= 1
        record.state, record.worker_id = QUEUED, None
        self.events.state(time.time(), record.spec.task_id, QUEUED, record.pid, "retry", ran)
        self.scheduler.enqueue(record.spec.task_id, record.spec.options.resource_demand())

    def _finish(self, record: TaskRecord, state: str, payloads, detail=None,
                ran=None) -> None:
        """``ran``: when the worker started and ended it, by the worker's clock."""
        spec = record.spec
        record.state, record.worker_id = state, None
        now = time.time()
        self.history.append(self._summary(record, now))
        self.complete(spec.return_ids, payloads)
        # After the results are stored: whoever reads the event finds them.
        self.events.state(now, spec.task_id, state, record.pid, detail, ran)
        self.release_arguments(spec)
        # Keep finished records only while someone may still ask about them (cancel, graph);
        # the jupyter layer reads history from events, not from this table.
        del self.tasks[spec.task_id]

    def _summary(self, record: TaskRecord, ended_at: float | None) -> "TaskSummary":
        return TaskSummary(record.spec.task_id, record.spec.name, record.state, record.pid,
                           record.submitted_at, ended_at,
                           cell_of(self.origins.get(record.spec.task_id)))

    def task_table(self, state: str | None = None, limit: int = 50) -> list["TaskSummary"]:
        """The newest tasks first: live ones, then those that ended."""
        rows = [self._summary(r, None) for r in self.tasks.values()]
        rows.sort(key=lambda row: row.submitted_at, reverse=True)
        rows += reversed(self.history)
        if state is not None:
            rows = [row for row in rows if row.state == state]
        return rows[:limit]

    def statistics(self) -> "ClusterStatistics":
        pool = self.scheduler.pool.statistics()
        tasks: dict[str, int] = {}
        for record in self.tasks.values():
            tasks[record.state] = tasks.get(record.state, 0) + 1
        alive = sum(1 for a in self.actors.actors.values() if a.state == "alive")
        pids = {h.worker_id: (h.pid, h.actor_id) for h in self.workers.values()
                if h.pid is not None and h.closed_at is None}
        return ClusterStatistics(pool.total, pool.available, len(self.workers), alive, tasks,
                                 self.objects.statistics(), pids)

    def note_origin(self, key: str, spec, owner: str) -> None:
        origin = spec.origin
        if owner != DRIVER:  # a worker's submission belongs to whatever its task belongs to
            origin = self.origins.get(spec.parent_task_id) if spec.parent_task_id else None
            spec.origin = origin
        if origin is not None:
            self.origins[key] = origin

    def cancel_origin(self, matches) -> None:
        """Cancel every task and queued actor call whose origin ``matches`` (an interrupted
        cell), with everything they submitted; ``matches=None`` cancels everything."""
        if matches is None:
            for task_id in list(self.tasks):
                self.cancel_task(task_id, False, True)
            self.actors.cancel_all_queued()
            return
        for task_id, origin in list(self.origins.items()):
            if matches(origin):
                if task_id in self.tasks:
                    self.cancel_task(task_id, False, True)
                else:
                    self.actors.cancel(task_id)

    def complete(self, return_ids, payloads) -> None:
        """Store a task's or call's results and wake whatever waits for them."""
        for oid, payload in zip(return_ids, payloads):
            self.objects.fill(oid, payload)
            self.object_ready(oid)

    def release_arguments(self, spec) -> None:
        """A task, call or actor constructor is done with its arguments: unpin them and
        free the segment they travelled in."""
        self.objects.pin(spec.dependencies, -1)
        self.objects.pin(spec.args.contained, -1)
        if spec.args.segment is not None:
            object_store.unlink_segment(spec.args.segment.name)
        self.origins.pop(getattr(spec, "task_id", None) or spec.actor_id, None)

    def cancel(self, object_id: str, force: bool, recursive: bool) -> None:
        task_id = self.objects.producer(object_id)
        if task_id is None:
            return
        if task_id in self.tasks:
            self.cancel_task(task_id, force, recursive)
        else:
            self.actors.cancel(task_id)

    def cancel_task(self, task_id: str, force: bool, recursive: bool) -> None:
        record = self.tasks.get(task_id)
        if record is None:
            return
        record.cancel_requested = True
        if recursive:
            for child in list(record.children):
                self.cancel_task(child, force, recursive)
        cancelled = [_cancelled(task_id)] * len(record.spec.return_ids)
        if record.state == WAITING:
            self._finish(record, CANCELLED, cancelled)
        elif record.state == QUEUED:
            self.scheduler.dequeue(task_id)
            self._finish(record, CANCELLED, cancelled)
        elif record.state == RUNNING:
            handle = self.workers.get(record.worker_id)
            if handle is not None and handle.pid is not None:
                try:
                    os.kill(handle.pid, signal.SIGKILL if force else signal.SIGINT)
                except ProcessLookupError:
                    pass

    # -- workers ------------------------------------------------------------------------------
    def start_actor_worker(self, actor_id: str) -> str:
        worker_id = f"a{next(self._worker_ids)}"
        self._start_worker(worker_id)
        self.workers[worker_id].actor_id = actor_id
        return worker_id

    def _start_worker(self, worker_id: str) -> None:
        head_end, worker_end = socket.socketpair()
        try:
            socket.send_fds(self._control, [pickle.dumps(("fork", worker_id))],
                            [worker_end.fileno()])
        finally:
            worker_end.close()
        handle = WorkerHandle(worker_id, Channel(head_end))
        self.workers[worker_id] = handle
        self._selector.register(handle.channel, selectors.EVENT_READ, handle)

    def send(self, handle: WorkerHandle, message) -> None:
        """Send without ever blocking: what the socket does not take waits in the outbox."""
        channel = handle.channel
        if channel.closed:
            return
        had_backlog = channel.wants_write
        channel.send(protocol.dumps(message))
        if channel.wants_write and not had_backlog:
            self._selector.modify(channel, selectors.EVENT_READ | selectors.EVENT_WRITE, handle)

    def _flush(self, handle: WorkerHandle) -> None:
        channel = handle.channel
        channel.flush()
        if not channel.wants_write and not channel.closed:
            self._selector.modify(channel, selectors.EVENT_READ, handle)

    def _on_worker(self, handle: WorkerHandle) -> None:
        channel = handle.channel
        for frame in channel.receive():
            try:
                self._on_worker_message(handle, protocol.loads(frame))
            except Exception:
                # One worker's bad message must not take the whole cluster down: that worker
                # is killed (its task retried or failed), the rest go on.
                log.exception("jupyter_raylite: bad message from worker %s", handle.worker_id)
                self._kill(handle)
                return
        if channel.closed:
            self._connection_closed(handle)

    def _kill(self, handle: WorkerHandle) -> None:
        if handle.pid is not None:
            try:
                os.kill(handle.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _on_worker_message(self, handle: WorkerHandle, message) -> None:
        kind = message[0]
        wid = handle.worker_id
        if kind == "refs":
            for edge, oid in message[1]:
                (self.objects.hold if edge == "hold" else self.objects.drop)(wid, oid)
        elif kind == "done":
            if handle.actor_id is not None:
                self.actors.on_call_done(self.actors.actors[handle.actor_id], handle,
                                         *message[1:])
            else:
                self._on_done(handle, *message[1:])
        elif kind == "submit":
            self._on_submit(message[1], wid)
        elif kind == "put":
            self.objects.add_ready(message[1], message[2], wid)
            self.object_ready(message[1])
        elif kind == "output":
            # Bounded: the log keeps many events, each must stay small.
            self.events.emit("output", time.time(), message[1], message[3],
                             message[4][:OUTPUT_EVENT_LIMIT])
            origin = self.origins.get(message[1]) if message[1] else None
            self._output_sink(origin, message[2], handle.pid, message[3], message[4])
        elif kind in ("get", "wait"):
            self._on_blocking_request(handle, message)
        elif kind == "cancel":
            self.cancel(*message[1:])
        elif kind == "resources":
            available = self.scheduler.pool.statistics().available
            self.send(handle, ("reply", message[1], {k: v for k, v in available.items() if v > 0}))
        elif kind == "ready":
            handle.pid = message[1]
            if handle.actor_id is not None:
                self.actors.on_worker_ready(self.actors.actors[handle.actor_id], handle)
            else:
                self.scheduler.worker_started(wid)
        elif kind in ("actor_ready", "actor_init_failed"):
            self.actors.on_init_done(self.actors.actors[handle.actor_id],
                                     message[2] if kind == "actor_init_failed" else None)
        elif kind == "actor_exit":
            self.actors.on_exit_requested(self.actors.actors[handle.actor_id])
        elif kind == "actor_call":
            self.actors.submit(message[1], wid)
        elif kind == "create_actor":
            self.actors.create(message[1], wid, registered=False)
        elif kind == "create_named_actor":
            try:
                result = self.actors.create(message[2], wid, registered=False)
            except ValueError as exc:
                result = str(exc)
            self.send(handle, ("reply", message[1], result))
        elif kind == "get_actor":
            self.send(handle, ("reply", message[1], self.actors.lookup(*message[2:])))
        elif kind == "named_actors":
            self.send(handle, ("reply", message[1], self.actors.named()))
        elif kind == "kill_actor":
            self.actors.kill(*message[1:])
        else:
            raise RuntimeError(f"unknown message from worker {wid}: {kind!r}")

    def _on_blocking_request(self, handle: WorkerHandle, message) -> None:
        if message[0] == "get":
            _, request_id, object_ids, timeout = message
            num_returns, is_get = len(object_ids), True
        else:
            _, request_id, object_ids, num_returns, timeout = message
            is_get = False
        deadline = None if timeout is None else time.monotonic() + timeout
        waiter = Waiter(handle.worker_id, request_id, list(object_ids), num_returns, is_get,
                        deadline)
        if self._check_waiter(waiter):
            return
        # The worker now waits: give its CPU back so nested tasks can run (no deadlock).
        self.scheduler.worker_blocked(handle.worker_id)
        for oid in object_ids:
            if self.objects.payload(oid) is None:
                self._waiters.setdefault(oid, []).append(waiter)
        handle.waiters.append(waiter)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, id(waiter), waiter))

    def _check_waiter(self, waiter: Waiter) -> bool:
        if waiter.done:
            return True
        payloads = [self.objects.payload(oid) for oid in waiter.object_ids]
        ready = [oid for oid, p in zip(waiter.object_ids, payloads) if p is not None]
        missing = [oid for oid in waiter.object_ids if not self.objects.known(oid)]
        if missing and waiter.is_get:  # freed or unknown: answer with the loss, never hang
            payloads = [p if p is not None else _lost_error(oid)
                        for oid, p in zip(waiter.object_ids, payloads)]
        elif len(ready) < waiter.num_returns:
            return False  # still registered on the objects that are missing
        self._answer(waiter, payloads if waiter.is_get else set(ready))
        return True

    def _answer(self, waiter: Waiter, result) -> None:
        waiter.done = True
        handle = self.workers.get(waiter.worker_id)
        if handle is None:
            return
        if waiter.is_get and result is not None:
            # Refs inside the values stay pinned until the task ends: by then the worker has
            # announced its own holds.
            inner = [oid for p in result for oid in p.contained]
            self.objects.pin(inner, +1)
            handle.transit.extend(inner)
        self.scheduler.worker_unblocked(waiter.worker_id)
        self.send(handle, ("reply", waiter.request_id, result))

    def _retire_idle_workers(self, now: float) -> None:
        """Shrink the pool back to its size once the extra workers have idled a while."""
        extra = len(self.scheduler.workers) - self._pool_size
        for slot in list(self.scheduler.workers.values()):
            if extra <= 0:
                return
            handle = self.workers.get(slot.worker_id)
            if slot.started and slot.task_id is None and handle is not None \
                    and now - handle.idle_since > IDLE_WORKER_TIMEOUT:
                self.scheduler.worker_died(slot.worker_id)  # out of the pool first
                self.send(handle, ("exit",))
                extra -= 1

    def _expire(self) -> None:
        now = time.monotonic()
        self._retire_idle_workers(now)
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, waiter = heapq.heappop(self._deadlines)
            if waiter.done:
                continue
            if waiter.is_get:
                self._answer(waiter, None)
            else:
                self._answer(waiter, {oid for oid in waiter.object_ids
                                      if self.objects.payload(oid) is not None})
        for handle in list(self.workers.values()):
            if handle.closed_at is not None and now - handle.closed_at > _EXIT_STATUS_GRACE:
                self._worker_gone(handle, None)

    def _close_waiters(self, handle: WorkerHandle) -> None:
        """The task that asked has ended: a late answer must not reach the next one."""
        for waiter in handle.waiters:
            waiter.done = True
        handle.waiters = []

    def discard_unreported_results(self, return_ids) -> None:
        """Unlink the segments a dead worker may have written for results it never reported."""
        for oid in return_ids:
            if self.objects.payload(oid) is None:
                object_store.unlink_segment(object_store.segment_name(self.cluster_id, oid))

    def release_transit(self, handle: WorkerHandle) -> None:
        self._close_waiters(handle)
        if handle.transit:
            self.objects.pin(handle.transit, -1)
            handle.transit = []

    def _on_control(self) -> None:
        try:
            data = self._control.recv(65536)
        except OSError:
            data = b""
        if not data:
            if not self._stopping:
                log.error("jupyter_raylite: the cluster's launcher process died")
            self._stopping = True
            return
        message = pickle.loads(data)
        if message[0] == "forked":
            handle = self.workers.get(message[1])
            if handle is not None and handle.pid is None:
                handle.pid = message[2]
            return
        if message[0] == "exited":
            pid, code = message[1], message[2]
            handle = next((h for h in self.workers.values() if h.pid == pid), None)
            if handle is not None and handle.closed_at is not None:
                self._worker_gone(handle, code)
            else:
                self._exit_codes[pid] = code

    def _connection_closed(self, handle: WorkerHandle) -> None:
        if handle.closed_at is None and handle.actor_id is None:
            # Out of the pool now, so nothing is dispatched to a dead worker while its exit
            # status is on the way; its task (if any) is failed or retried in _worker_gone.
            handle.lost_task = self.scheduler.worker_died(handle.worker_id)
        if handle.closed_at is None:
            try:
                self._selector.unregister(handle.channel)
            except (KeyError, ValueError):
                pass
            handle.channel.close()
            handle.closed_at = time.monotonic()
        code = self._exit_codes.pop(handle.pid, None) if handle.pid is not None else None
        if code is not None:
            self._worker_gone(handle, code)

    def _worker_gone(self, handle: WorkerHandle, exit_code: int | None) -> None:
        """A worker process is dead: fail or retry its task, release what it held."""
        if self.workers.pop(handle.worker_id, None) is None:
            return
        self.release_transit(handle)
        self.objects.drop_holder(handle.worker_id)
        if handle.actor_id is not None:
            if not self._stopping:
                self.actors.on_worker_gone(self.actors.actors[handle.actor_id],
                                           describe_exit(exit_code))
            return
        task_id = handle.lost_task or self.scheduler.worker_died(handle.worker_id)
        record = self.tasks.get(task_id) if task_id else None
        if record is None or self._stopping:
            return
        # It may have written a result to shared memory and died before saying so: nobody
        # will ever read that segment (a retry writes its own under the same name).
        self.discard_unreported_results(record.spec.return_ids)
        if record.cancel_requested:
            self._finish(record, CANCELLED, [_cancelled(task_id)] * len(record.spec.return_ids))
        elif record.retries_left != 0:
            self._requeue(record)
        else:
            error = WorkerCrashedError(
                f"The worker (pid {handle.pid}) running {record.spec.name}() died: "
                f"{describe_exit(exit_code)}. The task was tried "
                f"{record.spec.options.max_retries + 1} time(s). Likely causes: the process ran "
                "out of memory, crashed in native code, or called sys.exit()/os._exit(). "
                "Raise max_retries to retry more often.")
            self._finish(record, FAILED,
                         [serialize(error, is_error=True)] * len(record.spec.return_ids),
                         "WorkerCrashedError")


@dataclass(frozen=True)
class TaskSummary:
    """One row of ``%raylite tasks``."""

    task_id: str
    name: str
    state: str
    pid: int | None
    submitted_at: float
    ended_at: float | None
    cell: str | None  # the id of the request (notebook cell) that submitted it


def error_type(cause_types) -> str | None:
    """The exception's class name from the worker's list of its qualified class names."""
    return cause_types[0].rpartition(".")[2] if cause_types else None


@dataclass(frozen=True)
class ClusterStatistics:
    """What meters and ``%raylite status`` show; taken on the head thread."""

    total: dict
    available: dict
    workers: int
    actors_alive: int
    tasks: dict  # state -> count, for the tasks still in the table
    objects: object  # core.objects.Statistics
    worker_pids: dict = field(default_factory=dict)  # worker id -> (pid, actor id or None)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "its connection closed and no exit status was reported"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exited with code {code}"


def _cancelled(task_id: str) -> Payload:
    return serialize(TaskCancelledError(task_id), is_error=True)


def _lost_error(object_id: str) -> Payload:
    from jupyter_raylite.exceptions import ObjectLostError
    return serialize(ObjectLostError(
        f"Object {object_id} is no longer available: it was freed, or it belongs to a cluster "
        "that was shut down. Keep an ObjectRef to an object for as long as you need it."),
        is_error=True)
