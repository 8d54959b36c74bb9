"""The public API on a real Ray cluster: ``init(address="ray://...")``, ``init(address="auto")``
or ``init(backend="ray")`` (a local Ray started by Ray).

Every call goes to the installed ``ray`` package: tasks become Ray remote functions (one per
function and options), actors Ray actors, and what comes back are Ray's own ObjectRefs and
actor handles.  Ray's errors are raised as jupyter_raylite's classes of the same names (a task's
error is still also an instance of the original exception's type).

For the views, this runtime writes the same event log the local cluster writes: each task and
actor call it submits, and its end, observed with a callback on the result that neither
fetches nor deserializes it.  Ray does not tell the driver when a task starts, so the views
show tasks as queued until they end; nested tasks run inside Ray and are not seen.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

from jupyter_raylite import exceptions
from jupyter_raylite.core import refs
from jupyter_raylite.core.events import EventLog, cell_of, summarize_arguments

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Ray colours its error headers
INSTALL_HINT = ("The Ray backend needs the ray package: pip install 'jupyter-raylite[ray]' "
                "(or pip install ray), then restart the kernel.")


def import_ray():
    from jupyter_raylite import dropin
    if dropin.active():
        raise RuntimeError(
            "The Ray backend needs the real Ray, but the drop-in is on in this process "
            "('import ray' gives jupyter_raylite: as_ray(), python -m jupyter_raylite or "
            f"{dropin.ENV_VARIABLE}=1). Run the program without the drop-in and with "
            "'import jupyter_raylite as ray' to use init(address=...) or backend='ray'.")
    try:
        import ray
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return ray


@dataclass(frozen=True)
class RayStatistics:
    """What the meters and ``%raylite status`` read (the local cluster's shape)."""

    total: dict
    available: dict
    workers: int
    actors_alive: int
    tasks: dict
    objects: object
    worker_pids: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _NoObjectStatistics:
    objects: int = 0
    pending: int = 0
    shared_memory_bytes: int = 0
    segments: int = 0
    inline_bytes: int = 0


class RayCluster:
    """What ``api._cluster`` holds on the Ray backend: the connection and its client."""

    def __init__(self, address: str | None, init_kwargs: dict):
        self.ray = ray = import_ray()
        self.context = ray.init(address=address, **init_kwargs)
        self.cluster_id = f"ray-{os.getpid()}"
        self.client = RayClient(ray)
        self.requested = {}

    def shutdown(self) -> None:
        self.ray.shutdown()


class RayClient:
    """The runtime the public API delegates to, on Ray (see core/client.py for the local one)."""

    origin = staticmethod(lambda: None)  # set by the Jupyter layer, as for the local driver

    def __init__(self, ray):
        self.ray = ray
        refs.recognize_ref_type(ray.ObjectRef)  # isinstance(ref, jupyter_raylite.ObjectRef)
        self.events = EventLog()
        self._functions: dict = {}  # (function id, options) -> Ray remote function
        self._classes: dict = {}  # (class id, options) -> Ray actor class
        self.cluster_id = "ray"
        self.used = False  # anything submitted or put yet (a fresh cluster may be replaced)

    # -- what the public API calls ------------------------------------------------------------
    def is_ref(self, value) -> bool:
        return isinstance(value, self.ray.ObjectRef)

    def is_actor(self, value) -> bool:
        # Ray Client's handles are a class of their own.
        return (isinstance(value, self.ray.actor.ActorHandle)
                or type(value).__name__ == "ClientActorHandle")

    def submit_task(self, remote_function, args, kwargs, options) -> list:
        self.used = True
        key = (remote_function.function_id, options)
        ray_function = self._functions.get(key)
        if ray_function is None:
            ray_function = self._functions[key] = self.ray.remote(
                **_task_options(options))(remote_function._function)
        result = ray_function.remote(*args, **kwargs)
        refs = [] if result is None else result if isinstance(result, list) else [result]
        self._observe(options.name or remote_function.function_name, "task", refs, args,
                      kwargs, options.resource_demand(), None)
        return refs

    def make_actor(self, actor_class, args, kwargs, options):
        self.used = True
        key = (actor_class.class_id, options)
        ray_class = self._classes.get(key)
        if ray_class is None:
            ray_class = self._classes[key] = self.ray.remote(
                **_actor_options(options))(actor_class._cls)
        return ray_class.remote(*args, **kwargs)

    def put(self, value):
        self.used = True
        return self.ray.put(value)

    def get(self, refs: list, timeout):
        with _translated(self.ray):
            return self.ray.get(refs, timeout=timeout)

    def wait(self, refs: list, num_returns: int, timeout):
        with _translated(self.ray):
            return self.ray.wait(refs, num_returns=num_returns, timeout=timeout)

    def cancel_ref(self, ref, force: bool, recursive: bool) -> None:
        self.ray.cancel(ref, force=force, recursive=recursive)

    def kill(self, actor, no_restart: bool) -> None:
        self.ray.kill(actor, no_restart=no_restart)

    def get_actor_handle(self, name: str, namespace: str | None):
        with _translated(self.ray):
            return self.ray.get_actor(name, namespace=namespace)

    def cluster_resources(self) -> dict:
        return self.ray.cluster_resources()

    def available_resources(self) -> dict[str, float]:
        return self.ray.available_resources()

    def nodes(self) -> list[dict]:
        return self.ray.nodes()

    def runtime_context(self):
        return self.ray.get_runtime_context()

    def timeline(self, filename=None):
        return self.ray.timeline(filename=filename)

    def shutdown(self) -> None:
        """Inside a Ray worker: only forget the connection (the driver owns the cluster)."""

    # -- what the views and magics read -------------------------------------------------------
    def events_since(self, seq: int):
        return self.events.since(seq)

    def task_counts(self) -> dict:
        return self.events.counts()

    def statistics(self) -> RayStatistics:
        counts: dict[str, int] = {}
        for group in self.events.counts().values():
            for state, n in group.items():
                if state in ("waiting", "queued", "running") and n:
                    counts[state] = counts.get(state, 0) + n
        return RayStatistics(self.ray.cluster_resources(), self.ray.available_resources(),
                             workers=0, actors_alive=0, tasks=counts,
                             objects=_NoObjectStatistics())

    def _observe(self, name, kind, refs, args, kwargs, demand, actor_id) -> None:
        """Write the submission and, later, the end of a task to the event log."""
        if not refs:
            return
        task_id = refs[0].hex()
        # Top-level ref arguments are what Ray resolves before the task runs: the graph's arrows.
        dependencies = tuple(value.hex() for value in (*args, *kwargs.values())
                             if isinstance(value, self.ray.ObjectRef))
        self.events.task(time.time(), task_id, name, kind, None, dependencies,
                         tuple(r.hex() for r in refs),
                         cell_of(self.origin()), dict(demand), summarize_arguments(args, kwargs),
                         actor_id, "queued")
        on_ready = getattr(refs[0], "_on_ready", None)
        if on_ready is None:  # an older Ray: the views see the submission only
            return
        events = self.events

        def ended(error):
            events.state(time.time(), task_id, "finished" if error is None else "failed",
                         detail=None if error is None else type(error).__name__)
        try:
            on_ready(ended)
        except Exception:  # Ray Client's refs have no core worker to call back from
            pass


def _task_options(options) -> dict:
    chosen = {"num_cpus": options.num_cpus, "num_gpus": options.num_gpus,
              "num_returns": options.num_returns, "max_retries": options.max_retries,
              "retry_exceptions": (list(options.retry_exceptions)
                                   if isinstance(options.retry_exceptions, tuple)
                                   else options.retry_exceptions)}
    if options.memory:
        chosen["memory"] = options.memory
    if options.resources:
        chosen["resources"] = dict(options.resources)
    if options.name:
        chosen["name"] = options.name
    return chosen


def _actor_options(options) -> dict:
    chosen = {"max_restarts": options.max_restarts, "max_task_retries": options.max_task_retries}
    for key in ("num_cpus", "num_gpus", "max_concurrency", "name", "namespace", "lifetime"):
        value = getattr(options, key)
        # num_cpus=0 means something (schedulable anywhere); num_gpus=0 only makes Ray give
        # a default actor a CPU for its whole life, so it is left out.
        if value is not None and not (key == "num_gpus" and value == 0):
            chosen[key] = value
    if options.memory:
        chosen["memory"] = options.memory
    if options.resources:
        chosen["resources"] = dict(options.resources)
    if options.get_if_exists:
        chosen["get_if_exists"] = True
    if options.concurrency_groups:
        chosen["concurrency_groups"] = dict(options.concurrency_groups)
    return chosen


class _translated:
    """Raise Ray's errors as jupyter_raylite's classes of the same name, so that code catching
    ``jupyter_raylite.exceptions.X`` works on both backends."""

    def __init__(self, ray):
        self.ray = ray

    def __enter__(self):
        return self

    def __exit__(self, kind, error, _traceback):
        if error is None or not isinstance(error, self.ray.exceptions.RayError):
            return False
        if isinstance(error, self.ray.exceptions.RayTaskError):
            # Ray's text starts "ray::name() (pid=N, ip=...)", then the remote traceback.
            header, _, remote_traceback = _ANSI.sub("", str(error)).partition("\n")
            found = re.match(r"(?:ray::)?(?P<name>[^(\s]+)\(\).*?pid=(?P<pid>\d+)", header)
            name = found["name"] if found else "task"
            pid = int(found["pid"]) if found else None
            ours = exceptions.RayTaskError(name, remote_traceback or header,
                                           getattr(error, "cause", None), pid)
            raise ours.as_instanceof_cause() from None
        # The nearest class of Ray's that we name too (Ray has more kinds than we do).
        ours_class = next((getattr(exceptions, c.__name__) for c in type(error).__mro__
                           if hasattr(exceptions, c.__name__)), None)
        if ours_class is None:
            return False
        if ours_class is exceptions.TaskCancelledError:
            raise exceptions.TaskCancelledError(None, str(error)) from None
        try:
            translated = ours_class(str(error))
        except TypeError:
            return False
        raise translated from None
