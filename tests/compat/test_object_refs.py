"""ObjectRef as Ray's: hex and binary ids of Ray's length, rebuilt from bytes, nil, task and job
ids, futures."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import string
import warnings

import pytest


def _is_hex(text, length: int) -> bool:
    return isinstance(text, str) and len(text) == length and set(text) <= set(string.hexdigits)


def test_object_ref_hex_is_the_hex_of_its_28_byte_binary(ray_impl):
    @ray_impl.remote(num_returns=2)
    def two():
        return 1, 2

    for ref in (ray_impl.put("x"), *two.remote()):
        assert _is_hex(ref.hex(), 56)
        assert isinstance(ref.binary(), bytes) and ref.binary() == bytes.fromhex(ref.hex())
        assert len(ref.binary()) == ray_impl.ObjectRef.size() == 28
        assert repr(ref) == f"ObjectRef({ref.hex()})"
        assert not ref.is_nil()


def test_object_ref_from_binary_is_the_same_ref_and_gets_the_value(ray_impl):
    @ray_impl.remote
    def answer():
        return 42

    ref = answer.remote()
    same = ray_impl.ObjectRef.from_binary(ref.binary())
    assert same == ref and hash(same) == hash(ref) and same.hex() == ref.hex()
    assert ray_impl.get(same) == 42
    assert len({ref, same}) == 1
    assert ref != ray_impl.put(42) and ref != ref.hex()


def test_object_ref_built_from_bytes_keeps_the_object_after_the_original_is_gone(ray_impl,
                                                                                  on_ray):
    # On the Ray backend the refs are Ray's: jupyter_raylite.ObjectRef(bytes) cannot turn into
    # one of them (from_binary can, and does), so there the test builds Ray's own type.
    ref_type = type(ray_impl.put(0)) if on_ray else ray_impl.ObjectRef
    original = ray_impl.put([1, 2, 3])
    rebuilt = ref_type(original.binary())
    assert rebuilt == original
    del original
    gc.collect()
    # A rebuilt ref counts as a holder, as in Ray: the object outlives the original ref.
    assert ray_impl.get(rebuilt, timeout=30) == [1, 2, 3]


def test_object_ref_rejects_ids_that_are_not_28_bytes(ray_impl):
    with pytest.raises(ValueError):
        ray_impl.ObjectRef.from_binary(b"abc")
    with pytest.raises(TypeError):
        ray_impl.ObjectRef.from_binary("ab" * 28)
    with pytest.raises(ValueError):
        ray_impl.ObjectRef(b"abc")


def test_object_ref_nil(ray_impl):
    nil = ray_impl.ObjectRef.nil()
    assert nil.is_nil() and nil.hex() == "f" * 56 and nil.binary() == b"\xff" * 28
    assert nil == ray_impl.ObjectRef.nil() and nil != ray_impl.put(1)
    assert nil.task_id().is_nil()


def test_object_ref_task_id_is_the_task_that_returns_it(ray_impl):
    @ray_impl.remote
    def my_task_id():
        return ray_impl.get_runtime_context().get_task_id()

    @ray_impl.remote(num_returns=2)
    def two():
        return 1, 2

    @ray_impl.remote
    class Actor:
        def my_task_id(self):
            return ray_impl.get_runtime_context().get_task_id()

    ref = my_task_id.remote()
    task_id = ref.task_id()
    assert ray_impl.get(ref) == task_id.hex()
    assert _is_hex(task_id.hex(), 48) and task_id.binary() == bytes.fromhex(task_id.hex())
    assert type(task_id).__name__ == "TaskID" and repr(task_id) == f"TaskID({task_id.hex()})"
    assert not task_id.is_nil() and task_id == ref.task_id()
    assert hash(task_id) == hash(ref.task_id()) and task_id != task_id.hex()
    assert type(task_id).from_binary(task_id.binary()) == task_id
    assert type(task_id).from_hex(task_id.hex()) == task_id
    first, second = two.remote()
    assert first.task_id() == second.task_id() and first != second
    assert first.task_id() != task_id
    call = Actor.remote().my_task_id.remote()
    assert ray_impl.get(call) == call.task_id().hex()


def test_object_ref_job_id_is_the_drivers(ray_impl):
    ref = ray_impl.put(1)
    job_id = ref.job_id()
    assert type(job_id).__name__ == "JobID"
    assert job_id.hex() == ray_impl.get_runtime_context().get_job_id()
    assert _is_hex(job_id.hex(), 8) and job_id.binary() == bytes.fromhex(job_id.hex())
    assert ref.task_id().job_id() == job_id


def test_object_ref_future_and_as_future(ray_impl):
    ref = ray_impl.put(11)
    future = ref.future()
    assert isinstance(future, concurrent.futures.Future)
    assert future.result(timeout=30) == 11

    async def in_a_loop():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # deprecated in Ray too
            as_future = ref.as_future()
        assert isinstance(as_future, asyncio.Future)
        return await as_future, await ref

    assert asyncio.run(in_a_loop()) == (11, 11)
