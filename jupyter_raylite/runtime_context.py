"""Who is running: Ray's ``ray.runtime_context`` (``RuntimeContext``, ``get_runtime_context``)."""

from __future__ import annotations

from jupyter_raylite.core import context


class RuntimeContext:
    """Who is running: job, node, worker and task ids, and the resources the task holds."""

    def __init__(self, info: dict, job_id: str, node_id: str, namespace: str | None):
        self._info = info
        self._job_id = job_id
        self._node_id = node_id
        self.namespace = namespace

    def get_job_id(self) -> str:
        return self._job_id

    def get_node_id(self) -> str:
        return self._node_id

    def get_worker_id(self) -> str:
        return self._info["worker_id"]

    def get_task_id(self) -> str | None:
        return self._info["task_id"]

    def get_task_name(self) -> str | None:
        return self._info["task_name"]

    def get_actor_id(self) -> str | None:
        return self._info.get("actor_id")

    def get_assigned_resources(self) -> dict[str, float]:
        return dict(self._info["resources"])

    @property
    def was_current_actor_reconstructed(self) -> bool:
        return False

    def get(self) -> dict:
        return {"job_id": self._job_id, "node_id": self._node_id,
                "worker_id": self.get_worker_id(), "task_id": self.get_task_id(),
                "namespace": self.namespace}


def get_runtime_context() -> RuntimeContext:
    from jupyter_raylite.api import _on_ray  # the public API imports this module
    runtime = context.current_runtime()
    if _on_ray(runtime):
        return runtime.runtime_context()
    return RuntimeContext(runtime.runtime_info(), runtime.cluster_id, runtime.node_id,
                          runtime.namespace_name)
