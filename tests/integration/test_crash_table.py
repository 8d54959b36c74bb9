"""The crash-case table (as loky's and CPython's process-pool tests have one): where a failure
happens x how, and the error the user must get.  Every row finishes within its deadline, and
the cluster works afterwards.

Sites: pickling the arguments (in the driver), unpickling them (in the worker), running the
task, pickling the result (in the worker), unpickling it (in the driver).  Kinds: an
exception, sys.exit, os._exit, a segfault, SIGKILL.  A driver that dies is run as a script of its own:
what must hold then is that nothing of its cluster outlives it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from traps import KINDS, PickleTrap, UnpickleTrap, fail

import jupyter_raylite as ray
from jupyter_raylite.exceptions import RaySystemError, WorkerCrashedError

from leaks import HANG, cluster_processes, segments, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE = 30  # seconds any row may take to give its error

CRASHED = {"exit": "exited with code 3", "os_exit": "exited with code 4", "segfault": "SIGSEGV",
           "kill": "SIGKILL"}
DRIVER_EXIT = {"exit": 3, "os_exit": 4, "segfault": -11, "kill": -9}


@ray.remote(max_retries=0)
def echo(value):
    return value


@ray.remote(max_retries=0)
def spring(kind):
    fail(kind)


@ray.remote(max_retries=0)
def return_pickle_trap(kind):
    return PickleTrap("worker", kind)


def in_worker_cases():
    """(site, kind, submit, expected error, words): rows whose failure is in a worker, or
    an exception in the driver."""
    rows = []
    for kind in KINDS:
        crash = (WorkerCrashedError, CRASHED.get(kind))
        rows += [
            ("unpickle args", kind, lambda k=kind: echo.remote(UnpickleTrap("worker", k)),
             *((RuntimeError, "the trap was sprung") if kind == "exception" else crash)),
            ("run", kind, lambda k=kind: spring.remote(k),
             *((RuntimeError, "the trap was sprung") if kind == "exception" else crash)),
            ("pickle result", kind, lambda k=kind: return_pickle_trap.remote(k),
             *((TypeError, "Could not serialize the return value.*the trap was sprung")
               if kind == "exception" else crash)),
        ]
    return rows


WORKER_ROWS = in_worker_cases()


@pytest.mark.parametrize("site, kind, submit, error, words", WORKER_ROWS,
                         ids=[f"{row[0]}-{row[1]}" for row in WORKER_ROWS])
@pytest.mark.timeout(90)
def test_failure_in_the_worker_gives_the_right_error(cluster, site, kind, submit, error, words):
    start = time.monotonic()
    with pytest.raises(error, match=words) as info:
        ray.get(submit(), timeout=DEADLINE)
    assert time.monotonic() - start < DEADLINE
    if error is WorkerCrashedError:  # names the function and the likely cause
        assert "max_retries" in str(info.value) and "() died" in str(info.value)
    assert ray.get(echo.remote("alive"), timeout=DEADLINE) == "alive"


def test_exception_pickling_the_arguments_fails_at_the_call(cluster):
    with pytest.raises(TypeError, match="Could not serialize the arguments of echo.*"
                                        "the trap was sprung.*inside the task"):
        echo.remote(PickleTrap("driver", "exception"))
    assert ray.get(echo.remote("alive"), timeout=DEADLINE) == "alive"


def test_exception_unpickling_the_result_in_the_driver(cluster):
    @ray.remote
    def make_trap():
        return UnpickleTrap("driver", "exception")

    ref = make_trap.remote()
    with pytest.raises(RaySystemError, match="could not be unpickled in this process.*"
                                             "the trap was sprung"):
        ray.get(ref, timeout=DEADLINE)
    assert ray.get(echo.remote("alive"), timeout=DEADLINE) == "alive"


@pytest.mark.parametrize("site", ["pickle args", "unpickle result"])
@pytest.mark.parametrize("kind", ["exit", "os_exit", "segfault", "kill"])
@pytest.mark.timeout(90)
def test_driver_that_dies_leaves_nothing_behind(site, kind):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, os.environ.get("PYTHONPATH", "")]))
    driver = subprocess.Popen([sys.executable, os.path.join(HERE, "crash_driver.py"), site, kind],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=env)
    try:
        cluster_id = driver.stdout.readline().split()[-1]
        assert segments(f"raylite_{cluster_id}_")  # it holds shared memory when it dies
        assert driver.wait(timeout=DEADLINE) == DRIVER_EXIT[kind]
        assert "survived" not in driver.stdout.read()
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    assert wait_until(lambda: not cluster_processes(cluster_id)
                      and not segments(f"raylite_{cluster_id}_"), timeout=HANG), (
        f"left behind: {cluster_processes(cluster_id)}, {segments(f'raylite_{cluster_id}_')}")


def test_a_result_written_before_the_worker_died_is_not_left_in_shared_memory(cluster):
    # Two results: the first (1.6 MB) goes to a segment, pickling the second kills the worker
    # before it can report either.
    @ray.remote(num_returns=2, max_retries=0)
    def half_done():
        return b"x" * 1_600_000, PickleTrap("worker", "kill")

    cluster_id = ray.api._cluster.cluster_id
    first, second = half_done.remote()
    with pytest.raises(WorkerCrashedError):
        ray.get(first, timeout=DEADLINE)
    assert wait_until(lambda: not segments(f"raylite_{cluster_id}_"), timeout=HANG), segments()


def test_a_return_value_that_fails_after_another_was_written_leaves_no_segment(cluster):
    # The worker lives on: it reports the error, and the first value's segment must go.
    @ray.remote(num_returns=2, max_retries=0)
    def second_fails():
        return b"x" * 1_600_000, PickleTrap("worker", "exception")

    cluster_id = ray.api._cluster.cluster_id
    first, second = second_fails.remote()
    with pytest.raises(TypeError, match="the trap was sprung"):
        ray.get(first, timeout=DEADLINE)
    assert wait_until(lambda: not segments(f"raylite_{cluster_id}_"), timeout=HANG), segments()


def test_an_actor_that_dies_mid_result_leaves_no_segment(cluster):
    @ray.remote(max_restarts=1)
    class HalfDone:
        @ray.method(num_returns=2)
        def results(self):
            return b"x" * 1_600_000, PickleTrap("worker", "kill")

    cluster_id = ray.api._cluster.cluster_id
    actor = HalfDone.remote()
    first, _ = actor.results.remote()
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(first, timeout=DEADLINE)
    assert wait_until(lambda: not segments(f"raylite_{cluster_id}_"), timeout=HANG), segments()
    ray.kill(actor)


class NeedsTwoArguments(Exception):
    def __init__(self, what, why):
        super().__init__(f"{what}: {why}")


def test_an_error_that_cannot_be_rebuilt_keeps_its_text(cluster):
    @ray.remote(max_retries=0)
    def raises_it():
        raise NeedsTwoArguments("the sensor", "offline")

    with pytest.raises(ray.exceptions.RayTaskError, match="NeedsTwoArguments") as info:
        ray.get(raises_it.remote(), timeout=DEADLINE)
    assert "the sensor: offline" in str(info.value)
