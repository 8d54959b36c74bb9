"""Who is running: Ray's ``ray.runtime_context`` (``RuntimeContext``, ``get_runtime_context``).

A context is live, as Ray's is: every call reads the runtime's ``runtime_info()``, so a context
kept in a variable answers for whatever task the calling thread runs at that moment.  That
report is a dict with these keys (optional ones may be missing):

    in_worker      False in the driver (and under local_mode), True in a worker process
    task_id        hex id of the running task or actor call, None outside one
    task_name      its name as Ray gives it ("f", "Actor.method"), None outside one
    worker_id      hex id of this process
    actor_id       hex id of the actor this process hosts, None if none
    actor_name     the actor's name, "" if it has none, None outside actors
    async_actor    whether the calling thread runs an async actor's calls
    resources      what the running task holds, {"CPU": 1.0}
    function_name  (optional) "module.qualname" of the running function or method
    actor          (optional) (class name, method table, is_async) of the hosted actor
    is_canceled    (optional) whether the running task has been cancelled
    restarted      (optional) whether the hosted actor has been restarted

Ids are hexadecimal strings of the kinds and lengths Ray's are (core/refs.py): the job is
``01000000``, as Ray numbers a cluster's first driver; a task id is 48 digits, an actor id 32.
"""

from __future__ import annotations

import json
import tempfile
import warnings

from jupyter_raylite.core import context, refs

# Ray's names of the accelerator resources, each a key of get_accelerator_ids().
_ACCELERATORS = ("FURIOSA", "GPU", "HPU", "MBLT", "NPU", "RBLN", "TPU", "TTNPU", "neuron_cores")
# Ray's messages, with its mode numbers (0 is a driver).
_DRIVER_ONLY = ("This method is only available when the process is a worker. "
                "Current mode: 0")
_ACTOR_ONLY = "This method is only available in an actor."


class RuntimeContext:
    """Who is running: job, node, worker, task and actor ids, names, and held resources."""

    def __init__(self, runtime):
        self._runtime = runtime

    def _info(self) -> dict:
        return self._runtime.runtime_info()

    def _worker_info(self) -> dict:
        info = self._info()
        if not info["in_worker"]:
            # Ray asserts; an AssertionError here is what Ray code catches, if anything.
            raise AssertionError(_DRIVER_ONLY)
        return info

    # -- ids ----------------------------------------------------------------------------------
    def get_job_id(self) -> str:
        return refs.JOB_ID_HEX

    def get_node_id(self) -> str:
        return self._runtime.node_id

    def get_worker_id(self) -> str:
        return self._info()["worker_id"]

    def get_task_id(self) -> str | None:
        return self._info()["task_id"]

    def get_actor_id(self) -> str | None:
        return self._info()["actor_id"]

    def get_placement_group_id(self) -> str | None:
        return None  # placement groups are not scheduled by the local cluster

    # -- names --------------------------------------------------------------------------------
    def get_task_name(self) -> str | None:
        return self._info()["task_name"]

    def get_task_function_name(self) -> str | None:
        info = self._info()
        # TODO(issue 15): workers do not report the function's module yet; the name stands in.
        return info.get("function_name", info["task_name"])

    def get_actor_name(self) -> str | None:
        return self._info().get("actor_name")

    @property
    def namespace(self) -> str | None:
        return self._runtime.namespace_name

    def get_session_name(self) -> str:
        return f"session_{self._runtime.cluster_id}"

    def get_temp_dir(self) -> str:
        return tempfile.gettempdir()

    @property
    def gcs_address(self) -> str | None:
        return self._runtime.address_info()["gcs_address"]  # None: there is no GCS

    # -- the running task and actor -----------------------------------------------------------
    def get_assigned_resources(self) -> dict[str, float]:
        # Ray asserts in the driver; here the driver holds nothing ({}), which get_gpu_ids()
        # relies on.
        return dict(self._info()["resources"])

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        gpus = int(self._info()["resources"].get("GPU", 0))
        ids = {name: [] for name in _ACCELERATORS}
        ids["GPU"] = [str(i) for i in range(gpus)]
        return ids

    def get_resource_ids(self) -> dict[str, list[str]]:
        _deprecated("get_resource_ids", "get_accelerator_ids()")
        return self.get_accelerator_ids()

    def get_node_labels(self) -> dict[str, str]:
        return {"ray.io/node-id": self.get_node_id()}

    def get_runtime_env_string(self) -> str:
        return json.dumps(self.runtime_env)

    @property
    def runtime_env(self) -> dict:
        return {}  # runtime_env is ignored by the local cluster (see init())

    @property
    def should_capture_child_tasks_in_placement_group(self) -> bool:
        return False

    @property
    def current_actor(self):
        from jupyter_raylite.actor import ActorHandle  # the public API imports this module
        info = self._info()
        if info["actor_id"] is None:
            raise RuntimeError(_ACTOR_ONLY)
        if "actor" not in info:
            # TODO(issue 15): the worker is not told its actor's method table yet.
            raise NotImplementedError(
                "current_actor is not available on the local cluster yet: pass the actor "
                "its own handle (e.g. as an argument of a method) instead.")
        class_name, methods, is_async = info["actor"]
        return ActorHandle(info["actor_id"], class_name, methods, is_async)

    @property
    def was_current_actor_reconstructed(self) -> bool:
        info = self._worker_info()
        if info["actor_id"] is None:
            raise AssertionError("was_current_actor_reconstructed is only available in an actor.")
        return bool(info.get("restarted", False))

    def is_canceled(self) -> bool:
        info = self._info()
        if not info["in_worker"]:
            raise RuntimeError(_DRIVER_ONLY)
        if info["async_actor"]:
            raise RuntimeError("This method is not supported in an async actor.")
        return bool(info.get("is_canceled", False))

    # -- deprecated in Ray, kept for code that still uses them --------------------------------
    def get(self) -> dict:
        _deprecated("get", "the get_xxx_id() methods")
        info = self._info()
        found = {"job_id": refs.JobID._of(refs.JOB_ID_HEX),
                 "node_id": refs.NodeID._of(self.get_node_id()), "namespace": self.namespace}
        if info["in_worker"] and info["task_id"] is not None:
            found["task_id"] = refs.TaskID._of(info["task_id"])
        if info["in_worker"] and info["actor_id"] is not None:
            found["actor_id"] = refs.ActorID._of(info["actor_id"])
        return found

    @property
    def job_id(self) -> refs.JobID:
        _deprecated("job_id", "get_job_id()")
        return refs.JobID._of(refs.JOB_ID_HEX)

    @property
    def node_id(self) -> refs.NodeID:
        _deprecated("node_id", "get_node_id()")
        return refs.NodeID._of(self.get_node_id())

    @property
    def task_id(self) -> refs.TaskID | None:
        _deprecated("task_id", "get_task_id()")
        task_id = self._worker_info()["task_id"]
        return None if task_id is None else refs.TaskID._of(task_id)

    @property
    def actor_id(self) -> refs.ActorID | None:
        _deprecated("actor_id", "get_actor_id()")
        actor_id = self._worker_info()["actor_id"]
        return None if actor_id is None else refs.ActorID._of(actor_id)

    @property
    def current_placement_group_id(self) -> refs.PlacementGroupID:
        _deprecated("current_placement_group_id", "get_placement_group_id()")
        return refs.PlacementGroupID.nil()


def _deprecated(name: str, instead: str) -> None:
    warnings.warn(f"RuntimeContext.{name} is deprecated, as in Ray: use {instead} instead.",
                  DeprecationWarning, stacklevel=3)


def get_runtime_context() -> RuntimeContext:
    from jupyter_raylite.api import _on_ray  # the public API imports this module
    runtime = context.current_runtime()
    if _on_ray(runtime):
        return runtime.runtime_context()
    return RuntimeContext(runtime)
