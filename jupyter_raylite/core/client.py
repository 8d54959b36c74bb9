"""The half of the runtime that user code calls, shared by the driver and by workers.

``ClusterClient`` turns public calls into cluster operations: it builds task specs, serializes
``put`` values, and turns fetched payloads back into values or raised errors.  Subclasses say
how an operation reaches the head: ``core.runtime.DriverClient`` calls the head in-process,
``core.worker.WorkerClient`` sends messages over the worker's connection.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time

from jupyter_raylite.core import object_store
from jupyter_raylite.core.events import summarize_arguments
from jupyter_raylite.core.refs import ObjectRef, new_id, return_object_ids
from jupyter_raylite.core.serialization import Payload, deserialize, serialize
from jupyter_raylite.core.task_spec import (
    ActorCallSpec, ActorSpec, TaskSpec, build_arguments, build_task_spec,
)
from jupyter_raylite.exceptions import (
    GetTimeoutError, RaySystemError, RayTaskError, TaskUnschedulableError,
)


class ClusterClient:
    cluster_id: str
    node_id: str
    total: dict[str, float]
    namespace_name: str | None = None
    current_task_id: str | None = None

    def __init__(self) -> None:
        self._sent_functions: set[str] = set()
        self._sent_lock = threading.Lock()

    # -- facts about the cluster --------------------------------------------------------------
    def cluster_resources(self) -> dict[str, float]:
        return dict(self.total)

    def available_resources(self) -> dict[str, float]:
        raise NotImplementedError

    def address_info(self) -> dict:
        return {"node_ip_address": "127.0.0.1", "raylet_ip_address": "127.0.0.1",
                "address": "local", "node_id": self.node_id, "webui_url": None,
                "session_dir": None, "gcs_address": None}

    def nodes(self) -> list[dict]:
        return [{"NodeID": self.node_id, "Alive": True, "alive": True,
                 "NodeManagerAddress": "127.0.0.1", "NodeManagerHostname": "localhost",
                 "NodeName": "127.0.0.1", "Resources": self.cluster_resources()}]


    # -- what subclasses provide --------------------------------------------------------------
    def _submit(self, spec: TaskSpec) -> None:
        raise NotImplementedError

    def _put(self, object_id: str, payload: Payload) -> None:
        raise NotImplementedError

    def _fetch(self, object_ids: list[str], timeout: float | None) -> list[Payload] | None:
        """Block until every object is ready; None on timeout."""
        raise NotImplementedError

    def _wait(self, object_ids: list[str], num_returns: int,
              timeout: float | None) -> set[str]:
        raise NotImplementedError

    # -- shipping code once -------------------------------------------------------------------
    def _code_to_ship(self, code_id: str, pickled) -> tuple[bytes | None, tuple[str, ...]]:
        """The pickled function or class if this process has not shipped it yet."""
        with self._sent_lock:
            if code_id in self._sent_functions:
                return None, ()
        return pickled()

    def _shipped(self, code_id: str) -> None:
        # Marked only once the head has it: a failed pickle or a refused submission must
        # not leave later submissions without the code.
        with self._sent_lock:
            self._sent_functions.add(code_id)

    @contextlib.contextmanager
    def _discarding_on_failure(self, payload: Payload):
        """Unlink the arguments' segment if the submission fails before the head owns it."""
        try:
            yield
        except BaseException:
            if payload.segment is not None:
                object_store.unlink_segment(payload.segment.name)
            raise

    # -- the operations -----------------------------------------------------------------------
    def segment_for(self, object_id: str) -> str:
        return object_store.segment_name(self.cluster_id, object_id)

    def submit_task(self, remote_function, args: tuple, kwargs: dict, options) -> list[ObjectRef]:
        name = options.name or remote_function.function_name
        check_feasible(options, self.total, name)
        spec = build_task_spec(remote_function.function_id, name, args, kwargs, options,
                               self.segment_for, self.current_task_id)
        with self._discarding_on_failure(spec.args):
            spec.function_blob, spec.captured_refs = self._code_to_ship(
                remote_function.function_id, remote_function.function_blob)
            self._submit(spec)
        self._shipped(remote_function.function_id)
        # The head counts the submitter as a holder of the returns already (no "hold" edge):
        # that closes the race where a fast task finishes before the edge would arrive.
        return [ObjectRef(oid, name, _announce=False) for oid in spec.return_ids]

    # -- actors -------------------------------------------------------------------------------
    def _create_actor(self, spec: ActorSpec) -> tuple[str, bool]:
        """Hand an actor spec to the head; returns (actor id, whether it was created now)."""
        raise NotImplementedError

    def _submit_call(self, spec: ActorCallSpec) -> None:
        raise NotImplementedError

    def create_actor(self, actor_class, args, kwargs, options) -> tuple[str, bool]:
        check_feasible(options, self.total, actor_class.class_name)
        actor_id = new_id("a")
        payload, dependencies = build_arguments(
            f"{actor_class.class_name}.__init__", args, kwargs, self.segment_for, actor_id)
        spec = ActorSpec(actor_id, actor_class.class_id, actor_class.class_name,
                         actor_class.methods, actor_class.is_async, payload, dependencies,
                         options, options.namespace or self.namespace_name,
                         parent_task_id=self.current_task_id,
                         args_summary=summarize_arguments(args, kwargs))
        with self._discarding_on_failure(payload):
            spec.class_blob, spec.captured_refs = self._code_to_ship(
                actor_class.class_id, actor_class.class_blob)
            result = self._create_actor(spec)
        self._shipped(actor_class.class_id)
        return result

    def submit_actor_call(self, actor_id: str, class_name: str, method: str, args, kwargs,
                          options) -> list[ObjectRef]:
        name = f"{class_name}.{method}"
        task_id = new_id("t")
        payload, dependencies = build_arguments(name, args, kwargs, self.segment_for, task_id)
        return_ids = return_object_ids(task_id, options.num_returns)
        with self._discarding_on_failure(payload):
            self._submit_call(ActorCallSpec(task_id, actor_id, name, method, payload,
                                            dependencies, return_ids, self.current_task_id,
                                            args_summary=summarize_arguments(args, kwargs)))
        return [ObjectRef(oid, name, _announce=False) for oid in return_ids]

    def put(self, value) -> ObjectRef:
        if isinstance(value, ObjectRef):
            raise TypeError(
                "Calling put() on an ObjectRef is not allowed because the value is already in "
                "the object store. Pass the ObjectRef itself, or wrap it in a list to put a "
                "reference to it.")
        object_id = new_id("p")
        payload = serialize(value, self.segment_for(object_id), what="value given to put()")
        self._put(object_id, payload)
        return ObjectRef(object_id, _announce=False)

    def get(self, refs: list[ObjectRef], timeout: float | None) -> list:
        payloads = self._fetch([r.hex() for r in refs], timeout)
        if payloads is None:
            raise GetTimeoutError(
                f"get() timed out after {timeout} s waiting for {len(refs)} object(s); the tasks "
                "keep running. Call get() again, or raise the timeout.")
        return [self.materialize(p) for p in payloads]

    def wait(self, refs: list[ObjectRef], num_returns: int, timeout: float | None):
        ready_ids = self._wait([r.hex() for r in refs], num_returns, timeout)
        ready, not_ready = [], []
        for ref in refs:
            if ref.hex() in ready_ids and len(ready) < num_returns:
                ready.append(ref)
            else:
                not_ready.append(ref)
        return ready, not_ready

    def future(self, ref: ObjectRef) -> concurrent.futures.Future:
        """A Future completed by a helper thread that waits in get()."""
        future: concurrent.futures.Future = concurrent.futures.Future()

        def resolve():
            try:
                future.set_result(self.get([ref], None)[0])
            except BaseException as exc:  # the task's error belongs to the future
                future.set_exception(exc)

        threading.Thread(target=resolve, name=f"raylite-future-{ref.hex()}", daemon=True).start()
        return future

    @staticmethod
    def materialize(payload: Payload):
        try:
            value = deserialize(payload)
        except FileNotFoundError as exc:
            raise RaySystemError(f"A value's shared-memory segment is gone ({exc}): its "
                                 "cluster was shut down, or the segment was removed.") from exc
        except Exception as exc:
            if payload.is_error:
                raise RaySystemError(
                    f"A task failed, and its error could not be rebuilt in this process: "
                    f"{type(exc).__name__}: {exc}.") from exc
            raise RaySystemError(
                f"A value could not be unpickled in this process: {type(exc).__name__}: {exc}. "
                "Usually its class (or a module it needs) cannot be imported here, or its "
                "__reduce__/__setstate__ fails outside the process that made it. The value "
                "stays in the object store; get it from a task that can load it.") from exc
        if payload.is_error:
            if isinstance(value, RayTaskError):
                raise value.as_instanceof_cause()
            raise value
        return value


def deadline_after(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def check_feasible(options, total: dict[str, float], name: str) -> None:
    """Raise at submission when no node could ever run the task (Ray would wait forever)."""
    demand = options.resource_demand()
    missing = {k: v for k, v in demand.items() if v > total.get(k, 0)}
    if missing:
        wanted = ", ".join(f"{k}: {v:g}" for k, v in missing.items())
        have = ", ".join(f"{k}: {total.get(k, 0):g}" for k in missing)
        raise TaskUnschedulableError(
            f"{name}() asks for {{{wanted}}} but the cluster has only {{{have}}}, so it could "
            "never run. Lower the request with .options(...), or start the cluster with more, "
            "e.g. init(num_cpus=..., num_gpus=..., resources={...}).")
