"""Failures found in review: each must give a clear error and leave the cluster working."""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import jupyter_raylite as ray
from jupyter_raylite.exceptions import ActorDiedError, ObjectLostError, WorkerCrashedError
from leaks import segments, wait_until

LOCK = threading.Lock()


class NeedsTwoArguments(Exception):
    """Pickles fine but cannot be unpickled: __init__ wants two arguments, args has one."""

    def __init__(self, a, b):
        super().__init__(a)


def cluster_segments():
    from jupyter_raylite import api
    return segments(f"raylite_{api._cluster.cluster_id}_")


def test_unpicklable_function_fails_at_remote_and_later_tasks_still_run(cluster):
    def uses_lock():  # a local function travels by value, as notebook code does
        with LOCK:
            return 1

    bad = ray.remote(uses_lock)
    with pytest.raises(TypeError, match="inside the function"):
        bad.remote()
    assert ray.get(ray.remote(lambda: 2).remote()) == 2


def test_get_if_exists_then_plain_creation_of_the_same_class(cluster):
    @ray.remote
    class Box:
        def value(self):
            return 3

    first = Box.options(name="box").remote()
    again = Box.options(name="box", get_if_exists=True).remote()
    other = Box.remote()
    assert ray.get([again.value.remote(), other.value.remote()]) == [3, 3]
    ray.kill(first)


def test_constructor_error_that_cannot_be_unpickled_keeps_the_head_alive(cluster):
    @ray.remote
    class Odd:
        def __init__(self):
            raise NeedsTwoArguments("x", "y")

        def ping(self):
            return 1

    actor = Odd.remote()
    with pytest.raises(ActorDiedError, match="NeedsTwoArguments"):
        ray.get(actor.ping.remote(), timeout=30)
    assert ray.get(ray.remote(lambda: "alive").remote(), timeout=30) == "alive"


def test_retry_exceptions_matches_classes_defined_by_the_user(cluster, tmp_path):
    @ray.remote(max_retries=1, retry_exceptions=[NeedsTwoArguments])
    def flaky(path):
        import os
        if not os.path.exists(path):
            open(path, "w").close()
            raise NeedsTwoArguments("first", "attempt")
        return "second attempt"

    assert ray.get(flaky.remote(str(tmp_path / "m")), timeout=30) == "second attempt"


def test_garbage_from_a_worker_kills_that_worker_only(cluster):
    @ray.remote(max_retries=0)
    def send_garbage():
        from jupyter_raylite.core import context
        context.current_runtime().send(("no-such-message",))
        import time
        time.sleep(30)

    with pytest.raises(WorkerCrashedError):
        ray.get(send_garbage.remote(), timeout=30)
    assert ray.get(ray.remote(lambda: "alive").remote(), timeout=30) == "alive"


def test_large_actor_call_arguments_are_freed_after_the_call(cluster):
    @ray.remote
    class Summer:
        def __init__(self, start):
            self.start = start

        def total(self, array):
            return float(array.sum()) + float(self.start.sum())

    summer = Summer.remote(np.zeros(300_000))
    assert ray.get(summer.total.remote(np.ones(300_000))) == 300_000
    ray.kill(summer)
    del summer
    gc.collect()
    assert wait_until(lambda: not cluster_segments())


def test_ref_from_an_old_cluster_as_argument_fails_instead_of_hanging():
    with ray.init(num_cpus=1):
        old = ray.put(1)
    with ray.init(num_cpus=1):
        @ray.remote
        def use(x):
            return x

        with pytest.raises(ObjectLostError):
            ray.get(use.remote(old), timeout=30)
        with pytest.raises(ObjectLostError):
            ray.wait([old], timeout=1)


def test_kill_right_after_creation_is_not_lost(cluster):
    @ray.remote
    class Quick:
        def ping(self):
            return 1

    actor = Quick.remote()
    ray.kill(actor)
    with pytest.raises(ActorDiedError):
        ray.get(actor.ping.remote(), timeout=30)
