"""Object lifetime: shared memory for big values, inline small ones, freed when unreferenced."""

from __future__ import annotations

import gc
import mmap
import os
import sys

import numpy as np
import pytest

import jupyter_raylite as ray
from leaks import segments, wait_until


def cluster_segments():
    from jupyter_raylite import api
    return segments(f"raylite_{api._cluster.cluster_id}_")


def test_large_value_lives_in_shared_memory_until_the_last_ref_dies(cluster):
    ref = ray.put(np.zeros(1_000_000))
    assert len(cluster_segments()) == 1
    small = ray.put(list(range(10)))
    assert len(cluster_segments()) == 1  # small values travel inline
    view = ray.get(ref)
    del ref
    gc.collect()
    assert wait_until(lambda: not cluster_segments())
    assert view.sum() == 0  # the mapping outlives the unlinked segment, as POSIX promises
    del small


def test_get_of_a_large_array_is_a_zero_copy_view_of_shared_memory(cluster):
    ref = ray.put(np.arange(2_000_000, dtype=np.int64))
    first, second = ray.get(ref), ray.get(ref)
    assert not first.flags.owndata and not first.flags.writeable
    # The array's memory is the segment's mapping itself: no copy was made.
    base = first
    while isinstance(getattr(base, "base", None), (np.ndarray, memoryview)):
        base = base.base
    assert isinstance(base.obj if isinstance(base, memoryview) else base, mmap.mmap)
    assert first[123_456] == second[123_456] == 123_456


def test_ref_inside_a_value_keeps_the_inner_object_alive(cluster):
    inner = ray.put(np.ones(500_000))
    outer = ray.put({"inner": inner})
    inner_id = inner.hex()
    del inner
    gc.collect()
    assert any(inner_id in name for name in wait_and_list())
    got = ray.get(ray.get(outer)["inner"])
    assert got.sum() == 500_000
    del outer, got
    gc.collect()
    assert wait_until(lambda: not cluster_segments())


def wait_and_list():
    import time
    time.sleep(0.2)
    return cluster_segments()


def test_result_nobody_holds_is_freed_when_the_task_finishes(cluster):
    @ray.remote
    def make():
        return np.ones(500_000)

    keep = make.remote()
    ray.get(keep)
    make.remote()  # the ref is dropped at once
    ray.get(make.remote())
    assert wait_until(lambda: len(cluster_segments()) == 1)
    del keep
    gc.collect()
    assert wait_until(lambda: not cluster_segments())


def test_large_task_arguments_travel_through_shared_memory_and_are_freed(cluster):
    @ray.remote
    def total(a):
        return float(a.sum())

    assert ray.get(total.remote(np.ones(1_000_000))) == 1_000_000
    assert wait_until(lambda: not cluster_segments())


def test_refs_held_by_workers_keep_objects_alive(cluster):
    @ray.remote
    def stash():
        # The value returned holds a ref created in the worker; the worker's own ref dies.
        return [ray.put(np.full(300_000, 7.0))]

    (inner,) = ray.get(stash.remote())
    assert ray.get(inner)[0] == 7.0
    del inner
    gc.collect()
    assert wait_until(lambda: not cluster_segments())


def test_object_ref_cannot_be_pickled_outside_the_cluster_or_used_as_bool(cluster):
    import pickle
    ref = ray.put(1)
    with pytest.raises(TypeError, match="ray.get"):
        pickle.dumps(ref)
    with pytest.raises(TypeError, match="ray.get"):
        bool(ref)


def test_ref_from_a_shut_down_cluster_says_so():
    with ray.init(num_cpus=1):
        ref = ray.put(1)
    with ray.init(num_cpus=1):
        with pytest.raises(ray.exceptions.ObjectLostError, match="shut down"):
            ray.get(ref)


def test_functions_travel_once_per_worker_not_once_per_call(cluster):
    @ray.remote
    def code_identity():
        return os.getpid(), id(sys._getframe().f_code)

    seen = {}
    for pid, code_id in ray.get([code_identity.remote() for _ in range(20)]):
        assert seen.setdefault(pid, code_id) == code_id


def test_redefined_function_runs_the_new_code(cluster):
    @ray.remote
    def version():
        return 1
    assert ray.get(version.remote()) == 1

    @ray.remote
    def version():  # noqa: F811  (what re-running an edited notebook cell does)
        return 2
    assert ray.get(version.remote()) == 2


def test_worker_output_reaches_the_driver_with_task_name_and_pid(cluster, capfd):
    @ray.remote
    def talk(i):
        print(f"line {i}")
        print(f"problem {i}", file=sys.stderr)
        return os.getpid()

    pids = ray.get([talk.remote(i) for i in range(3)])
    out, err = "", ""
    def seen():
        nonlocal out, err
        o, e = capfd.readouterr()
        out, err = out + o, err + e
        return out.count("line") == 3 and err.count("problem") == 3
    assert wait_until(seen)
    for i, pid in enumerate(pids):
        assert f"(talk pid={pid}) line {i}\n" in out
        assert f"(talk pid={pid}) problem {i}\n" in err


def test_object_larger_than_the_store_says_which_knob_to_raise():
    from jupyter_raylite.exceptions import ObjectStoreFullError
    ray.init(num_cpus=1, object_store_memory=8 * 2**20)
    try:
        with pytest.raises(ObjectStoreFullError, match="object_store_memory"):
            ray.put(b"x" * (16 * 2**20))

        @ray.remote
        def too_big():
            return b"x" * (16 * 2**20)

        with pytest.raises(ObjectStoreFullError, match="larger than the whole object store"):
            ray.get(too_big.remote(), timeout=60)
        assert ray.get(ray.put(b"y" * (4 * 2**20))) == b"y" * (4 * 2**20)  # what fits, fits
    finally:
        ray.shutdown()
