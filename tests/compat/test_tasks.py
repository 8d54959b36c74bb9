"""Remote functions, ObjectRefs, get/put/wait and errors: the behaviour Ray users rely on."""

from __future__ import annotations

import concurrent.futures
import time

import meeting
import numpy as np
import pytest
from leaks import HANG
from meeting import arrive, meet, wait_for


def test_remote_returns_object_ref_and_get_returns_value(ray_impl):
    @ray_impl.remote
    def double(x):
        return 2 * x

    ref = double.remote(21)
    assert isinstance(ref, ray_impl.ObjectRef)
    assert ray_impl.get(ref) == 42
    assert ray_impl.get([double.remote(i) for i in range(5)]) == [0, 2, 4, 6, 8]


def test_remote_function_called_directly_raises_type_error(ray_impl):
    @ray_impl.remote
    def f():
        return 1

    with pytest.raises(TypeError, match=r"f\.remote\(\)"):
        f()


def test_num_returns_zero_one_and_many(ray_impl):
    @ray_impl.remote(num_returns=3)
    def three():
        return 1, 2, 3

    @ray_impl.remote(num_returns=0)
    def nothing():
        return None

    refs = three.remote()
    assert isinstance(refs, list) and len(refs) == 3
    assert ray_impl.get(refs) == [1, 2, 3]
    assert nothing.remote() is None
    assert ray_impl.get(three.options(num_returns=1).remote()) == (1, 2, 3)


def test_options_returns_new_handle_and_keeps_the_original(ray_impl):
    @ray_impl.remote(num_cpus=1)
    def where():
        return ray_impl.get_runtime_context().get_assigned_resources().get("CPU")

    assert ray_impl.get(where.options(num_cpus=2).remote()) == 2
    assert ray_impl.get(where.remote()) == 1


def test_unknown_option_is_rejected_with_the_valid_ones(ray_impl):
    @ray_impl.remote
    def f():
        return 1

    with pytest.raises(ValueError, match="num_cpus"):
        f.options(num_cpu=2)


def test_top_level_refs_are_resolved_and_nested_refs_are_not(ray_impl):
    @ray_impl.remote
    def describe(value, container):
        return type(value).__name__, type(container[0]).__name__

    ref = ray_impl.put(5)
    assert ray_impl.get(describe.remote(ref, [ref])) == ("int", "ObjectRef")


def test_nested_ref_can_be_fetched_inside_the_task(ray_impl):
    @ray_impl.remote
    def total(refs):
        return sum(ray_impl.get(refs))

    refs = [ray_impl.put(i) for i in range(4)]
    assert ray_impl.get(total.remote(refs)) == 6


def test_put_of_an_object_ref_raises_type_error(ray_impl):
    ref = ray_impl.put(1)
    with pytest.raises(TypeError):
        ray_impl.put(ref)


def test_objects_are_immutable_numpy_arrays_read_only(ray_impl):
    array = np.arange(1_000_000, dtype=np.float64)
    ref = ray_impl.put(array)
    got = ray_impl.get(ref)
    assert np.array_equal(got, array)
    assert not got.flags.writeable
    with pytest.raises(ValueError):
        got[0] = 1.0

    @ray_impl.remote
    def first_and_writeable(a):
        return float(a[0]), a.flags.writeable

    assert ray_impl.get(first_and_writeable.remote(ref)) == (0.0, False)


def test_task_error_is_instance_of_the_original_type_and_ray_task_error(ray_impl, exceptions):
    class CustomError(Exception):
        pass

    @ray_impl.remote
    def fails(x):
        raise CustomError(f"bad input {x}")

    ref = fails.remote(7)
    with pytest.raises(CustomError) as info:
        ray_impl.get(ref)
    assert isinstance(info.value, exceptions.RayTaskError)
    assert "bad input 7" in str(info.value)
    assert "fails" in str(info.value)
    with pytest.raises(ZeroDivisionError):
        ray_impl.get(ray_impl.remote(lambda: 1 / 0).remote())


def test_failed_argument_fails_the_dependent_task(ray_impl):
    @ray_impl.remote
    def fails():
        raise KeyError("upstream")

    @ray_impl.remote
    def uses(value):
        return value

    with pytest.raises(KeyError, match="upstream"):
        ray_impl.get(uses.remote(fails.remote()))


def test_get_timeout_raises_get_timeout_error_which_is_a_timeout_error(ray_impl, exceptions):
    @ray_impl.remote
    def slow():
        time.sleep(3)

    ref = slow.remote()
    with pytest.raises(exceptions.GetTimeoutError) as info:
        ray_impl.get(ref, timeout=0.1)
    assert isinstance(info.value, TimeoutError)
    ray_impl.cancel(ref, force=True)


def test_get_rejects_what_is_not_an_object_ref(ray_impl):
    with pytest.raises(ValueError):
        ray_impl.get("not a ref")
    with pytest.raises(ValueError):
        ray_impl.get((ray_impl.put(1),))


def test_wait_returns_ready_and_not_ready_in_input_order(ray_impl):
    @ray_impl.remote
    def sleep_then(seconds, value):
        time.sleep(seconds)
        return value

    slow = sleep_then.remote(600, "slow")  # cancelled below; never ready while the test runs
    fast = [sleep_then.remote(0, i) for i in range(3)]
    refs = [fast[2], slow, fast[0], fast[1]]
    ready, not_ready = ray_impl.wait(refs, num_returns=3, timeout=30)
    assert ready == [fast[2], fast[0], fast[1]]
    assert not_ready == [slow]
    ready, not_ready = ray_impl.wait(refs, num_returns=4, timeout=0.2)
    assert slow in not_ready and len(ready) == 3
    ready, not_ready = ray_impl.wait(fast, num_returns=1)
    assert len(ready) == 1 and len(not_ready) == 2
    ray_impl.cancel(slow, force=True)


def test_wait_checks_its_arguments(ray_impl):
    refs = [ray_impl.put(1), ray_impl.put(2)]
    with pytest.raises(ValueError):
        ray_impl.wait([refs[0], refs[0]])
    with pytest.raises(ValueError):
        ray_impl.wait(refs, num_returns=3)
    with pytest.raises(TypeError):
        ray_impl.wait(refs[0])
    assert ray_impl.wait([]) == ([], [])


def test_object_ref_is_hashable_and_has_hex_id(ray_impl):
    ref = ray_impl.put("x")
    same = [ref][0]
    assert hash(ref) == hash(same) and ref == same
    assert isinstance(ref.hex(), str) and ref.hex() in repr(ref)
    assert len({ref, ray_impl.put("x")}) == 2


def test_tasks_submit_tasks_without_deadlock_when_the_pool_is_full(ray_impl):
    @ray_impl.remote
    def leaf(i):
        return i

    @ray_impl.remote
    def parent(i):
        # Every CPU is held by a parent waiting on its child: the children still run
        # because a worker blocked in get gives its CPU back.
        return ray_impl.get(leaf.remote(i)) + 100

    parents = [parent.remote(i) for i in range(8)]
    assert ray_impl.get(parents, timeout=60) == [100 + i for i in range(8)]


def test_tasks_can_put_and_wait(ray_impl):
    @ray_impl.remote
    def producer():
        ref = ray_impl.put([1, 2, 3])
        ready, _ = ray_impl.wait([ref], timeout=10)
        return ray_impl.get(ready[0])

    assert ray_impl.get(producer.remote()) == [1, 2, 3]


def test_task_can_return_a_ref_it_created(ray_impl):
    @ray_impl.remote
    def make():
        return ray_impl.put("inner value")

    inner = ray_impl.get(make.remote())
    assert isinstance(inner, ray_impl.ObjectRef)
    assert ray_impl.get(inner) == "inner value"


def test_tasks_run_in_parallel_up_to_the_cpus(ray_impl, tmp_path):
    @ray_impl.remote
    def party(place):
        return meet(place, 4)

    # 4 tasks on 4 CPUs all run at once: each waits for the other three and sees them come.
    assert ray_impl.get([party.remote(str(tmp_path)) for _ in range(4)]) == [True] * 4


def test_cancel_queued_task_never_runs(ray_impl, exceptions):
    every_cpu = ray_impl.cluster_resources()["CPU"]

    @ray_impl.remote(num_cpus=every_cpu)
    def blocker():
        time.sleep(2)

    @ray_impl.remote(num_cpus=every_cpu)
    def never(path):
        open(path, "w").close()

    import tempfile, os
    path = os.path.join(tempfile.mkdtemp(), "ran")
    first = blocker.remote()
    queued = never.remote(path)
    ray_impl.cancel(queued)
    with pytest.raises(exceptions.TaskCancelledError):
        ray_impl.get(queued, timeout=30)
    ray_impl.get(first)
    time.sleep(0.2)
    assert not os.path.exists(path)


def test_cancel_running_task_interrupts_it(ray_impl, exceptions, tmp_path):
    @ray_impl.remote
    def forever(place):
        arrive(place)  # running now
        while True:
            time.sleep(0.01)

    place = str(tmp_path)
    ref = forever.remote(place)
    assert wait_for(place, 1), "the task never started"
    ray_impl.cancel(ref)
    with pytest.raises((exceptions.TaskCancelledError, exceptions.RayTaskError)):
        ray_impl.get(ref, timeout=HANG)


def test_cancel_force_kills_the_running_task(ray_impl, exceptions, tmp_path):
    @ray_impl.remote
    def ignores_interrupts(place):
        arrive(place)  # running now
        while True:
            try:
                time.sleep(0.01)
            except KeyboardInterrupt:
                pass

    place = str(tmp_path)
    ref = ignores_interrupts.remote(place)
    assert wait_for(place, 1), "the task never started"
    ray_impl.cancel(ref, force=True)
    with pytest.raises(exceptions.TaskCancelledError):
        ray_impl.get(ref, timeout=HANG)


def test_resources_and_nodes_describe_the_cluster(ray_impl):
    resources = ray_impl.cluster_resources()
    assert resources["CPU"] == 4  # as tests/compat/conftest.py started it
    assert "memory" in resources and "object_store_memory" in resources
    nodes = ray_impl.nodes()
    assert len(nodes) == 1 and nodes[0]["Alive"] and nodes[0]["Resources"]["CPU"] == 4
    assert ray_impl.available_resources().get("CPU", 0) <= 4
    assert ray_impl.is_initialized()


def test_runtime_context_inside_a_task(ray_impl):
    @ray_impl.remote(num_cpus=2)
    def who():
        ctx = ray_impl.get_runtime_context()
        return ctx.get_task_id(), ctx.get_job_id(), ctx.get_assigned_resources()

    task_id, job_id, assigned = ray_impl.get(who.remote())
    assert task_id and job_id
    assert assigned == {"CPU": 2.0}


def test_zero_cpu_tasks_run_while_every_cpu_is_taken(ray_impl, tmp_path):
    @ray_impl.remote(num_cpus=ray_impl.cluster_resources()["CPU"])
    def hog(place):
        arrive(place)  # every CPU is taken from here on
        return wait_for(place, 2)  # ... until the zero-CPU task has run too

    @ray_impl.remote(num_cpus=0)
    def light(place):
        arrive(place)
        return "ran"

    place = str(tmp_path)
    busy = hog.remote(place)
    assert wait_for(place, 1), "the hog never started"
    assert ray_impl.get(light.remote(place), timeout=meeting.DEADLINE) == "ran"
    assert ray_impl.get(busy) is True, "the zero-CPU task ran only after the hog gave its CPUs back"


def test_exceptions_module_has_rays_classes(exceptions):
    for name in ["RayError", "RayTaskError", "GetTimeoutError", "TaskCancelledError",
                 "WorkerCrashedError", "ObjectLostError", "RayActorError", "ActorDiedError",
                 "ObjectStoreFullError"]:
        assert issubclass(getattr(exceptions, name), exceptions.RayError)
    assert issubclass(exceptions.ActorDiedError, exceptions.RayActorError)
    assert issubclass(exceptions.GetTimeoutError, TimeoutError)


def test_cancel_is_recursive_by_default(ray_impl, exceptions, tmp_path):
    started, stopped = str(tmp_path / "started"), str(tmp_path / "stopped")

    @ray_impl.remote
    def child(started, stopped):
        arrive(started)
        try:
            while True:  # runs until something stops it: only the cancel can
                time.sleep(0.01)
        finally:
            arrive(stopped)

    @ray_impl.remote
    def parent(started, stopped):
        return ray_impl.get(child.remote(started, stopped))

    ref = parent.remote(started, stopped)
    assert wait_for(started, 1), "the child never started"
    ray_impl.cancel(ref)  # the parent's cancel reaches the child it submitted
    with pytest.raises((exceptions.TaskCancelledError, exceptions.RayTaskError)):
        ray_impl.get(ref, timeout=HANG)
    assert wait_for(stopped, 1), "the child ran on"


def test_threads_inside_a_task_can_get_at_the_same_time(ray_impl):
    @ray_impl.remote
    def square(x):
        time.sleep(0.05)
        return x * x

    @ray_impl.remote
    def fan_out(n):
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            return sum(pool.map(lambda i: ray_impl.get(square.remote(i)), range(n)))

    assert ray_impl.get(fan_out.remote(12), timeout=60) == sum(i * i for i in range(12))
