"""``%raylite graph``: the task graph with its filters (by cell, by function) above it and the
task inspector below it; clicking a node inspects it."""

from __future__ import annotations

import ipywidgets as widgets

from jupyter_raylite.observe import cells
from jupyter_raylite.observe.monitor import get_monitor
from jupyter_raylite.widgets.graph import MAX_NODES, TaskGraph
from jupyter_raylite.widgets.inspector import TaskInspector

_ALL = "(all)"


class TaskExplorer(widgets.VBox):
    def __init__(self, cell=None, function=None, max_nodes: int = MAX_NODES, monitor=None,
                 **kwargs):
        self._monitor = monitor or get_monitor()
        self.graph = TaskGraph(cell, function, max_nodes, monitor=self._monitor)
        self.inspector = TaskInspector(self.graph, monitor=self._monitor)
        self.cell_filter = widgets.Dropdown(description="Cell", options=[(_ALL, None)],
                                            value=None, layout=widgets.Layout(width="240px"))
        self.function_filter = widgets.Dropdown(description="Function",
                                                options=[(_ALL, None)], value=None,
                                                layout=widgets.Layout(width="300px"))
        self.cell_filter.add_class("rl-filter-cell")
        self.function_filter.add_class("rl-filter-function")
        self._listed = ((), ())
        self._refresh_filters(self._monitor.model)
        self.cell_filter.value, self.function_filter.value = cell, function
        self.cell_filter.observe(lambda c: self.graph.set_filter(cell=c["new"]), "value")
        self.function_filter.observe(lambda c: self.graph.set_filter(function=c["new"]),
                                     "value")
        super().__init__([widgets.HBox([self.cell_filter, self.function_filter]), self.graph,
                          self.inspector], **kwargs)
        self.add_class("rl-explorer")
        self._monitor.subscribe(self._on_update)

    def _on_update(self, model, update) -> None:
        if update.changes.new_tasks or update.reset:
            self._refresh_filters(model)

    def _refresh_filters(self, model) -> None:
        listed = (tuple(model.cells), tuple(name for name, n in model.functions.items() if n))
        if listed == self._listed:
            return
        self._listed = listed
        for dropdown, options in ((self.cell_filter, [(cells.label(c), c) for c in listed[0]]),
                                  (self.function_filter, [(f, f) for f in sorted(listed[1])])):
            value = dropdown.value
            with dropdown.hold_trait_notifications():
                dropdown.options = [(_ALL, None)] + options
                if value in {v for _, v in dropdown.options}:
                    dropdown.value = value

    def close(self) -> None:
        self._monitor.unsubscribe(self._on_update)
        self.graph.close()
        self.inspector.close()
        super().close()
