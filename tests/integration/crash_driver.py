"""A driver that springs a trap in its own process: ``python crash_driver.py SITE KIND``.

Prints its cluster's id, then pickles a trap into a task's arguments ("pickle args") or gets
a result that springs one when unpickled here ("unpickle result")."""

import sys

from traps import PickleTrap, UnpickleTrap

import jupyter_raylite as ray

site, kind = sys.argv[1:]
ray.init(num_cpus=1)


@ray.remote
def echo(value):
    return value


# A cluster in use: a worker has run a task, a large object sits in shared memory.
held = ray.put(b"x" * 1_000_000)
assert len(ray.get(echo.remote(held))) == 1_000_000
print("cluster", ray.api._cluster.cluster_id, flush=True)


@ray.remote
def make_trap(where, kind):
    return UnpickleTrap(where, kind)


if site == "pickle args":
    echo.remote(PickleTrap("driver", kind))
else:
    ray.get(make_trap.remote("driver", kind))
print("the driver survived", flush=True)
