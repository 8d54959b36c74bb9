"""The observers' model and the runtime's event log, driven by hand-written events: no
process, no widget."""

from jupyter_raylite.core.events import EventLog, summarize_arguments
from jupyter_raylite.observe.model import OUTPUT_LIMIT, ClusterModel


def task(task_id, name="f", deps=(), cell="c1", state="queued", actor=None, t=1.0):
    return ("task", t, task_id, name, "actor_call" if actor else "task", None, deps,
            (f"{task_id}r0",), cell, {"CPU": 1.0}, "1, 'x'", actor, state)


def state(task_id, new, t=2.0, pid=None, detail=None, ran=None):
    return ("state", t, task_id, new, pid, detail, ran)


def test_tasks_follow_their_events():
    model = ClusterModel()
    changes = model.apply([task("a"), task("b", deps=("ar0",), state="waiting"),
                           state("a", "running", pid=11)])
    assert changes.new_tasks == ["a", "b"] and changes.tasks == {"a", "b"}
    a, b = model.tasks["a"], model.tasks["b"]
    assert (a.state, a.pid, a.attempts) == ("running", 11, 1)
    assert (b.state, b.depth, a.depth) == ("waiting", 1, 0)  # b takes a's result: next column
    assert model.producers_of(b) == ["a"]
    assert model.group_edges == {("c1", "f", "f")}
    model.apply([state("a", "finished", t=3.0, pid=11, ran=(2.0, 2.5)),
                 state("b", "failed", t=4.0, pid=12, detail="ValueError")])
    assert a.duration == 0.5 and a.times == {"queued": 1.0, "running": 2.0, "finished": 3.0}
    assert (b.state, b.detail, b.pid) == ("failed", "ValueError", 12)
    assert list(model.failed) == ["b"]


def test_counts_come_from_the_runtime_and_give_the_throughput():
    model = ClusterModel()
    changes = model.apply([])
    model.set_counts({("c1", "f"): {"finished": 10, "running": 2}}, 100.0, changes)
    assert changes.groups == {("c1", "f")}
    assert model.states["finished"] == 10 and model.states["running"] == 2
    assert model.functions == {"f": 12}
    changes = model.apply([])
    model.set_counts({("c1", "f"): {"finished": 30, "running": 2}}, 102.0, changes)
    assert model.throughput() == 10.0  # 20 ended in 2 s
    changes = model.apply([])
    model.set_counts({("c1", "f"): {"finished": 30, "running": 2}}, 103.0, changes)
    assert changes.groups == set()  # nothing changed, nothing to send


def test_old_part_of_a_large_batch_updates_only_known_tasks():
    model = ClusterModel()
    model.apply([task("old")])
    batch = [task("skipped"), state("old", "finished"), state("skipped", "running"),
             task("new")]
    model.apply(batch, detail_from=3)
    assert model.tasks["old"].state == "finished"  # its end is never lost
    assert "skipped" not in model.tasks and model.skipped == 1
    assert "new" in model.tasks


def test_the_model_keeps_the_newest_tasks():
    model = ClusterModel(capacity=3)
    model.apply([task(f"t{i}") for i in range(5)])
    assert list(model.tasks) == ["t2", "t3", "t4"] and model.dropped == 2
    assert model.producers_of(model.tasks["t2"]) == []


def test_output_is_kept_per_task_and_bounded():
    model = ClusterModel()
    model.apply([task("a"), ("output", 1.0, "a", "stdout", "hello\n"),
                 ("output", 1.0, "a", "stdout", "x" * OUTPUT_LIMIT),
                 ("output", 1.0, "a", "stdout", "never shown")])
    text = "".join(chunk for _, chunk in model.tasks["a"].output)
    assert text.startswith("hello\n") and "truncated" in text and "never shown" not in text


def test_actor_events_and_calls():
    model = ClusterModel()
    model.apply([("actor", 1.0, "A1", "Counter", "pending", None, None, "c1", "counter"),
                 ("actor", 1.1, "A1", "Counter", "alive", 77, None, "c1", "counter"),
                 task("call", name="Counter.incr", actor="A1")])
    actor = model.actors["A1"]
    assert (actor.state, actor.pid, actor.name) == ("alive", 77, "counter")
    assert model.tasks["call"].depth == 1  # calls sit one column right of their actor


def test_event_log_reads_from_a_sequence_number_and_reports_what_it_dropped():
    log = EventLog(capacity=4)
    for i in range(6):
        log.emit("output", 0.0, f"t{i}", "stdout", "x")
    seq, events, missed = log.since(0)
    assert seq == 6 and missed == 2 and [e[2] for e in events] == ["t2", "t3", "t4", "t5"]
    assert log.since(6) == (6, [], 0)


def test_event_log_counts_tasks_by_cell_function_and_state():
    log = EventLog()
    log.task(1.0, "a", "f", "task", None, (), ("ar0",), "c1", {}, "", None, "queued")
    log.task(1.0, "b", "f", "task", None, (), ("br0",), "c1", {}, "", None, "waiting")
    log.state(2.0, "a", "running", 5)
    log.state(3.0, "a", "finished", 5)
    log.state(3.0, "a", "finished", 5)  # a repeated end is not counted twice
    assert log.counts() == {("c1", "f"): {"queued": 0, "waiting": 1, "running": 0,
                                          "finished": 1}}


def test_argument_summaries_never_call_user_repr():
    class Loud:
        def __repr__(self):
            raise AssertionError("user __repr__ called")

    summary = summarize_arguments((1, "short", "a much longer string than that", [1, 2],
                                   Loud()), {"k": None})
    assert summary == "1, 'short', 'a much longer string …', list[2], Loud, k=None"
    assert len(summarize_arguments(tuple(range(1000)), {})) <= 160


def test_output_marks_the_task_changed():
    model = ClusterModel()
    model.apply([task("a")])
    changes = model.apply([("output", 1.0, "a", "stdout", "tick\n")])
    assert changes.tasks == {"a"}  # an open inspector re-renders with the new line


def test_argument_summary_survives_a_hostile_getattr():
    class Proxy:
        def __getattr__(self, name):
            raise KeyError(name)

    assert summarize_arguments((Proxy(),), {}) == "Proxy"


def grouped_projection(events, counts):
    from jupyter_raylite.widgets.graph import GraphProjection
    model = ClusterModel()
    changes = model.apply(events)
    model.set_counts(counts, 1.0, changes)
    projection = GraphProjection(max_nodes=1)
    projection.rebuild(model)
    return projection


def test_grouped_graph_places_functions_after_what_they_consume():
    # C takes B's result, B takes A's: whatever order the edges are found in, the columns
    # follow the chain.  A recursive function gets no arrow onto itself.
    events = [task("c0", "C", deps=("b0r0",)), task("b0", "B", deps=("a0r0",)),
              task("a0", "A"), task("c1", "C", deps=("b1r0",)), task("b1", "B", deps=("a1r0",)),
              task("a1", "A"), task("b1", "B", deps=("a0r0",)), task("c2", "C", deps=("b1r0",)),
              task("r0", "R"), task("r1", "R", deps=("r0r0",))]
    counts = {("c1", name): {"finished": 2} for name in "ABCR"}
    projection = grouped_projection(events, counts)
    assert projection.grouped
    columns = {node["label"]: node["col"] for node in projection.nodes.values()}
    assert columns["A"] < columns["B"] < columns["C"]
    assert ("group:R", "group:R", "dep") not in projection.edges
    assert ("group:A", "group:B", "dep") in projection.edges
