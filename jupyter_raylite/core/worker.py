"""A worker process: receive a task, run it, send back its results; serve nested calls.

    head --("run", ...)--> worker main loop --> user function
                                 |                  | ray.get / .remote() / put inside the task
                                 |                  v
                                 +----------- WorkerClient --("get"/"submit"/...)--> head
    head <--("done", task_id, status, payloads)-----+

The worker is single-threaded as far as the head is concerned: it runs one task at a time and
only its main thread reads the connection, so a request made inside a task reads its reply
directly.  Output written to ``sys.stdout``/``sys.stderr`` inside a task travels to the head as
"output" messages tagged with the task, never through inherited file descriptors.

Cancellation arrives as SIGINT, sent by the head to this process only (workers live in the
zygote's session, outside the kernel's process group).  It raises KeyboardInterrupt only while
a task runs; between tasks it is ignored.
"""

from __future__ import annotations

import io
import json
import itertools
import os
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Connection

from jupyter_raylite.core import context, protocol, refs
from jupyter_raylite.core.client import ClusterClient
from jupyter_raylite.core.serialization import Payload, SerializationError, deserialize, serialize
from jupyter_raylite.core.task_spec import TaskSpec, resolve_arguments
from jupyter_raylite.exceptions import RayTaskError


class WorkerClient(ClusterClient):
    def __init__(self, conn: Connection, cluster_id: str, worker_id: str):
        super().__init__()
        self.conn = conn
        self.cluster_id = cluster_id
        self.worker_id = worker_id
        node = json.loads(os.environ["JUPYTER_RAYLITE_NODE"])
        self.node_id, self.total = node["node_id"], node["resources"]
        self.namespace_name = node["namespace"]
        self.current_task_name: str | None = None
        self.current_demand: dict[str, float] = {}
        self._send_lock = threading.Lock()
        self._request_ids = itertools.count()
        self.counter = refs.reset_counter()

    def send(self, message) -> None:
        frame = protocol.dumps(message)
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
        self.send((message[0], request_id, *message[1:]))
        while True:
            reply = protocol.loads(self.conn.recv_bytes())
            if reply[0] == "reply" and reply[1] == request_id:
                return reply[2]

    def _submit(self, spec: TaskSpec) -> None:
        self.send(("submit", spec))

    def _put(self, object_id: str, payload: Payload) -> None:
        self.send(("put", object_id, payload))

    def _fetch(self, object_ids, timeout):
        return self.request("get", object_ids, timeout)

    def _wait(self, object_ids, num_returns, timeout):
        return self.request("wait", object_ids, num_returns, timeout)

    def cancel(self, object_id: str, force: bool, recursive: bool) -> None:
        self.send(("cancel", object_id, force, recursive))

    def available_resources(self) -> dict[str, float]:
        return self.request("resources")

    def runtime_info(self) -> dict:
        return {"task_id": self.current_task_id, "worker_id": self.worker_id,
                "task_name": self.current_task_name, "resources": dict(self.current_demand)}


class TaskOutput(io.TextIOBase):
    """sys.stdout / sys.stderr of a worker: whole lines go to the head, tagged with the task."""

    def __init__(self, client: WorkerClient, stream: str):
        self._client = client
        self._stream = stream
        self._pending = ""

    @property
    def encoding(self):
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            self._emit(complete + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            text, self._pending = self._pending, ""
            self._emit(text)

    def _emit(self, text: str) -> None:
        client = self._client
        client.send(("output", client.current_task_id, client.current_task_name,
                     self._stream, text))


class Worker:
    def __init__(self, client: WorkerClient):
        self.client = client
        self.functions: dict[str, object] = {}
        self.running = False

    def on_sigint(self, signum, frame):
        if self.running:
            raise KeyboardInterrupt("task cancelled")

    def serve(self) -> None:
        conn = self.client.conn
        self.client.send(("ready", os.getpid()))
        while True:
            try:
                message = protocol.loads(conn.recv_bytes())
            except (EOFError, OSError):
                return
            if message[0] == "run":
                self.run(*message[1:])
            elif message[0] == "exit":
                return

    def run(self, task_id, function_id, function_blob, name, args_payload, dep_payloads,
            return_ids, demand) -> None:
        client = self.client
        client.current_task_id, client.current_task_name = task_id, name
        client.current_demand = demand
        status, payloads = "ok", []
        try:
            self.running = True
            try:
                function = self._function(function_id, function_blob)
                args, kwargs = deserialize(args_payload)
                values = [client.materialize(p) for p in dep_payloads]
                args, kwargs = resolve_arguments(args, kwargs, values)
                result = function(*args, **kwargs)
            finally:
                self.running = False
            payloads = [serialize(v, client.segment_for(oid), what=f"return value of {name}()")
                        for v, oid in zip(_split_returns(result, len(return_ids), name),
                                          return_ids)]
        except KeyboardInterrupt:
            status = "cancelled"
        except SystemExit:
            raise  # sys.exit() in a task ends the worker; the head reports and retries
        except BaseException as exc:
            status = "error"
            payloads = [_error_payload(name, exc)] * len(return_ids)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            client.current_task_id = client.current_task_name = None
        # Drop our references to arguments and results before the edges are flushed.
        args = kwargs = values = result = None  # noqa: F841
        client.send(("done", task_id, status, payloads))

    def _function(self, function_id: str, blob: bytes | None):
        function = self.functions.get(function_id)
        if function is None:
            if blob is None:
                raise RuntimeError(f"function {function_id} was never shipped to this worker")
            function = self.functions[function_id] = deserialize(Payload(blob))
        return function


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
    # Skip the worker's own frame: the traceback starts in the user's function.
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    error = RayTaskError(name, text, exc)
    try:
        return serialize(error, is_error=True)
    except (SerializationError, TypeError):
        # The exception itself cannot be pickled: keep its text, lose its type.
        return serialize(RayTaskError(name, text, None), is_error=True)


def main(conn_fd: int, cluster_id: str, worker_id: str) -> int:
    refs.reset_id_prefix()
    conn = Connection(conn_fd)
    client = WorkerClient(conn, cluster_id, worker_id)
    context.set_runtime(client)
    worker = Worker(client)
    signal.signal(signal.SIGINT, worker.on_sigint)
    sys.stdout = TaskOutput(client, "stdout")
    sys.stderr = TaskOutput(client, "stderr")
    os.environ["RAYLITE_WORKER_ID"] = worker_id
    try:
        worker.serve()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass
    except SystemExit as exc:  # sys.exit() inside a task: exit with its code, as Python would
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
