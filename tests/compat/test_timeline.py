"""``timeline()`` gives Ray's Chrome-trace events, on jupyter_raylite and on Ray."""

from __future__ import annotations

import json

from leaks import wait_until


def _runs_of(impl, refs) -> list[dict]:
    # Ray's timeline is the whole cluster's, every job's: the runs of these refs' tasks.
    tasks = {ref.task_id().hex() for ref in refs}
    return [e for e in impl.timeline()
            if e.get("ph") == "X" and e.get("args", {}).get("task_id") in tasks]


def test_timeline_lists_one_complete_event_per_task_run(ray_impl, tmp_path):
    @ray_impl.remote
    def traced(i):
        return i

    refs = [traced.remote(i) for i in range(3)]
    assert ray_impl.get(refs) == [0, 1, 2]
    # Ray reports task events asynchronously: give it a moment.
    assert wait_until(lambda: len(_runs_of(ray_impl, refs)) == 3, timeout=30)
    for event in _runs_of(ray_impl, refs):
        assert {"cat", "name", "pid", "tid", "ts", "dur", "ph", "args"} <= set(event)
        assert event["cat"] == "task::traced"
        assert event["name"].rsplit(".", 1)[-1] == "traced"
        assert event["dur"] >= 0 and event["ts"] > 1e15  # microseconds since the epoch
        assert event["tid"].startswith("worker:") and event["args"]["task_id"]
    path = tmp_path / "trace.json"
    assert ray_impl.timeline(filename=str(path)) is None
    written = json.loads(path.read_text())
    assert isinstance(written, list)
    tasks = {ref.task_id().hex() for ref in refs}
    assert sum(e.get("args", {}).get("task_id") in tasks for e in written) == 3
