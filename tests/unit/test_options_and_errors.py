"""Option validation, error types and the reference-edge ordering rule."""

from __future__ import annotations

import pickle

import pytest

from jupyter_raylite.core.refs import split_edges
from jupyter_raylite.exceptions import RayTaskError, TaskCancelledError
from jupyter_raylite.options import TaskOptions


def test_options_unknown_keyword_lists_the_valid_ones():
    with pytest.raises(ValueError, match="num_cpus.*num_gpus"):
        TaskOptions.from_kwargs(num_cpu=1)


@pytest.mark.parametrize("key, value", [
    ("num_cpus", -1), ("num_cpus", "2"), ("num_gpus", True), ("num_returns", -1),
    ("num_returns", 1.5), ("max_retries", -2), ("memory", -5),
])
def test_options_ill_typed_values_are_rejected(key, value):
    with pytest.raises(ValueError, match=key):
        TaskOptions.from_kwargs(**{key: value})


def test_options_resources_must_not_name_cpu_or_gpu():
    with pytest.raises(ValueError, match="num_cpus"):
        TaskOptions.from_kwargs(resources={"CPU": 1})
    with pytest.raises(TypeError):
        TaskOptions.from_kwargs(resources=[("disk", 1)])


def test_options_build_on_a_base_and_accept_rays_placement_options():
    base = TaskOptions.from_kwargs(num_cpus=2, resources={"disk": 1})
    changed = TaskOptions.from_kwargs(base, num_returns=3, scheduling_strategy="SPREAD")
    assert changed.num_cpus == 2 and changed.num_returns == 3
    assert changed.resource_demand() == {"CPU": 2.0, "disk": 1.0}
    assert base.num_returns == 1


def test_options_retry_exceptions_takes_a_bool_or_exception_types():
    assert TaskOptions.from_kwargs(retry_exceptions=[KeyError]).retry_exceptions == (KeyError,)
    with pytest.raises(TypeError):
        TaskOptions.from_kwargs(retry_exceptions=["KeyError"])


def test_ray_task_error_is_an_instance_of_the_cause_and_pickles():
    error = RayTaskError("f", "Traceback ...\nKeyError: 'x'", KeyError("x"))
    dual = error.as_instanceof_cause()
    assert isinstance(dual, KeyError) and isinstance(dual, RayTaskError)
    assert dual.cause.args == ("x",)
    again = pickle.loads(pickle.dumps(dual))
    assert isinstance(again, RayTaskError) and "KeyError" in str(again)


def test_ray_task_error_falls_back_when_the_cause_cannot_be_subclassed():
    class Final(Exception):
        def __init_subclass__(cls, **kwargs):
            raise TypeError("final")

    error = RayTaskError("f", "tb", Final())
    assert error.as_instanceof_cause() is error


def test_task_cancelled_error_round_trips():
    error = pickle.loads(pickle.dumps(TaskCancelledError("t1")))
    assert error.task_id == "t1" and "t1" in str(error)


def test_split_edges_holds_before_and_drops_after_the_message():
    before, after = split_edges([("hold", "a"), ("drop", "b"), ("hold", "c"), ("drop", "c"),
                                 ("drop", "d"), ("hold", "d")])
    assert before == [("hold", "a"), ("hold", "c")]
    assert after == [("drop", "b"), ("drop", "c")]  # "d" was dropped and held again: no edge
