"""The widgets' state as tasks run, finish and fail, read headless (no browser, no kernel).

Each test drives its own Monitor by hand (``monitor.poll()``), so what the widgets show is
checked at known points; the monitor's thread is not relied on for timing.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import jupyter_raylite as ray
from jupyter_raylite.observe.monitor import Monitor
from jupyter_raylite.widgets.explorer import TaskExplorer
from jupyter_raylite.widgets.graph import TaskGraph
from jupyter_raylite.widgets.progress_bars import Progress, TextProgress
from jupyter_raylite.widgets.resource_meters import ResourceMeters
from jupyter_raylite.widgets.task_inspector import TaskInspector

from leaks import wait_until


@pytest.fixture
def monitor(cluster):
    monitor = Monitor(interval=3600)  # polled by the tests themselves
    yield monitor
    monitor.stop()


@pytest.fixture
def gate(tmp_path):
    """Tasks given this path block until ``open_gate()`` creates it."""
    return str(tmp_path / "gate")


def open_gate(path: str) -> None:
    with open(path, "w"):
        pass


@ray.remote
def wait_for(path: str, value=0):
    while not os.path.exists(path):
        time.sleep(0.01)
    print(f"passed the gate with {value}")
    return value


@ray.remote
def add(*values):
    return sum(values)


@ray.remote
def fail(_value):
    raise ValueError("failed on purpose")


def poll_until(monitor, condition, timeout=30):
    """Poll the monitor until ``condition()`` holds (tasks take their time on a loaded box)."""
    return wait_until(lambda: (monitor.poll(), condition())[1], timeout=timeout)


def states(graph) -> dict[str, set]:
    found: dict[str, set] = {}
    for node in graph.nodes.values():
        found.setdefault(node["label"], set()).add(node["state"])
    return found


def test_graph_nodes_edges_and_states_follow_the_tasks(monitor, gate):
    graph = TaskGraph(monitor=monitor)
    sent = []
    graph.send = sent.append  # what would travel to the front end
    try:
        parts = [wait_for.remote(gate, i) for i in range(2)]
        total = add.remote(*parts)
        failed = fail.remote(total)
        assert poll_until(monitor, lambda: states(graph).get("wait_for") == {"running"})
        assert states(graph)["add"] == {"waiting"} and states(graph)["fail"] == {"waiting"}
        ids = {node["label"]: node_id for node_id, node in graph.nodes.items()}
        producers = {edge[0] for edge in graph.edges if edge[1] == ids["add"]}
        assert len(producers) == 2 and all(graph.nodes[p]["label"] == "wait_for"
                                           for p in producers)
        assert (ids["add"], ids["fail"], "dep") in graph.edges
        assert graph.nodes[ids["add"]]["col"] == 1 and graph.nodes[ids["fail"]]["col"] == 2
        assert graph.summary["counts"]["running"] == 2

        sent.clear()
        open_gate(gate)
        assert ray.get(total) == 1
        with pytest.raises(ValueError):
            ray.get(failed)
        assert poll_until(monitor, lambda: states(graph) == {
            "wait_for": {"finished"}, "add": {"finished"}, "fail": {"failed"}})
        # Deltas carry the nodes that changed, not the whole picture.
        deltas = [m for m in sent if m["type"] == "delta"]
        assert deltas and all(len(m["nodes"]) <= 4 for m in deltas)
        assert graph.summary["counts"]["finished"] == 3 and graph.summary["counts"]["failed"] == 1

        # A view that opens asks for everything.
        sent.clear()
        graph._on_front_end_message(graph, {"type": "hello"}, [])
        assert sent[-1]["type"] == "reset" and len(sent[-1]["nodes"]) == 4
        assert len(sent[-1]["edges"]) == 3
        json.dumps(sent[-1])  # what the front end gets is plain JSON
    finally:
        graph.close()


def test_graph_groups_by_function_beyond_max_nodes_and_filters(monitor):
    graph = TaskGraph(max_nodes=5, monitor=monitor)
    only_add = TaskGraph(function="add", monitor=monitor)
    try:
        ray.get([add.remote(i) for i in range(8)] + [wait_for.remote("/", i) for i in range(2)])
        assert poll_until(monitor, lambda: graph.projection.grouped
                          and graph.nodes.get("group:add", {}).get("total") == 8)
        group = graph.nodes["group:add"]
        assert group["counts"]["finished"] == 8 and group["state"] == "finished"
        assert graph.nodes["group:wait_for"]["total"] == 2
        assert graph.summary["grouped"] is True

        assert not only_add.projection.grouped
        assert {n["label"] for n in only_add.nodes.values()} == {"add"}
        assert len(only_add.nodes) == 8
        only_add.set_filter(function="wait_for")
        assert {n["label"] for n in only_add.nodes.values()} == {"wait_for"}
    finally:
        graph.close()
        only_add.close()


def test_actor_and_its_calls_are_drawn_as_such(monitor):
    @ray.remote
    class Counter:
        def __init__(self):
            self.count = 0

        def incr(self):
            self.count += 1
            return self.count

    graph = TaskGraph(monitor=monitor)
    try:
        counter = Counter.remote()
        assert ray.get([counter.incr.remote() for _ in range(3)]) == [1, 2, 3]
        assert poll_until(monitor, lambda: sum(
            n["state"] == "finished" for n in graph.nodes.values()) == 3)
        actors = [n for n in graph.nodes.values() if n["kind"] == "actor"]
        calls = [n for n in graph.nodes.values() if n["kind"] == "actor_call"]
        assert len(actors) == 1 and actors[0]["label"] == "Counter"
        assert actors[0]["state"] == "alive"
        assert {c["label"] for c in calls} == {"Counter.incr"} and len(calls) == 3
        assert {(actors[0]["id"], c["id"], "actor") for c in calls} <= graph.edges
    finally:
        graph.close()


def test_inspector_shows_result_error_output_and_timings(monitor, gate):
    explorer = TaskExplorer(monitor=monitor)
    inspector = explorer.inspector
    try:
        open_gate(gate)
        good = wait_for.remote(gate, 42)
        bad = fail.remote(good)
        with pytest.raises(ValueError):
            ray.get(bad)
        assert poll_until(monitor, lambda: len(monitor.model.tasks) == 2 and all(
            t.state in ("finished", "failed") for t in monitor.model.tasks.values()))
        by_name = {t.name: t for t in monitor.model.tasks.values()}

        explorer.graph.selected = by_name["fail"].task_id  # what a click on the node does
        text = inspector.details.value
        assert "Error: ValueError" in text and "failed on purpose" in text
        assert "failed (ValueError)" in text and "Waits for" in text

        inspector.inspect(by_name["wait_for"].task_id)
        text = inspector.details.value
        assert "Result</b><pre style='line-height:1.3'>42</pre>" in text
        assert "passed the gate with 42" in text  # what it printed
        assert f"Worker pid</th><td style='text-align:left;padding:1px 14px 1px 0;" \
               f"vertical-align:top'>{by_name['wait_for'].pid}" in text
        assert "Ran for" in text and "CPU: 1" in text and "42" in text

        # The picker lists the tasks (newest first) and chooses like a click.
        monitor.poll()
        inspector._picker_refreshed = float("-inf")
        monitor.poll()
        assert [v for _, v in inspector.picker.options][1:] == [by_name["fail"].task_id,
                                                                by_name["wait_for"].task_id]
        inspector.picker.value = by_name["fail"].task_id
        assert "failed on purpose" in inspector.details.value

        # Filters list the functions that ran.
        assert {v for _, v in explorer.function_filter.options} == {"", "wait_for", "fail"}

        del good  # once no ObjectRef is left, the inspector says the result is gone
        assert poll_until(monitor, lambda: (
            inspector.inspect(by_name["wait_for"].task_id),
            "result was freed" in inspector.details.value)[1])
    finally:
        explorer.close()


def test_meters_move_while_tasks_run(monitor, gate):
    meters = ResourceMeters(monitor=monitor)
    try:
        monitor.poll()
        assert meters.values["CPU"] == (0.0, 2.0)
        refs = [wait_for.remote(gate, i) for i in range(3)]
        assert poll_until(monitor, lambda: meters.values["CPU"] == (2.0, 2.0))
        assert meters.values["tasks"]["running"] == 2 and meters.values["tasks"]["queued"] == 1
        bar, label = meters._bars["CPU"]
        assert (bar.value, bar.max) == (2.0, 2.0) and label.value == "2 / 2 CPU"
        pids = {row["pid"] for row in meters.values["workers"]}
        assert pids == {t.pid for t in monitor.model.tasks.values() if t.pid}
        assert all(row["rss"] > 0 for row in meters.values["workers"])
        assert meters.values["kernel_rss"] > 0
        big = ray.put(b"x" * 1_000_000)
        open_gate(gate)
        ray.get(refs)
        assert poll_until(monitor, lambda: meters.values["CPU"] == (0.0, 2.0)
                          and meters.values["tasks"]["finished"] == 3)
        assert meters.values["objects"] >= 4 and meters.values["store_bytes"] >= 1_000_000
        assert meters.values["throughput"] > 0
        del big
    finally:
        meters.close()


def test_meters_say_when_no_cluster_runs():
    monitor = Monitor(source=lambda: None, interval=3600)
    meters = ResourceMeters(monitor=monitor)
    try:
        assert meters.values == {"connected": False}
        assert "No local cluster is running" in meters.tasks.value
    finally:
        meters.close()
        monitor.stop()


def test_progress_counts_done_and_failed(monitor, gate):
    refs = [fail.remote(0)] + [wait_for.remote(gate, i) for i in range(3)]
    bar = Progress(refs, "work", monitor=monitor)
    try:
        assert poll_until(monitor, lambda: bar.counter.failed == 1)
        assert bar.bar.max == 4 and bar.bar.value == 1 and bar.bar.bar_style == "danger"
        assert bar.label.value == "1/4 done, 1 failed"
        open_gate(gate)
        assert poll_until(monitor, lambda: bar.bar.value == 4)
        assert repr(bar) == "Progress(4 objects)"
    finally:
        bar.close()


def test_text_progress_and_get(monitor, gate):
    open_gate(gate)
    import io
    stream = io.StringIO()
    bar = TextProgress([wait_for.remote(gate, i) for i in range(3)], "load", monitor=monitor,
                       stream=stream)
    assert bar.get() == [0, 1, 2]
    assert stream.getvalue().endswith("load [" + "#" * 30 + "] 3/3 done\n")
    with pytest.raises(TypeError, match="list of ObjectRefs"):
        TextProgress([1, 2], monitor=monitor)


def test_timeline_in_rays_trace_format_and_as_a_gantt_chart(cluster, tmp_path):
    ray.get([add.remote(i) for i in range(4)])
    with pytest.raises(ValueError):
        ray.get(fail.remote(0))
    events = ray.timeline()
    assert len(events) == 5
    for event in events:
        assert event["ph"] == "X" and event["dur"] >= 0 and event["cat"].startswith("task::")
        assert event["tid"].startswith("worker:") and event["args"]["task_id"]
    assert [e["cname"] for e in events if e["name"] == "fail"] == ["terrible"]
    path = tmp_path / "trace.json"
    assert ray.timeline(str(path)) is None
    assert json.loads(path.read_text()) == events

    from jupyter_raylite.observe.timeline import gantt
    figure = gantt(ray.api._cluster.client)
    axes = figure.axes[0]
    assert len(axes.collections) == 5  # one bar per run
    assert {t.get_text() for t in axes.get_legend().get_texts()} == {"add", "fail"}
    assert axes.get_title() == f"5 task runs on {len({e['tid'] for e in events})} " \
                               "worker processes"


@ray.remote
def noop():
    return None


def test_graph_of_5000_tasks_stays_small(monitor):
    graph = TaskGraph(monitor=monitor)
    sent = []
    graph.send = sent.append
    try:
        ray.get([noop.remote() for _ in range(5000)])
        assert poll_until(monitor, lambda: graph.summary.get("ended") == 5000)
        assert graph.projection.grouped and list(graph.nodes) == ["group:noop"]
        assert graph.nodes["group:noop"]["counts"]["finished"] == 5000
        # Every message to the front end stays small: counts, not 5,000 nodes.
        assert max(len(json.dumps(m)) for m in sent) < 2000
        # The model keeps detail on the newest tasks only, and says how many it skipped.
        model = monitor.model
        assert len(model.tasks) + model.skipped + model.dropped == 5000
    finally:
        graph.close()


def test_views_follow_the_cluster_through_shutdown_and_init():
    monitor = Monitor(interval=3600)
    ray.init(num_cpus=1)
    graph = TaskGraph(monitor=monitor)
    try:
        ray.get(noop.remote())
        assert poll_until(monitor, lambda: graph.summary["counts"]["finished"] == 1)
        ray.shutdown()
        monitor.poll()
        # The last picture stays, marked disconnected, until another cluster starts.
        assert graph.summary["connected"] is False
        assert {n["label"] for n in graph.nodes.values()} == {"noop"}
        ray.init(num_cpus=1)
        ray.get(add.remote(1, 2))
        assert poll_until(monitor, lambda: {n["label"] for n in graph.nodes.values()} == {"add"})
        assert graph.summary["connected"] is True and graph.summary["total"] == 1
    finally:
        graph.close()
        monitor.stop()
        ray.shutdown()


def test_switching_to_groups_resets_the_front_end(monitor):
    graph = TaskGraph(max_nodes=3, monitor=monitor)
    sent = []
    graph.send = sent.append
    try:
        ray.get([add.remote(i) for i in range(2)])
        assert poll_until(monitor, lambda: len(graph.nodes) == 2)
        sent.clear()
        ray.get([add.remote(i) for i in range(4)])
        assert poll_until(monitor, lambda: graph.projection.grouped)
        # Not a delta on top of the task nodes the browser holds: everything anew.
        resets = [m for m in sent if m["type"] == "reset"]
        assert resets and [n["id"] for n in resets[-1]["nodes"]] == ["group:add"]
        # A view that closes stops the updates; one that opens brings them back.
        graph._on_front_end_message(graph, {"type": "hello"}, [])
        graph._on_front_end_message(graph, {"type": "bye"}, [])
        assert not graph._subscribed
        graph._on_front_end_message(graph, {"type": "hello"}, [])
        assert graph._subscribed and sent[-1]["type"] == "reset"
        # Clicking a group node shows the function's counts.
        inspector = TaskInspector(graph, monitor=monitor)
        try:
            graph.selected = "group:add"
            assert "Finished</th>" in inspector.details.value and ">6<" in inspector.details.value
        finally:
            inspector.close()
    finally:
        graph.close()


def test_progress_finishes_on_duplicate_and_lost_refs(monitor):
    ref = add.remote(1, 2)
    bar = Progress([ref, ref], monitor=monitor)
    try:
        assert bar.get() == [3, 3]
        assert bar.counter.total == 1 and bar.label.value == "1/1 done"
    finally:
        bar.close()
    old = add.remote(1)
    ray.get(old)
    ray.shutdown()
    try:
        stale = Progress([old], monitor=monitor)
        stale._on_update(None, None)
        assert stale.label.value == "0/1 done, 1 lost" and stale.bar.bar_style == "danger"
        assert not ray.is_initialized()  # a progress bar never starts a cluster
        stale.close()
    finally:
        ray.init(num_cpus=2)  # the cluster fixture shuts one down at the end


def test_actor_calls_wait_in_the_actor_until_it_runs_them(monitor, gate):
    @ray.remote
    class Door:
        def enter(self, path):
            while not os.path.exists(path):
                time.sleep(0.01)
            return True

    door = Door.remote()
    calls = [door.enter.remote(gate) for _ in range(3)]
    assert poll_until(monitor, lambda: sorted(
        t.state for t in monitor.model.tasks.values()) == ["queued", "queued", "running"])
    open_gate(gate)
    assert ray.get(calls) == [True] * 3
    assert poll_until(monitor, lambda: all(
        t.state == "finished" for t in monitor.model.tasks.values()))


def test_a_retried_task_shows_each_run_in_the_timeline(cluster, tmp_path):
    @ray.remote(retry_exceptions=True, max_retries=1)
    def flaky(marker):
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first run fails")
        return "second run"

    assert ray.get(flaky.remote(str(tmp_path / "marker"))) == "second run"
    runs = [e for e in ray.timeline() if e["name"] == "flaky"]
    assert [e["args"]["state"] for e in runs] == ["retried", "finished"]
    assert runs[0]["cname"] == "terrible" and runs[1]["cname"] == "generic_work"
