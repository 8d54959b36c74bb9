"""A load to run the tests beside: busy loops and another jupyter_raylite program.

``pytest --stress`` starts it for the session; ``python tests/stress.py`` runs it on its own
until Ctrl-C (to load the machine by hand, say beside README's test command).

The neighbour is what a user's open notebook would be: a program with a cluster of its own
that keeps submitting tasks, calling an actor, putting values large enough for shared memory
and starting its cluster afresh every few seconds, so that processes and segments of another
cluster come and go all through the run.  Nothing the load starts carries the test run's
token (tests/leaks.py), so the leak checks must look past it, and the tests must pass while it
takes the CPUs.

Every process of the load reads a pipe from the process that started it and exits when that
pipe closes: a killed test run takes its load with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from leaks import RUN_VARIABLE

BUSY_LOOPS = 2
RESTART_EVERY = 5.0  # seconds between two clusters of the neighbour


class Load:
    """The load's processes: started together, stopped together."""

    def __init__(self, busy_loops: int = BUSY_LOOPS):
        self.busy_loops = busy_loops
        self.processes: list[subprocess.Popen] = []

    def start(self) -> "Load":
        env = {k: v for k, v in os.environ.items() if k != RUN_VARIABLE}
        roles = ["busy"] * self.busy_loops + ["neighbour"]
        for role in roles:
            self.processes.append(subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), role], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, env=env, cwd=os.path.dirname(__file__)))
        return self

    def describe(self) -> str:
        pids = ", ".join(str(p.pid) for p in self.processes)
        return f"{self.busy_loops} busy loops and a jupyter_raylite neighbour (pids {pids})"

    def stop(self) -> None:
        for proc in self.processes:
            proc.stdin.close()  # the pipe's end is the signal to exit
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.processes.clear()


def _exit_when_parent_goes(on_exit=None) -> threading.Event:
    """Watch stdin (the parent's pipe); set the returned event when it closes, and exit
    outright if ``on_exit`` does not finish within a few seconds."""
    gone = threading.Event()

    def watch():
        sys.stdin.buffer.read()
        gone.set()
        time.sleep(10)
        os._exit(0)  # the main loop did not wind down: do not outlive the parent anyway

    threading.Thread(target=watch, daemon=True, name="stress-watchdog").start()
    return gone


def busy() -> None:
    gone = _exit_when_parent_goes()
    while not gone.is_set():
        for _ in range(100_000):
            pass


def neighbour() -> None:
    """Another program's cluster, busy all the time, replaced every RESTART_EVERY seconds."""
    import jupyter_raylite as ray

    gone = _exit_when_parent_goes()

    @ray.remote
    def square(x):
        return x * x

    @ray.remote
    def total(block):
        return sum(block)

    @ray.remote
    def size(block):
        return len(block)

    @ray.remote
    class Tally:
        def __init__(self):
            self.count = 0

        def add(self, n):
            self.count += n
            return self.count

    while not gone.is_set():
        ray.init(num_cpus=2, log_to_driver=False)
        try:
            tally = Tally.remote()
            until = time.monotonic() + RESTART_EVERY
            while time.monotonic() < until and not gone.is_set():
                block = ray.put(bytes(1 << 20))  # a segment in /dev/shm, read by the task
                squares = ray.get([square.remote(i) for i in range(20)])
                ray.get([total.remote(squares), tally.add.remote(len(squares)),
                         size.remote(block)])
        finally:
            ray.shutdown()


def main(role: str | None) -> None:
    if role == "busy":
        busy()
    elif role == "neighbour":
        neighbour()
    else:
        load = Load().start()
        print(f"stress: {load.describe()}; Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            load.stop()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
