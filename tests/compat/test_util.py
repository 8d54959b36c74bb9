"""ActorPool and Queue, on jupyter_raylite and on Ray."""

from __future__ import annotations

import importlib
import time

import pytest

from jupyter_raylite import dropin


def import_name(ray_impl) -> str:
    """The name a program imports the implementation by: ``ray`` for Ray and under the
    drop-in (so that ``ray.util.queue`` goes through it), else ``jupyter_raylite``."""
    return "ray" if ray_impl.__name__ == "ray" or dropin.active() else ray_impl.__name__


def util_of(ray_impl):
    return importlib.import_module(f"{import_name(ray_impl)}.util")


def queue_module(ray_impl):
    return importlib.import_module(f"{import_name(ray_impl)}.util.queue")


def make_pool(ray_impl, size=2):
    @ray_impl.remote
    class Doubler:
        def double(self, value):
            time.sleep(0.05 * (value % 3))
            return 2 * value

    return util_of(ray_impl).ActorPool([Doubler.remote() for _ in range(size)])


def test_actor_pool_map_keeps_order(ray_impl):
    pool = make_pool(ray_impl)
    assert list(pool.map(lambda a, v: a.double.remote(v), range(8))) == [2 * v for v in range(8)]


def test_actor_pool_map_unordered_yields_every_result(ray_impl):
    pool = make_pool(ray_impl)
    results = list(pool.map_unordered(lambda a, v: a.double.remote(v), range(8)))
    assert sorted(results) == [2 * v for v in range(8)]


def test_actor_pool_submit_get_next_and_has_next(ray_impl):
    pool = make_pool(ray_impl)
    for value in range(5):  # more submissions than actors: the rest wait for a free actor
        pool.submit(lambda a, v: a.double.remote(v), value)
    assert pool.has_next()
    assert [pool.get_next() for _ in range(5)] == [0, 2, 4, 6, 8]
    assert not pool.has_next()
    pool.submit(lambda a, v: a.double.remote(v), 10)
    assert pool.get_next_unordered() == 20


def test_queue_put_get_and_nonblocking_errors(ray_impl):
    qm = queue_module(ray_impl)
    q = qm.Queue(maxsize=2)
    q.put(1)
    q.put(2)
    assert q.full() and q.size() == 2
    with pytest.raises(qm.Full):
        q.put(3, block=False)
    with pytest.raises(qm.Full):
        q.put(3, timeout=0.2)
    assert q.get() == 1 and q.get_nowait() == 2
    assert q.empty()
    with pytest.raises(qm.Empty):
        q.get(block=False)
    with pytest.raises(qm.Empty):
        q.get(timeout=0.2)
    q.shutdown()


def test_queue_shared_between_tasks(ray_impl):
    qm = queue_module(ray_impl)
    q = qm.Queue()

    @ray_impl.remote
    def producer(queue, n):
        for i in range(n):
            queue.put(i)

    @ray_impl.remote
    def consumer(queue, n):
        return [queue.get(timeout=30) for _ in range(n)]

    consumed = consumer.remote(q, 5)
    ray_impl.get(producer.remote(q, 5))
    assert ray_impl.get(consumed) == [0, 1, 2, 3, 4]
    q.put_nowait_batch([7, 8])
    assert q.get_nowait_batch(2) == [7, 8]
    q.shutdown()
