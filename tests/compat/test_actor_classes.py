"""Actor classes as Ray exposes them: class attributes, static and class methods, inheritance,
Ray's built-in methods (``__ray_terminate__``, ``__ray_ready__``, ``__ray_call__``),
``@ray.method`` and concurrency groups."""

from __future__ import annotations

import asyncio
import threading
import time

import meeting
import pytest
from leaks import HANG
from meeting import meet


@pytest.fixture
def implementation(ray_impl, request) -> str:
    """Which implementation runs the test: "raylite", "dropin", "ray" or "raylite-on-ray"."""
    return request.node.callspec.params["ray_impl"]


def make_shape(ray_impl):
    class Base:
        sides = 0
        kind = "shape"

        def __init__(self, name):
            self.name = name

        def describe(self):
            return f"{self.name} with {self.sides} sides"

        def area(self):
            return 0

    @ray_impl.remote
    class Square(Base):
        sides = 4

        def __init__(self, name, side):
            super().__init__(name)
            self.side = side

        def area(self):
            return self.side ** 2 + super().area()

        @staticmethod
        def unit():
            return "cm"

        @classmethod
        def corners(cls, copies):
            return cls.sides * copies

    return Square


# -- the class and its handle -----------------------------------------------------------------

def test_actor_class_reads_class_attributes_static_and_class_methods(ray_impl):
    Square = make_shape(ray_impl)
    assert (Square.sides, Square.kind) == (4, "shape")  # its own and its base's
    assert Square.unit() == "cm"
    assert Square.corners(2) == 8
    with pytest.raises(AttributeError, match="no_such_thing"):
        Square.no_such_thing


def test_handle_calls_inherited_static_and_class_methods(ray_impl):
    square = make_shape(ray_impl).remote("sq", 3)
    assert ray_impl.get([square.describe.remote(), square.area.remote(), square.unit.remote(),
                         square.corners.remote(3)]) == ["sq with 4 sides", 9, "cm", 12]


def test_handle_has_methods_but_no_class_attributes(ray_impl):
    @ray_impl.remote
    class Tool:
        helper = dict  # callable, but not a function: not a method (Ray's rule)
        label = "tool"

        def use(self):
            return "used"

        def _private(self):
            return "private"

    tool = Tool.remote()
    for name in ("label", "helper"):
        with pytest.raises(AttributeError, match=name):
            getattr(tool, name)
    assert {"use", "_private", "__ray_terminate__", "__ray_ready__", "__ray_call__"} \
        <= set(dir(tool))
    assert not {"label", "helper"} & set(dir(tool))
    assert ray_impl.get(tool._private.remote()) == "private"


def test_actor_class_cannot_be_subclassed_but_its_plain_class_can(ray_impl):
    Square = make_shape(ray_impl)
    with pytest.raises(TypeError, match="Inheriting from actor classes is not"):
        class CubeOfAnActor(Square):
            pass

    plain = Square.__ray_actor_class__
    assert plain.__name__ == "Square"

    @ray_impl.remote
    class Cube(plain):
        def volume(self):
            return self.side ** 3

    assert ray_impl.get(Cube.remote("cube", 2).volume.remote()) == 8


# -- Ray's built-in methods -------------------------------------------------------------------

def make_counter(ray_impl):
    @ray_impl.remote
    class Counter:
        def __init__(self):
            self.value = 0

        def increment(self):
            self.value += 1
            return self.value

    return Counter


def test_ray_terminate_ends_the_actor_after_the_calls_before_it(ray_impl, exceptions):
    counter = make_counter(ray_impl).remote()
    before = [counter.increment.remote() for _ in range(3)]
    ended = counter.__ray_terminate__.remote()
    assert ray_impl.get(before) == [1, 2, 3]
    ray_impl.wait([ended], timeout=HANG)
    with pytest.raises(exceptions.RayActorError):
        ray_impl.get(counter.increment.remote(), timeout=HANG)


def test_ray_terminate_ends_an_async_actor(ray_impl, exceptions):
    @ray_impl.remote
    class Waiter:
        async def ping(self):
            return "pong"

    waiter = Waiter.remote()
    assert ray_impl.get(waiter.ping.remote()) == "pong"
    ray_impl.wait([waiter.__ray_terminate__.remote()], timeout=HANG)
    with pytest.raises(exceptions.RayActorError):
        ray_impl.get(waiter.ping.remote(), timeout=HANG)


def test_ray_ready_and_ray_call(ray_impl):
    counter = make_counter(ray_impl).remote()
    assert ray_impl.get(counter.__ray_ready__.remote()) is True
    ray_impl.get(counter.increment.remote())
    assert ray_impl.get(counter.__ray_call__.remote(lambda self, extra: self.value + extra, 10)) \
        == 11
    with pytest.raises(TypeError, match="too many positional arguments"):
        counter.__ray_terminate__.remote(1)


# -- @ray.method --------------------------------------------------------------------------------

def test_bare_method_decorator_leaves_the_method_as_it_is(ray_impl):
    def method(self):
        return "ran"

    assert ray_impl.method(method) is method

    @ray_impl.remote
    class Plain:
        @ray_impl.method
        def bare(self):
            return "bare"

        @ray_impl.method()
        def empty(self):
            return "empty"

    plain = Plain.remote()
    assert ray_impl.get([plain.bare.remote(), plain.empty.remote()]) == ["bare", "empty"]


def test_method_decorator_refuses_what_ray_refuses(ray_impl):
    # Ray asserts: AssertionError, with the supported options listed.
    with pytest.raises(AssertionError, match="Unexpected keyword argument to @ray.method: "
                                             "'num_return'"):
        ray_impl.method(num_return=2)
    with pytest.raises(AssertionError, match="no arguments or at least one of the arguments"):
        ray_impl.method("io")
    with pytest.raises(AssertionError, match="no arguments or at least one of the arguments"):
        ray_impl.method(lambda self: 1, num_returns=1)
    with pytest.raises(ValueError, match="num_returns"):
        ray_impl.method(num_returns=-1)(lambda self: 1)


@pytest.mark.parametrize("option, value", [("_num_objects_per_yield", 2),
                                           ("_generator_backpressure_num_objects", 2),
                                           ("enable_task_events", False)])
def test_method_options_without_effect_here_are_refused(ray_impl, implementation, option,
                                                        value):
    if implementation == "ray":
        pytest.skip("Ray implements these; only jupyter_raylite refuses them, by name")
    with pytest.raises(NotImplementedError, match=option):
        ray_impl.method(**{option: value})


def test_method_num_returns(ray_impl):
    @ray_impl.remote
    class Splitter:
        @ray_impl.method(num_returns=3)
        def three(self):
            return 1, 2, 3

    first, second, third = Splitter.remote().three.remote()
    assert ray_impl.get([first, second, third]) == [1, 2, 3]


def make_flaky(ray_impl, max_task_retries=0):
    @ray_impl.remote(max_task_retries=max_task_retries)
    class Flaky:
        def __init__(self):
            self.log = []

        def _fail_first(self, name, times, error):
            self.log.append(name)
            if self.log.count(name) <= times:
                raise error(name)
            return self.log.count(name)

        @ray_impl.method(max_task_retries=2, retry_exceptions=True)
        def retried(self):
            return self._fail_first("retried", 2, ValueError)

        @ray_impl.method(retry_exceptions=True)
        def no_retries_left(self):
            return self._fail_first("no_retries_left", 1, ValueError)

        @ray_impl.method(max_task_retries=5, retry_exceptions=[KeyError])
        def other_error(self):
            return self._fail_first("other_error", 1, ValueError)

        @ray_impl.method(max_task_retries=0, retry_exceptions=True)
        def method_says_never(self):
            return self._fail_first("method_says_never", 1, ValueError)

        @ray_impl.method(retry_exceptions=[KeyError])
        def listed_error(self):
            return self._fail_first("listed_error", 1, KeyError)

        def other(self):
            self.log.append("other")

        def history(self):
            return self.log

    return Flaky


def test_method_retries_exceptions_it_lists_up_to_max_task_retries(ray_impl):
    flaky = make_flaky(ray_impl).remote()
    assert ray_impl.get(flaky.retried.remote()) == 3
    with pytest.raises(ValueError):
        ray_impl.get(flaky.no_retries_left.remote())  # the actor's max_task_retries is 0
    with pytest.raises(ValueError):
        ray_impl.get(flaky.other_error.remote())  # ValueError is not listed
    assert ray_impl.get(flaky.history.remote()) == ["retried"] * 3 + [
        "no_retries_left", "other_error"]


def test_method_max_task_retries_overrides_the_actors(ray_impl):
    flaky = make_flaky(ray_impl, max_task_retries=1).remote()
    with pytest.raises(ValueError):
        ray_impl.get(flaky.method_says_never.remote())
    assert ray_impl.get(flaky.listed_error.remote()) == 2  # one retry, the actor's


def test_retried_call_goes_behind_the_calls_queued_meanwhile(ray_impl):
    flaky = make_flaky(ray_impl).remote()
    refs = [flaky.retried.remote(), flaky.other.remote(), flaky.other.remote()]
    assert ray_impl.get(refs) == [3, None, None]
    assert ray_impl.get(flaky.history.remote()) == [
        "retried", "other", "other", "retried", "retried"]


# -- concurrency groups -------------------------------------------------------------------------

def test_threaded_actor_groups_run_apart_each_in_a_pool_of_its_size(ray_impl, implementation,
                                                                   tmp_path):

    @ray_impl.remote(concurrency_groups={"io": 2, "compute": 1})
    class Service:
        def __init__(self):
            self.lock = threading.Lock()
            self.active = self.peak = 0

        @ray_impl.method(concurrency_group="io")
        def fetch(self, place, parties):
            with self.lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            met = meet(place, parties)
            with self.lock:
                self.active -= 1
            return met

        @ray_impl.method(concurrency_group="compute")
        def compute(self, place, parties):
            return meet(place, parties), threading.get_ident()

        def default(self, place, parties):
            return meet(place, parties), threading.get_ident()

        def io_peak(self):
            return self.peak

    service = Service.remote()
    # Two calls of "io" (its size), one of "compute" and one of the default group run at once.
    place = str(tmp_path / "all")
    fetches = [service.fetch.remote(place, 4) for _ in range(2)]
    (computed, compute_thread), (defaulted, default_thread) = ray_impl.get(
        [service.compute.remote(place, 4), service.default.remote(place, 4)])
    assert ray_impl.get(fetches) == [True, True]
    assert computed and defaulted and compute_thread != default_thread
    # More calls than "io" has threads: never more than two at once.
    place = str(tmp_path / "io")
    assert ray_impl.get([service.fetch.remote(place, 2) for _ in range(4)]) == [True] * 4
    assert ray_impl.get(service.io_peak.remote()) == 2


def test_async_actor_groups_run_on_event_loops_of_their_own(ray_impl, implementation):

    @ray_impl.remote(concurrency_groups={"io": 2})
    class AsyncService:
        def __init__(self):
            self.arrived = 0

        @ray_impl.method(concurrency_group="io")
        async def fetch(self, parties):
            # Each call waits for the others: only calls that interleave all get past this.
            self.arrived += 1
            deadline = time.monotonic() + meeting.DEADLINE
            while self.arrived < parties and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            return self.arrived >= parties, threading.get_ident()

        @ray_impl.method(concurrency_group="io")
        def sync_in_io(self):
            return threading.get_ident()

        async def default(self):
            return threading.get_ident()

    service = AsyncService.remote()
    results = ray_impl.get([service.fetch.remote(2) for _ in range(2)])
    assert [met for met, _ in results] == [True, True]
    io_thread = results[0][1]
    assert ray_impl.get(service.sync_in_io.remote()) == io_thread
    assert ray_impl.get(service.default.remote()) != io_thread


def test_concurrency_groups_belong_to_the_class(ray_impl, implementation):
    class Service:
        @ray_impl.method(concurrency_group="io")
        def fetch(self):
            return "fetched"

    with pytest.raises(ValueError, match="concurrency_groups"):
        ray_impl.remote(Service).options(concurrency_groups={"io": 1})
    # A method in a group the class does not define: Ray asserts when the actor is created.
    with pytest.raises(AssertionError):
        ray_impl.remote(concurrency_groups={"other": 1})(Service).remote()
    with pytest.raises(ValueError, match="concurrency_groups"):
        ray_impl.remote(concurrency_groups={"io": 1})(lambda: 1)


@pytest.mark.parametrize("groups, error", [({"io": 0}, ValueError), ({"io": -1}, ValueError),
                                           ({"io": "2"}, ValueError), ({1: 2}, TypeError),
                                           (["io"], TypeError)])
def test_concurrency_groups_are_validated(ray_impl, implementation, groups, error):
    if implementation == "ray":
        pytest.skip("Ray accepts these and then fails in its core (a crashed actor, an "
                    "OverflowError); jupyter_raylite refuses them where they are given")
    with pytest.raises(error, match="concurrency"):
        ray_impl.remote(concurrency_groups=groups)(type("Service", (), {}))
