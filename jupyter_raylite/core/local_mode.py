"""``init(local_mode=True)``: every task runs at once, serially, in the calling process.

For debugging (breakpoints and print work as in plain Python), as Ray's deprecated local mode
did.  Values still go through serialization, so a task sees copies and unpicklable arguments
fail the same way as on the cluster; objects live in a dict until ``shutdown()``.
"""

from __future__ import annotations

import os
import traceback

from collections import deque

from jupyter_raylite.core import refs
from jupyter_raylite.core.client import ClusterClient, check_feasible
from jupyter_raylite.core.refs import ObjectRef, new_id, return_object_ids
from jupyter_raylite.core.serialization import Payload, serialize
from jupyter_raylite.exceptions import RayTaskError


class LocalModeClient(ClusterClient):
    def __init__(self, config):
        super().__init__()
        self.cluster_id = f"{os.getpid()}xlocal"
        self.node_id = os.urandom(14).hex()
        self.total = {"CPU": float(config.num_cpus), "memory": float(config.memory),
                      "object_store_memory": float(config.object_store_memory),
                      **config.resources}
        if config.num_gpus:
            self.total["GPU"] = float(config.num_gpus)
        self.namespace_name = config.namespace
        self._objects: dict[str, Payload] = {}
        self._task_name: str | None = None
        # Nothing is ever freed in local mode: reference edges have nowhere to go.
        refs.counter.edges = deque(maxlen=0)

    def submit_task(self, remote_function, args, kwargs, options):
        name = options.name or remote_function.function_name
        check_feasible(options, self.total, name)
        task_id = new_id("t")
        return_ids = return_object_ids(task_id, options.num_returns)
        payloads = self._run(remote_function, name, args, kwargs, len(return_ids))
        self._objects.update(zip(return_ids, payloads))
        return [ObjectRef(oid, name) for oid in return_ids]

    def _run(self, remote_function, name, args, kwargs, num_returns) -> list[Payload]:
        from jupyter_raylite.core.worker import _split_returns
        try:
            resolved_args = [self.get([a], None)[0] if type(a) is ObjectRef else a for a in args]
            resolved_kwargs = {k: self.get([v], None)[0] if type(v) is ObjectRef else v
                               for k, v in kwargs.items()}
            copied = self.materialize(serialize((resolved_args, resolved_kwargs)))
            self._task_name = name
            try:
                result = remote_function._function(*copied[0], **copied[1])
            finally:
                self._task_name = None
            return [serialize(v) for v in _split_returns(result, num_returns, name)]
        except Exception as exc:
            text = "".join(traceback.format_exception(exc))
            return [serialize(RayTaskError(name, text, exc), is_error=True)] * num_returns

    def create_actor(self, actor_class, args, kwargs, options):
        raise NotImplementedError(
            f"Actors ({actor_class.class_name}) are not supported with local_mode=True; call "
            "ray.shutdown() and then ray.init() without local_mode to use them.")

    def put(self, value) -> ObjectRef:
        if isinstance(value, ObjectRef):
            return super().put(value)  # raises the same TypeError
        object_id = new_id("p")
        self._objects[object_id] = serialize(value)
        return ObjectRef(object_id)

    def _fetch(self, object_ids, timeout):
        return [self._objects[oid] for oid in object_ids]

    def _wait(self, object_ids, num_returns, timeout):
        return set(object_ids)

    def cancel(self, object_id, force, recursive) -> None:
        pass  # every task has finished by the time .remote() returns

    def available_resources(self) -> dict[str, float]:
        return dict(self.total)

    def runtime_info(self) -> dict:
        # Tasks run in the driver itself: it stays the driver, which knows the task's name.
        return {"in_worker": False, "task_id": None, "task_name": self._task_name,
                "actor_id": None, "worker_id": refs.DRIVER_WORKER_ID_HEX, "resources": {}}

    def shutdown(self) -> None:
        self._objects.clear()


