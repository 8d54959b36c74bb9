"""The public calls, with Ray's names and signatures: validate the input, then delegate.

Every call checks its arguments here, so a mistake fails at the call that made it with a
message that says what to do; the runtime behind ``core.context.current_runtime()`` (the local
cluster's driver client, a worker's client, or the in-process ``local_mode`` runtime) does the
work.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import numbers
import os
import platform
import warnings

from jupyter_raylite import dropin
from jupyter_raylite.core import context
from jupyter_raylite.core.refs import ObjectRef
from jupyter_raylite.options import ActorOptions, TaskOptions
from jupyter_raylite.remote_function import RemoteFunction
from jupyter_raylite.runtime_context import get_runtime_context

# Keyword arguments Ray's init() accepts that configure parts this runtime does not have (a
# dashboard, log files, a GCS, runtime environments).  They are accepted, so Ray code runs
# unchanged, and have no effect.  README lists them.
IGNORED_INIT_KWARGS = frozenset({
    "include_dashboard", "dashboard_host", "dashboard_port", "job_config",
    "configure_logging", "logging_level", "logging_format", "logging_config", "runtime_env",
    "labels", "enable_resource_isolation", "cgroup_path", "system_reserved_cpu",
    "system_reserved_memory", "proxy_server_url", "_system_config", "_temp_dir",
    "_node_ip_address", "_enable_object_reconstruction", "_plasma_directory",
    "_metrics_export_port", "_redis_password", "_memory", "_node_name", "_driver_object_store_memory",
    "_tracing_startup_hook", "_skip_env_hook", "storage",
})
_INIT_KWARGS = ("address", "num_cpus", "num_gpus", "resources", "object_store_memory",
                "local_mode", "ignore_reinit_error", "namespace", "log_to_driver")

_cluster = None  # the LocalCluster this driver started, if any
# Set by the Jupyter extension: decides what init() does when a cluster already runs (in a
# kernel, re-running the cell that calls init() must not fail).
reinit_policy = None


class RayContext(dict):
    """What ``init()`` returns: the cluster's address info, usable as a dict, as in Ray.

    Used as a context manager, it shuts the cluster down on exit.
    """

    def __init__(self, address_info: dict, resources: dict):
        super().__init__(address_info)
        self.address_info = address_info
        self.dashboard_url = None
        self.python_version = platform.python_version()
        from jupyter_raylite import __version__
        self.ray_version = __version__
        self.resources = resources

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutdown()

    def disconnect(self) -> None:
        shutdown()

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{name}</td><td>{amount:g}</td></tr>"
                       for name, amount in sorted(self.resources.items())
                       if not name.startswith("node:"))
        return (
            "<div class='raylite-context'><b>jupyter_raylite</b> local cluster "
            f"<code>{self.address_info['node_id'][:12]}</code> "
            f"(Python {self.python_version}, no dashboard needed, no TCP port)"
            f"<table><tr><th>resource</th><th>total</th></tr>{rows}</table></div>")


def init(address: str | None = None, *, num_cpus: float | None = None,
         num_gpus: float | None = None, resources: dict | None = None,
         object_store_memory: int | None = None, local_mode: bool = False,
         ignore_reinit_error: bool = False, namespace: str | None = None,
         log_to_driver: bool | None = None, backend: str | None = None,
         **kwargs) -> RayContext:
    """Start this process's local cluster (Ray's ``ray.init``); returns at once.

    Workers start in the background; the first task waits only for the first worker.
    ``address="ray://host:port"`` (Ray Client), ``address="auto"`` (a Ray cluster this machine
    belongs to) or ``backend="ray"`` (a local Ray started by Ray) hand every call to Ray
    instead (backends/ray_cluster.py).
    """
    if backend is None and address is None:
        # The same notebook on Ray without editing it (as Ray reads RAY_ADDRESS).
        backend = os.environ.get("JUPYTER_RAYLITE_BACKEND") or None
        address = os.environ.get("JUPYTER_RAYLITE_ADDRESS") or None
    if backend not in (None, "local", "ray"):
        raise ValueError(f"backend must be 'local' (the default) or 'ray', got {backend!r}.")
    if address == "local":
        address = None
    if backend == "local":
        backend = None
    on_ray = address is not None or backend == "ray"
    # What this call asks for: compared with what the running cluster was asked for when
    # init() runs again in a kernel (see jupyter/extension.py).
    requested = {k: v for k, v in dict(
        num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
        object_store_memory=object_store_memory, namespace=namespace, address=address,
        backend=backend).items() if v is not None}
    if kwargs.get("runtime_env") and not on_ray:  # Ray applies it itself
        warnings.warn(
            "runtime_env is ignored by the local cluster: workers share this environment "
            "(set environment variables with os.environ before init(), install packages "
            "with pip).", UserWarning, stacklevel=2)
    unknown = set(kwargs) - IGNORED_INIT_KWARGS
    if unknown:
        raise TypeError(
            f"init() got unexpected keyword argument(s) {', '.join(sorted(unknown))}. Valid ones "
            f"are {', '.join(_INIT_KWARGS)}; accepted for Ray compatibility with no effect: "
            f"{', '.join(sorted(k for k in IGNORED_INIT_KWARGS if not k.startswith('_')))}.")
    with context.lock():
        if context.current_runtime(auto=False) is not None:
            if ignore_reinit_error:
                return _context()
            if reinit_policy is not None:
                return reinit_policy(requested)
            raise RuntimeError(
                "Maybe you called ray.init twice by accident? This error can be suppressed by "
                "passing in 'ignore_reinit_error=True' or by calling 'ray.shutdown()' prior to "
                "'ray.init()'.")
        global _cluster
        if _in_ray_worker():  # a Ray task calling init(): it is already on a cluster
            return _auto_init()
        if on_ray:
            if local_mode:
                raise ValueError("local_mode runs tasks in this process: it has no address.")
            from jupyter_raylite.backends.ray_cluster import RayCluster
            ray_kwargs = {k: v for k, v in dict(
                num_cpus=num_cpus, num_gpus=num_gpus, resources=resources,
                object_store_memory=object_store_memory, namespace=namespace,
                log_to_driver=log_to_driver).items() if v is not None}
            _cluster = RayCluster(address, {**ray_kwargs, **kwargs})
            _cluster.requested = requested
            context.set_runtime(_cluster.client)
            return _cluster.context
        config = _config(num_cpus, num_gpus, resources, object_store_memory, namespace,
                         True if log_to_driver is None else bool(log_to_driver))
        if local_mode:
            warnings.warn(
                "local_mode=True runs every task serially in this process, for debugging; "
                "nothing runs in parallel.", UserWarning, stacklevel=2)
            from jupyter_raylite.core.local_mode import LocalModeClient
            context.set_runtime(LocalModeClient(config))
        else:
            from jupyter_raylite.core.runtime import LocalCluster
            _cluster = LocalCluster(config)
            _cluster.requested = requested
            context.set_runtime(_cluster.client)
        return _context()


def check_init_options(num_cpus=None, num_gpus=None, resources=None,
                       object_store_memory=None, namespace=None) -> None:
    """Raise ValueError/TypeError for init() arguments that cannot start a cluster."""
    for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus),
                        ("object_store_memory", object_store_memory)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not math.isfinite(value) or value < 0):
            raise ValueError(f"{name} must be a non-negative finite number, got {value!r}.")
    if resources:
        TaskOptions.from_kwargs(resources=resources)
    if namespace is not None and not isinstance(namespace, str):
        raise TypeError(f"namespace must be a string, got {type(namespace).__name__}.")


def _config(num_cpus, num_gpus, resources, object_store_memory, namespace, log_to_driver):
    from jupyter_raylite.core.runtime import ClusterConfig
    check_init_options(num_cpus, num_gpus, resources, object_store_memory, namespace)
    custom = TaskOptions.from_kwargs(resources=resources).resources if resources else ()
    memory = _available_memory()
    return ClusterConfig(
        num_cpus=os.cpu_count() or 1 if num_cpus is None else num_cpus,
        num_gpus=num_gpus or 0,
        resources=dict(custom),
        memory=int(memory * 0.7),
        object_store_memory=int(object_store_memory or memory * 0.3),
        namespace=namespace,
        log_to_driver=log_to_driver,
    )


def _available_memory() -> int:
    try:
        import psutil
        return psutil.virtual_memory().available
    except ImportError:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def _context() -> RayContext:
    runtime = context.current_runtime(auto=False)
    if _on_ray(runtime):  # what Ray's own init() returned
        return getattr(_cluster, "context", None)
    return RayContext(runtime.address_info(), runtime.cluster_resources())


def _auto_init() -> None:
    if _in_ray_worker():
        # A Ray task calling jupyter_raylite's API: it runs on Ray, so use Ray.
        from jupyter_raylite.backends.ray_cluster import RayClient
        context.set_runtime(RayClient(dropin.real_ray()))
        return
    init()


def _in_ray_worker() -> bool:
    """True in a process Ray started to run tasks or actors (not in a driver)."""
    ray = dropin.real_ray()
    if ray is None or not ray.is_initialized():
        return False
    try:
        from ray._private import worker
        return worker.global_worker.mode == worker.WORKER_MODE
    except (ImportError, AttributeError):
        return False


def _on_ray(runtime) -> bool:
    return hasattr(runtime, "is_ref")


def _is_ref(value, runtime) -> bool:
    return isinstance(value, ObjectRef) or (_on_ray(runtime) and runtime.is_ref(value))


context.auto_init = _auto_init


def shutdown() -> None:
    """Stop the cluster: every worker process exits and every shared-memory segment is freed."""
    global _cluster
    with context.lock():
        runtime = context.current_runtime(auto=False)
        if runtime is None:
            return
        context.set_runtime(None)
        if _cluster is not None:
            cluster, _cluster = _cluster, None
            cluster.shutdown()
        else:
            runtime.shutdown()


def is_initialized() -> bool:
    return context.current_runtime(auto=False) is not None


def remote(*args, **kwargs):
    """Make a function a remote function (a task); ``@remote`` or ``@remote(num_cpus=2, ...)``."""
    if len(args) == 1 and not kwargs and callable(args[0]):
        return _make_remote(args[0], {})
    if args or not kwargs:
        # AssertionError, as Ray raises here, so that code catching Ray's error catches ours.
        raise AssertionError(
            "The @ray.remote decorator must be applied either with no arguments and no "
            "parentheses, for example '@ray.remote', or with keyword options only, for "
            "example '@ray.remote(num_returns=2, num_cpus=1)'. Options: "
            f"{', '.join(_remote_option_names())}.")

    def decorate(function_or_class):
        return _make_remote(function_or_class, kwargs)
    return decorate


def _remote_option_names() -> list[str]:
    return sorted({f.name for f in dataclasses.fields(TaskOptions)}
                  | {f.name for f in dataclasses.fields(ActorOptions)})


def _make_remote(function_or_class, options: TaskOptions | dict):
    if inspect.iscoroutinefunction(function_or_class):
        raise ValueError(
            f"'async def' should not be used for remote tasks ({function_or_class.__name__}). "
            "Make it a plain function that runs the coroutine with asyncio.run(...), or make "
            "it a method of an actor class: actors may have async methods.")
    if inspect.isclass(function_or_class):
        from jupyter_raylite.actor import ActorClass
        actor_options = ActorOptions.from_kwargs(**(options if isinstance(options, dict) else {}))
        return ActorClass(function_or_class, actor_options)
    if not callable(function_or_class):
        raise TypeError("@remote must decorate a function or a class.")
    if isinstance(options, dict):
        options = TaskOptions.from_kwargs(**options)
    return RemoteFunction(function_or_class, options)


def get(object_refs, *, timeout: float | None = None):
    """Wait for and return the value(s) of one ObjectRef or a list of them (Ray's ``ray.get``).

    Raises the task's exception (a RayTaskError that is also an instance of the original
    type), or GetTimeoutError after ``timeout`` seconds.
    """
    # ValueError for a timeout of the wrong type too, as Ray's get() raises.
    _check_timeout(timeout, "get", wrong_type=ValueError)
    runtime = context.current_runtime()
    single = _is_ref(object_refs, runtime)
    refs = [object_refs] if single else object_refs
    if not isinstance(refs, list):
        raise ValueError(
            f"Invalid type of object refs, {type(object_refs)}, is given. 'object_refs' must "
            "either be an ObjectRef or a list of ObjectRefs.")
    for ref in refs:
        if not _is_ref(ref, runtime):
            raise TypeError(
                f"Attempting to call `get` on the value {ref!r:.80}, which is not an ObjectRef. "
                "Pass only the ObjectRefs returned by .remote() or put() (a value that is "
                "already at hand needs no get).")
    values = runtime.get(refs, timeout)
    return values[0] if single else values


def put(value, *, _owner=None) -> ObjectRef:
    """Store a value in the object store; returns an ObjectRef to it (Ray's ``ray.put``)."""
    runtime = context.current_runtime()
    if _is_ref(value, runtime):
        raise TypeError(
            "Calling 'put' on an ObjectRef is not allowed: its value is already in the object "
            "store. Pass the ObjectRef itself where the value is needed, or wrap it in a list "
            "(put([ref])) to store a reference to it.")
    return runtime.put(value)


def wait(object_refs, *, num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True):
    """Return ``(ready, not_ready)``: the first ``num_returns`` refs that are ready, in input
    order, and the rest; returns early with fewer when ``timeout`` seconds pass."""
    runtime = context.current_runtime()
    if _is_ref(object_refs, runtime):
        raise TypeError(
            "wait() expected a list of ray.ObjectRef, got a single ray.ObjectRef "
            f"{object_refs}; wrap it in a list.")
    if not isinstance(object_refs, list):
        raise TypeError(
            f"wait() expected a list of ray.ObjectRef, got {type(object_refs)}; pass a list "
            "(list(refs) turns a tuple or set into one).")
    _check_timeout(timeout, "wait", wrong_type=TypeError)  # Ray's types: TypeError, ValueError
    # fetch_local is accepted as Ray accepts it (any value): objects are always local here.
    for ref in object_refs:
        if not _is_ref(ref, runtime):
            raise TypeError(
                f"wait() expected a list of ray.ObjectRef, got list containing {type(ref)}; "
                "pass only the ObjectRefs returned by .remote() or put().")
    if not object_refs:
        return [], []
    if len(object_refs) != len(set(object_refs)):
        raise ValueError(
            "Wait requires a list of unique object refs, and some appear more than once; "
            "remove the duplicates (list(dict.fromkeys(refs)) keeps their order).")
    _check_num_returns(num_returns, len(object_refs))
    return runtime.wait(object_refs, num_returns, timeout)


def _check_num_returns(num_returns, num_refs: int) -> None:
    if isinstance(num_returns, bool) or not isinstance(num_returns, numbers.Real):
        raise TypeError(
            f"num_returns must be an int, got {type(num_returns).__name__} {num_returns!r}.")
    if num_returns <= 0:
        raise ValueError(
            f"Invalid number of objects to return {num_returns}: num_returns must be at "
            "least 1.")
    if num_returns > num_refs:
        raise ValueError(
            f"num_returns cannot be greater than the number of objects provided to ray.wait "
            f"({num_returns} > {num_refs}); lower num_returns, or pass more refs.")
    if not isinstance(num_returns, numbers.Integral):
        raise ValueError(f"num_returns must be a whole number, got {num_returns!r}.")


def _check_timeout(timeout, call: str, wrong_type: type[Exception]) -> None:
    """None (no limit) or a number of seconds >= 0; a timeout of another type raises
    ``wrong_type``, the type Ray's call of the same name raises."""
    if timeout is None:
        return
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
        raise wrong_type(
            f"The 'timeout' argument of {call}() must be None (no limit) or a number of "
            f"seconds, got {type(timeout).__name__} {timeout!r}.")
    if not timeout >= 0:  # also NaN
        raise ValueError(
            f"The 'timeout' argument must be nonnegative. Received {timeout!r}; pass 0 to "
            "check without waiting, or None to wait without a limit.")


def cancel(ref: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task that produces ``ref``: a queued task never runs, a running one gets
    KeyboardInterrupt (``force=True`` kills its worker); ``get`` then raises
    TaskCancelledError.  Cancelling a finished task does nothing."""
    runtime = context.current_runtime()
    if _on_ray(runtime) and runtime.is_ref(ref):
        runtime.cancel_ref(ref, force, recursive)
        return
    if not isinstance(ref, ObjectRef):
        raise TypeError(
            f"ray.cancel() only supported for object refs. For actors, try ray.kill(). "
            f"Got: {type(ref)}.")
    if force and "." in (ref._owner_hint or ""):
        raise ValueError(
            "force=True is not supported for actor tasks (it would kill the actor); use "
            "ray.kill(actor) for that, or cancel without force.")
    runtime.cancel(ref.hex(), force, recursive)


def get_actor(name: str, namespace: str | None = None):
    """The handle of the live actor called ``name`` (in ``namespace``, default: this job's)."""
    if not isinstance(name, str) or not name:
        raise ValueError("Please supply a non-empty value to get_actor")
    runtime = context.current_runtime()
    if _on_ray(runtime):
        return runtime.get_actor_handle(name, namespace)
    info = runtime.get_actor(name, namespace)
    if info is None:
        raise ValueError(
            f"Failed to look up actor with name '{name}'. This could because 1. You are trying "
            "to look up a named actor you didn't create. 2. The named actor died. 3. You did "
            "not use a namespace matching the namespace of the actor.")
    from jupyter_raylite.actor import ActorHandle
    return ActorHandle(*info)


def kill(actor, *, no_restart: bool = True) -> None:
    """Kill an actor's process at once; calls in flight and later ones raise ActorDiedError.
    With ``no_restart=False`` an actor that has restarts left is restarted."""
    from jupyter_raylite.actor import ActorHandle
    runtime = context.current_runtime()
    if _on_ray(runtime) and runtime.is_actor(actor):
        runtime.kill(actor, no_restart)
        return
    if not isinstance(actor, ActorHandle):
        raise ValueError(
            f"ray.kill() only supported for actors. For tasks, try ray.cancel(). Got: "
            f"{type(actor)}.")
    runtime.kill_actor(actor._actor_id, no_restart)


def cluster_resources() -> dict[str, float]:
    return context.current_runtime().cluster_resources()


def available_resources() -> dict[str, float]:
    return context.current_runtime().available_resources()


def nodes() -> list[dict]:
    return context.current_runtime().nodes()


def timeline(filename: str | None = None):
    """Ray's timeline: one Chrome trace event per task run (open the file in chrome://tracing
    or https://ui.perfetto.dev).  Returns the events, or writes them to ``filename``."""
    from jupyter_raylite.observe import timeline as trace
    source = context.current_runtime(auto=False)
    if source is not None and _on_ray(source):  # Ray traces its own tasks
        return source.timeline(filename)
    if source is None or not hasattr(source, "events_since"):
        raise RuntimeError("timeline() needs the local cluster: call init() first (under "
                           "local_mode tasks run in this process and are not traced).")
    if filename is None:
        return trace.chrome_trace(source)
    trace.write_chrome_trace(source, filename)
    return None


def get_gpu_ids() -> list[int]:
    runtime = context.current_runtime()
    if _on_ray(runtime):
        return runtime.ray.get_gpu_ids()
    assigned = get_runtime_context().get_assigned_resources()
    return list(range(int(assigned.get("GPU", 0))))
