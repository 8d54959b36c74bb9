"""Tasks that fail, retries, and the errors a user sees (the crash-case table of sites x kinds
is test_crash_table.py)."""

from __future__ import annotations

import os
import threading

import pytest

import jupyter_raylite as ray
from jupyter_raylite.exceptions import RayTaskError, TaskUnschedulableError


class Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot pickle this")


def test_argument_that_cannot_be_pickled_fails_at_the_call(cluster):
    @ray.remote
    def f(x):
        return x

    with pytest.raises(TypeError, match="create them inside the task"):
        f.remote(threading.Lock())
    with pytest.raises(TypeError, match="inside the task"):
        ray.put(Unpicklable())


def test_crashed_worker_is_retried_until_max_retries(cluster, tmp_path):
    attempts = tmp_path / "attempts"

    @ray.remote(max_retries=2)
    def crash_twice(path):
        with open(path, "a") as f:
            f.write("x")
        if len(open(path).read()) < 3:
            os._exit(1)
        return "third time lucky"

    assert ray.get(crash_twice.remote(str(attempts)), timeout=60) == "third time lucky"
    assert attempts.read_text() == "xxx"


def test_application_errors_are_retried_only_when_asked(cluster, tmp_path):
    @ray.remote(max_retries=2)
    def fail_once(path, retry):
        first = not os.path.exists(path)
        open(path, "a").close()
        if first:
            raise ValueError("first attempt fails")
        return "retried"

    with pytest.raises(ValueError):
        ray.get(fail_once.remote(str(tmp_path / "a"), False))
    assert ray.get(fail_once.options(retry_exceptions=True).remote(str(tmp_path / "b"), True)) \
        == "retried"
    assert ray.get(fail_once.options(retry_exceptions=[ValueError]).remote(
        str(tmp_path / "c"), True)) == "retried"
    with pytest.raises(ValueError):
        ray.get(fail_once.options(retry_exceptions=[KeyError]).remote(str(tmp_path / "d"), True))


def test_request_no_node_can_satisfy_fails_at_submission(cluster):
    @ray.remote(num_gpus=1)
    def needs_gpu():
        return 1

    with pytest.raises(TaskUnschedulableError, match="num_gpus"):
        needs_gpu.remote()
    with pytest.raises(TaskUnschedulableError, match="CPU"):
        ray.remote(lambda: 1).options(num_cpus=64).remote()


def test_remote_traceback_shows_the_users_code_not_the_runtime(cluster):
    @ray.remote
    def inner_function_with_a_bug():
        return {}["missing"]

    with pytest.raises(KeyError) as info:
        ray.get(inner_function_with_a_bug.remote())
    text = str(info.value)
    assert "inner_function_with_a_bug" in text and "return {}[\"missing\"]" in text
    assert "core/worker.py" not in text
    assert isinstance(info.value, RayTaskError) and isinstance(info.value.cause, KeyError)
