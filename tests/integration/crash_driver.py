"""A driver that springs a trap in its own process: ``python crash_driver.py SITE KIND``.

Prints its cluster's id, then pickles a trap into a task's arguments ("pickle args") or gets
a result that springs one when unpickled here ("unpickle result")."""

import sys

from traps import PickleTrap, UnpickleTrap

import jupyter_raylite as ray

site, kind = sys.argv[1:]
ray.init(num_cpus=1)
print("cluster", ray.api._cluster.cluster_id, flush=True)


@ray.remote
def echo(value):
    return value


@ray.remote
def make_trap(where, kind):
    return UnpickleTrap(where, kind)


if site == "pickle args":
    echo.remote(PickleTrap("driver", kind))
else:
    ray.get(make_trap.remote("driver", kind))
print("the driver survived", flush=True)
