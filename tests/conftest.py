"""Fixtures shared by every test, and the rule that no test leaks.

After each test: no process of a cluster this test run started other than the one a fixture
keeps alive, no ``raylite_*`` segment that such a cluster made during the test, no thread the
test started.  A module that shares one cluster between its tests gets the same check when the
module's cluster shuts down.  Other jupyter_raylite programs on the machine are not looked at
(tests/leaks.py says how a process or segment is known to be this run's).

``--stress`` runs the suite beside a load (tests/stress.py): busy loops and another
jupyter_raylite program.
"""

from __future__ import annotations

import gc
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from leaks import (HANG, cluster_processes, leftovers, live_threads, mark_this_run,  # noqa: E402
                   run_segments, segments, wait_until)

mark_this_run()  # before anything starts a process, so that everything this run starts has it

import jupyter_raylite  # noqa: E402

# The browser test's notebook is run by the browser test, not by nbval.
collect_ignore_glob = ["browser/*.ipynb"]


def _live_cluster_id() -> str | None:
    from jupyter_raylite import api
    return api._cluster.cluster_id if api._cluster is not None else None


@pytest.fixture(autouse=True)
def no_leaks():
    threads_before = live_threads()
    segments_before = run_segments()
    yield
    gc.collect()
    # A cluster shared by a module stays up, but its segments must come back to what they
    # were before the test: whatever the test created and dropped is freed.
    live = _live_cluster_id()
    assert wait_until(lambda: leftovers(segments_before, keep=live) == ([], set()), timeout=HANG), (
        "leaked past the test: processes %s, segments %s" % leftovers(segments_before, keep=live))
    # The head thread of a shared cluster and helper threads of Ray are allowed to stay.
    def new_threads():
        # A fixture's cluster keeps its head thread; Ray's client keeps threads of its own.
        allowed = ("ray_", "Thread-", "IPythonHistorySavingThread") + (
            ("raylite-head",) if live else ())
        return {t for t in live_threads() - threads_before if not t.name.startswith(allowed)}
    assert wait_until(lambda: not new_threads(), timeout=HANG), f"threads leaked: {new_threads()}"


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


def pytest_addoption(parser):
    parser.addoption("--stress", action="store_true",
                     help="run the tests beside a load: two busy loops and another "
                          "jupyter_raylite program (tests/stress.py)")


def pytest_configure(config):
    if config.getoption("--stress"):
        import stress
        config._raylite_stress = stress.Load().start()


def pytest_unconfigure(config):
    load = getattr(config, "_raylite_stress", None)
    if load is not None:
        load.stop()


def pytest_report_header(config):
    lines = []
    load = getattr(config, "_raylite_stress", None)
    if load is not None:
        lines.append(f"stress: {load.describe()}")
    try:
        import ray
        lines.append(f"oracle: ray {ray.__version__} (compat tests run on both)")
    except ImportError:
        lines.append("oracle: ray not installed (compat tests run on jupyter_raylite only)")
    return lines


