"""Fixtures shared by every test, and the rule that no test leaks.

After each test: no process of a cluster other than the one a fixture keeps alive, no
``raylite_*`` segment of such a cluster, no thread the test started.  A module that shares one
cluster between its tests gets the same check when the module's cluster shuts down.
"""

from __future__ import annotations

import gc
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from leaks import cluster_processes, live_threads, segments, wait_until  # noqa: E402

import jupyter_raylite  # noqa: E402

# The browser test's notebook is run by the browser test, not by nbval.
collect_ignore_glob = ["browser/*.ipynb"]


def _live_cluster_id() -> str | None:
    from jupyter_raylite import api
    return api._cluster.cluster_id if api._cluster is not None else None


@pytest.fixture(autouse=True)
def no_leaks():
    threads_before = live_threads()
    segments_before = segments()
    yield
    gc.collect()
    live = _live_cluster_id()

    def clean():
        procs = cluster_processes(exclude=live)
        # A cluster shared by a module stays up, but its segments must come back to what
        # they were before the test: whatever the test created and dropped is freed.
        segs = segments() - segments_before
        return not procs and not segs

    assert wait_until(clean, timeout=5), (
        f"leaked past the test: processes {cluster_processes()}, segments {segments()}")
    # The head thread of a shared cluster and helper threads of Ray are allowed to stay.
    def new_threads():
        # A fixture's cluster keeps its head thread; Ray's client keeps threads of its own.
        allowed = ("ray_", "Thread-", "IPythonHistorySavingThread") + (
            ("raylite-head",) if live else ())
        return {t for t in live_threads() - threads_before if not t.name.startswith(allowed)}
    assert wait_until(lambda: not new_threads(), timeout=5), f"threads leaked: {new_threads()}"


@pytest.fixture
def cluster():
    """A fresh local cluster with 2 CPUs for one test; shut down (and checked) afterwards."""
    ctx = jupyter_raylite.init(num_cpus=2)
    yield ctx
    cluster_id = _live_cluster_id()
    jupyter_raylite.shutdown()
    assert not cluster_processes(cluster_id), "shutdown() returned with processes alive"
    assert not segments(f"raylite_{cluster_id}_"), "shutdown() returned with segments left"


@pytest.fixture(autouse=True)
def _no_cluster_left_running(request):
    """A test that starts a cluster itself must shut it down."""
    shared = "ray_impl" in request.fixturenames
    yield
    if not shared and "cluster" not in request.fixturenames and jupyter_raylite.is_initialized():
        jupyter_raylite.shutdown()
        pytest.fail("the test left a cluster running; call shutdown() or use a fixture")


def pytest_report_header(config):
    try:
        import ray
        return f"oracle: ray {ray.__version__} (compat tests run on both)"
    except ImportError:
        return "oracle: ray not installed (compat tests run on jupyter_raylite only)"


