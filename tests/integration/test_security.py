"""What another local user (or another process of the same user) can reach: nothing.

The cluster listens on no address at all: the head talks to the launcher and to each worker
over socket pairs created before the fork, which have no name and cannot be connected to, so no
other process can submit work or read replies (stronger than authenticating a listening
socket: there is nothing to connect to).  Shared-memory segments are created 0600."""

from __future__ import annotations

import os
import stat

import jupyter_raylite as ray
from jupyter_raylite import api

from leaks import cluster_processes


def test_the_driver_opens_no_network_socket_for_its_cluster():
    import psutil
    driver = psutil.Process()
    before = {c.laddr for c in driver.net_connections(kind="inet")}
    ray.init(num_cpus=1)
    try:
        assert ray.get(ray.remote(lambda: 1).remote()) == 1  # the head thread is busy
        after = {c.laddr for c in driver.net_connections(kind="inet")}
        assert after <= before, after - before
    finally:
        ray.shutdown()


def test_no_process_of_the_cluster_listens_anywhere(cluster):
    @ray.remote
    def nested():
        return ray.get(ray.put(b"x" * 200_000))  # workers talk to the head both ways

    assert len(ray.get(nested.remote())) == 200_000
    processes = cluster_processes(api._cluster.cluster_id)
    assert processes
    for proc in processes:
        for conn in proc.net_connections(kind="all"):
            # No TCP/UDP socket at all, and no Unix socket bound to a path (a socket pair's
            # ends have no address).
            assert conn.family == 1, (proc, conn)  # AF_UNIX
            assert not conn.laddr, (proc, conn)
            assert conn.status in ("NONE", "ESTABLISHED", ""), (proc, conn)


def test_shared_memory_is_readable_by_its_owner_only(cluster):
    ref = ray.put(b"secret" * 100_000)  # big enough for a segment of its own
    cluster_id = api._cluster.cluster_id
    paths = [os.path.join("/dev/shm", n) for n in os.listdir("/dev/shm")
             if n.startswith(f"raylite_{cluster_id}_")]
    assert paths
    for path in paths:
        info = os.stat(path)
        assert stat.S_IMODE(info.st_mode) & 0o077 == 0, (path, oct(info.st_mode))
        assert info.st_uid == os.getuid()
    del ref
