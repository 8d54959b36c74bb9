"""``%load_ext jupyter_raylite``: a cluster for this kernel, its magics, displays and hooks.

``load`` registers exactly these, and ``unload`` undoes exactly them:
- the cluster (started with ``init``; shut down at unload and when the kernel exits);
- the ``%raylite`` magic;
- HTML displays for ObjectRef and ActorHandle;
- the runtime hooks that route worker output to the submitting cell and cancel a cell's
  tasks when the cell is interrupted while it waits.
Loading twice is harmless; ``%reload_ext`` unloads, then loads again.
"""

from __future__ import annotations

import atexit
from dataclasses import dataclass, field

import jupyter_raylite as ray
from jupyter_raylite import api
from jupyter_raylite.actor import ActorHandle
from jupyter_raylite.core import runtime
from jupyter_raylite.core.refs import ObjectRef
from jupyter_raylite.core.runtime import DriverClient
from jupyter_raylite.jupyter.display import actor_handle_html, object_ref_html
from jupyter_raylite.jupyter.magics import RayliteMagics, _msg_id
from jupyter_raylite.jupyter.output import CellOutputRouter


@dataclass
class Settings:
    init_options: dict = field(default_factory=dict)
    # True while the cluster is the one %load_ext started and no cell has called init():
    # the first init(...) with other settings replaces it.
    provisional: bool = True
    cancel_on_interrupt: bool = True
    last_submitting_cell: str | None = None


@dataclass
class _Loaded:
    settings: Settings
    saved_hooks: tuple
    started_cluster: bool


_loaded: _Loaded | None = None


def load(ipython) -> None:
    global _loaded
    if _loaded is not None:
        return
    settings = Settings(init_options=dict(ipython.config.get("Raylite", {})))
    saved = (runtime.output_sink, DriverClient.origin, DriverClient.on_interrupt,
             api.reinit_policy)
    kernel = getattr(ipython, "kernel", None)
    if kernel is not None:
        router = CellOutputRouter(kernel)

        def origin():
            cell = router.current_cell()
            settings.last_submitting_cell = _msg_id(cell) or settings.last_submitting_cell
            return cell

        def on_interrupt():
            if not settings.cancel_on_interrupt:
                return
            interrupted = _msg_id(router.current_cell())
            client = ray_runtime()
            if interrupted is not None and client is not None:
                client.cancel_origin(lambda o: _msg_id(o) == interrupted)

        runtime.output_sink = router.write
        DriverClient.origin = staticmethod(origin)
        DriverClient.on_interrupt = staticmethod(on_interrupt)
    api.reinit_policy = lambda requested: _reinit(settings, requested)
    ipython.register_magics(RayliteMagics(ipython, settings))
    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.for_type(ObjectRef, object_ref_html)
    formatter.for_type(ActorHandle, actor_handle_html)
    started = not ray.is_initialized()
    if started:
        ray.init(**settings.init_options)
    atexit.register(ray.shutdown)
    _loaded = _Loaded(settings, saved, started)


def unload(ipython) -> None:
    global _loaded
    if _loaded is None:
        return
    loaded, _loaded = _loaded, None
    runtime.output_sink, origin, on_interrupt, api.reinit_policy = loaded.saved_hooks
    DriverClient.origin = staticmethod(origin) if not isinstance(origin, staticmethod) else origin
    DriverClient.on_interrupt = on_interrupt
    ipython.magics_manager.magics["line"].pop("raylite", None)
    formatter = ipython.display_formatter.formatters["text/html"]
    formatter.pop(ObjectRef, None)
    formatter.pop(ActorHandle, None)
    atexit.unregister(ray.shutdown)
    if loaded.started_cluster:
        ray.shutdown()


def _reinit(settings: Settings, requested: dict):
    """init() in a kernel whose cluster runs already: re-running the cell is harmless."""
    if not requested or requested == settings.init_options:
        settings.provisional = False
        return ray.init(ignore_reinit_error=True)
    if settings.provisional:  # the cluster %load_ext started: the notebook's own init wins
        ray.shutdown()
        settings.init_options, settings.provisional = requested, False
        return ray.init(**requested)
    raise RuntimeError(
        f"This kernel's cluster runs with {settings.init_options or 'the default settings'}, "
        f"not {requested}. Use %raylite restart with the new settings (or ray.shutdown() "
        "first); objects and actors of the old cluster are lost.")


def ray_runtime():
    from jupyter_raylite.core import context
    return context.current_runtime(auto=False)
