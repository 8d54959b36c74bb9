"""Live views of the cluster for notebooks: the task graph with its inspector, resource
meters, progress bars.  All of them read one shared model fed by one background thread
(jupyter_raylite.observe); importing this package starts nothing."""

from __future__ import annotations


def task_graph(*, cell: str | None = None, function: str | None = None,
               max_nodes: int | None = None):
    """The live task graph with filters and the task inspector (what ``%raylite graph``
    shows).  ``cell="this"`` shows only what the running cell submits (else a request id);
    ``function`` a task name.  Beyond ``max_nodes`` tasks (default 300), tasks are grouped
    by function."""
    from jupyter_raylite.widgets.explorer import TaskExplorer
    from jupyter_raylite.widgets.graph import MAX_NODES
    if cell == "this":
        cell = this_cell()
    return TaskExplorer(cell, function, max_nodes or MAX_NODES)


def this_cell() -> str | None:
    """The request id of the cell running now (None outside a kernel), named "In [n]"."""
    from IPython import get_ipython

    from jupyter_raylite.core.events import cell_of
    from jupyter_raylite.observe import cells
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    cell = cell_of(kernel.get_parent("shell"))
    cells.remember_running(shell, cell)
    return cell


def meters():
    """Resource meters: CPU/GPU/custom resources in use, workers, object store, throughput."""
    from jupyter_raylite.widgets.resource_meters import ResourceMeters
    return ResourceMeters()


def inspector(task=None):
    """The task inspector on its own: pick a task from its list, or pass the ObjectRef a task
    returned (or the task's id) to show that task."""
    from jupyter_raylite.widgets.task_inspector import TaskInspector
    return TaskInspector(task=task)


def progress(refs, description: str = ""):
    """A progress bar over ObjectRefs: a widget in a kernel, a text bar on stderr elsewhere.
    ``progress(refs).get()`` shows it while it waits and returns ``get(refs)``."""
    from jupyter_raylite.widgets.progress_bars import make_progress
    return make_progress(refs, description)
