"""``.remote(...)`` binds its arguments to the signature where it is called, as Ray does: a wrong
call raises TypeError at once (with inspect's message, which is Ray's), never later from get,
and submits nothing.  Checked for remote functions, actor constructors and actor methods."""

from __future__ import annotations

import re

import pytest

# (positional arguments, keyword arguments, the gist of Ray's message) against f(a, b=2, *, c)
WRONG_CALLS = [
    ((1,), {}, "missing a required argument: 'c'"),
    ((), {"c": 1}, "missing a required argument: 'a'"),
    ((1, 2, 3), {"c": 1}, "too many positional arguments"),
    ((1,), {"c": 1, "d": 2}, "got an unexpected keyword argument 'd'"),
    ((1,), {"a": 1, "c": 2}, "multiple values for argument 'a'"),
]


@pytest.mark.parametrize("args, kwargs, message", WRONG_CALLS)
def test_remote_function_wrong_call_raises_type_error_at_remote(ray_impl, args, kwargs,
                                                                 message):
    @ray_impl.remote
    def f(a, b=2, *, c):
        return a + b + c

    with pytest.raises(TypeError, match=re.escape(message)):
        f.remote(*args, **kwargs)
    with pytest.raises(TypeError, match=re.escape(message)):
        f.options(num_cpus=1).remote(*args, **kwargs)


def test_remote_function_calls_that_fit_run(ray_impl):
    @ray_impl.remote
    def f(a, b=2, *, c):
        return a + b + c

    @ray_impl.remote
    def anything(*args, **kwargs):
        return args, kwargs

    @ray_impl.remote
    def positional_only(a, /, b=1, **rest):
        return a, b, rest

    refs = [f.remote(1, c=3), f.remote(1, 10, c=3), f.remote(a=1, b=1, c=1),
            anything.remote(), anything.remote(1, 2, x=3),
            positional_only.remote(1), positional_only.remote(1, b=2, z=3)]
    assert ray_impl.get(refs) == [6, 14, 3, ((), {}), ((1, 2), {"x": 3}), (1, 1, {}),
                                  (1, 2, {"z": 3})]


def test_actor_constructor_wrong_call_raises_type_error_at_remote(ray_impl):
    @ray_impl.remote
    class Point:
        def __init__(self, x, y=0):
            self.x, self.y = x, y

        def get(self):
            return self.x, self.y

    with pytest.raises(TypeError, match="missing a required argument: 'x'"):
        Point.remote()
    with pytest.raises(TypeError, match="too many positional arguments"):
        Point.remote(1, 2, 3)
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'z'"):
        Point.options(num_cpus=0).remote(1, z=3)
    assert ray_impl.get(Point.remote(1, y=2).get.remote()) == (1, 2)


def test_actor_without_init_takes_no_arguments(ray_impl):
    @ray_impl.remote
    class Bare:
        def ping(self):
            return "pong"

    with pytest.raises(TypeError, match="too many positional arguments"):
        Bare.remote(1)
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'a'"):
        Bare.remote(a=1)
    assert ray_impl.get(Bare.remote().ping.remote()) == "pong"


def make_calculator(ray_impl):
    @ray_impl.remote
    class Calculator:
        factor = 3

        def __init__(self):
            self.calls = 0

        def add(self, a, b=0, *, scale=1):
            self.calls += 1
            return (a + b) * scale

        def count(self):
            return self.calls

        @staticmethod
        def double(v):
            return 2 * v

        @classmethod
        def times_factor(cls, v):
            return cls.factor * v

    return Calculator


def test_actor_method_wrong_call_raises_type_error_and_runs_nothing(ray_impl):
    calculator = make_calculator(ray_impl).remote()
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        calculator.add.remote()
    with pytest.raises(TypeError, match="too many positional arguments"):
        calculator.add.remote(1, 2, 3)
    with pytest.raises(TypeError, match="got an unexpected keyword argument 'c'"):
        calculator.add.remote(1, c=2)
    with pytest.raises(TypeError, match="too many positional arguments"):
        calculator.count.remote(1)
    assert ray_impl.get(calculator.add.remote(1, 2, scale=10)) == 30
    assert ray_impl.get(calculator.count.remote()) == 1  # the wrong calls never ran


def test_static_and_class_methods_are_bound_without_self(ray_impl):
    calculator = make_calculator(ray_impl).remote()
    with pytest.raises(TypeError, match="missing a required argument: 'v'"):
        calculator.double.remote()
    with pytest.raises(TypeError, match="too many positional arguments"):
        calculator.times_factor.remote(1, 2)
    assert ray_impl.get([calculator.double.remote(4), calculator.times_factor.remote(2)]) \
        == [8, 6]


def test_wrong_calls_inside_a_task_raise_there(ray_impl):
    # The check travels with the function and with the handle: a task that makes a wrong
    # call fails with TypeError, which get raises.
    Calculator = make_calculator(ray_impl)

    @ray_impl.remote
    def three(a, b, c):
        return a + b + c

    @ray_impl.remote
    def call_wrongly(calculator):
        outcomes = []
        for submit in (lambda: three.remote(1), lambda: calculator.add.remote(b=1)):
            try:
                submit()
            except TypeError as error:
                outcomes.append(str(error))
        return outcomes

    outcomes = ray_impl.get(call_wrongly.remote(Calculator.remote()))
    assert len(outcomes) == 2
    assert "missing a required argument: 'b'" in outcomes[0]
    assert "missing a required argument: 'a'" in outcomes[1]

    @ray_impl.remote
    def fail(a):
        return three.remote(a)

    with pytest.raises(TypeError, match="missing a required argument: 'b'"):
        ray_impl.get(fail.remote(1))


def test_handle_from_get_actor_checks_calls(ray_impl):
    Calculator = make_calculator(ray_impl)
    # Ray ends a named actor whose creator's handle is gone: keep it.
    created = Calculator.options(name="signature-calculator").remote()
    found = ray_impl.get_actor("signature-calculator")
    with pytest.raises(TypeError, match="missing a required argument: 'a'"):
        found.add.remote()
    assert ray_impl.get(found.add.remote(2, scale=2)) == 4
    ray_impl.kill(created)
