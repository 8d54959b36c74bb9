"""``%load_ext jupyter_raylite``: a cluster for this kernel, its magics, displays and hooks.

``load`` registers exactly these, and ``unload`` undoes exactly them:
- the cluster, if none ran (shut down at unload, if it is still the one load started, and
  when the kernel exits);
- the ``%raylite`` line magic and the ``%%remote`` cell magic;
- HTML displays for ObjectRef and ActorHandle (any previous ones come back at unload);
- the runtime hooks that route worker output to the submitting cell, cancel a cell's tasks
  when the cell is interrupted while it waits, and make re-running ``init()`` harmless.
The cluster starts first: if the configuration is wrong nothing else is installed.  Loading
twice is harmless; ``%reload_ext`` unloads, then loads again.
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass, field

import jupyter_raylite as ray
from jupyter_raylite import api
from jupyter_raylite.actor import ActorHandle
from jupyter_raylite.core import runtime
from jupyter_raylite.core.refs import ObjectRef
from jupyter_raylite.backends.ray_cluster import RayClient
from jupyter_raylite.core.runtime import DriverClient
from jupyter_raylite.jupyter.display import actor_handle_html, object_ref_html
from jupyter_raylite.core.events import cell_of
from jupyter_raylite.jupyter.magics import RayliteMagics
from jupyter_raylite.jupyter.output import CellOutputRouter
from jupyter_raylite.observe import cells


@dataclass
class Settings:
    init_options: dict = field(default_factory=dict)  # what %raylite restart starts again
    cancel_on_interrupt: bool = True
    last_submitting_cell: str | None = None


@dataclass
class _Loaded:
    settings: Settings
    cluster: object  # the LocalCluster load started, or None
    saved: dict  # what load replaced, to put back at unload


_loaded: _Loaded | None = None


def load(ipython) -> None:
    global _loaded
    if _loaded is not None:
        return
    settings = Settings(init_options=dict(ipython.config.get("Raylite", {})))
    cluster = None
    if not ray.is_initialized():
        try:
            ray.init(**settings.init_options)
        except (TypeError, ValueError) as exc:
            from IPython.core.error import UsageError
            raise UsageError(f"jupyter_raylite could not start its cluster with the IPython "
                             f"configuration c.Raylite = {settings.init_options}: {exc}")
        cluster = api._cluster
    saved = {"output_sink": runtime.output_sink, "origin": DriverClient.__dict__["origin"],
             "ray_origin": RayClient.__dict__["origin"],
             "on_interrupt": DriverClient.__dict__["on_interrupt"],
             "reinit_policy": api.reinit_policy,
             "remote_magic": ipython.magics_manager.magics["cell"].get("remote")}
    _install_hooks(ipython, settings)
    ipython.register_magics(RayliteMagics(ipython, settings))
    formatter = ipython.display_formatter.formatters["text/html"]
    saved["formatters"] = {ObjectRef: formatter.for_type(ObjectRef, object_ref_html),
                           ActorHandle: formatter.for_type(ActorHandle, actor_handle_html)}
    atexit.register(ray.shutdown)
    _loaded = _Loaded(settings, cluster, saved)


def _install_hooks(ipython, settings: Settings) -> None:
    api.reinit_policy = lambda requested: _reinit(requested)
    kernel = getattr(ipython, "kernel", None)
    if kernel is None:  # terminal IPython: output goes to stdout, as outside Jupyter
        return
    router = CellOutputRouter(kernel)

    def origin():
        cell = router.current_cell()
        cell_id = cell_of(cell)
        if cell_id != settings.last_submitting_cell:
            # How the task graph and the inspector name this cell.
            cells.remember_running(ipython, cell_id)
        settings.last_submitting_cell = cell_id or settings.last_submitting_cell
        return cell

    def on_interrupt():
        interrupted = cell_of(router.current_cell())
        client = _driver()
        if settings.cancel_on_interrupt and interrupted is not None and client is not None:
            client.cancel_origin(lambda o: cell_of(o) == interrupted)

    runtime.output_sink = router.write
    DriverClient.origin = staticmethod(origin)
    RayClient.origin = staticmethod(origin)  # the Ray backend's views name cells too
    DriverClient.on_interrupt = staticmethod(on_interrupt)


def unload(ipython) -> None:
    global _loaded
    if _loaded is None:
        return
    loaded, _loaded = _loaded, None
    saved = loaded.saved
    runtime.output_sink = saved["output_sink"]
    DriverClient.origin = saved["origin"]
    RayClient.origin = saved["ray_origin"]
    DriverClient.on_interrupt = saved["on_interrupt"]
    api.reinit_policy = saved["reinit_policy"]
    magics = ipython.magics_manager
    magics.magics["line"].pop("raylite", None)
    magics.magics["cell"].pop("remote", None)
    if saved["remote_magic"] is not None:
        magics.magics["cell"]["remote"] = saved["remote_magic"]
    magics.registry.pop("RayliteMagics", None)
    formatter = ipython.display_formatter.formatters["text/html"]
    for cls, previous in saved["formatters"].items():
        formatter.pop(cls, None)
        if previous is not None:
            formatter.for_type(cls, previous)
    atexit.unregister(ray.shutdown)
    if loaded.cluster is not None and api._cluster is loaded.cluster:
        ray.shutdown()


def _reinit(requested: dict):
    """init() in a kernel whose cluster runs already: re-running the cell is harmless."""
    cluster = api._cluster
    current = getattr(cluster, "requested", {})
    if not requested or requested == current:
        return ray.init(ignore_reinit_error=True)
    started_by_load = _loaded is not None and cluster is _loaded.cluster
    if started_by_load and _untouched():
        # The cluster %load_ext started, still unused: the notebook's own init() wins.
        ray.shutdown()
        return ray.init(**requested)
    raise RuntimeError(
        f"This kernel's cluster runs with {current or 'the default settings'}, not "
        f"{requested}, and holds work already. Use %raylite restart with the new settings "
        "(or ray.shutdown() first); objects and actors of the old cluster are lost.")


def _untouched() -> bool:
    client = _driver()
    if client is not None and hasattr(client, "used"):  # the Ray backend
        return not client.used
    if client is None or not hasattr(client, "statistics"):
        return False
    stats = client.statistics()
    return stats.objects.objects == 0 and not stats.tasks and stats.actors_alive == 0


def _driver():
    from jupyter_raylite.core import context
    return context.current_runtime(auto=False)
