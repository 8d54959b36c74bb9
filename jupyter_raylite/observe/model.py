"""The cluster as an observer sees it: tasks, actors and the links between them, folded from
the runtime's events (core/events.py).

The model is plain data with no thread and no widget: the monitor feeds it, the widgets read
it, and tests drive it with hand-written events.  It keeps the newest ``capacity`` tasks; what
it drops is counted, never silently lost.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WAITING, QUEUED, RUNNING, FINISHED, FAILED, CANCELLED = (
    "waiting", "queued", "running", "finished", "failed", "cancelled")
TASK_STATES = (WAITING, QUEUED, RUNNING, FINISHED, FAILED, CANCELLED)
ENDED = frozenset((FINISHED, FAILED, CANCELLED))

# What the inspector keeps of a task's output: enough to read, bounded for long loops.
OUTPUT_LIMIT = 20_000
THROUGHPUT_WINDOW = 5.0


def _field(index: int) -> property:
    """A field of the task's "task" event (see core/events.py)."""
    return property(lambda self: self.event[index])


class TaskView:
    """One task or actor call.  Built from its "task" event, which it keeps as is (so that
    folding thousands of events a second stays cheap), plus what later events changed."""

    __slots__ = ("event", "state", "pid", "detail", "queued_at", "running_at", "ended_at",
                 "started", "ended", "attempts", "depth", "output", "output_chars")

    task_id = _field(2)
    name = _field(3)
    kind = _field(4)  # "task" or "actor_call"
    parent = _field(5)
    dependencies = _field(6)
    return_ids = _field(7)
    cell = _field(8)
    resources = _field(9)
    arguments = _field(10)
    actor_id = _field(11)
    submitted_at = _field(1)

    def __init__(self, event: tuple, depth: int):
        self.event = event
        self.state = event[12]
        self.pid = self.detail = None
        self.queued_at = self.running_at = self.ended_at = None  # head's clock, last entry
        self.started = self.ended = None  # execution, by the worker's clock
        self.attempts = 0
        self.depth = depth  # longest chain of dependencies before it: its column
        self.output = None  # [(stream, text)] once it printed
        self.output_chars = 0

    @property
    def duration(self) -> float | None:
        if self.started is not None and self.ended is not None:
            return self.ended - self.started
        return None

    @property
    def times(self) -> dict:
        """When it last entered each state it went through."""
        ended = {self.state: self.ended_at} if self.state in ENDED else {}
        return {state: t for state, t in (("queued", self.queued_at),
                                          ("running", self.running_at), *ended.items())
                if t is not None}


@dataclass
class ActorView:
    actor_id: str
    class_name: str
    name: str | None
    cell: str | None
    created_at: float
    state: str = "pending"
    pid: int | None = None
    detail: str | None = None


@dataclass
class Changes:
    """What one batch of events touched."""

    tasks: set = field(default_factory=set)
    actors: set = field(default_factory=set)
    new_tasks: list = field(default_factory=list)  # in submission order
    groups: set = field(default_factory=set)  # (cell, function) whose counts changed

    def __bool__(self) -> bool:
        return bool(self.tasks or self.actors or self.groups)


class ClusterModel:
    """Per-task detail for the newest ``capacity`` tasks, folded from events; counts of every
    task by (cell, function) and state, read from the runtime as they are (``set_counts``).

    At thousands of tasks a second an observer cannot afford detail on each one: ``apply``
    can be told to fold only the newest part of a batch (``detail_from``).  Older events then
    only update tasks the model already holds; counts stay exact either way.
    """

    def __init__(self, capacity: int = 20_000):
        self.capacity = capacity
        self.tasks: dict[str, TaskView] = {}  # submission order
        self.actors: dict[str, ActorView] = {}
        self.groups: dict[tuple, dict] = {}  # (cell, function) -> {state: count}
        self.group_edges: set[tuple] = set()  # (cell, producer name, consumer name)
        self.failed: deque = deque(maxlen=100)  # ids of the latest failed tasks
        self.dropped = 0  # tasks evicted to stay within capacity
        self.skipped = 0  # tasks seen only in the counts, never in detail
        self.missed = 0  # events that fell out of the runtime's log before they were read
        self._producers: dict[str, str] = {}  # object id -> the task that returns it
        self._ended: deque = deque()  # (when, tasks ended so far), for the throughput

    # -- folding ------------------------------------------------------------------------------
    def apply(self, events, missed: int = 0, detail_from: int = 0) -> Changes:
        """Fold a batch of events in; before index ``detail_from`` only what changes tasks
        already held.  This runs for every task the cluster sees, on the kernel's GIL: keep
        it lean."""
        self.missed += missed
        changes = Changes()
        changed, new = changes.tasks, changes.new_tasks
        tasks = self.tasks
        for index, event in enumerate(events):
            kind = event[0]
            if kind == "state":
                task = tasks.get(event[2])
                if task is None:  # not held: evicted, skipped, or from before we started
                    continue
                state, t = event[3], event[1]
                task.state = state
                if state == RUNNING:
                    task.running_at, task.pid = t, event[4]
                    task.attempts += 1
                elif state == QUEUED:
                    task.queued_at = t
                    if event[5] is not None:
                        task.detail = event[5]
                elif state in ENDED:
                    task.ended_at = t
                    if event[4] is not None:
                        task.pid = event[4]
                    if event[5] is not None:
                        task.detail = event[5]
                    if event[6] is not None:
                        task.started, task.ended = event[6]
                    if state == FAILED:
                        self.failed.append(event[2])
                changed.add(event[2])
            elif kind == "task":
                if index < detail_from:
                    self.skipped += 1
                    continue
                self._on_task(event)
                changed.add(event[2])
                new.append(event[2])
            elif kind == "output":
                if self._on_output(event):
                    changed.add(event[2])  # an open inspector shows it as it comes
            elif kind == "actor":
                self._on_actor(event, changes)
        if len(tasks) > self.capacity:
            self._evict()
        return changes

    def set_counts(self, counts: dict, now: float, changes: Changes) -> None:
        """Take the runtime's counts of tasks by (cell, function) and state."""
        for key, counter in counts.items():
            full = dict.fromkeys(TASK_STATES, 0)
            full.update(counter)
            if self.groups.get(key) != full:
                self.groups[key] = full
                changes.groups.add(key)
        ended = sum(c[s] for c in self.groups.values() for s in ENDED)
        self._ended.append((now, ended))
        while len(self._ended) > 1 and self._ended[0][0] < now - THROUGHPUT_WINDOW:
            self._ended.popleft()

    def _on_task(self, event) -> None:
        # Columns: independent tasks and actors first, then whatever waits for them.
        depth = 0 if event[11] is None else 1
        for oid in event[6]:
            producer = self.tasks.get(self._producers.get(oid))
            if producer is not None:
                depth = max(depth, producer.depth + 1)
                self.group_edges.add((event[8], producer.name, event[3]))
        task_id = event[2]
        task = self.tasks[task_id] = TaskView(event, depth)
        if task.state == QUEUED:
            task.queued_at = event[1]
        for oid in event[7]:
            self._producers[oid] = task_id

    def _on_output(self, event) -> bool:
        _, _t, task_id, stream, text = event
        task = self.tasks.get(task_id)
        if task is None or task.output_chars >= OUTPUT_LIMIT:
            return False
        if task.output is None:
            task.output = []
        text = text[:OUTPUT_LIMIT - task.output_chars]
        task.output.append((stream, text))
        task.output_chars += len(text)
        if task.output_chars >= OUTPUT_LIMIT:
            task.output.append(("stderr", "\n… (output truncated)\n"))
        return True

    def _on_actor(self, event, changes: Changes) -> None:
        _, t, actor_id, class_name, state, pid, detail, cell, name = event
        actor = self.actors.get(actor_id)
        if actor is None:
            actor = self.actors[actor_id] = ActorView(actor_id, class_name, name, cell, t)
        actor.state = state
        if pid is not None:
            actor.pid = pid
        if detail is not None:
            actor.detail = detail
        changes.actors.add(actor_id)

    def _evict(self) -> None:
        while len(self.tasks) > self.capacity:
            task_id = next(iter(self.tasks))
            task = self.tasks.pop(task_id)
            for oid in task.return_ids:
                self._producers.pop(oid, None)
            self.dropped += 1

    # -- reading ------------------------------------------------------------------------------
    @property
    def states(self) -> dict:
        """Every task submitted so far, by state."""
        totals = dict.fromkeys(TASK_STATES, 0)
        for group in self.groups.values():
            for state, count in group.items():
                totals[state] += count
        return totals

    @property
    def functions(self) -> dict:
        """Every task submitted so far, by function name."""
        totals: dict[str, int] = {}
        for (_, name), group in self.groups.items():
            totals[name] = totals.get(name, 0) + sum(group.values())
        return totals

    @property
    def cells(self) -> list:
        """The cells that submitted work, in order of their first submission."""
        found = dict.fromkeys(cell for cell, _ in self.groups)
        for actor in self.actors.values():
            found.setdefault(actor.cell)
        return list(found)

    def producer(self, object_id: str) -> str | None:
        """The id of the task that returns this object, if the model holds it."""
        task_id = self._producers.get(object_id)
        return task_id if task_id in self.tasks else None

    def producers_of(self, task: TaskView) -> list[str]:
        """The tasks whose results ``task`` takes as arguments (those still in the model)."""
        found = (self._producers.get(oid) for oid in task.dependencies)
        return [task_id for task_id in found if task_id in self.tasks]

    def throughput(self) -> float:
        """Tasks and actor calls that ended per second, over the last few seconds."""
        if len(self._ended) < 2:
            return 0.0
        (t0, ended0), (t1, ended1) = self._ended[0], self._ended[-1]
        return (ended1 - ended0) / (t1 - t0) if t1 > t0 else 0.0
