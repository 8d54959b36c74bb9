"""Benchmark workloads, written only against Ray's public API.

Each workload runs in a fresh process (``python benchmarks/workloads.py IMPL WORKLOAD [SIZE]``)
and prints one JSON object of measurements.  IMPL is ``raylite``, ``ray`` or ``pool``
(concurrent.futures.ProcessPoolExecutor, where a workload maps onto it).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

START = time.perf_counter()  # as close to process start as Python code gets


def load(impl: str):
    if impl == "raylite":
        import jupyter_raylite as ray
        return ray, {}
    import ray
    return ray, {"include_dashboard": False, "configure_logging": False,
                 "log_to_driver": False}


def cluster_rss_mb(impl: str) -> float:
    """RSS of this driver plus every process of the cluster, in MiB."""
    import psutil
    me = psutil.Process()
    procs = [me] + me.children(recursive=True)
    if impl == "raylite":
        from jupyter_raylite import api
        cid = api._cluster.cluster_id
        for p in psutil.process_iter():
            try:
                if p.environ().get("JUPYTER_RAYLITE_CLUSTER") == cid and p not in procs:
                    procs.append(p)
            except psutil.Error:
                pass
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def cold_start(impl, size):
    ray, kw = load(impl)
    ray.init(num_cpus=2, **kw)

    @ray.remote
    def noop():
        return 1

    ray.get(noop.remote())
    result = {"cold start s": time.perf_counter() - START}
    ray.shutdown()
    return result


def _noop_cluster(impl, cpus=2):
    ray, kw = load(impl)
    ray.init(num_cpus=cpus, **kw)

    @ray.remote
    def noop(*args):
        return None

    ray.get([noop.remote() for _ in range(2 * cpus)])  # warm workers up
    return ray, noop


def latency(impl, size):
    ray, noop = _noop_cluster(impl)
    samples = []
    for _ in range(size or 1000):
        t = time.perf_counter()
        ray.get(noop.remote())
        samples.append(time.perf_counter() - t)
    samples.sort()
    ray.shutdown()
    return {"latency median ms": statistics.median(samples) * 1e3,
            "latency p99 ms": samples[int(len(samples) * 0.99)] * 1e3}


def throughput(impl, size):
    n = size or 5000
    if impl == "pool":
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(2) as pool:
            list(pool.map(abs, range(4)))
            t = time.perf_counter()
            futures = [pool.submit(abs, i) for i in range(n)]
            [f.result() for f in futures]
            return {"tiny tasks /s": n / (time.perf_counter() - t)}
    ray, noop = _noop_cluster(impl)
    t = time.perf_counter()
    ray.get([noop.remote() for _ in range(n)])
    rate = n / (time.perf_counter() - t)
    result = {"tiny tasks /s": rate, "RSS after tasks MiB": cluster_rss_mb(impl)}
    ray.shutdown()
    return result


def chain(impl, size):
    ray, noop = _noop_cluster(impl)

    @ray.remote
    def step(previous):
        return (previous or 0) + 1

    t = time.perf_counter()
    ref = step.remote(None)
    for _ in range((size or 500) - 1):
        ref = step.remote(ref)
    value = ray.get(ref)
    elapsed = time.perf_counter() - t
    ray.shutdown()
    assert value == (size or 500)
    return {"chain of 500 s": elapsed}


def actor_calls(impl, size):
    ray, kw = load(impl)
    ray.init(num_cpus=2, **kw)

    @ray.remote
    class Echo:
        def ping(self, x=None):
            return x

    actor = Echo.remote()
    ray.get(actor.ping.remote())
    samples = []
    for _ in range(500):
        t = time.perf_counter()
        ray.get(actor.ping.remote())
        samples.append(time.perf_counter() - t)
    n = size or 5000
    t = time.perf_counter()
    ray.get([actor.ping.remote(i) for i in range(n)])
    rate = n / (time.perf_counter() - t)
    ray.shutdown()
    return {"actor call latency median ms": statistics.median(samples) * 1e3,
            "actor calls /s (pipelined)": rate}


def big_array(impl, size):
    import numpy as np
    ray, noop = _noop_cluster(impl)
    array = np.ones((size or 100) * 2**20 // 8)
    t = time.perf_counter()
    ref = ray.put(array)
    put_s = time.perf_counter() - t
    t = time.perf_counter()
    got = ray.get(ref)
    get_s = time.perf_counter() - t

    @ray.remote
    def shares(a):
        return (not a.flags.owndata) and (not a.flags.writeable)

    t = time.perf_counter()
    zero_copy_in_task = ray.get(shares.remote(ref))
    task_s = time.perf_counter() - t
    result = {"put 100MB ms": put_s * 1e3, "get 100MB ms": get_s * 1e3,
              "get is zero-copy": bool(not got.flags.owndata and not got.flags.writeable),
              "task gets 100MB ms": task_s * 1e3, "task arg zero-copy": zero_copy_in_task}
    del got, ref
    ray.shutdown()
    return result


def small_objects(impl, size):
    ray, noop = _noop_cluster(impl)
    n = size or 10000
    t = time.perf_counter()
    refs = [ray.put(i) for i in range(n)]
    put_s = time.perf_counter() - t
    t = time.perf_counter()
    values = ray.get(refs)
    get_s = time.perf_counter() - t
    assert values == list(range(n))
    ray.shutdown()
    return {"put 10k small /s": n / put_s, "get 10k small /s": n / get_s}


def seed_parallel(impl, size):
    ray, kw = load(impl)
    database = ["Learning", "Ray", "Flexible", "Distributed", "Python", "for", "Machine",
                "Learning"]
    ray.init(num_cpus=8, **kw)

    @ray.remote
    def retrieve_task(item):
        time.sleep(item / 10.0)
        return item, database[item]

    t = time.perf_counter()
    data = ray.get([retrieve_task.remote(item) for item in range(8)])
    elapsed = time.perf_counter() - t
    assert [tuple(d) for d in data] == list(enumerate(database))
    ray.shutdown()
    return {"seed parallel step s (right after init)": elapsed}


def memory_at_rest(impl, size):
    ray, noop = _noop_cluster(impl)
    time.sleep(1.0)
    result = {"RSS at rest MiB": cluster_rss_mb(impl)}
    ray.shutdown()
    return result


def shutdown_time(impl, size):
    import psutil
    ray, noop = _noop_cluster(impl)
    t = time.perf_counter()
    ray.shutdown()
    elapsed = time.perf_counter() - t
    leftovers = len(psutil.Process().children(recursive=True))
    shm = len([n for n in os.listdir("/dev/shm") if n.startswith("raylite_")])
    return {"shutdown s": elapsed, "children left": leftovers, "raylite segments left": shm}


_DRIVER_TO_KILL = """
import sys, time
sys.path.insert(0, {here!r})
from workloads import load
ray, kw = load({impl!r})
ray.init(num_cpus=2, **kw)
held = ray.put(bytes(1 << 20))

@ray.remote
def forever():
    time.sleep(600)

running = forever.remote()
ray.get(ray.remote(lambda: 1).remote())  # a worker has run a task
print("READY", flush=True)
time.sleep(600)
"""


def cleanup_after_kill(impl, size):
    """Seconds from kill -9 of a driver (its cluster holding a 1 MB object and running a task)
    until no process it started is alive and no segment of its cluster is left; 60 at most."""
    import subprocess

    import psutil
    code = _DRIVER_TO_KILL.format(here=os.path.dirname(os.path.abspath(__file__)), impl=impl)
    driver = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    driver.stdout.readline()
    started = psutil.Process(driver.pid).children(recursive=True)
    prefix = f"raylite_{driver.pid}x"

    def alive(proc):
        try:
            return proc.status() != psutil.STATUS_ZOMBIE  # a zombie has freed its memory
        except psutil.NoSuchProcess:
            return False

    def left():
        return ([p for p in started if alive(p)]
                + [n for n in os.listdir("/dev/shm") if n.startswith(prefix)])

    t = time.perf_counter()
    driver.kill()
    driver.wait()
    while left() and time.perf_counter() - t < 60:
        time.sleep(0.005)
    elapsed = time.perf_counter() - t
    leftover = left()
    for proc in leftover:
        if isinstance(proc, psutil.Process):
            proc.kill()
    return {"cleanup after kill -9 s": elapsed, "left after 60 s": len(leftover)}


WORKLOADS = {f.__name__: f for f in [cold_start, latency, throughput, chain, actor_calls,
                                     big_array,
                                     small_objects, seed_parallel, memory_at_rest,
                                     shutdown_time, cleanup_after_kill]}
POOL_WORKLOADS = {"throughput"}

if __name__ == "__main__":
    impl, name = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    print(json.dumps(WORKLOADS[name](impl, size)))
