"""init, shutdown and what they leave behind: processes, segments, ports, signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import jupyter_raylite as ray
from leaks import HANG, cluster_processes, segments, wait_until


def run_driver(code: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def read_line(proc: subprocess.Popen, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line[len(prefix):].strip()
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"driver never printed {prefix!r}: {proc.stderr.read()}")


def test_init_returns_context_and_second_init_raises(cluster):
    assert cluster["node_id"] and cluster.address_info["node_ip_address"] == "127.0.0.1"
    assert "CPU" in cluster._repr_html_()
    with pytest.raises(RuntimeError, match="ignore_reinit_error"):
        ray.init()
    assert ray.init(ignore_reinit_error=True)["node_id"] == cluster["node_id"]


def test_init_accepts_rays_ignored_keywords_and_rejects_unknown_ones():
    with pytest.raises(TypeError, match="num_cpus"):
        ray.init(num_cpu=2)
    assert not ray.is_initialized()
    ctx = ray.init(num_cpus=1, include_dashboard=False, dashboard_host="0.0.0.0",
                   logging_level=20, runtime_env={})
    try:
        assert ray.cluster_resources()["CPU"] == 1
    finally:
        ctx.disconnect()
    assert not ray.is_initialized()


def test_init_as_context_manager_shuts_down():
    with ray.init(num_cpus=1):
        assert ray.get(ray.put(3)) == 3
    assert not ray.is_initialized()


def test_calls_auto_initialise_like_ray():
    try:
        @ray.remote
        def f():
            return 5
        assert ray.get(f.remote()) == 5
        assert ray.is_initialized()
    finally:
        ray.shutdown()


def test_shutdown_leaves_no_process_and_no_segment():
    ray.init(num_cpus=2)
    from jupyter_raylite import api
    cluster_id = api._cluster.cluster_id
    big = ray.put(np.zeros(1_000_000))

    @ray.remote
    def make_big():
        return np.ones(1_000_000)

    result = make_big.remote()
    ray.get(result)
    assert wait_until(lambda: len(cluster_processes(cluster_id)) >= 3)  # zygote + 2 workers
    assert len(segments(f"raylite_{cluster_id}_")) == 2
    ray.shutdown()
    assert cluster_processes(cluster_id) == []
    assert segments(f"raylite_{cluster_id}_") == set()
    del big, result


def test_workers_carry_the_cluster_id_and_are_not_in_the_drivers_process_group(cluster):
    from jupyter_raylite import api
    cluster_id = api._cluster.cluster_id

    @ray.remote
    def pid():
        return os.getpid()

    worker_pids = set(ray.get([pid.remote() for _ in range(4)]))
    procs = {p.pid for p in cluster_processes(cluster_id)}
    assert worker_pids <= procs
    for worker_pid in worker_pids:
        assert os.getpgid(worker_pid) != os.getpgid(0)


def test_cluster_opens_no_tcp_port(cluster):
    from jupyter_raylite import api

    @ray.remote
    def nested():
        return ray.get(ray.put(1))

    assert ray.get(nested.remote()) == 1
    for proc in cluster_processes(api._cluster.cluster_id):
        assert proc.net_connections(kind="inet") == [], proc


def test_sigint_to_the_drivers_process_group_does_not_kill_workers():
    # What Jupyter does on "interrupt kernel": SIGINT to the kernel's whole process group.
    driver = run_driver("""
        import time, jupyter_raylite as ray
        ray.init(num_cpus=2)
        @ray.remote
        def slow(x):
            time.sleep(1.5)
            return x
        refs = [slow.remote(i) for i in range(2)]
        try:  # announced inside the try: the interrupt may come at once
            print("SUBMITTED", flush=True)
            time.sleep(60)
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
        print("RESULT", ray.get(refs), flush=True)
        ray.shutdown()
    """, start_new_session=True)
    try:
        read_line(driver, "SUBMITTED")
        os.killpg(driver.pid, signal.SIGINT)
        read_line(driver, "INTERRUPTED")
        assert read_line(driver, "RESULT") == "[0, 1]"
        assert driver.wait(timeout=30) == 0
    finally:
        driver.kill()
        driver.wait()


@pytest.mark.parametrize("how", ["kill -9 of the driver", "kill -9 of the process group"])
def test_killed_driver_leaves_nothing(how):
    driver = run_driver("""
        import time, numpy as np, jupyter_raylite as ray
        from jupyter_raylite import api
        ray.init(num_cpus=2)
        keep = ray.put(np.zeros(2_000_000))
        @ray.remote
        def forever():
            time.sleep(600)
        refs = [forever.remote() for _ in range(2)]
        time.sleep(0.5)
        print("CLUSTER", api._cluster.cluster_id, flush=True)
        time.sleep(600)
    """, start_new_session=True)
    try:
        cluster_id = read_line(driver, "CLUSTER")
        assert wait_until(lambda: len(cluster_processes(cluster_id)) >= 3)
        assert segments(f"raylite_{cluster_id}_")
        if how == "kill -9 of the driver":
            driver.kill()
        else:
            os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
        # How soon is benchmarks/' business (cleanup after kill -9): here, that it happens.
        assert wait_until(lambda: not cluster_processes(cluster_id), timeout=HANG)
        assert wait_until(lambda: not segments(f"raylite_{cluster_id}_"), timeout=HANG)
    finally:
        driver.kill()
        driver.wait()


def test_new_cluster_removes_segments_of_a_dead_cluster():
    dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_pid.wait()
    stale = f"raylite_{dead_pid.pid}xdeadbeef_p0"
    with open(os.path.join("/dev/shm", stale), "wb") as f:
        f.write(b"left by a crashed kernel")
    with ray.init(num_cpus=1):
        assert stale not in segments()


def test_local_mode_runs_tasks_in_this_process():
    with pytest.warns(UserWarning, match="serially"):
        ray.init(local_mode=True)
    try:
        @ray.remote
        def pid():
            return os.getpid()

        @ray.remote(num_returns=2)
        def pair(x):
            return x, x + 1

        assert ray.get(pid.remote()) == os.getpid()
        assert ray.get(pair.remote(ray.put(1))) == [1, 2]
        with pytest.raises(ZeroDivisionError):
            ray.get(ray.remote(lambda: 1 / 0).remote())
    finally:
        ray.shutdown()
    assert cluster_processes() == []


def test_import_starts_nothing_and_imports_no_ipython_or_ray():
    code = ("import sys, jupyter_raylite, psutil; "
            "assert not psutil.Process().children(), 'a process was started'; "
            "bad = [m for m in ('IPython', 'ray', 'ipywidgets') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)



def test_processes_started_by_tasks_die_with_the_cluster():
    ray.init(num_cpus=1)
    from jupyter_raylite import api
    cluster_id = api._cluster.cluster_id

    @ray.remote
    def start_helper():
        import subprocess
        return subprocess.Popen(["sleep", "600"]).pid

    helper = ray.get(start_helper.remote())
    assert helper in {p.pid for p in cluster_processes(cluster_id)}
    ray.shutdown()
    assert wait_until(lambda: not cluster_processes(cluster_id), timeout=HANG)


def test_custom_resources_limit_how_many_tasks_run_at_once():
    ray.init(num_cpus=4, resources={"gpu_slot": 1})
    try:
        @ray.remote(resources={"gpu_slot": 1})
        def exclusive():
            import time
            start = time.monotonic()
            time.sleep(0.3)
            return start, time.monotonic()

        spans = sorted(ray.get([exclusive.remote() for _ in range(3)]))
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end  # never two at once
        assert ray.cluster_resources()["gpu_slot"] == 1
    finally:
        ray.shutdown()


def test_extra_workers_started_for_nested_tasks_exit_when_idle(monkeypatch):
    from jupyter_raylite import api
    from jupyter_raylite.core import head
    monkeypatch.setattr(head, "IDLE_WORKER_TIMEOUT", 0.5)
    ray.init(num_cpus=2)
    try:
        cluster_id = api._cluster.cluster_id

        @ray.remote
        def leaf():
            return 1

        @ray.remote
        def parent():
            return ray.get(leaf.remote())

        # Every CPU is held by a blocked parent, so each child needs a worker of its own.
        assert ray.get([parent.remote() for _ in range(4)]) == [1] * 4
        assert len(cluster_processes(cluster_id)) > 3  # zygote + more than 2 workers
        assert wait_until(lambda: len(cluster_processes(cluster_id)) == 3, timeout=HANG)
        assert ray.get([leaf.remote() for _ in range(4)]) == [1] * 4  # the pool still works
    finally:
        ray.shutdown()
