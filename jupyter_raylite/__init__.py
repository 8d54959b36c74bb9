"""jupyter_raylite: Ray Core's API on a local cluster embedded in your Jupyter kernel.

``import jupyter_raylite as ray`` and Ray Core code runs unchanged.  Importing starts nothing
and imports neither IPython nor ``ray``; the cluster starts with ``init()`` (or on first use).
"""

from jupyter_raylite import actor, exceptions, remote_function, runtime_context, util
from jupyter_raylite.actor import method
from jupyter_raylite.api import (
    available_resources, cancel, cluster_resources, get, get_actor, get_gpu_ids,
    get_runtime_context, init, is_initialized, kill, nodes, put, remote, shutdown, timeline,
    wait,
)
from jupyter_raylite.core.refs import ObjectRef
from jupyter_raylite.dropin import as_ray
from jupyter_raylite.widgets import inspector, meters, progress, task_graph

__version__ = "0.1.0"

# JUPYTER_RAYLITE_AS_RAY=1: whatever imports jupyter_raylite first (a kernel's startup, a
# program) turns the drop-in on for it and for everything it starts (dropin.py).
from jupyter_raylite import dropin as _dropin  # noqa: E402
_dropin.turn_on_if_asked()


def load_ipython_extension(ipython) -> None:
    """``%load_ext jupyter_raylite``: start this kernel's cluster, register the magics."""
    from jupyter_raylite.jupyter import extension
    extension.load(ipython)


def unload_ipython_extension(ipython) -> None:
    from jupyter_raylite.jupyter import extension
    extension.unload(ipython)

__all__ = [
    "ObjectRef", "actor", "as_ray", "available_resources", "cancel", "cluster_resources", "exceptions",
    "get", "get_actor", "get_gpu_ids", "get_runtime_context", "init", "is_initialized", "kill",
    "inspector", "meters", "method", "nodes", "progress", "put", "remote", "remote_function",
    "runtime_context", "shutdown", "task_graph", "timeline", "util", "wait",
]
