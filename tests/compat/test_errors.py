"""Errors as Ray gives them: the exception classes, a task's error two tasks away, exception
groups, the text of a task's error, and the error types of calls given bad arguments."""

from __future__ import annotations

import os
import re

import pytest


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours the task's name in an error's header
_HEADER = re.compile(r"ray::(?P<name>\S+)\(\) \(pid=(?P<pid>\d+), ip=[0-9a-fA-F.:]+[,)]")


def plain_text(error: BaseException) -> str:
    return _ANSI.sub("", str(error))


def test_errors_rays_exception_classes_catch_as_in_ray(exceptions):
    # Code written for Ray names these in except clauses, raised here or not.
    for name in ("OutOfMemoryError", "NodeDiedError", "ActorUnschedulableError",
                 "RuntimeEnvSetupError", "PendingCallsLimitExceeded", "UnserializableException",
                 "ObjectReconstructionFailedError", "AsyncioActorExit"):
        assert issubclass(getattr(exceptions, name), exceptions.RayError), name
    # Ray's classes with two bases are caught by either.
    assert issubclass(exceptions.GetTimeoutError, TimeoutError)
    assert issubclass(exceptions.RayChannelTimeoutError, TimeoutError)
    assert issubclass(exceptions.RayChannelTimeoutError, exceptions.RaySystemError)
    assert issubclass(exceptions.ActorAlreadyExistsError, ValueError)
    assert issubclass(exceptions.ActorHandleNotFoundError, ValueError)
    assert issubclass(exceptions.ReferenceCountingAssertionError, AssertionError)
    assert issubclass(exceptions.ObjectFetchTimedOutError, exceptions.ObjectLostError)
    assert issubclass(exceptions.ActorDiedError, exceptions.RayActorError)
    with pytest.raises(exceptions.RayError):
        raise exceptions.OutOfMemoryError("the node ran low on memory")


def test_errors_nested_get_keeps_the_first_tasks_error_type(ray_impl, exceptions):
    @ray_impl.remote
    def inner():
        raise ValueError("inner went wrong")

    @ray_impl.remote
    def outer():
        return ray_impl.get(inner.remote())

    with pytest.raises(ValueError, match="inner went wrong") as info:
        ray_impl.get(outer.remote(), timeout=30)
    error = info.value
    assert isinstance(error, exceptions.RayTaskError)
    # The cause is the user's own exception, not the inner task's RayTaskError.
    assert type(error.cause) is ValueError and error.cause.args == ("inner went wrong",)
    text = plain_text(error)
    assert "ray::outer()" in text and "ray::inner()" in text  # both tasks' tracebacks
    assert text.splitlines()[-1] == "ValueError: inner went wrong"


def test_errors_nested_get_two_tasks_away_still_catches_the_type(ray_impl):
    @ray_impl.remote
    def bottom():
        return {}["missing key"]

    @ray_impl.remote
    def middle():
        return ray_impl.get(bottom.remote())

    @ray_impl.remote
    def top():
        return ray_impl.get(middle.remote())

    with pytest.raises(KeyError) as info:
        ray_impl.get(top.remote(), timeout=30)
    assert type(info.value.cause) is KeyError


def test_errors_exception_group_stays_a_group_that_except_star_splits(ray_impl, exceptions):
    @ray_impl.remote
    def several():
        raise ExceptionGroup("several failed", [ValueError("one"), KeyError("two")])

    with pytest.raises(ExceptionGroup) as info:
        ray_impl.get(several.remote(), timeout=30)
    group = info.value
    assert isinstance(group, exceptions.RayTaskError)
    assert isinstance(group, BaseExceptionGroup) and group.message == "several failed"
    assert [type(e) for e in group.exceptions] == [ValueError, KeyError]

    caught = []
    try:
        raise group
    except* ValueError as values:
        caught.append(values.exceptions)
    except* KeyError as keys:
        caught.append(keys.exceptions)
    assert [[str(e) for e in part] for part in caught] == [["one"], ["'two'"]]


def test_errors_base_exception_group_arrives_as_ray_task_error_with_its_cause(ray_impl,
                                                                             exceptions):
    @ray_impl.remote
    def interrupted():
        raise BaseExceptionGroup("stopped", [KeyboardInterrupt(), ValueError("late")])

    # A group holding a KeyboardInterrupt cannot also be an Exception: the caller gets a
    # RayTaskError, and the group as its cause.
    with pytest.raises(exceptions.RayTaskError) as info:
        ray_impl.get(interrupted.remote(), timeout=30)
    cause = info.value.cause
    assert isinstance(cause, BaseExceptionGroup) and cause.message == "stopped"
    assert [type(e) for e in cause.exceptions] == [KeyboardInterrupt, ValueError]


def test_errors_task_error_text_has_rays_header_then_the_users_frames(ray_impl):
    @ray_impl.remote
    def fails_here():
        raise ValueError(f"pid {os.getpid()}")

    with pytest.raises(ValueError) as info:
        ray_impl.get(fails_here.remote(), timeout=30)
    lines = plain_text(info.value).splitlines()
    header = _HEADER.match(lines[0])
    assert header, lines[0]
    assert header["name"].endswith("fails_here")
    assert lines[-1] == f"ValueError: pid {header['pid']}"  # the pid of the task's process
    assert not any(line.startswith("Traceback ") for line in lines)  # the header replaced it
    assert any("in fails_here" in line for line in lines)
    assert any('raise ValueError(f"pid {os.getpid()}")' in line for line in lines)


def test_errors_actor_call_error_header_names_class_and_method(ray_impl):
    @ray_impl.remote
    class Thrower:
        def fail(self):
            raise RuntimeError("the method failed")

    thrower = Thrower.remote()
    with pytest.raises(RuntimeError, match="the method failed") as info:
        ray_impl.get(thrower.fail.remote(), timeout=30)
    header = _HEADER.match(plain_text(info.value).splitlines()[0])
    assert header and header["name"].endswith("Thrower.fail"), plain_text(info.value)
    ray_impl.kill(thrower)


def test_errors_get_rejects_what_is_not_an_object_ref(ray_impl):
    ref = ray_impl.put(1)
    with pytest.raises(ValueError, match="Invalid type of object refs"):
        ray_impl.get(42)
    with pytest.raises(ValueError, match="Invalid type of object refs"):
        ray_impl.get((ref,))  # a tuple is not a list
    with pytest.raises(TypeError, match="is not an"):
        ray_impl.get([ref, 42])
    with pytest.raises(ValueError):
        ray_impl.get(ref, timeout="soon")
    assert ray_impl.get([]) == []


def test_errors_wait_rejects_what_is_not_a_list_of_object_refs(ray_impl):
    ref = ray_impl.put(1)
    with pytest.raises(TypeError, match="expected a list"):
        ray_impl.wait(ref)
    with pytest.raises(TypeError, match="expected a list"):
        ray_impl.wait((ref,))
    with pytest.raises(TypeError, match="list containing"):
        ray_impl.wait([ref, "not a ref"])
    with pytest.raises(ValueError, match="unique"):
        ray_impl.wait([ref, ref])


def test_errors_wait_rejects_a_bad_num_returns_or_timeout(ray_impl):
    refs = [ray_impl.put(1), ray_impl.put(2)]
    with pytest.raises(ValueError, match="num_returns cannot be greater"):
        ray_impl.wait(refs, num_returns=3)
    for zero_or_less in (0, -1):
        with pytest.raises(ValueError, match="Invalid number of objects to return"):
            ray_impl.wait(refs, num_returns=zero_or_less)
    with pytest.raises(TypeError):
        ray_impl.wait(refs, num_returns="2")
    with pytest.raises(ValueError, match="nonnegative"):
        ray_impl.wait(refs, timeout=-1)
    with pytest.raises(TypeError):
        ray_impl.wait(refs, timeout="soon")
    # An empty list is ready at once, whatever num_returns says (as in Ray).
    assert ray_impl.wait([], num_returns=5) == ([], [])


def test_errors_wait_accepts_fetch_local_as_ray_does(ray_impl):
    refs = [ray_impl.put(1), ray_impl.put(2)]
    ready, not_ready = ray_impl.wait(refs, num_returns=2, timeout=30, fetch_local=False)
    assert ready == refs and not_ready == []


def test_errors_remote_without_a_function_or_options_raises_assertion_error(ray_impl):
    # Ray checks these with an assert: AssertionError is what code written for Ray catches.
    with pytest.raises(AssertionError, match="@ray.remote"):
        ray_impl.remote()
    with pytest.raises(AssertionError, match="@ray.remote"):
        ray_impl.remote(lambda: 1, num_cpus=1)
    with pytest.raises(AssertionError, match="@ray.remote"):
        ray_impl.remote(42)


def test_errors_remote_on_an_async_function_raises_value_error(ray_impl):
    async def fetch():
        return 1

    with pytest.raises(ValueError, match="'async def' should not be used for remote tasks"):
        ray_impl.remote(fetch)
    with pytest.raises(ValueError, match="'async def' should not be used for remote tasks"):
        ray_impl.remote(num_cpus=1)(fetch)


def test_errors_put_of_an_object_ref_raises_type_error_and_a_list_of_one_is_fine(ray_impl):
    ref = ray_impl.put("value")
    with pytest.raises(TypeError, match="Calling 'put' on an"):
        ray_impl.put(ref)
    wrapped = ray_impl.get(ray_impl.put([ref]))
    assert wrapped == [ref] and ray_impl.get(wrapped[0]) == "value"
