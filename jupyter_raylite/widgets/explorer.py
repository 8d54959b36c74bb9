"""``%raylite graph``: the task graph with its filters (by cell, by function) above it and the
task inspector below it; clicking a node inspects it."""

from __future__ import annotations

import threading

import ipywidgets as widgets

from jupyter_raylite.observe import cells
from jupyter_raylite.observe.monitor import get_monitor
from jupyter_raylite.widgets.graph import MAX_NODES, TaskGraph
from jupyter_raylite.widgets.task_inspector import TaskInspector

# ipywidgets' Dropdown shows nothing for a None value: "all" is the empty string.
_ALL = ("(all)", "")


class TaskExplorer(widgets.VBox):
    def __init__(self, cell=None, function=None, max_nodes: int = MAX_NODES, monitor=None,
                 **kwargs):
        self._monitor = monitor or get_monitor()
        self.graph = TaskGraph(cell, function, max_nodes, monitor=self._monitor)
        self.inspector = TaskInspector(self.graph, monitor=self._monitor)
        self.cell_filter = widgets.Dropdown(description="Cell", options=[_ALL], value="",
                                            layout=widgets.Layout(width="240px"))
        self.function_filter = widgets.Dropdown(description="Function", options=[_ALL],
                                                value="", layout=widgets.Layout(width="300px"))
        self.cell_filter.add_class("rl-filter-cell")
        self.function_filter.add_class("rl-filter-function")
        self._listed = ((), ())
        self._refreshing = None  # the thread that is refreshing the options, if one is
        with self._monitor.lock:  # the monitor thread may be updating the model
            self._refresh_filters(self._monitor.model)  # (lists the filters asked for)
            self.cell_filter.value, self.function_filter.value = cell or "", function or ""
        self.cell_filter.observe(self._on_cell_chosen, "value")
        self.function_filter.observe(self._on_function_chosen, "value")
        super().__init__([widgets.HBox([self.cell_filter, self.function_filter]), self.graph,
                          self.inspector], **kwargs)
        self.add_class("rl-explorer")
        self._monitor.subscribe(self._on_update)

    def __repr__(self) -> str:  # what a notebook shows where the widget is not rendered
        return "TaskExplorer(the live task graph and the task inspector)"

    def _on_cell_chosen(self, change) -> None:
        if self._refreshing != threading.get_ident():
            self.graph.set_filter(cell=change["new"] or None)

    def _on_function_chosen(self, change) -> None:
        if self._refreshing != threading.get_ident():
            self.graph.set_filter(function=change["new"] or None)

    def _on_update(self, model, update) -> None:
        if update.changes.new_tasks or update.reset:
            self._refresh_filters(model)

    def _refresh_filters(self, model) -> None:
        projection = self.graph.projection
        # What the graph filters on is listed even before it submitted anything.
        cells_seen = list(dict.fromkeys([*model.cells, projection.cell]))
        functions = sorted({*(name for name, n in model.functions.items() if n),
                            *([projection.function] if projection.function else [])})
        listed = (tuple(c for c in cells_seen if c is not None), tuple(functions))
        if listed == self._listed:
            return
        self._listed = listed
        for dropdown, options in ((self.cell_filter, [(cells.label(c), c) for c in listed[0]]),
                                  (self.function_filter, [(f, f) for f in listed[1]])):
            value = dropdown.value
            # New options make the Dropdown pass through another value: not a user's choice.
            self._refreshing = threading.get_ident()
            try:
                dropdown.options = [_ALL] + options
                dropdown.value = value if value in {v for _, v in dropdown.options} else ""
            finally:
                self._refreshing = None

    def close(self) -> None:
        self._monitor.unsubscribe(self._on_update)
        self.graph.close()
        self.inspector.close()
        super().close()
