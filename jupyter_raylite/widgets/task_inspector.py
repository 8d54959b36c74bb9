"""The task inspector: everything known about one task, chosen from a list or by clicking its
node in the task graph.

It shows the function, a summary of the arguments, the state timestamps and duration, the
worker's pid, the resources, a preview of the result or the error with its traceback, and what
the task printed.  The result is read from the object store only when a task is inspected (an
object that was already freed says so), and its preview is bounded.
"""

from __future__ import annotations

import html
import reprlib
import time
from itertools import islice

import ipywidgets as widgets

from jupyter_raylite.observe.model import ENDED, TASK_STATES
from jupyter_raylite.observe.monitor import get_monitor

# The picker lists the newest tasks, then the failed ones still known (what people come
# looking for); it is rebuilt at most once a second, as a long list costs to send.
PICKER_SIZE = 100
PICKER_REFRESH = 1.0
_preview = reprlib.Repr()
_preview.maxstring, _preview.maxother, _preview.maxlist = 200, 200, 12


class TaskInspector(widgets.VBox):
    def __init__(self, graph=None, monitor=None, task=None, **kwargs):
        self.picker = widgets.Dropdown(options=[("(choose a task)", "")], value="",
                                       description="Task", layout=widgets.Layout(width="460px"))
        self.details = widgets.HTML()
        self.details.add_class("rl-inspector-details")
        super().__init__([self.picker, self.details], **kwargs)
        self.add_class("rl-inspector")
        self._monitor = monitor or get_monitor()
        self._model = None
        self._listed: tuple = ()
        self._picker_refreshed = float("-inf")
        self.task_id = ""
        self.picker.observe(self._on_pick, "value")
        if graph is not None:
            graph.observe(lambda change: self.inspect(change["new"]), "selected")
        self._monitor.subscribe(self._on_update)
        if task is not None:
            self.inspect(task)

    def __repr__(self) -> str:  # what a notebook shows where the widget is not rendered
        return "TaskInspector(details of one task)"

    def inspect(self, task) -> None:
        """Show one task: by its id, or by an ObjectRef it returns."""
        task_id = task
        if hasattr(task, "hex"):  # an ObjectRef: find the task that returns it
            self._monitor.poll()  # the model must know the task by now
            task_id = self._monitor.model.producer(task.hex()) or task.hex()
        with self._monitor.lock:
            self.task_id = task_id or ""
            if any(value == self.task_id for _, value in self.picker.options):
                self.picker.value = self.task_id
            self._render()

    def _on_pick(self, change) -> None:
        if change["new"] and change["new"] != self.task_id:
            self.inspect(change["new"])

    def _on_update(self, model, update) -> None:
        self._model = model
        if update.reset:
            self._picker_refreshed = float("-inf")
        self._refresh_picker(model, update.now)
        if not self.task_id:
            return
        if update.reset or self.task_id in update.changes.tasks \
                or self.task_id in update.changes.actors:
            self._render()

    def _refresh_picker(self, model, now: float) -> None:
        if now - self._picker_refreshed < PICKER_REFRESH:
            return
        self._picker_refreshed = now
        newest = list(islice(reversed(model.tasks.values()), PICKER_SIZE))
        shown = {t.task_id for t in newest}
        failed = [model.tasks[i] for i in reversed(model.failed)
                  if i in model.tasks and i not in shown]
        listed = tuple((t.task_id, t.state) for t in newest + failed)
        if listed == self._listed:
            return
        self._listed = listed
        options = [("(choose a task)", "")]
        options += [(f"{t.name} · {t.state} · {t.task_id[1:7]}", t.task_id)
                    for t in newest + failed]
        value = self.task_id if any(v == self.task_id for _, v in options) else ""
        self.picker.options = options  # (passes through the first option: ignored by _on_pick)
        self.picker.value = value

    def _render(self) -> None:
        model = self._model
        if model is None or not self.task_id:
            self.details.value = ""
            return
        task = model.tasks.get(self.task_id)
        if task is not None:
            self.details.value = describe_task(task, model)
            return
        actor = model.actors.get(self.task_id)
        if actor is not None:
            self.details.value = describe_actor(actor, model)
            return
        if self.task_id.startswith("group:"):  # a node of the grouped graph
            self.details.value = describe_function(self.task_id[len("group:"):], model)
            return
        self.details.value = _note(f"Task {self.task_id} is not known (any more): the "
                                   "inspector keeps the newest tasks of the running cluster.")

    def close(self) -> None:
        self._monitor.unsubscribe(self._on_update)
        super().close()


def describe_task(task, model) -> str:
    """The inspector's HTML for one task."""
    rows = [("Function", task.name + ("  (actor method)" if task.kind == "actor_call" else "")),
            ("Task id", task.task_id),
            ("State", task.state + (f" ({task.detail})" if task.detail else "")),
            ("Arguments", task.arguments or "(none)"),
            ("Resources", ", ".join(f"{k}: {v:g}" for k, v in task.resources.items())
             or "(none)"),
            ("Worker pid", str(task.pid) if task.pid else "(not started)")]
    if task.attempts > 1:
        rows.append(("Attempts", str(task.attempts)))
    producers = [model.tasks[p].name for p in model.producers_of(task)]
    if producers:
        rows.append(("Waits for", ", ".join(producers)))
    submitted = task.submitted_at
    for state in ("queued", "running", *sorted(ENDED)):
        if state in task.times:
            rows.append((f"{state.capitalize()} at", f"+{task.times[state] - submitted:.3f} s"))
    rows.append(("Submitted", time.strftime("%H:%M:%S", time.localtime(submitted))
                 + f".{int(submitted % 1 * 1000):03d}"))
    if task.duration is not None:
        rows.append(("Ran for", f"{task.duration:.3f} s"))
    parts = [_table(rows)]
    if task.state in ("finished", "failed") and task.return_ids:
        parts.append(_result(task))
    if task.output:
        text = "".join(chunk for _, chunk in task.output)
        parts.append(f"<div class='rl-inspector-output'><b>Output</b>"
                     f"<pre style='line-height:1.3'>{html.escape(text)}</pre></div>")
    return "".join(parts)


def describe_actor(actor, model) -> str:
    calls = [t for t in model.tasks.values() if t.actor_id == actor.actor_id]
    rows = [("Actor", actor.class_name + (f" named {actor.name!r}" if actor.name else "")),
            ("Actor id", actor.actor_id),
            ("State", actor.state + (f": {actor.detail}" if actor.detail else "")),
            ("Process pid", str(actor.pid) if actor.pid else "(not started)"),
            ("Calls seen", ", ".join(f"{n} {s}" for s, n in _count(calls).items()) or "none")]
    return _table(rows)


def describe_function(name: str, model) -> str:
    counts = dict.fromkeys(TASK_STATES, 0)
    for (_, function), group in model.groups.items():
        if function == name:
            for state, n in group.items():
                counts[state] += n
    rows = [("Function", name), ("Tasks", str(sum(counts.values())))]
    rows += [(state.capitalize(), str(n)) for state, n in counts.items() if n]
    return _table(rows) + _note("The graph groups tasks by function beyond its node limit: "
                                "pick one task from the list above to inspect it.")


def _count(tasks) -> dict:
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.state] = counts.get(task.state, 0) + 1
    return counts


def _result(task) -> str:
    from jupyter_raylite.observe.monitor import current_source
    source = current_source()
    if source is None:
        return _note("The cluster was shut down: its results went with it.")
    peek = getattr(source, "peek", None)
    if peek is None:
        return _note("The result is not available from this backend.")
    try:
        state, value = peek(task.return_ids[0])
    except Exception as exc:  # a result that cannot be unpickled here is still a finding
        return _note(f"The result could not be read: {type(exc).__name__}: {exc}")
    if state == "lost":
        return _note("The result was freed: no ObjectRef to it is left.")
    if state == "failed":
        text = str(value)
        # A RayTaskError stands for the exception the task raised: name that one.
        kind = type(getattr(value, "cause", None) or value).__name__
        return (f"<div class='rl-inspector-error'><b>Error: {html.escape(kind)}"
                f"</b><pre style='line-height:1.3'>{html.escape(text)}</pre></div>")
    if state == "ready":
        return (f"<div class='rl-inspector-result'><b>Result</b>"
                f"<pre style='line-height:1.3'>{html.escape(_preview.repr(value))}</pre></div>")
    return ""


_CELL = "text-align:left;padding:1px 14px 1px 0;vertical-align:top"


def _table(rows) -> str:
    body = "".join(f"<tr><th style='{_CELL}'>{html.escape(k)}</th>"
                   f"<td style='{_CELL}'>{html.escape(v)}</td></tr>" for k, v in rows)
    # ipywidgets' HTML sets a 28 px line height meant for one-line labels.
    return f"<table class='rl-inspector-table' style='line-height:1.4'>{body}</table>"


def _note(text: str) -> str:
    return f"<div class='rl-inspector-note'><i>{html.escape(text)}</i></div>"
