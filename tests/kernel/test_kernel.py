"""The extension in a real kernel, driven through jupyter_client as a notebook front end would."""

from __future__ import annotations

import os
import queue
import re
import signal
import time

import pytest
from jupyter_client.manager import start_new_kernel

from leaks import HANG, cluster_processes, segments, wait_until


class Kernel:
    def __init__(self, kernel_name: str = "python3"):
        self.manager, self.client = start_new_kernel(kernel_name=kernel_name)
        self.messages: list[dict] = []

    def execute(self, code: str, timeout: float = 60) -> dict:
        """Run a cell; return its reply, with its stream text and error collected."""
        msg_id = self.client.execute(code)
        reply = self.client.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=timeout)
        self.drain(until_idle=msg_id, timeout=timeout)
        reply["msg_id"] = msg_id
        return reply

    def drain(self, until_idle: str | None = None, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.client.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                if until_idle is None:
                    return
                continue
            self.messages.append(message)
            if (until_idle is not None and message["msg_type"] == "status"
                    and message["content"]["execution_state"] == "idle"
                    and message["parent_header"].get("msg_id") == until_idle):
                return

    def stream_text(self, msg_id: str) -> str:
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream"
                       and m["parent_header"].get("msg_id") == msg_id)

    def wait_for_output(self, msg_id: str, done, timeout: float = HANG) -> str:
        """The stream text of ``msg_id`` once ``done(text)`` holds: output of tasks may come
        after the cell finished, later still on a busy machine."""
        deadline = time.monotonic() + timeout
        while not done(self.stream_text(msg_id)) and time.monotonic() < deadline:
            self.drain(timeout=0.5)
        return self.stream_text(msg_id)

    def run_until_it_waits(self, code: str) -> str:
        """Start a cell whose code prints "waiting" right before it blocks; its msg_id once the
        word arrived (so that an interrupt lands in the wait, however slow the machine)."""
        msg_id = self.client.execute(code)
        assert "waiting" in self.wait_for_output(msg_id, lambda text: "waiting" in text)
        return msg_id

    def error_of(self, msg_id: str) -> dict | None:
        for m in self.messages:
            if m["msg_type"] == "error" and m["parent_header"].get("msg_id") == msg_id:
                return m["content"]
        return None

    def interrupt(self, msg_id: str) -> tuple[dict, float]:
        """Interrupt the kernel while ``msg_id`` runs: its reply, and seconds until it came."""
        start = time.monotonic()
        self.manager.interrupt_kernel()
        reply = self.client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.client.get_shell_msg(timeout=30)
        elapsed = time.monotonic() - start
        self.drain(until_idle=msg_id)
        return reply, elapsed

    def value(self, expression: str) -> str:
        reply = self.execute(f"print(repr({expression}))")
        return self.stream_text(reply["msg_id"]).strip()

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def kernel_clusters_gone(kernel_pid: int) -> bool:
    """No process and no segment of any cluster this kernel started (ids begin with its pid)."""
    prefix = f"{kernel_pid}x"
    procs = [p for p in cluster_processes()
             if p.environ().get("JUPYTER_RAYLITE_CLUSTER", "").startswith(prefix)]
    return not procs and not segments(f"raylite_{prefix}")


@pytest.fixture
def kernel():
    k = Kernel()
    k.execute("%load_ext jupyter_raylite\nimport jupyter_raylite as ray")
    kernel_pid = int(k.value("__import__('os').getpid()"))
    yield k
    k.stop()
    assert wait_until(lambda: kernel_clusters_gone(kernel_pid), timeout=HANG)


def test_kernel_task_output_lands_in_the_submitting_cell_even_after_it_finished(kernel):
    first = kernel.execute(
        "import time\n"
        "@ray.remote\n"
        "def chatty():\n"
        "    print('early line')\n"
        "    time.sleep(1.5)\n"
        "    print('late line')\n"
        "    return 1\n"
        "ref = chatty.remote()\n")
    second = kernel.execute("time.sleep(3)\nprint('second cell')")
    first_text = kernel.wait_for_output(first["msg_id"], lambda text: "late line" in text)
    second_text = kernel.stream_text(second["msg_id"])
    assert re.search(r"\(chatty pid=\d+\) early line\n", first_text)
    assert re.search(r"\(chatty pid=\d+\) late line\n", first_text)
    assert "line" not in second_text and "second cell" in second_text


def test_kernel_task_output_comes_after_what_the_cell_printed_before_it(kernel):
    cell = kernel.execute("@ray.remote\ndef quick():\n    print('task line')\n"
                          "print('cell line')\nray.get(quick.remote())\n")
    text = kernel.wait_for_output(cell["msg_id"], lambda text: "task line" in text)
    assert text.index("cell line") < text.index("task line")


def test_kernel_output_of_nested_tasks_and_actors_goes_to_the_cell_that_started_them(kernel):
    cell = kernel.execute(
        "@ray.remote\n"
        "class Greeter:\n"
        "    def greet(self):\n"
        "        print('hello from the actor')\n"
        "@ray.remote\n"
        "def child():\n"
        "    print('hello from the child')\n"
        "@ray.remote\n"
        "def parent(g):\n"
        "    ray.get([child.remote(), g.greet.remote()])\n"
        "ray.get(parent.remote(Greeter.remote()))\n")
    text = kernel.wait_for_output(
        cell["msg_id"], lambda text: "hello from the child" in text and "from the actor" in text)
    assert "hello from the child" in text and "hello from the actor" in text


def test_kernel_many_tasks_printing_lose_and_duplicate_nothing(kernel):
    cell = kernel.execute(
        "@ray.remote\n"
        "def shout(i):\n"
        "    for j in range(20):\n"
        "        print(f'task {i} line {j}')\n"
        "ray.get([shout.remote(i) for i in range(20)])\n")
    kernel.wait_for_output(cell["msg_id"], lambda text: text.count("task ") >= 400)
    # Wait a little more for lines that should not come (duplicates).
    kernel.drain(timeout=1)
    lines = [l for l in kernel.stream_text(cell["msg_id"]).splitlines() if "task " in l]
    expected = {f"task {i} line {j}" for i in range(20) for j in range(20)}
    assert len(lines) == 400
    assert {l.split(") ", 1)[1] for l in lines} == expected


def test_kernel_interrupt_stops_the_wait_cancels_the_cells_tasks_and_keeps_the_cluster(kernel):
    kernel.execute("import time\n@ray.remote\ndef forever():\n    while True:\n"
                   "        time.sleep(0.01)\n"
                   "@ray.remote\ndef survivor():\n    time.sleep(3)\n    return 'survived'\n"
                   "@ray.remote\ndef parent():\n    return ray.get(forever.remote())\n")
    kernel.execute("other = survivor.remote()")  # an earlier cell's task
    msg_id = kernel.run_until_it_waits("ref = parent.remote()\nprint('waiting')\nray.get(ref)")
    reply, _ = kernel.interrupt(msg_id)
    # The wait stopped (the task runs forever): how fast is benchmarks/interrupt_latency.py's.
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    outcome = kernel.execute(
        "try:\n    ray.get(ref, timeout=20)\nexcept Exception as e:\n    print(type(e).__name__)")
    assert "TaskCancelledError" in kernel.stream_text(outcome["msg_id"])
    assert kernel.value("ray.get(ray.remote(lambda: 'usable').remote())") == "'usable'"
    # Only the interrupted cell's work was cancelled (its nested task too: nothing is left
    # running), not the earlier cell's task.
    assert kernel.value("ray.get(other, timeout=30)") == "'survived'"
    assert kernel.value("ray.api._cluster.client.statistics().tasks") == "{}"


def test_kernel_failed_task_shows_the_remote_traceback(kernel):
    reply = kernel.execute(
        "@ray.remote\n"
        "def broken():\n"
        "    return {}['no such key']\n"
        "ray.get(broken.remote())\n")
    error = kernel.error_of(reply["msg_id"])
    text = "\n".join(error["traceback"])
    assert "in broken" in text  # the remote frame of the user's function...
    assert "return {}['no such key']" in text  # ...with its source line, from the cell
    assert "core/client.py" not in text and "core/worker.py" not in text


def test_kernel_magics_and_their_usage_errors(kernel):
    status = kernel.execute("%raylite")
    assert "workers" in kernel.stream_text(status["msg_id"])
    bad = kernel.execute("%raylite init --num-cpus lots")
    assert bad["content"]["ename"] == "UsageError"  # a message, not a traceback
    assert "invalid float value: 'lots'" in kernel.stream_text(bad["msg_id"])
    unknown = kernel.execute("%raylite frobnicate")
    assert unknown["content"]["ename"] == "UsageError"
    kernel.execute("keep = ray.put(1)")
    running = kernel.execute("%raylite init --num-cpus 7")  # would drop the work: refused
    assert running["content"]["ename"] == "UsageError"
    assert "%raylite restart" in running["content"]["evalue"]
    kernel.execute("%raylite restart --num-cpus 1")
    assert kernel.value("ray.cluster_resources()['CPU']") == "1.0"
    kernel.execute("%reload_ext jupyter_raylite")
    assert kernel.value("ray.is_initialized()") == "True"
    kernel.execute("%raylite shutdown")
    assert kernel.value("ray.is_initialized()") == "False"
    stopped = kernel.execute("%raylite")
    assert "No local cluster is running" in kernel.stream_text(stopped["msg_id"])
    kernel.execute("%raylite init --num-cpus 2")
    assert kernel.value("ray.cluster_resources()['CPU']") == "2.0"


@pytest.mark.parametrize("how", ["kill", "restart"])
def test_kernel_killed_or_restarted_leaves_nothing(how):
    k = Kernel()
    try:
        k.execute("%load_ext jupyter_raylite\nimport jupyter_raylite as ray, numpy as np\n"
                  "big = ray.put(np.zeros(1_000_000))\n"
                  "@ray.remote\ndef forever():\n    import time\n    time.sleep(600)\n"
                  "refs = [forever.remote() for _ in range(2)]")
        cluster_id = k.value("ray.api._cluster.cluster_id").strip("'")
        assert cluster_processes(cluster_id) and segments(f"raylite_{cluster_id}_")
        if how == "kill":  # kill -9 of the kernel process alone
            os.kill(k.manager.provisioner.process.pid, signal.SIGKILL)
        else:  # a forced restart: SIGKILL to the kernel's whole process group
            k.manager.restart_kernel(now=True)
        # How soon is benchmarks/' business (cleanup after kill -9): here, that it happens.
        assert wait_until(lambda: not cluster_processes(cluster_id), timeout=HANG)
        assert wait_until(lambda: not segments(f"raylite_{cluster_id}_"), timeout=HANG)
    finally:
        k.stop()


def test_kernel_remote_cell_magic_ships_names_and_binds_the_result(kernel):
    kernel.execute("data = list(range(10))\nbonus = ray.put(100)")
    cell = kernel.execute("%%remote --out total --name squares\n"
                          "print('computing')\n"
                          "sum(x * x for x in data) + bonus")
    assert kernel.value("ray.get(total)") == "385"
    text = kernel.wait_for_output(cell["msg_id"], lambda text: "computing" in text)
    assert re.search(r"\(squares pid=\d+\) computing", text)
    failing = kernel.execute("%%remote --out oops\n1 / 0")
    assert kernel.execute("ray.get(oops)")["content"]["ename"].endswith("ZeroDivisionError)")
    bad = kernel.execute("%%remote --out 'not a name'\n1")
    assert bad["content"]["ename"] == "UsageError"
    assert failing["content"]["status"] == "ok"  # the cell only submits


def test_kernel_tasks_table_and_cancel_subcommands(kernel):
    kernel.execute("import time\n@ray.remote\ndef nap(s):\n    time.sleep(s)\n    return s\n"
                   "done = ray.get([nap.remote(0) for _ in range(3)])")
    kernel.execute("slow = [nap.remote(30) for _ in range(2)]")
    table = kernel.execute("%raylite tasks --state finished")
    text = kernel.stream_text(table["msg_id"])
    assert text.count("finished") == 3 and "running" not in text
    kernel.execute("%raylite cancel")  # what the last submitting cell started
    outcome = kernel.execute(
        "for r in slow:\n"
        "    try:\n        ray.get(r, timeout=20)\n"
        "    except Exception as e:\n        print(type(e).__name__)")
    assert kernel.stream_text(outcome["msg_id"]).split() == ["TaskCancelledError"] * 2
    kernel.execute("more = nap.remote(30)")
    kernel.execute("%raylite cancel more")
    outcome = kernel.execute(
        "try:\n    ray.get(more, timeout=20)\nexcept Exception as e:\n    print(type(e).__name__)")
    assert "TaskCancelledError" in kernel.stream_text(outcome["msg_id"])
    kernel.execute("again = nap.remote(30)")
    kernel.execute("%raylite cancel --all")
    outcome = kernel.execute(
        "try:\n    ray.get(again, timeout=20)\nexcept Exception as e:\n    print(type(e).__name__)")
    assert "TaskCancelledError" in kernel.stream_text(outcome["msg_id"])
    assert kernel.execute("%raylite cancel not_defined")["content"]["ename"] == "UsageError"


def test_kernel_interrupt_can_keep_the_tasks_running(kernel):
    kernel.execute("%raylite interrupt keep\nimport time\n"
                   "@ray.remote\ndef sleepy():\n    time.sleep(5)\n    return 'finished'")
    msg_id = kernel.run_until_it_waits("ref = sleepy.remote()\nprint('waiting')\nray.get(ref)")
    kernel.manager.interrupt_kernel()
    kernel.drain(until_idle=msg_id, timeout=30)
    assert kernel.value("ray.get(ref, timeout=20)") == "'finished'"


def test_kernel_object_ref_display_shows_its_state(kernel):
    kernel.execute("import time\n@ray.remote\ndef later():\n    time.sleep(30)\n"
                   "@ray.remote\ndef fails():\n    raise ValueError('x')")
    kernel.execute("pending = later.remote()\nready = ray.put([1, 2, 3])\nbad = fails.remote()\n"
                   "ray.wait([bad])")

    def html_of(name):
        reply = kernel.execute(name)
        for m in kernel.messages:
            if m["msg_type"] == "execute_result" and \
                    m["parent_header"].get("msg_id") == reply["msg_id"]:
                return m["content"]["data"].get("text/html", "")
        return ""

    assert "pending" in html_of("pending")
    ready = html_of("ready")
    assert "ready" in ready and "[1, 2, 3]" in ready
    assert "failed" in html_of("bad")
    kernel.execute("ray.cancel(pending)")
    kernel.execute("@ray.remote\nclass Box:\n    def ping(self):\n        return 1\n"
                   "box = Box.remote()\nray.get(box.ping.remote())")
    assert "Box" in html_of("box") and "alive" in html_of("box")
    kernel.execute("ray.kill(box)")
    assert wait_until(lambda: "dead" in html_of("box"), timeout=HANG)


def test_kernel_rerunning_the_init_cell_is_harmless(kernel):
    kernel.execute("ctx = ray.init(num_cpus=3)")  # replaces the cluster %load_ext started
    assert kernel.value("ray.cluster_resources()['CPU']") == "3.0"
    again = kernel.execute("ctx = ray.init(num_cpus=3)")  # the same cell, run again
    assert again["content"]["status"] == "ok"
    other = kernel.execute("ray.init(num_cpus=1)")
    assert "%raylite restart" in other["content"]["evalue"]
    reload = kernel.execute("%load_ext jupyter_raylite")  # loading twice is harmless
    assert reload["content"]["status"] == "ok"
    assert kernel.value("ray.cluster_resources()['CPU']") == "3.0"


def _displayed(kernel, msg_id: str) -> list[dict]:
    """The mime bundles a cell displayed (execute_result and display_data)."""
    return [m["content"]["data"] for m in kernel.messages
            if m["msg_type"] in ("display_data", "execute_result")
            and m["parent_header"].get("msg_id") == msg_id]


def test_kernel_widget_magics_display_live_views(kernel, tmp_path):
    kernel.execute("import time\n"
                   "@ray.remote\n"
                   "def step(i):\n"
                   "    time.sleep(0.05)\n"
                   "    return i")
    graph = kernel.execute("explorer = %raylite graph --this-cell\ndisplay(explorer)")
    views = _displayed(kernel, graph["msg_id"])
    assert views and "application/vnd.jupyter.widget-view+json" in views[0]
    meters = kernel.execute("meters = %raylite meters\ndisplay(meters)")
    assert "application/vnd.jupyter.widget-view+json" in _displayed(kernel, meters["msg_id"])[0]
    kernel.execute("ray.get([step.remote(i) for i in range(4)])")
    # The views follow the tasks from the monitor thread while the kernel is idle: the
    # meters count the four tasks; the graph, filtered to its own cell, shows none of them.
    assert wait_until(lambda: kernel.value("meters.values['tasks']['finished']") == "4",
                      timeout=30)
    assert kernel.value("explorer.graph.nodes") == "{}"
    assert kernel.value("explorer.cell_filter.label").startswith("'In [")

    trace = tmp_path / "trace.json"
    timeline = kernel.execute(f"%raylite timeline {trace}")
    assert "image/png" in _displayed(kernel, timeline["msg_id"])[0]
    assert "Wrote the Chrome trace" in kernel.stream_text(timeline["msg_id"])
    assert len(__import__("json").loads(trace.read_text())) == 4

    bad = kernel.execute("%raylite graph --max-nodes 0")
    assert bad["content"]["ename"] == "UsageError"
    assert "--max-nodes must be at least 1" in bad["content"]["evalue"]
    unknown = kernel.execute("%raylite frobnicate")
    assert "graph, meters, inspect, timeline" in unknown["content"]["evalue"]
    bar = kernel.execute("values = ray.progress([step.remote(i) for i in range(3)]).get()\n"
                         "print(values)")
    assert "[0, 1, 2]" in kernel.stream_text(bar["msg_id"])
    assert "application/vnd.jupyter.widget-view+json" in _displayed(kernel, bar["msg_id"])[0]


NOTEBOOK_WRITTEN_FOR_RAY = (
    "import ray\n"
    "@ray.remote\n"
    "def hello(name):\n"
    "    import ray\n"
    "    print(f'hello {name} from', ray.__name__)\n"
    "    return name.upper()\n"
    "print(ray.get(hello.remote('notebook')))\n")


def test_kernel_as_ray_after_load_ext_runs_a_notebook_written_for_ray(kernel):
    kernel.execute("ray.as_ray()")  # the fixture loaded the extension
    cell = kernel.execute(NOTEBOOK_WRITTEN_FOR_RAY)
    text = kernel.wait_for_output(cell["msg_id"], lambda text: "hello notebook" in text)
    assert "NOTEBOOK" in text
    assert re.search(r"\(hello pid=\d+\) hello notebook from jupyter_raylite", text)
    assert kernel.value("'ray._raylet' in __import__('sys').modules") == "False"


def test_kernel_installed_for_ray_runs_a_notebook_written_for_ray(tmp_path, monkeypatch):
    import subprocess
    import sys
    subprocess.run([sys.executable, "-m", "jupyter_raylite", "--install-kernel", "--prefix",
                    str(tmp_path)], check=True, capture_output=True, timeout=HANG)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    k = Kernel(kernel_name="ray-on-raylite")
    try:
        cell = k.execute(NOTEBOOK_WRITTEN_FOR_RAY)
        text = k.wait_for_output(cell["msg_id"], lambda text: "hello notebook" in text)
        assert "NOTEBOOK" in text
        assert re.search(r"\(hello pid=\d+\) hello notebook from jupyter_raylite", text)
        status = k.execute("%raylite status")  # the extension is loaded
        assert "jupyter_raylite cluster" in k.stream_text(status["msg_id"])
        kernel_pid = int(k.value("__import__('os').getpid()"))
    finally:
        k.stop()
    assert wait_until(lambda: kernel_clusters_gone(kernel_pid), timeout=HANG)
