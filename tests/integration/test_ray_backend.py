"""The Ray backend beyond the compat suite (which runs every Ray API test through
jupyter_raylite on Ray too): the install hint, switching backends in one process, the views
fed from what the driver submits, the timeline, and a notebook run on Ray unchanged."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

import jupyter_raylite as ray
from jupyter_raylite.observe.monitor import Monitor
from jupyter_raylite.widgets.graph import TaskGraph
from jupyter_raylite.widgets.resource_meters import ResourceMeters

from leaks import HANG, cluster_processes, wait_until

pytest.importorskip("ray", reason="the Ray backend needs ray (pip install 'jupyter-raylite[ray]')")
RAY_OPTIONS = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)


def _ray_children() -> list:
    return [p for p in psutil.Process().children(recursive=True)
            if "ray" in " ".join(p.cmdline()[:3]) and p.status() != psutil.STATUS_ZOMBIE]


def test_without_ray_installed_init_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without ray looks like
    with pytest.raises(ImportError, match=r"pip install 'jupyter-raylite\[ray\]'"):
        ray.init(backend="ray")
    assert not ray.is_initialized()


def test_switching_backends_leaves_nothing_of_the_old_one():
    @ray.remote
    def where(x):
        return os.environ.get("JUPYTER_RAYLITE_CLUSTER", "ray"), x

    ray.init(num_cpus=1)
    local_id = ray.api._cluster.cluster_id
    assert ray.get(where.remote(1)) == (local_id, 1)
    ray.shutdown()
    assert not cluster_processes(local_id)

    ray.init(backend="ray", num_cpus=1, **RAY_OPTIONS)
    try:
        assert ray.get(where.remote(2)) == ("ray", 2)  # the same remote function, now on Ray
        assert ray.cluster_resources()["CPU"] == 1.0
    finally:
        ray.shutdown()
    assert wait_until(lambda: not _ray_children(), timeout=HANG * 2), _ray_children()

    ray.init(num_cpus=1)
    try:
        assert ray.get(where.remote(3))[1] == 3
    finally:
        ray.shutdown()


def test_views_follow_what_the_driver_submits_to_ray():
    ray.init(backend="ray", num_cpus=2, **RAY_OPTIONS)
    monitor = Monitor(interval=3600)
    graph, meters = TaskGraph(monitor=monitor), ResourceMeters(monitor=monitor)
    try:
        @ray.remote
        def square(x):
            return x * x

        @ray.remote
        def total(*values):
            return sum(values)

        parts = [square.remote(i) for i in range(3)]
        assert ray.get(total.remote(*parts)) == 5
        assert wait_until(lambda: (monitor.poll(), sum(
            n["state"] == "finished" for n in graph.nodes.values()) == 4)[1], timeout=30)
        labels = sorted(n["label"] for n in graph.nodes.values())
        assert labels == ["square", "square", "square", "total"]
        assert len(graph.edges) == 3  # each square's ref feeds total
        assert meters.values["CPU"][1] == 2.0
        # Ray's own trace (it reports task events asynchronously)
        assert wait_until(lambda: sum(e.get("cat") == "task::total" for e in ray.timeline())
                          == 1, timeout=30)
    finally:
        graph.close()
        meters.close()
        monitor.stop()
        ray.shutdown()


@pytest.mark.timeout(300)
def test_the_tutorial_runs_on_ray_unchanged(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    notebook = Path(__file__).parents[2] / "notebooks" / "01-learning-ray-core.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    previous = {k: os.environ.get(k) for k in ("JUPYTER_RAYLITE_BACKEND",)}
    os.environ["JUPYTER_RAYLITE_BACKEND"] = "ray"  # the kernel inherits it
    try:
        NotebookClient(nb, timeout=240, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert "CPUs: 8.0" in printed and "(7, 'Learning')" in printed


def test_init_with_an_address_after_load_ext_moves_the_notebook_to_ray():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython
    shell = start_ipython() or get_ipython()  # the one shell of this test process
    shell.run_line_magic("load_ext", "jupyter_raylite")
    try:
        local_id = ray.api._cluster.cluster_id  # the cluster %load_ext started, unused
        # What a notebook's own init cell does: it wins over the unused local cluster.
        ray.init(backend="ray", num_cpus=1, **RAY_OPTIONS)
        assert ray.api._cluster.cluster_id.startswith("ray")
        assert not cluster_processes(local_id)
        assert ray.get(ray.put("on ray")) == "on ray"
        # Re-running that cell is harmless; asking for the local cluster now is refused with
        # what to do, since the Ray cluster holds work.
        ray.init(backend="ray", num_cpus=1, **RAY_OPTIONS)
        with pytest.raises(RuntimeError, match="shutdown"):
            ray.init(num_cpus=1)
    finally:
        shell.run_line_magic("unload_ext", "jupyter_raylite")
        ray.shutdown()
