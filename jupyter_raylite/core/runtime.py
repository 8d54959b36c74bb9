"""The local cluster as the driver sees it: start it, talk to it, stop it without leftovers.

``LocalCluster.start()`` returns at once: it launches the zygote (core/zygote.py), which forks the
workers in the background, and starts the head thread (core/head.py).  A task submitted before
any worker is up simply waits in the queue for the first one.

``DriverClient`` is the driver's ``ClusterClient``: ``put`` and ``get`` touch the object
directory directly (no trip through the head thread); submissions, cancellations and reference
edges go through the head's inbox, in call order.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass

from jupyter_raylite.core import object_store, refs
from jupyter_raylite.core.client import ClusterClient, deadline_after
from jupyter_raylite.core.head import DRIVER, Head
from jupyter_raylite.core.serialization import Payload, deserialize
from jupyter_raylite.core.task_spec import TaskSpec
from jupyter_raylite.exceptions import ObjectLostError

# A blocked get() wakes up at least this often, so that Ctrl-C / a kernel interrupt is seen
# within this delay even if the platform does not interrupt lock waits.
_INTERRUPT_CHECK = 0.1


@dataclass(frozen=True)
class ClusterConfig:
    num_cpus: float
    num_gpus: float
    resources: dict
    memory: float
    object_store_memory: int
    namespace: str | None
    log_to_driver: bool


def print_output(origin, name, pid, stream, text) -> None:
    """Ray's log_to_driver: worker output on the driver's stdout/stderr, prefixed by its source."""
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(prefixed(name, pid, text))
    target.flush()


def prefixed(name, pid, text: str) -> str:
    """Worker output as Ray shows it: each line starts with ``(name pid=N)``."""
    body = "".join(f"({name} pid={pid}) {line}" for line in text.splitlines(keepends=True))
    return body if body.endswith("\n") else body + "\n"


def _discard_output(*_args) -> None:
    pass


# Where worker output goes when log_to_driver is on; the Jupyter extension replaces it with a
# router that writes into the cell that submitted the work.
output_sink = print_output


def _route_output(*args) -> None:
    output_sink(*args)  # looked up per line, so a sink installed later takes effect


class LocalCluster:
    """One embedded cluster: a zygote process, its workers, and the head thread."""

    def __init__(self, config: ClusterConfig, output_sink=None):
        self.config = config
        self.cluster_id = f"{os.getpid()}x{os.urandom(4).hex()}"
        self.node_id = os.urandom(14).hex()
        self.started_at = time.time()
        # Ray gives a job without a namespace an anonymous one of its own.
        self.namespace = config.namespace or f"anonymous-{self.cluster_id}"
        sink = output_sink or (_route_output if config.log_to_driver else _discard_output)
        object_store.remove_orphaned_segments()
        object_store.capacity = config.object_store_memory
        self.control, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.zygote = subprocess.Popen(
                [sys.executable, "-m", "jupyter_raylite.core.zygote", str(zygote_end.fileno()),
                 self.cluster_id],
                pass_fds=(zygote_end.fileno(),), env=self._worker_environment(),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=None if os.environ.get("JUPYTER_RAYLITE_DEBUG") else subprocess.DEVNULL,
                # Out of the kernel's process group: Jupyter's interrupt (SIGINT to the group)
                # must not reach the workers.  Death of the driver is noticed through the
                # control socket instead.
                start_new_session=True)
        finally:
            zygote_end.close()
        self.head = Head(self.cluster_id, self.total_resources(), self.control, sink)
        self.client = DriverClient(self)
        # The driver's reference edges join the head's inbox, so they stay in call order
        # with submissions.
        refs.counter.edges = self.head.inbox
        refs.counter.on_edge = self.head.wake
        self.head.start(warm_workers=max(int(config.num_cpus), 1))

    def _worker_environment(self) -> dict:
        env = dict(os.environ)
        env["JUPYTER_RAYLITE_CLUSTER"] = self.cluster_id
        env["JUPYTER_RAYLITE_NODE"] = json.dumps(
            {"node_id": self.node_id, "resources": self.total_resources(),
             "namespace": self.namespace})
        # Workers import what the driver can import: modules next to the notebook, test
        # modules, editable installs (Ray has the same rule for the driver's directory).
        paths = [p or os.getcwd() for p in sys.path]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        return env

    def total_resources(self) -> dict[str, float]:
        config = self.config
        total = {"CPU": float(config.num_cpus), "memory": float(config.memory),
                 "object_store_memory": float(config.object_store_memory),
                 "node:127.0.0.1": 1.0, "node:__internal_head__": 1.0}
        if config.num_gpus:
            total["GPU"] = float(config.num_gpus)
        total.update({k: float(v) for k, v in config.resources.items()})
        return total

    def shutdown(self) -> None:
        """Stop the head, kill every worker, remove every segment; returns when all are gone."""
        refs.counter.edges = deque(maxlen=0)  # refs that die from now on have nowhere to go
        refs.counter.on_edge = None
        # The head first, so that nothing asks the zygote for a worker any more; then the
        # zygote, which kills every worker and unlinks every segment before it exits.
        self.head.stop()
        try:
            self.control.send(pickle.dumps(("shutdown",)))
        except OSError:
            pass
        try:
            self.zygote.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.zygote.kill()
            self.zygote.wait()
        self.control.close()
        self.head.objects.clear()
        object_store.unlink_cluster_segments(self.cluster_id)
        object_store.capacity = None


class DriverClient(ClusterClient):
    # Set by the Jupyter layer: what the driver is running now (the cell), recorded with each
    # submission; and what to do when a wait is interrupted (cancel that cell's work).
    origin = staticmethod(lambda: None)
    on_interrupt = None

    def __init__(self, cluster: LocalCluster):
        super().__init__()
        self.cluster = cluster
        self.cluster_id = cluster.cluster_id
        self.node_id = cluster.node_id
        self.total = cluster.total_resources()
        self.namespace_name = cluster.namespace
        self.head = cluster.head
        self.objects = cluster.head.objects

    def _submit(self, spec: TaskSpec) -> None:
        spec.origin = self.origin()
        self.objects.expect(spec.return_ids, spec.task_id, DRIVER)
        self.head.post(("submit", spec))

    def _put(self, object_id: str, payload: Payload) -> None:
        self.objects.add_ready(object_id, payload, DRIVER)

    def _fetch(self, object_ids, timeout):
        deadline = deadline_after(timeout)
        payloads = []
        with self.objects.changed:
            while True:
                # Resume where the last pass stopped: rescanning from the start after every
                # wake-up would make get() of n refs cost n^2.
                for oid in object_ids[len(payloads):]:
                    entry = self.objects.get_entry(oid)
                    if entry is None:
                        raise self._lost(oid)
                    if entry.payload is None:
                        break
                    payloads.append(entry.payload)
                else:
                    return payloads
                if not self._block(deadline):
                    return None

    def _wait(self, object_ids, num_returns, timeout):
        deadline = deadline_after(timeout)
        with self.objects.changed:
            for oid in object_ids:
                if not self.objects.known(oid):
                    raise self._lost(oid)
            while True:
                ready = {oid for oid in object_ids if self.objects.payload(oid) is not None}
                if len(ready) >= num_returns or not self._block(deadline):
                    return ready

    def _block(self, deadline: float | None) -> bool:
        """Wait for a change; False once the deadline has passed."""
        self.head.check_alive()
        wait = _INTERRUPT_CHECK
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
            if wait <= 0:
                return False
        self.objects.changed.wait(wait)
        return True

    def get(self, refs, timeout):
        try:
            return super().get(refs, timeout)
        except KeyboardInterrupt:
            self._interrupted()
            raise

    def wait(self, refs, num_returns, timeout):
        try:
            return super().wait(refs, num_returns, timeout)
        except KeyboardInterrupt:
            self._interrupted()
            raise

    def _interrupted(self) -> None:
        # Wherever the interrupt landed in get/wait, the hook runs (outside the lock).
        if self.on_interrupt is not None:
            self.on_interrupt()

    def _lost(self, object_id: str) -> ObjectLostError:
        return ObjectLostError(
            f"Object {object_id} is not in this cluster: it was freed, or it was created by a "
            "cluster that has since been shut down. Keep an ObjectRef alive for as long as you "
            "need its value, and re-run the cell that created it after a restart.")

    def cancel(self, object_id: str, force: bool, recursive: bool) -> None:
        self.head.post(("cancel", object_id, force, recursive))

    def cancel_all(self) -> None:
        """Cancel every task and queued actor call of the cluster."""
        self.head.post(("cancel_origin", None))

    def cancel_origin(self, matches) -> None:
        """Cancel every task and queued actor call whose origin satisfies ``matches``."""
        self.head.post(("cancel_origin", matches))

    def statistics(self):
        """A consistent snapshot of the cluster (ClusterStatistics), taken on the head."""
        return self.head.call(self.head.statistics)

    def object_state(self, object_id: str) -> tuple[str, int]:
        """("lost" | "pending" | "failed" | "ready", size in bytes) of one object."""
        entry = self.objects.get_entry(object_id)
        if entry is None:
            return "lost", 0
        payload = entry.payload
        if payload is None:
            return "pending", 0
        return ("failed" if payload.is_error else "ready"), payload.nbytes

    def events_since(self, seq: int):
        """Task and actor events numbered ``seq`` and later (see core/events.py)."""
        return self.head.events.since(seq)

    def task_counts(self) -> dict:
        """Every task submitted so far, by (cell, function) and state."""
        return self.head.events.counts()

    def peek(self, object_id: str):
        """``(state, value)`` of an object for an inspector: ("ready", value),
        ("failed", the exception), ("pending", None) or ("lost", None) once it was freed."""
        payload = self.objects.payload(object_id)
        if payload is None:
            return ("lost" if not self.objects.known(object_id) else "pending"), None
        return ("failed" if payload.is_error else "ready"), deserialize(payload)

    def actor_state(self, actor_id: str) -> str:
        """pending, alive, dead, or unknown (not an actor of this cluster)."""
        def state():
            record = self.head.actors.actors.get(actor_id)
            return record.state if record is not None else "unknown"
        return self.head.call(state)

    def task_table(self, state: str | None = None, limit: int = 50):
        """The newest tasks first (TaskSummary rows), live ones and those that ended."""
        return self.head.call(self.head.task_table, state, limit)

    def _create_actor(self, spec) -> tuple[str, bool]:
        spec.origin = self.origin()
        if spec.options.name is not None:
            # A name needs an answer now (taken? get_if_exists?): ask the head thread.
            return self.head.call(self.head.actors.create, spec, DRIVER, False)
        self.head.actors.register_driver_actor(spec.actor_id)
        self.head.post(("create_actor", spec))
        return spec.actor_id, True

    def _submit_call(self, spec) -> None:
        spec.origin = self.origin()
        self.objects.expect(spec.return_ids, spec.task_id, DRIVER)
        self.head.post(("actor_call", spec))

    def kill_actor(self, actor_id: str, no_restart: bool) -> None:
        self.head.post(("kill_actor", actor_id, no_restart))

    def get_actor(self, name: str, namespace: str | None):
        return self.head.call(self.head.actors.lookup, name, namespace or self.namespace_name)

    def named_actors(self) -> list[tuple[str, str]]:
        return self.head.call(self.head.actors.named)

    def runtime_info(self) -> dict:
        return {"in_worker": False, "task_id": None, "task_name": None, "actor_id": None,
                "worker_id": refs.DRIVER_WORKER_ID_HEX, "resources": {}}

    def available_resources(self) -> dict[str, float]:
        available = self.head.scheduler.pool.statistics().available
        return {k: v for k, v in available.items() if v > 0}
