"""Utilities with Ray's names: ``ActorPool``, ``queue.Queue``, ``list_named_actors``."""

from __future__ import annotations

from jupyter_raylite.util.actor_pool import ActorPool

__all__ = ["ActorPool", "list_named_actors"]


def list_named_actors(all_namespaces: bool = False) -> list:
    """The live named actors: their names in this job's namespace or, with
    ``all_namespaces=True``, ``{"name": ..., "namespace": ...}`` for every namespace (as Ray)."""
    from jupyter_raylite.api import _on_ray
    from jupyter_raylite.core import context
    runtime = context.current_runtime()
    if _on_ray(runtime):
        return runtime.ray.util.list_named_actors(all_namespaces=all_namespaces)
    named = runtime.named_actors()
    if all_namespaces:
        return [{"name": name, "namespace": namespace} for namespace, name in named]
    return [name for namespace, name in named if namespace == runtime.namespace_name]
