"""A worker process: run tasks, or host one actor; serve the nested calls they make.

    head --("run" | "actor_init" | "call")--> worker main loop --> user code
                                   |                 | ray.get / .remote() / put inside it
                                   |                 v
                                   +-------- WorkerClient --("get"/"submit"/...)--> head
    head <--("done", task_id, status, payloads, ...)-+

A task worker and a sequential actor run user code on the main thread, which is also the only
reader of the connection: a request made inside the code reads its reply directly and keeps
anything else that arrives meanwhile (pipelined actor calls) in a backlog for later.  A
threaded actor (``max_concurrency > 1``, or concurrency groups) runs calls on a thread pool and
an async actor on an event loop thread, one of each per concurrency group; then the main thread
only reads, and hands each reply to the thread that waits for it.

Output written to ``sys.stdout``/``sys.stderr`` travels to the head as "output" messages tagged
with the running task, never through inherited file descriptors.

Cancellation arrives as SIGINT, sent by the head to this process only (workers live in the
zygote's session, outside the kernel's process group).  It raises KeyboardInterrupt only while
a task runs; between tasks it is ignored.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import faulthandler
import inspect
import io
import itertools
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections import deque
from multiprocessing.connection import Connection

from jupyter_raylite import dropin
from jupyter_raylite.core import context, object_store, protocol, refs
from jupyter_raylite.core.client import ClusterClient
from jupyter_raylite.core.serialization import Payload, deserialize, serialize
from jupyter_raylite.core.task_spec import resolve_arguments
from jupyter_raylite.exceptions import ActorDiedError, RayTaskError, TaskCancelledError
from jupyter_raylite.options import ASYNC_ACTOR_DEFAULT_CONCURRENCY

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Ray's default number of concurrent calls of an async actor.


class WorkerClient(ClusterClient):
    def __init__(self, conn: Connection, cluster_id: str, worker_id: str):
        super().__init__()
        self.conn = conn
        self.cluster_id = cluster_id
        self.worker_id = worker_id
        node = json.loads(os.environ["JUPYTER_RAYLITE_NODE"])
        self.node_id, self.total = node["node_id"], node["resources"]
        object_store.capacity = int(self.total["object_store_memory"])
        self.namespace_name = node["namespace"]
        self.actor_id: str | None = None
        self.actor_class_name: str | None = None
        self.actor_log_name: str | None = None  # the actor's repr, if its class defines one
        self.concurrent = False  # True once a threaded or async actor runs here
        self.sending = 0
        self.interrupt_pending = False
        self.backlog: deque = deque()
        self._local = threading.local()
        self._send_lock = threading.Lock()
        self._request_ids = itertools.count()
        self._replies: dict[int, concurrent.futures.Future] = {}
        # Held by the one thread reading the connection (see request()).
        self.reading = threading.Lock()
        self.counter = refs.reset_counter()

    # -- what runs where (per thread: threaded actors run several calls at once) -------------
    @property
    def current_task_id(self) -> str | None:
        return getattr(self._local, "task_id", None)

    @property
    def current_task_name(self) -> str | None:
        return getattr(self._local, "task_name", None) or self.actor_class_name

    def enter_task(self, task_id, name, demand) -> None:
        self._local.task_id, self._local.task_name, self._local.demand = task_id, name, demand

    def leave_task(self) -> None:
        self._local.task_id = self._local.task_name = None

    # -- the wire -----------------------------------------------------------------------------
    def send(self, message) -> None:
        frame = protocol.dumps(message)
        # A cancellation (SIGINT) must not land between a frame's header and its body: the
        # worker's SIGINT handler defers it while this flag is set.
        self.sending += 1
        try:
            self._send_frames(frame)
        finally:
            self.sending -= 1
        if self.sending == 0 and self.interrupt_pending:
            self.interrupt_pending = False
            raise KeyboardInterrupt("task cancelled")

    def _send_frames(self, frame: bytes) -> None:
        with self._send_lock:
            # Holds go first, so the head sees them before anything that might release the
            # object's other pins; drops go last, after anything that might pin it anew.
            before, after = refs.split_edges(self.counter.take_edges())
            if before:
                self.conn.send_bytes(protocol.dumps(("refs", before)))
            self.conn.send_bytes(frame)
            if after:
                self.conn.send_bytes(protocol.dumps(("refs", after)))

    def request(self, *message):
        request_id = next(self._request_ids)
        future = self._replies[request_id] = concurrent.futures.Future()
        self.send((message[0], request_id, *message[1:]))
        if self.concurrent:  # the main thread is a dedicated reader
            return future.result()
        # No reader thread here (a task worker, a sequential actor): whichever waiting thread
        # gets the reading role reads for everyone, handing replies to their futures and
        # keeping other messages (the next pipelined actor call) in the backlog.
        while not future.done():
            if self.reading.acquire(blocking=False):
                try:
                    while not future.done():
                        self.dispatch(protocol.loads(self.conn.recv_bytes()))
                finally:
                    self.reading.release()
            else:
                try:
                    return future.result(timeout=0.05)
                except concurrent.futures.TimeoutError:
                    continue
        return future.result()

    def dispatch(self, message) -> None:
        if message[0] == "reply":
            self.on_reply(message[1], message[2])
        else:
            self.backlog.append(message)

    def on_reply(self, request_id: int, result) -> None:
        future = self._replies.pop(request_id, None)
        if future is not None:
            future.set_result(result)

    # -- ClusterClient hooks ------------------------------------------------------------------
    def _submit(self, spec) -> None:
        self.send(("submit", spec))

    def _put(self, object_id: str, payload: Payload) -> None:
        self.send(("put", object_id, payload))

    def _fetch(self, object_ids, timeout):
        return self.request("get", object_ids, timeout)

    def _wait(self, object_ids, num_returns, timeout):
        return self.request("wait", object_ids, num_returns, timeout)

    def _create_actor(self, spec) -> tuple[str, bool]:
        if spec.options.name is None:
            self.send(("create_actor", spec))
            return spec.actor_id, True
        result = self.request("create_named_actor", spec)
        if isinstance(result, str):
            raise ValueError(result)
        return tuple(result)

    def _submit_call(self, spec) -> None:
        self.send(("actor_call", spec))

    def kill_actor(self, actor_id: str, no_restart: bool) -> None:
        self.send(("kill_actor", actor_id, no_restart))

    def get_actor(self, name: str, namespace: str | None):
        return self.request("get_actor", name, namespace or self.namespace_name)

    def named_actors(self) -> list[tuple[str, str]]:
        return self.request("named_actors")

    def cancel(self, object_id: str, force: bool, recursive: bool) -> None:
        self.send(("cancel", object_id, force, recursive))

    def available_resources(self) -> dict[str, float]:
        return self.request("resources")

    def runtime_info(self) -> dict:
        """What this thread runs now, for RuntimeContext (keys: see runtime_context.py)."""
        task_id, actor_id = self.current_task_id, self.actor_id
        if task_id is not None and task_id == actor_id:
            task_id = "f" * 16 + actor_id  # the constructor's task: Ray names it so
        try:
            in_event_loop = asyncio.get_running_loop() is not None
        except RuntimeError:
            in_event_loop = False
        return {"in_worker": True, "task_id": task_id, "task_name": self.current_task_name,
                "worker_id": refs.worker_id_hex(self.worker_id), "actor_id": actor_id,
                # TODO(issue 15): the worker is not told its actor's name yet.
                "actor_name": None if actor_id is None else "",
                "async_actor": actor_id is not None and in_event_loop,
                "resources": dict(getattr(self._local, "demand", None) or {})}


class TaskOutput(io.TextIOBase):
    """sys.stdout / sys.stderr of a worker: whole lines go to the head, tagged with the task."""

    def __init__(self, client: WorkerClient, stream: str):
        self._client = client
        self._stream = stream
        self._pending = threading.local()

    @property
    def encoding(self):
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        pending = getattr(self._pending, "text", "") + text
        if "\n" in pending:
            complete, _, pending = pending.rpartition("\n")
            self._emit(complete + "\n")
        self._pending.text = pending
        return len(text)

    def flush(self) -> None:
        text = getattr(self._pending, "text", "")
        if text:
            self._pending.text = ""
            self._emit(text)

    def _emit(self, text: str) -> None:
        client = self._client
        # Ray prefixes an actor's output with its class name, a task's with its function.
        source = (client.actor_log_name or client.actor_class_name or client.current_task_name
                  or "worker")
        client.send(("output", client.current_task_id, source, self._stream, text))


class Worker:
    def __init__(self, client: WorkerClient):
        self.client = client
        self.functions: dict[str, object] = {}
        self.running = False
        self.instance = None
        # Where an actor's calls run, by concurrency group (None: the default group): a thread
        # pool each for a threaded actor, an event loop thread each for an async actor; with
        # neither, calls run one by one on the main thread.
        self._executors: dict[str | None, concurrent.futures.ThreadPoolExecutor] = {}
        self._loops: dict[str | None, tuple[asyncio.AbstractEventLoop, asyncio.Semaphore]] = {}
        self._method_groups: dict[str, str] = {}
        self._bound_method = getattr
        self._async_calls: dict[str, concurrent.futures.Future] = {}  # running, by task id

    def on_sigint(self, signum, frame):
        if not self.running:
            return
        if self.client.sending:
            self.client.interrupt_pending = True  # raised once the frame is out
            return
        raise KeyboardInterrupt("task cancelled")

    def serve(self) -> None:
        client = self.client
        client.send(("ready", os.getpid()))
        while True:
            try:
                with client.reading:
                    # Re-checked under the lock: a thread of the last task may have been the
                    # reader meanwhile and put the next message in the backlog.
                    if client.backlog:
                        message = client.backlog.popleft()
                    else:
                        message = protocol.loads(client.conn.recv_bytes())
            except (EOFError, OSError):
                return
            kind = message[0]
            if kind == "run":
                self.run(*message[1:])
            elif kind == "call":
                self.dispatch_call(*message[1:])
            elif kind == "reply":
                client.on_reply(message[1], message[2])
            elif kind == "actor_init":
                self.init_actor(*message[1:])
            elif kind == "cancel_call":
                self.cancel_call(message[1])
            elif kind == "exit":
                return

    # -- tasks --------------------------------------------------------------------------------
    def run(self, task_id, function_id, function_blob, name, args_payload, dep_payloads,
            return_ids, demand) -> None:
        client = self.client
        client.enter_task(task_id, name, demand)
        status, payloads, cause_types = "ok", [], ()
        started = time.time()
        try:
            self.running = True
            try:
                function = self._function(function_id, function_blob)
                args, kwargs = self._arguments(args_payload, dep_payloads)
                result = function(*args, **kwargs)
            finally:
                self.running = False
            payloads = _serialize_returns(client, result, return_ids, name)
        except KeyboardInterrupt:
            status = "cancelled"
        except SystemExit:
            raise  # sys.exit() in a task ends the worker; the head reports and retries
        except BaseException as exc:
            status, cause_types = "error", _type_names(exc)
            payloads = [_error_payload(name, exc)] * len(return_ids)
        finally:
            self.running = False
            _flush_output()
            client.leave_task()
        # Drop our references to arguments and results before the edges are flushed.
        args = kwargs = result = None  # noqa: F841
        client.send(("done", task_id, status, payloads, cause_types, started, time.time()))

    def _arguments(self, args_payload: Payload, dep_payloads) -> tuple[tuple, dict]:
        args, kwargs = deserialize(args_payload)
        values = [self.client.materialize(p) for p in dep_payloads]
        return resolve_arguments(args, kwargs, values)

    def _function(self, function_id: str, blob: bytes | None):
        function = self.functions.get(function_id)
        if function is None:
            if blob is None:
                raise RuntimeError(f"function {function_id} was never shipped to this worker")
            function = self.functions[function_id] = deserialize(Payload(blob))
        return function

    # -- actors -------------------------------------------------------------------------------
    def init_actor(self, actor_id, class_name, class_blob, args_payload, dep_payloads,
                   max_concurrency, is_async, concurrency_groups=()) -> None:
        from jupyter_raylite.actor import bound_method, method_groups
        client = self.client
        client.actor_id, client.actor_class_name = actor_id, class_name
        name = f"{class_name}.__init__"
        client.enter_task(actor_id, name, {})
        try:
            cls = deserialize(Payload(class_blob))
            args, kwargs = self._arguments(args_payload, dep_payloads)
            self.instance = cls(*args, **kwargs)
        except BaseException as exc:
            _flush_output()
            client.send(("actor_init_failed", _error_payload(name, exc),
                         f"{type(exc).__name__}: {exc}"))
            return
        finally:
            client.leave_task()
        _flush_output()
        if type(self.instance).__repr__ is not object.__repr__:
            # As Ray: output after __init__ is prefixed with the actor's repr, taken once now.
            client.actor_log_name = _log_name(self.instance, class_name)
        self._bound_method, self._method_groups = bound_method, method_groups(cls)
        self._start_groups(max_concurrency, is_async, dict(concurrency_groups))
        client.concurrent = bool(self._loops or self._executors)
        client.send(("actor_ready",))

    def _start_groups(self, max_concurrency, is_async: bool, groups: dict[str, int]) -> None:
        """The default group runs max_concurrency calls at once, each named group as many as
        its size, apart from the others (Ray's concurrency groups)."""
        default = max_concurrency or (ASYNC_ACTOR_DEFAULT_CONCURRENCY if is_async else 1)
        sizes = {None: default, **groups}
        if is_async:
            self._loops = {group: _start_event_loop(size, group or "default")
                           for group, size in sizes.items()}
        elif groups or default > 1:
            self._executors = {
                group: concurrent.futures.ThreadPoolExecutor(
                    size, thread_name_prefix=f"raylite-actor-{group or 'default'}")
                for group, size in sizes.items()}

    def dispatch_call(self, *call) -> None:
        group = self._method_groups.get(call[1])
        if self._loops:
            loop, semaphore = self._loops.get(group) or self._loops[None]
            self._async_calls[call[0]] = asyncio.run_coroutine_threadsafe(
                self._call_async(semaphore, *call), loop)
        elif self._executors:
            (self._executors.get(group) or self._executors[None]).submit(self.call, *call)
        else:
            self.call(*call)

    def call(self, task_id, method, name, args_payload, dep_payloads, return_ids) -> None:
        def invoke(args, kwargs):
            return self._bound_method(self.instance, method)(*args, **kwargs)
        self._finish_call(task_id, name, return_ids, time.time(),
                          lambda: invoke(*self._arguments(args_payload, dep_payloads)))

    async def _call_async(self, semaphore, task_id, method, name, args_payload, dep_payloads,
                          return_ids):
        started = time.time()
        try:
            async with semaphore:
                started = time.time()
                args, kwargs = self._arguments(args_payload, dep_payloads)
                result = self._bound_method(self.instance, method)(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            outcome = (lambda: result)
        except asyncio.CancelledError:  # ray.cancel() of this call (cancel_call)
            outcome = _raiser(TaskCancelledError(
                f"{name}() was cancelled by ray.cancel() while it ran on the actor."))
        except BaseException as exc:  # re-raised inside _finish_call, in the same thread
            outcome = _raiser(exc)
        finally:
            self._async_calls.pop(task_id, None)
        self._finish_call(task_id, name, return_ids, started, outcome)

    def cancel_call(self, task_id: str) -> None:
        """Cancel a running call of an async actor, as Ray does (sync calls run on)."""
        future = self._async_calls.get(task_id)
        if future is not None:
            future.cancel()  # cancels the coroutine in its event loop

    def _finish_call(self, task_id, name, return_ids, started, compute) -> None:
        from jupyter_raylite.actor import ActorExit
        client = self.client
        client.enter_task(task_id, name, {})
        status, exiting, cause_types = "ok", False, ()
        try:
            payloads = _serialize_returns(client, compute(), return_ids, name)
        except ActorExit:
            # As in Ray, the call that exits returns no value: getting it raises.
            status, exiting = "error", True
            died = ActorDiedError(f"The actor exited inside {name}(): exit_actor() was called "
                                  "in this call, so it returned no value.")
            cause_types = _type_names(died)
            payloads = [serialize(died, is_error=True)] * len(return_ids)
        except BaseException as exc:
            status, cause_types = "error", _type_names(exc)
            payloads = [_error_payload(name, exc)] * len(return_ids)
        finally:
            _flush_output()
            client.leave_task()
        if exiting:
            client.send(("actor_exit",))
        client.send(("done", task_id, status, payloads, cause_types, started, time.time()))
        if exiting:
            atexit._run_exitfuncs()  # as Ray does on exit_actor(): the user's handlers run
            os._exit(0)


def _start_event_loop(concurrency: int, group: str) -> tuple[asyncio.AbstractEventLoop,
                                                              asyncio.Semaphore]:
    """An event loop on a thread of its own, and the semaphore that bounds its calls."""
    loop = asyncio.new_event_loop()
    semaphore = asyncio.Semaphore(concurrency)
    started = threading.Event()

    def run_loop():
        asyncio.set_event_loop(loop)
        started.set()
        loop.run_forever()

    threading.Thread(target=run_loop, name=f"raylite-actor-loop-{group}", daemon=True).start()
    started.wait()
    return loop, semaphore


def _log_name(instance, class_name: str) -> str:
    try:
        return repr(instance).replace("\n", " ")  # one line: it prefixes each line of output
    except Exception:  # a broken __repr__ must not stop the actor
        return class_name


def _type_names(exc: BaseException) -> tuple[str, ...]:
    """The exception's classes by name, so the head can match retry_exceptions without
    unpickling user code."""
    return tuple(f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__)


def _raiser(exc: BaseException):
    def compute():
        raise exc
    return compute


def _flush_output() -> None:
    sys.stdout.flush()
    sys.stderr.flush()


def _serialize_returns(client: WorkerClient, result, return_ids, name: str) -> list[Payload]:
    payloads: list[Payload] = []
    try:
        for value, oid in zip(_split_returns(result, len(return_ids), name), return_ids):
            payloads.append(serialize(value, client.segment_for(oid),
                                      what=f"return value of {name}()"))
    except BaseException:
        # A later return value failed (or the task was cancelled meanwhile): the earlier ones
        # will never be reported, so their segments must not stay behind.
        for payload in payloads:
            if payload.segment is not None:
                object_store.unlink_segment(payload.segment.name)
        raise
    return payloads


def _split_returns(result, num_returns: int, name: str) -> list:
    if num_returns == 1:
        return [result]
    if num_returns == 0:
        return []
    try:
        values = list(result)
    except TypeError:
        values = None
    if values is None or len(values) != num_returns:
        raise ValueError(
            f"{name}() was declared with num_returns={num_returns} but returned "
            f"{type(result).__name__} {result!r:.60}; return a sequence of exactly "
            f"{num_returns} values.")
    return values


def _error_payload(name: str, exc: BaseException) -> Payload:
    text = _user_traceback(exc)
    # An actor's calls name it in the error's header, as Ray's do.
    actor_id = getattr(context.current_runtime(auto=False), "actor_id", None)
    error = RayTaskError(name, text, exc, actor_id=actor_id)
    try:
        payload = serialize(error, is_error=True)
        deserialize(payload)  # some exceptions pickle but cannot be rebuilt (custom __init__)
        return payload
    except Exception:
        # The exception itself cannot travel: keep its text, lose its type.
        return serialize(RayTaskError(name, text, None, actor_id=actor_id), is_error=True)


def _user_traceback(exc: BaseException) -> str:
    """The traceback as the user's code made it: the runtime's frames (the loop that ran the
    task, a nested get() that re-raised another task's error) are left out, as Ray leaves out
    its own, in chained exceptions and exception groups too."""
    summary = traceback.TracebackException.from_exception(exc)
    _drop_runtime_frames(summary)
    return "".join(summary.format())


def _drop_runtime_frames(summary: traceback.TracebackException) -> None:
    # TracebackException has already cut any cycle in the chain: this walk ends.
    summary.stack = traceback.StackSummary.from_list(
        [frame for frame in summary.stack
         if not frame.filename.startswith(_PACKAGE_DIR + os.sep)])
    for linked in (summary.__cause__, summary.__context__, *(summary.exceptions or ())):
        if linked is not None:
            _drop_runtime_frames(linked)


def main(conn_fd: int, cluster_id: str, worker_id: str) -> int:
    refs.reset_id_prefix()
    # Handlers the launcher registered are not the worker's to run; the ones the user's code
    # registers here run when the worker exits on request (exit_actor(), no handle left).
    atexit._clear()
    # A task that imports ray runs on the cluster that runs it: never on a real Ray that
    # happens to be installed (dropin.py).
    dropin.install()
    conn = Connection(conn_fd)
    client = WorkerClient(conn, cluster_id, worker_id)
    context.set_runtime(client)
    worker = Worker(client)
    signal.signal(signal.SIGINT, worker.on_sigint)
    # `kill -USR1 <pid>` prints every thread's stack of a stuck worker to the launcher's
    # stderr (visible with JUPYTER_RAYLITE_DEBUG=1).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    sys.stdout = TaskOutput(client, "stdout")
    sys.stderr = TaskOutput(client, "stderr")
    os.environ["RAYLITE_WORKER_ID"] = worker_id
    try:
        worker.serve()  # returns when the head says "exit"
        atexit._run_exitfuncs()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    except SystemExit as exc:  # sys.exit() inside a task: exit with its code, as Python would
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
