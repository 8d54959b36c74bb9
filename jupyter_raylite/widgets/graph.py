"""The task graph: what the cells submitted, as boxes coloured by state, with arrows for the
ObjectRefs passed between tasks and for calls made on actors.

The Python side decides *what* is shown (``GraphProjection``: filters, one node per task or,
beyond ``max_nodes``, one node per function with counts by state) and sends the front end only
what changed since the last tick: a "delta" message with the nodes whose state changed and the
new edges.  A front end that opens (or re-opens) asks for a "reset" with everything.  Drawing
and layout happen in graph.js, in the browser.
"""

from __future__ import annotations

import pathlib

import anywidget
import traitlets

from jupyter_raylite.observe.model import ENDED, TASK_STATES
from jupyter_raylite.observe.monitor import get_monitor

_HERE = pathlib.Path(__file__).parent
MAX_NODES = 300


class GraphProjection:
    """The nodes and edges one graph shows, derived from the model."""

    def __init__(self, cell=None, function=None, max_nodes: int = MAX_NODES):
        self.cell = cell
        self.function = function
        self.max_nodes = max_nodes
        self.grouped = False
        self.nodes: dict[str, dict] = {}
        self.edges: set[tuple] = set()
        self._rows: dict[int, int] = {}  # column -> rows used (stable positions between ticks)

    def matches(self, cell, name) -> bool:
        return ((self.cell is None or cell == self.cell)
                and (self.function is None or name == self.function))

    def visible_count(self, model) -> int:
        """How many tasks pass the filters (from the counts: exact even for skipped ones)."""
        return sum(sum(c.values()) for (cell, name), c in model.groups.items()
                   if self.matches(cell, name))

    def rebuild(self, model) -> None:
        self.nodes, self.edges, self._rows = {}, set(), {}
        self.grouped = self.visible_count(model) > self.max_nodes
        if self.grouped:
            self._update_groups(model, {name for _, name in model.groups})
        else:
            self._add_tasks(model, list(model.tasks))

    def update(self, model, changes) -> tuple[list[dict], list[tuple]] | None:
        """Apply one tick's changes; returns (changed nodes, new edges) for a delta, or None
        when the graph switched between one node per task and one per function (the front
        end then needs everything anew)."""
        if self.grouped != (self.visible_count(model) > self.max_nodes):
            self.rebuild(model)
            return None
        before = set(self.edges)
        if self.grouped:
            changed = self._update_groups(model, {name for _, name in changes.groups})
        else:
            changed = self._add_tasks(model, changes.new_tasks)
            for task_id in changes.tasks:
                node = self.nodes.get(task_id)
                task = model.tasks.get(task_id)
                if node is not None and task is not None and node["state"] != task.state:
                    node["state"] = task.state
                    changed.append(node)
            for actor_id in changes.actors:
                node = self.nodes.get(actor_id)
                actor = model.actors.get(actor_id)
                if node is not None and node["state"] != actor.state:
                    node["state"] = actor.state
                    changed.append(node)
        return _unique(changed), sorted(self.edges - before)

    # -- one node per task --------------------------------------------------------------------
    def _add_tasks(self, model, task_ids) -> list[dict]:
        added = []
        for task_id in task_ids:
            task = model.tasks.get(task_id)
            if task is None or task_id in self.nodes or not self.matches(task.cell, task.name):
                continue
            if task.actor_id is not None:
                actor_node = self._actor_node(model, task.actor_id)
                if actor_node is not None:
                    added.append(actor_node)
                if task.actor_id in self.nodes:
                    self.edges.add((task.actor_id, task_id, "actor"))
            node = self._node(task_id, task.name, task.kind, task.state, task.depth)
            added.append(node)
            for producer in model.producers_of(task):
                if producer in self.nodes:
                    self.edges.add((producer, task_id, "dep"))
            if task.parent in self.nodes:
                self.edges.add((task.parent, task_id, "child"))
        return added

    def _actor_node(self, model, actor_id) -> dict | None:
        if actor_id in self.nodes:
            return None
        actor = model.actors.get(actor_id)
        if actor is None:
            return None
        label = actor.class_name if actor.name is None else f"{actor.class_name} {actor.name!r}"
        return self._node(actor_id, label, "actor", actor.state, 0)

    def _node(self, node_id, label, kind, state, column) -> dict:
        row = self._rows.get(column, 0)
        self._rows[column] = row + 1
        node = {"id": node_id, "label": label, "kind": kind, "state": state,
                "col": column, "row": row}
        self.nodes[node_id] = node
        return node

    # -- one node per function ----------------------------------------------------------------
    def _update_groups(self, model, names) -> list[dict]:
        changed = []
        for name in sorted(n for n in names if n is not None):
            counts = {state: 0 for state in TASK_STATES}
            for (cell, group_name), counter in model.groups.items():
                if group_name == name and self.matches(cell, name):
                    for state, count in counter.items():
                        counts[state] += count
            total = sum(counts.values())
            if total == 0:
                continue
            node_id = f"group:{name}"
            node = self.nodes.get(node_id)
            if node is None:
                node = self._node(node_id, name, "group", "", 0)
            node["counts"] = counts
            node["total"] = total
            node["state"] = _group_state(counts)
            changed.append(node)
        for cell, producer, consumer in model.group_edges:
            edge = (f"group:{producer}", f"group:{consumer}", "dep")
            if (producer != consumer  # a recursive function: no arrow onto itself
                    and self.matches(cell, consumer)
                    and edge[0] in self.nodes and edge[1] in self.nodes):
                self.edges.add(edge)
        return changed + self._place_groups()

    def _place_groups(self) -> list[dict]:
        """Columns for the function nodes: after every function whose results they take
        (a cycle of functions just stops moving after as many rounds as there are nodes)."""
        column = {node_id: 0 for node_id in self.nodes}
        for _ in range(len(self.nodes)):
            moved = False
            for producer, consumer, _kind in self.edges:
                if column[consumer] <= column[producer]:
                    column[consumer] = column[producer] + 1
                    moved = True
            if not moved:
                break
        moved_nodes, rows = [], {}
        for node_id, node in self.nodes.items():
            col = column[node_id]
            row = rows[col] = rows.get(col, -1) + 1
            if (node["col"], node["row"]) != (col, row):
                node["col"], node["row"] = col, row
                moved_nodes.append(node)
        return moved_nodes


def _group_state(counts: dict) -> str:
    """The colour of a group: the state that needs attention first."""
    for state in ("running", "failed", "queued", "waiting", "cancelled"):
        if counts.get(state):
            return state
    return "finished"


def _unique(nodes: list[dict]) -> list[dict]:
    return list({node["id"]: node for node in nodes}.values())


class TaskGraph(anywidget.AnyWidget):
    """A live graph of the tasks the cells submitted; click a node to inspect it."""

    _esm = _HERE / "graph.js"
    _css = _HERE / "graph.css"

    selected = traitlets.Unicode("").tag(sync=True)  # the id of the node clicked last
    summary = traitlets.Dict().tag(sync=True)  # counts by state, shown/total, grouped
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, cell=None, function=None, max_nodes: int = MAX_NODES, monitor=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.projection = GraphProjection(cell, function, max_nodes)
        self._monitor = monitor or get_monitor()
        self._model = None
        self._views = 0
        self._subscribed = True
        self.on_msg(self._on_front_end_message)
        self._monitor.subscribe(self._on_update)

    def __repr__(self) -> str:  # what a notebook shows where the widget is not rendered
        return "TaskGraph(live task graph)"

    @property
    def nodes(self) -> dict[str, dict]:
        """What the graph shows now, by node id (the same data the front end has)."""
        return self.projection.nodes

    @property
    def edges(self) -> set[tuple]:
        return self.projection.edges

    def set_filter(self, cell=..., function=...) -> None:
        """Show only one cell's (by its request id) or one function's tasks; None for all."""
        with self._monitor.lock:  # not while the monitor thread updates the projection
            if cell is not ...:
                self.projection.cell = cell
            if function is not ...:
                self.projection.function = function
            if self._model is not None:
                self.projection.rebuild(self._model)
                self._send_reset()
                self._set_summary(self._model)

    def _on_update(self, model, update) -> None:
        if update.reset or model is not self._model:
            self._model = model
            self.projection.rebuild(model)
            self._send_reset()
        elif update.changes:
            delta = self.projection.update(model, update.changes)
            if delta is None:
                self._send_reset()
                self._set_summary(model, update)
                return
            nodes, edges = delta
            if nodes or edges:
                self.send({"type": "delta", "nodes": nodes, "edges": [list(e) for e in edges],
                           "grouped": self.projection.grouped})
        self._set_summary(model, update)

    def _set_summary(self, model, update=None) -> None:
        counts = dict.fromkeys(TASK_STATES, 0)
        if self.projection.cell is None and self.projection.function is None:
            counts.update({s: n for s, n in model.states.items() if n})
        else:
            for (cell, name), counter in model.groups.items():
                if self.projection.matches(cell, name):
                    for state, n in counter.items():
                        counts[state] += n
        summary = {"counts": counts, "total": sum(counts.values()),
                   "ended": sum(counts[s] for s in ENDED),
                   "grouped": self.projection.grouped, "nodes": len(self.projection.nodes),
                   "connected": update.connected if update is not None else True}
        if summary != self.summary:
            self.summary = summary

    def _send_reset(self) -> None:
        self.send({"type": "reset", "nodes": list(self.projection.nodes.values()),
                   "edges": [list(e) for e in sorted(self.projection.edges)],
                   "grouped": self.projection.grouped})

    def _on_front_end_message(self, _widget, content, _buffers) -> None:
        kind = content.get("type")
        if kind == "hello":  # a view opened: it needs everything
            self._views += 1
            if not self._subscribed:
                self._subscribed = True
                self._monitor.subscribe(self._on_update)  # brings the model up to date
            with self._monitor.lock:
                self._send_reset()
        elif kind == "bye":  # a view closed (its output cleared, its cell re-run)
            self._views -= 1
            if self._views <= 0 and self._subscribed:
                # Nobody sees it: stop updating it until a view opens again.
                self._subscribed = False
                self._monitor.unsubscribe(self._on_update)
        elif kind == "select":
            self.selected = str(content.get("id", ""))

    def close(self) -> None:
        self._monitor.unsubscribe(self._on_update)
        super().close()
