"""When each task ran and where: Ray's ``timeline()`` (Chrome trace events, for
chrome://tracing or https://ui.perfetto.dev) and a matplotlib Gantt chart of tasks per worker.

Both read the runtime's event log from its start (core/events.py), so they cover the tasks the
log still holds (about 50,000 at its default size); execution times are the worker's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from jupyter_raylite.observe.model import ClusterModel


@dataclass(frozen=True)
class Span:
    task_id: str
    name: str
    kind: str
    pid: int
    started: float
    ended: float
    state: str
    arguments: str


def spans(source) -> list[Span]:
    """Every task and actor call that ran, in order of start."""
    model = ClusterModel(capacity=10**9)
    _, events, _ = source.events_since(0)
    model.apply(events)
    found = [Span(t.task_id, t.name, t.kind, t.pid, t.started, t.ended, t.state, t.arguments)
             for t in model.tasks.values() if t.started is not None and t.pid is not None]
    found.sort(key=lambda span: span.started)
    return found


def chrome_trace(source) -> list[dict]:
    """Ray's timeline format: one complete ("X") event per run, times in microseconds."""
    return [{"cat": f"task::{span.name}", "name": span.name, "pid": "127.0.0.1",
             "tid": f"worker:{span.pid}", "ts": span.started * 1e6,
             "dur": (span.ended - span.started) * 1e6, "ph": "X",
             "cname": "terrible" if span.state == "failed" else "generic_work",
             "args": {"name": span.name, "task_id": span.task_id, "state": span.state,
                      "arguments": span.arguments}}
            for span in spans(source)]


def write_chrome_trace(source, filename) -> None:
    with open(filename, "w") as file:
        json.dump(chrome_trace(source), file)


def gantt(source, max_legend: int = 10):
    """A matplotlib Figure: one row per worker process, one bar per run, coloured by function;
    failed runs are outlined in red."""
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    runs = spans(source)
    figure = Figure(figsize=(9, 1.2 + 0.35 * max(len({s.pid for s in runs}), 1)),
                    layout="constrained")
    axes = figure.add_subplot()
    if not runs:
        axes.text(0.5, 0.5, "No task has run yet.", ha="center", va="center")
        axes.set_axis_off()
        return figure
    origin = runs[0].started
    workers = sorted({span.pid for span in runs})
    row_of = {pid: row for row, pid in enumerate(workers)}
    names = list(dict.fromkeys(span.name for span in runs))
    palette = matplotlib.colormaps["tab10"]
    colour_of = {name: palette(i % 10) for i, name in enumerate(names)}
    # Tasks of a millisecond next to tasks of seconds: draw each at least 1/300 of the span
    # wide so that every run stays visible.
    least = (max(span.ended for span in runs) - origin) / 300
    for span in runs:
        axes.broken_barh([(span.started - origin, max(span.ended - span.started, least))],
                         (row_of[span.pid] - 0.4, 0.8), facecolors=colour_of[span.name],
                         edgecolors="#c23b3b" if span.state == "failed" else "white",
                         linewidth=1.5 if span.state == "failed" else 0.5)
    axes.set_yticks(range(len(workers)), [f"pid {pid}" for pid in workers])
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the first task started")
    axes.set_title(f"{len(runs)} task runs on {len(workers)} worker processes")
    handles = [Patch(color=colour_of[name], label=name) for name in names[:max_legend]]
    if len(names) > max_legend:
        handles.append(Patch(color="white", label=f"… {len(names) - max_legend} more"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
                frameon=False)
    axes.grid(axis="x", alpha=0.3)
    return figure
