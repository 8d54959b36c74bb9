"""``timeline()`` gives Ray's Chrome-trace events, on jupyter_raylite and on Ray."""

from __future__ import annotations

import json

from leaks import wait_until



def _runs_of(impl, name: str) -> list[dict]:
    return [e for e in impl.timeline() if e.get("ph") == "X" and e.get("cat") == f"task::{name}"]


def test_timeline_lists_one_complete_event_per_task_run(ray_impl, tmp_path):
    @ray_impl.remote
    def traced(i):
        return i

    assert ray_impl.get([traced.remote(i) for i in range(3)]) == [0, 1, 2]
    # Ray reports task events asynchronously: give it a moment.
    assert wait_until(lambda: len(_runs_of(ray_impl, "traced")) == 3, timeout=30)
    for event in _runs_of(ray_impl, "traced"):
        assert {"cat", "name", "pid", "tid", "ts", "dur", "ph", "args"} <= set(event)
        assert event["name"].rsplit(".", 1)[-1] == "traced"
        assert event["dur"] >= 0 and event["ts"] > 1e15  # microseconds since the epoch
        assert event["tid"].startswith("worker:") and event["args"]["task_id"]
    path = tmp_path / "trace.json"
    assert ray_impl.timeline(filename=str(path)) is None
    written = json.loads(path.read_text())
    assert isinstance(written, list)
    assert sum(e.get("cat") == "task::traced" for e in written) == 3
