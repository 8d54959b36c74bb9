"""The scheduling rules, as a pure state machine: no threads, no I/O, no clock.

The head feeds it events (a task became runnable, a worker started, blocked in ``get``,
finished, died) and asks ``schedule()`` for decisions: which runnable task goes to which idle
worker, and how many more workers to start.  Everything here is plain data, so the rules are
unit-tested in microseconds (tests/unit/test_scheduler.py).

Rules:
- Runnable tasks are dispatched in submission order, but a task that does not fit the free
  resources does not hold back smaller ones behind it.
- A task holds its resource demand from dispatch until it finishes.  While its worker is blocked
  in ``get``/``wait`` the demand's CPU is given back, so nested tasks can use it; it is taken
  again (possibly over-committing for a moment) when the worker resumes.  This is what keeps a
  full pool of tasks that wait on their own sub-tasks from deadlocking.
- A worker is started only when a task fits the free resources and no idle worker can take it,
  so the pool grows past ``num_cpus`` only while workers are blocked.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from jupyter_raylite.core.resources import ResourcePool

# A hard cap so that a storm of zero-CPU tasks cannot fork the machine to death.
MAX_WORKERS = 512


@dataclass
class WorkerSlot:
    worker_id: str
    started: bool = False
    task_id: str | None = None
    demand: dict[str, float] = field(default_factory=dict)
    blocked: int = 0  # how many of its threads wait in get/wait right now


@dataclass(frozen=True)
class Dispatch:
    task_id: str
    worker_id: str


class Scheduler:
    def __init__(self, total: dict[str, float], new_worker_id):
        self.pool = ResourcePool(total)
        self._new_worker_id = new_worker_id
        # Runnable tasks, one FIFO per distinct demand ("shape"): a pass over the shapes, not
        # over every queued task, keeps scheduling cheap with thousands of tasks queued.
        self._queues: dict[tuple, deque] = {}
        self._demands: dict[tuple, dict[str, float]] = {}
        self._shape_of: dict[str, tuple] = {}
        self._sequence = itertools.count()
        self.workers: dict[str, WorkerSlot] = {}

    # -- events -------------------------------------------------------------------------------
    def enqueue(self, task_id: str, demand: dict[str, float]) -> None:
        key = tuple(sorted(demand.items()))
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            self._demands[key] = demand
        queue.append((next(self._sequence), task_id))
        self._shape_of[task_id] = key

    def dequeue(self, task_id: str) -> bool:
        """Drop a queued task (cancelled); False if it is not waiting in the queue."""
        key = self._shape_of.pop(task_id, None)
        if key is None:
            return False
        queue = self._queues[key]
        for item in queue:
            if item[1] == task_id:
                queue.remove(item)
                return True
        return False

    def worker_started(self, worker_id: str) -> None:
        self.workers[worker_id].started = True

    def task_finished(self, worker_id: str) -> None:
        slot = self.workers[worker_id]
        self._give_back(slot)
        slot.task_id, slot.demand, slot.blocked = None, {}, 0

    def worker_blocked(self, worker_id: str) -> None:
        slot = self.workers.get(worker_id)  # actors' workers are not in the pool
        if slot is None or slot.task_id is None:
            return
        slot.blocked += 1
        if slot.blocked == 1:
            self.pool.release(_cpu_part(slot.demand))

    def worker_unblocked(self, worker_id: str) -> None:
        slot = self.workers.get(worker_id)
        if slot is None or not slot.blocked:
            return
        slot.blocked -= 1
        if slot.blocked == 0:
            self.pool.acquire(_cpu_part(slot.demand))

    def worker_died(self, worker_id: str) -> str | None:
        """Forget a worker; returns the task it was running, if any."""
        slot = self.workers.pop(worker_id, None)
        if slot is None:
            return None
        self._give_back(slot)
        return slot.task_id

    def _give_back(self, slot: WorkerSlot) -> None:
        if slot.task_id is None:
            return
        demand = slot.demand
        if slot.blocked:
            demand = {k: v for k, v in demand.items() if k != "CPU"}
        self.pool.release(demand)

    # -- decisions ----------------------------------------------------------------------------
    def schedule(self) -> tuple[list[Dispatch], list[str]]:
        """Assign runnable tasks to idle workers; return (dispatches, ids of workers to start)."""
        idle = [w for w in self.workers.values() if w.started and w.task_id is None]
        dispatches: list[Dispatch] = []
        while idle:
            key = self._oldest_fitting_shape()
            if key is None:
                break
            _, task_id = self._queues[key].popleft()
            del self._shape_of[task_id]
            demand = self._demands[key]
            self.pool.acquire(demand)
            slot = idle.pop()
            slot.task_id, slot.demand = task_id, demand
            dispatches.append(Dispatch(task_id, slot.worker_id))
        return dispatches, self._workers_to_start(idle)

    def _oldest_fitting_shape(self):
        best, best_sequence = None, None
        for key, queue in self._queues.items():
            if queue and (best is None or queue[0][0] < best_sequence) \
                    and self.pool.fits(self._demands[key]):
                best, best_sequence = key, queue[0][0]
        return best

    def _workers_to_start(self, idle: list) -> list[str]:
        """Workers for the tasks that fit the free resources but found no idle worker."""
        if idle:
            return []
        room = MAX_WORKERS - len(self.workers)
        starting = sum(1 for w in self.workers.values() if not w.started)
        # Fitting tasks reserve their demand for the length of this call only, so that they
        # ask for as many new workers as the resources allow, no more.
        reserved: list[dict[str, float]] = []
        for key, queue in self._queues.items():
            demand = self._demands[key]
            for _ in range(len(queue)):
                if len(reserved) >= room + starting or not self.pool.fits(demand):
                    break
                self.pool.acquire(demand)
                reserved.append(demand)
        for demand in reserved:
            self.pool.release(demand)
        to_start = []
        for _ in range(min(max(len(reserved) - starting, 0), room)):
            worker_id = self._new_worker_id()
            self.workers[worker_id] = WorkerSlot(worker_id)
            to_start.append(worker_id)
        return to_start

    def add_workers(self, count: int) -> list[str]:
        """Start workers ahead of demand (the pool init() warms up)."""
        ids = []
        for _ in range(min(count, MAX_WORKERS - len(self.workers))):
            worker_id = self._new_worker_id()
            self.workers[worker_id] = WorkerSlot(worker_id)
            ids.append(worker_id)
        return ids

    # -- views --------------------------------------------------------------------------------
    @property
    def queued(self) -> int:
        return len(self._shape_of)



def _cpu_part(demand: dict[str, float]) -> dict[str, float]:
    return {"CPU": demand["CPU"]} if "CPU" in demand else {}
