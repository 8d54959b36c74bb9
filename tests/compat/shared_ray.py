"""Ray clusters shared by the compatibility modules, one per size.

Starting Ray takes 6-10 s on two cores, and every module needs it twice (Ray itself, and
jupyter_raylite's Ray backend): a minute or two of each run.  Connecting a driver to a running
cluster takes a fraction of that, so the modules connect to one cluster per size instead.
Each module and implementation connects as a job of its own in a namespace of its own: named
actors stay in it, and the job's actors and tasks end when the module disconnects; a module
starts only once every CPU of the cluster is free again (`wait_until_idle`), so none sees what
another left running.

The clusters live in a private temporary folder.  Ray writes the address of a cluster started
this way to ``ray_current_cluster`` in its temporary folder, where a plain ``ray.init()``
finds and joins it: in /tmp/ray, any other Ray program on the machine would.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from leaks import HANG, wait_until

_clusters: dict = {}   # number of CPUs -> ray.cluster_utils.Cluster
_temp_dir: str | None = None

# What changes while work runs, not what work holds.
_NOT_HELD = ("memory", "object_store_memory")


def address(num_cpus: int) -> str:
    """The address of the shared cluster with ``num_cpus`` CPUs, started on first use."""
    if num_cpus not in _clusters:
        from ray.cluster_utils import Cluster
        with _private_ray_folder():
            _clusters[num_cpus] = Cluster(
                initialize_head=True,
                head_node_args={"num_cpus": num_cpus, "include_dashboard": False})
    return _clusters[num_cpus].address


def wait_until_idle(ray) -> None:
    """Wait (a hang's deadline) until nothing holds any resource of the cluster ``ray`` is
    connected to: the previous module's actors and tasks end after its driver leaves."""
    total = {name: amount for name, amount in ray.cluster_resources().items()
             if name not in _NOT_HELD}

    def idle():
        available = ray.available_resources()
        return all(available.get(name, 0) == amount for name, amount in total.items())

    assert wait_until(idle, timeout=HANG), (
        f"the shared Ray cluster stayed busy: {ray.available_resources()} of {total} free; "
        "a module left an actor (a detached one?) or a task running")


def shutdown() -> None:
    """Stop every shared cluster and remove the private folder."""
    global _temp_dir
    with _private_ray_folder():
        while _clusters:
            _clusters.popitem()[1].shutdown()
    if _temp_dir is not None:
        shutil.rmtree(_temp_dir, ignore_errors=True)
        _temp_dir = None


@contextlib.contextmanager
def _private_ray_folder():
    # Ray reads RAY_TMPDIR when it writes (and, at shutdown, deletes) the cluster's address
    # file; the cluster's processes inherit it.  A short path: Ray's socket paths live in it
    # and must fit in 107 bytes.
    global _temp_dir
    if _temp_dir is None:
        _temp_dir = tempfile.mkdtemp(prefix="rl-ray-", dir="/tmp")
    saved = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = _temp_dir
    try:
        yield
    finally:
        if saved is None:
            del os.environ["RAY_TMPDIR"]
        else:
            os.environ["RAY_TMPDIR"] = saved
