"""Resource meters: what the cluster uses now, next to the code that uses it.

CPU, GPU and custom resources in use of their total; each worker's CPU% and memory; the
kernel's own memory; the object store's bytes and objects; tasks by state; tasks finished per
second.  Built from core ipywidgets (progress bars and labels): only values that changed travel
to the front end, a few times a second at most.
"""

from __future__ import annotations

import html
import os

import ipywidgets as widgets
import psutil

from jupyter_raylite.observe.monitor import get_monitor

# Bookkeeping entries of the resource table that are not something a task asks for by count.
_HIDDEN = ("memory", "object_store_memory")
MiB = 1024 * 1024


class ResourceMeters(widgets.VBox):
    def __init__(self, monitor=None, **kwargs):
        self._bars: dict[str, tuple] = {}
        self._resources = widgets.VBox()
        self.store = widgets.HTML()
        self.tasks = widgets.HTML()
        self.throughput = widgets.HTML()
        self.kernel_memory = widgets.HTML()
        self.workers = widgets.HTML()
        for part, hook in ((self.store, "store"), (self.tasks, "tasks"),
                           (self.throughput, "throughput"), (self.kernel_memory, "kernel"),
                           (self.workers, "workers")):
            part.add_class(f"rl-meter-{hook}")
        super().__init__([self._resources, self.tasks, self.throughput, self.store,
                          self.kernel_memory, self.workers], **kwargs)
        self.add_class("rl-meters")
        # What the meters show, as numbers: for tests and for anyone scripting around them.
        self.values: dict = {}
        self._processes: dict[int, psutil.Process] = {}
        self._kernel = psutil.Process(os.getpid())
        self._monitor = monitor or get_monitor()
        self._monitor.subscribe(self._on_update)

    def __repr__(self) -> str:  # what a notebook shows where the widget is not rendered
        return "ResourceMeters(live resource meters)"

    def _on_update(self, model, update) -> None:
        stats = update.statistics
        if stats is None:
            self.values = {"connected": False}
            self.tasks.value = ("<i>No local cluster is running: call ray.init() (or run a "
                                "task). Under local_mode tasks run in the kernel itself, "
                                "with nothing to show here.</i>")
            return
        values: dict = {"connected": True}
        for name, total in stats.total.items():
            if name in _HIDDEN or name.startswith("node:"):
                continue
            used = total - stats.available.get(name, 0.0)
            values[name] = (used, total)
            bar, label = self._meter(name)
            bar.max = total or 1
            bar.value = used
            label.value = f"{used:g} / {total:g} {html.escape(name)}"
        counts = model.states
        values["tasks"] = counts
        self.tasks.value = "Tasks: " + " · ".join(
            f"<span class='rl-count rl-s-{state}'>{state} <b>{n}</b></span>"
            for state, n in counts.items())
        values["throughput"] = model.throughput()
        self.throughput.value = f"Throughput: <b>{values['throughput']:,.0f}</b> tasks/s " \
                                "(last 5 s)"
        objects = stats.objects
        values["objects"] = objects.objects
        values["store_bytes"] = objects.shared_memory_bytes + objects.inline_bytes
        self.store.value = (
            f"Object store: <b>{objects.objects}</b> objects ({objects.pending} pending), "
            f"{values['store_bytes'] / MiB:,.1f} MiB "
            f"({objects.segments} in shared memory)")
        values["kernel_rss"] = self._kernel.memory_info().rss
        self.kernel_memory.value = f"Kernel memory: <b>{values['kernel_rss'] / MiB:,.0f}</b> MiB"
        values["workers"] = self._worker_rows(stats.worker_pids, model)
        self.workers.value = _worker_table(values["workers"])
        self.values = values

    def _meter(self, name: str) -> tuple:
        """The (progress bar, label) of one resource, made on first sight."""
        if name not in self._bars:
            bar = widgets.FloatProgress(min=0, max=1, layout=widgets.Layout(width="260px"))
            bar.add_class(f"rl-meter-{_css_name(name)}")
            label = widgets.HTML()
            self._bars[name] = (bar, label)
            self._resources.children = [*self._resources.children, widgets.HBox(
                [widgets.Label(name, layout=widgets.Layout(width="90px")), bar, label])]
        return self._bars[name]

    def _worker_rows(self, worker_pids: dict, model) -> list[dict]:
        rows = []
        for worker_id, (pid, actor_id) in sorted(worker_pids.items()):
            process = self._processes.get(pid)
            try:
                if process is None:  # cpu_percent counts from the first call on this object
                    process = self._processes[pid] = psutil.Process(pid)
                    process.cpu_percent(None)
                cpu, rss = process.cpu_percent(None), process.memory_info().rss
            except psutil.Error:
                continue
            actor = model.actors.get(actor_id) if actor_id else None
            rows.append({"worker": worker_id, "pid": pid, "cpu_percent": cpu, "rss": rss,
                         "role": f"actor {actor.class_name}" if actor else "tasks"})
        alive = {row["pid"] for row in rows}
        for pid in list(self._processes):
            if pid not in alive:
                del self._processes[pid]
        return rows

    def close(self) -> None:
        self._monitor.unsubscribe(self._on_update)
        super().close()


def _worker_table(rows: list[dict]) -> str:
    if not rows:
        return "<i>No worker process yet.</i>"
    cell = "padding:1px 14px 1px 0;text-align:{}"
    left, right = cell.format("left"), cell.format("right")
    body = "".join(
        f"<tr><td style='{left}'>{row['pid']}</td>"
        f"<td style='{left}'>{html.escape(row['role'])}</td>"
        f"<td style='{right}'>{row['cpu_percent']:.0f}%</td>"
        f"<td style='{right}'>{row['rss'] / MiB:,.0f} MiB</td></tr>" for row in rows)
    return (f"<table class='rl-workers' style='line-height:1.4'><tr><th style='{left}'>worker pid</th>"
            f"<th style='{left}'>runs</th><th style='{right}'>CPU</th>"
            f"<th style='{right}'>memory</th></tr>{body}</table>")


def _css_name(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).lower()
