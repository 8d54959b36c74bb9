"""The leak checks look at this test run's clusters only, and still catch this run's leaks.

Another jupyter_raylite program on the machine (an open notebook, another test run) must not
fail a test; a process or segment that this run left behind must.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from leaks import (HANG, RUN_VARIABLE, cluster_processes, leftovers, run_segments, segments,
                   wait_until)

# A program with a cluster of its own that holds one value in shared memory until its stdin
# closes; it prints its cluster id once the value is stored.
PROGRAM = """
import sys
import jupyter_raylite as ray
from jupyter_raylite import api
ray.init(num_cpus=1)
held = ray.put(bytes(1 << 20))
print(api._cluster.cluster_id, flush=True)
sys.stdin.read()
ray.shutdown()
"""


class Program:
    """PROGRAM in a subprocess: of this run (it inherits the token) or another program's."""

    def __init__(self, of_this_run: bool):
        env = dict(os.environ)
        if not of_this_run:
            del env[RUN_VARIABLE]
        self.proc = subprocess.Popen([sys.executable, "-c", PROGRAM], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.cluster_id = self.proc.stdout.readline().strip()
        assert self.cluster_id, "the program did not start its cluster"

    def stop(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=HANG) == 0
        assert wait_until(lambda: not cluster_processes(self.cluster_id)
                          and not segments(f"raylite_{self.cluster_id}_"), timeout=HANG)


@pytest.fixture
def segments_before():
    return run_segments()


def test_leak_check_looks_past_another_programs_cluster(segments_before):
    other = Program(of_this_run=False)
    try:
        assert cluster_processes(other.cluster_id), "its cluster runs"
        assert segments(f"raylite_{other.cluster_id}_"), "it holds shared memory"
        assert leftovers(segments_before) == ([], set())
    finally:
        other.stop()


def test_leak_check_finds_a_cluster_this_run_left_running(segments_before):
    ours = Program(of_this_run=True)
    try:
        processes, segs = leftovers(segments_before)
        assert {p.pid for p in processes} == {p.pid for p in cluster_processes(ours.cluster_id)}
        assert processes, "the zygote at least"
        assert segs == segments(f"raylite_{ours.cluster_id}_") and segs
    finally:
        ours.stop()
    assert leftovers(segments_before) == ([], set())


def test_leak_check_finds_an_orphaned_process_and_a_segment_of_this_run(segments_before):
    cluster_id = f"{os.getpid()}xfeedface"
    segment = f"raylite_{cluster_id}_left"
    with open(os.path.join("/dev/shm", segment), "wb") as f:
        f.write(b"left behind")
    # A process of this run whose parent exited: re-parented, but still this run's.
    env = dict(os.environ, JUPYTER_RAYLITE_CLUSTER=cluster_id)
    subprocess.run(["sh", "-c", "sleep 120 >/dev/null 2>&1 &"], env=env, check=True)
    try:
        assert wait_until(lambda: cluster_processes(cluster_id), timeout=HANG)
        processes, segs = leftovers(segments_before)
        assert [p.pid for p in processes] == [p.pid for p in cluster_processes(cluster_id)]
        assert segs == {segment}
    finally:
        for proc in cluster_processes(cluster_id):
            proc.kill()
        os.unlink(os.path.join("/dev/shm", segment))
    assert wait_until(lambda: leftovers(segments_before) == ([], set()), timeout=HANG)
