"""Live views of the cluster for notebooks: the task graph with its inspector, resource
meters, progress bars.  All of them read one shared model fed by one background thread
(jupyter_raylite.observe); importing this package starts nothing."""

from __future__ import annotations


def task_graph(*, cell: str | None = None, function: str | None = None,
               max_nodes: int | None = None):
    """The live task graph with filters and the task inspector (what ``%raylite graph``
    shows).  ``cell`` is a request id (see ``%raylite graph --this-cell``); ``function`` a
    task name.  Beyond ``max_nodes`` tasks (default 300), tasks are grouped by function."""
    from jupyter_raylite.widgets.explorer import TaskExplorer
    from jupyter_raylite.widgets.graph import MAX_NODES
    return TaskExplorer(cell, function, max_nodes or MAX_NODES)


def meters():
    """Resource meters: CPU/GPU/custom resources in use, workers, object store, throughput."""
    from jupyter_raylite.widgets.meters import ResourceMeters
    return ResourceMeters()


def inspector(task_id: str | None = None):
    """The task inspector on its own: pick a task from the list (or pass its id)."""
    from jupyter_raylite.widgets.inspector import TaskInspector
    return TaskInspector(task_id=task_id)


def progress(refs, description: str = ""):
    """A progress bar over ObjectRefs: a widget in a kernel, a text bar on stderr elsewhere.
    ``progress(refs).get()`` shows it while it waits and returns ``get(refs)``."""
    from jupyter_raylite.widgets.progress import make_progress
    return make_progress(refs, description)
