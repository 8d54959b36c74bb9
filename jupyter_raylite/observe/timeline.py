"""When each task ran and where: Ray's ``timeline()`` (Chrome trace events, for
chrome://tracing or https://ui.perfetto.dev) and a matplotlib Gantt chart of tasks per worker.

Both read the runtime's event log from its start (core/events.py), so they cover the tasks the
log still holds (about 50,000 at its default size); execution times are the worker's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass



@dataclass(frozen=True)
class Span:
    """One run of a task or actor call on a worker (a task retried has one per attempt)."""

    task_id: str
    name: str
    kind: str
    pid: int
    started: float
    ended: float
    state: str  # how the run ended: finished, failed, cancelled, or retried
    arguments: str


def spans(source) -> list[Span]:
    """Every run the event log still holds, in order of start."""
    if hasattr(source, "timeline"):  # the Ray backend: Ray records the runs itself
        return _spans_from_trace(source.timeline())
    _, events, _ = source.events_since(0)
    submitted: dict[str, tuple] = {}  # task id -> (name, kind, arguments)
    found = []
    for event in events:
        if event[0] == "task":
            submitted[event[2]] = (event[3], event[4], event[10])
        elif event[0] == "state" and event[6] is not None and event[4] is not None:
            name, kind, arguments = submitted.get(event[2], ("?", "task", ""))
            state = "retried" if event[3] == "queued" else event[3]
            found.append(Span(event[2], name, kind, event[4], *event[6], state, arguments))
    found.sort(key=lambda span: span.started)
    return found


def _spans_from_trace(trace: list[dict]) -> list[Span]:
    found = []
    for event in trace:
        if event.get("ph") != "X" or not str(event.get("cat", "")).startswith("task::"):
            continue
        start = event["ts"] / 1e6
        name = str(event["cat"])[len("task::"):]
        worker = str(event.get("tid", "")).rpartition(":")[2][:8]
        found.append(Span(event.get("args", {}).get("task_id", ""), name, "task", worker,
                          start, start + event.get("dur", 0) / 1e6, "finished", ""))
    found.sort(key=lambda span: span.started)
    return found


def chrome_trace(source) -> list[dict]:
    """Ray's timeline format: one complete ("X") event per run, times in microseconds."""
    return [{"cat": f"task::{span.name}", "name": span.name, "pid": "127.0.0.1",
             "tid": f"worker:{span.pid}", "ts": span.started * 1e6,
             "dur": (span.ended - span.started) * 1e6, "ph": "X",
             "cname": "generic_work" if span.state == "finished" else "terrible",
             "args": {"name": span.name, "task_id": span.task_id, "state": span.state,
                      "arguments": span.arguments}}
            for span in spans(source)]


def write_chrome_trace(source, filename) -> None:
    if hasattr(source, "timeline"):  # the Ray backend: Ray's own file
        source.timeline(filename)
        return
    with open(filename, "w") as file:
        json.dump(chrome_trace(source), file)


def gantt(source, max_legend: int = 10):
    """A matplotlib Figure: one row per worker process, one bar per run, coloured by function;
    runs that failed (or were retried) are outlined in red."""
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
                         edgecolors="white" if span.state == "finished" else "#c23b3b",
                         linewidth=0.5 if span.state == "finished" else 1.5)
    axes.set_yticks(range(len(workers)),
                    [f"pid {w}" if isinstance(w, int) else f"worker {w}" for w in workers])
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
