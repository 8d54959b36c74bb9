"""The scheduling rules, on the pure state machine: no processes, no threads."""

from __future__ import annotations

import itertools

from jupyter_raylite.core.scheduler import Dispatch, Scheduler


def make(total=None):
    ids = (f"w{i}" for i in itertools.count())
    return Scheduler(total or {"CPU": 2.0}, lambda: next(ids))


def started(scheduler, count):
    ids = scheduler.add_workers(count)
    for worker_id in ids:
        scheduler.worker_started(worker_id)
    return ids


def test_scheduler_dispatches_in_submission_order_to_idle_workers():
    s = make()
    started(s, 2)
    for task in ("a", "b", "c"):
        s.enqueue(task, {"CPU": 1.0})
    dispatches, to_start = s.schedule()
    assert [d.task_id for d in dispatches] == ["a", "b"]
    assert to_start == [] and s.queued == 1


def test_scheduler_does_not_let_a_big_task_hold_back_small_ones():
    s = make({"CPU": 2.0})
    started(s, 2)
    s.enqueue("one", {"CPU": 1.0})
    s.enqueue("big", {"CPU": 2.0})
    s.enqueue("small", {"CPU": 1.0})
    dispatches, _ = s.schedule()
    assert sorted(d.task_id for d in dispatches) == ["one", "small"]


def test_scheduler_starts_only_as_many_workers_as_resources_allow():
    s = make({"CPU": 2.0})
    for i in range(10):
        s.enqueue(f"t{i}", {"CPU": 1.0})
    dispatches, to_start = s.schedule()
    assert dispatches == [] and len(to_start) == 2
    _, again = s.schedule()
    assert again == []  # the two starting workers are counted


def test_scheduler_blocked_worker_gives_its_cpu_back_so_nested_tasks_run():
    s = make({"CPU": 1.0})
    (w0,) = started(s, 1)
    s.enqueue("parent", {"CPU": 1.0})
    assert s.schedule()[0] == [Dispatch("parent", w0)]
    s.enqueue("child", {"CPU": 1.0})
    assert s.schedule() == ([], [])  # the pool is full
    s.worker_blocked(w0)
    dispatches, to_start = s.schedule()
    assert dispatches == [] and len(to_start) == 1  # a new worker for the child
    s.worker_started(to_start[0])
    assert s.schedule()[0] == [Dispatch("child", to_start[0])]
    s.task_finished(to_start[0])
    s.worker_unblocked(w0)
    s.task_finished(w0)
    assert s.pool.statistics().available["CPU"] == 1.0


def test_scheduler_resumed_worker_may_overcommit_then_settles():
    s = make({"CPU": 1.0})
    (w0, w1) = started(s, 2)
    s.enqueue("parent", {"CPU": 1.0})
    s.schedule()
    s.worker_blocked(w0)
    s.enqueue("child", {"CPU": 1.0})
    s.schedule()
    s.worker_unblocked(w0)  # the parent resumes while the child still runs
    assert s.pool.statistics().available["CPU"] == 0
    s.task_finished(w1)
    s.task_finished(w0)
    assert s.pool.statistics().available["CPU"] == 1.0


def test_scheduler_dead_worker_returns_its_task_and_resources():
    s = make({"CPU": 1.0, "GPU": 1.0})
    (w0,) = started(s, 1)
    s.enqueue("t", {"CPU": 1.0, "GPU": 1.0})
    s.schedule()
    assert s.worker_died(w0) == "t"
    assert s.pool.statistics().available == {"CPU": 1.0, "GPU": 1.0}
    assert s.worker_died(w0) is None


def test_scheduler_dequeue_removes_a_queued_task_only():
    s = make()
    s.enqueue("t", {"CPU": 1.0})
    assert s.dequeue("t") and not s.dequeue("t")


def test_scheduler_fractional_cpus_add_up_exactly():
    s = make({"CPU": 1.0})
    started(s, 10)
    for i in range(10):
        s.enqueue(f"t{i}", {"CPU": 0.1})
    dispatches, _ = s.schedule()
    assert len(dispatches) == 10
    assert s.pool.statistics().available["CPU"] == 0


def test_scheduler_custom_resources_limit_concurrency():
    s = make({"CPU": 4.0, "disk": 1.0})
    started(s, 4)
    s.enqueue("a", {"CPU": 1.0, "disk": 1.0})
    s.enqueue("b", {"CPU": 1.0, "disk": 1.0})
    dispatches, to_start = s.schedule()
    assert [d.task_id for d in dispatches] == ["a"] and to_start == []
