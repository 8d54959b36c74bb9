"""How much of Ray Core's public API jupyter_raylite offers: the one table README's is made from.

Each public name of Ray Core (as Ray spells it) is ``SUPPORTED`` (same behaviour, checked by
tests/compat on both), ``DIFFERS`` (present; the note says how it differs) or ``MISSING``
(absent: using it fails with AttributeError or ModuleNotFoundError naming it).  The tests in
tests/unit/test_coverage.py keep the table honest: README shows ``markdown()``; every name
marked present resolves in jupyter_raylite and every name marked missing does not; and, with
Ray installed, every public name of Ray's modules below has a row.
"""

from __future__ import annotations

SUPPORTED, DIFFERS, MISSING = "supported", "differs", "missing"

_PG = "placement groups (tracker issue 16)"
_METHOD = ("`num_returns`, `max_task_retries`, `retry_exceptions`, `concurrency_group` as "
           "Ray; generator options and a method's own `.options()` raise "
           "NotImplementedError naming them (tracker issue 16)")
_NEVER_RAISED = ("Ray's class and bases, for `except` clauses; the local cluster has no "
                 "such failure (yet) and never raises it")

# Ray's object -> {public member: (status, note)}.  Modules by their dotted name, classes by
# the module's name and the class's.
TABLE: dict[str, dict[str, tuple[str, str]]] = {
    "ray": {
        "init": (DIFFERS, "starts this process's local cluster (workers, no TCP port); "
                          "`address=`/`backend=\"ray\"` hand every call to a real Ray; Ray's "
                          "keywords for parts this runtime lacks are accepted with no effect "
                          "(listed above)"),
        "shutdown": (SUPPORTED, ""),
        "is_initialized": (SUPPORTED, ""),
        "remote": (SUPPORTED, ""),
        "method": (DIFFERS, _METHOD),
        "get": (SUPPORTED, ""),
        "put": (SUPPORTED, ""),
        "wait": (SUPPORTED, ""),
        "cancel": (SUPPORTED, ""),
        "kill": (SUPPORTED, ""),
        "get_actor": (SUPPORTED, ""),
        "get_runtime_context": (SUPPORTED, ""),
        "get_gpu_ids": (DIFFERS, "the GPUs a task holds by count; no GPU detection yet"),
        "cluster_resources": (DIFFERS, "one node, `127.0.0.1`"),
        "available_resources": (DIFFERS, "one node, `127.0.0.1`"),
        "nodes": (DIFFERS, "one node, `127.0.0.1`"),
        "timeline": (SUPPORTED, "Ray's Chrome-trace events"),
        "ObjectRef": (SUPPORTED, "members below"),
        "actor": (SUPPORTED, "module `ray.actor`"),
        "util": (SUPPORTED, "module `ray.util`"),
        "ObjectRefGenerator": (MISSING, "generators: tracker issue 16"),
        "DynamicObjectRefGenerator": (MISSING, "generators: tracker issue 16"),
        "client": (MISSING, "Ray Client: use `init(address=\"ray://...\")` (the Ray backend)"),
        "ClientBuilder": (MISSING, "Ray Client: use `init(address=\"ray://...\")`"),
        "LoggingConfig": (MISSING, "`init(logging_config=...)` is accepted with no effect"),
        "SCRIPT_MODE": (MISSING, "Ray's worker-mode constants"),
        "WORKER_MODE": (MISSING, "Ray's worker-mode constants"),
        "ActorClassID": (MISSING, "ids are strings here"),
        "ActorID": (MISSING, "ids are strings here"),
        "FunctionID": (MISSING, "ids are strings here"),
        "JobID": (MISSING, "ids are strings here"),
        "NodeID": (MISSING, "ids are strings here"),
        "ObjectID": (MISSING, "ids are strings here"),
        "PlacementGroupID": (MISSING, "ids are strings here"),
        "TaskID": (MISSING, "ids are strings here"),
        "UniqueID": (MISSING, "ids are strings here"),
        "WorkerID": (MISSING, "ids are strings here"),
    },
    "ray.exceptions": {
        **{name: (SUPPORTED, "") for name in (
            "RayError", "RayTaskError", "RaySystemError", "RayActorError", "ActorDiedError",
            "GetTimeoutError", "TaskCancelledError", "WorkerCrashedError", "ObjectLostError",
            "ObjectStoreFullError")},
        "TaskUnschedulableError": (DIFFERS, "raised at `.remote()` for a request no node can "
                                            "meet, where Ray keeps the task pending and warns"),
        **{name: (DIFFERS, _NEVER_RAISED) for name in (
            "ActorAlreadyExistsError", "ActorHandleNotFoundError", "ActorPlacementGroupRemoved",
            "ActorUnavailableError", "ActorUnschedulableError", "AsyncioActorExit",
            "AuthenticationError", "CrossLanguageError", "LocalRayletDiedError", "NodeDiedError",
            "ObjectFetchTimedOutError", "ObjectFreedError", "ObjectReconstructionFailedError",
            "ObjectRefStreamEndOfStreamError", "OufOfBandObjectRefSerializationException",
            "OutOfDiskError", "OutOfMemoryError", "OwnerDiedError", "PendingCallsLimitExceeded",
            "PlasmaObjectNotAvailable", "RayCgraphCapacityExceeded", "RayChannelError",
            "RayChannelTimeoutError", "RayDirectTransportError",
            "ReferenceCountingAssertionError", "RpcError", "RuntimeEnvSetupError",
            "StreamingGeneratorReplayInconsistentError", "TaskPlacementGroupRemoved",
            "UnserializableException", "UserCodeException")},
    },
    "ray.ObjectRef": {
        **{name: (SUPPORTED, "") for name in (
            "hex", "binary", "from_binary", "nil", "is_nil", "size", "job_id", "future",
            "as_future")},
        "task_id": (DIFFERS, "a put's ref names the put, not the task that called it"),
        "from_hex": (MISSING, "Ray's raises NotImplementedError"),
        "from_random": (MISSING, "ids come from the runtime"),
        "call_site": (MISSING, "call sites are not recorded"),
        "owner_address": (MISSING, "one node: the owner is always this cluster"),
        "redis_shard_hash": (MISSING, "no GCS"),
        "tensor_transport": (MISSING, "Ray's GPU tensor transport"),
    },
    "ray.runtime_context.RuntimeContext": {
        **{name: (SUPPORTED, "") for name in (
            "get_job_id", "get_task_id", "get_actor_id", "get_worker_id", "get_task_name",
            "get_assigned_resources", "get_accelerator_ids", "get_resource_ids", "namespace",
            "job_id", "task_id", "actor_id", "get", "get_placement_group_id",
            "current_placement_group_id", "should_capture_child_tasks_in_placement_group",
            "get_runtime_env_string", "runtime_env", "get_node_labels")},
        "get_node_id": (DIFFERS, "one node; its id is 28 hex digits (Ray: 56)"),
        "node_id": (DIFFERS, "one node; its id is 28 hex digits (Ray: 56)"),
        "gcs_address": (DIFFERS, "None: there is no GCS"),
        "get_session_name": (DIFFERS, "`session_<cluster id>`"),
        "get_temp_dir": (DIFFERS, "the system's temp dir"),
        "get_actor_name": (DIFFERS, "\"\" in an actor even when it is named (not told yet)"),
        "get_task_function_name": (DIFFERS, "the task's name, not Ray's `module.qualname`"),
        "current_actor": (DIFFERS, "raises NotImplementedError inside an actor (not yet)"),
        "is_canceled": (DIFFERS, "False even after ray.cancel() (not recorded yet)"),
        "was_current_actor_reconstructed": (DIFFERS, "always False (restarts not told yet)"),
    },
    "ray.actor": {
        "ActorClass": (SUPPORTED, ""),
        "ActorHandle": (SUPPORTED, ""),
        "ActorMethod": (SUPPORTED, ""),
        "exit_actor": (SUPPORTED, "its call raises ActorDiedError; atexit handlers run"),
        "method": (DIFFERS, _METHOD),
    },
    "ray.util": {
        "ActorPool": (SUPPORTED, "members below"),
        "list_named_actors": (SUPPORTED, ""),
        "as_completed": (MISSING, "tracker issue 16"),
        "map_unordered": (MISSING, "tracker issue 16"),
        "get_node_ip_address": (MISSING, "tracker issue 16"),
        "inspect_serializability": (MISSING, "tracker issue 16"),
        "placement_group": (MISSING, _PG),
        "placement_group_table": (MISSING, _PG),
        "get_placement_group": (MISSING, _PG),
        "get_current_placement_group": (MISSING, _PG),
        "remove_placement_group": (MISSING, _PG),
        "accelerators": (MISSING, "GPU detection: tracker issue 16"),
        "collective": (MISSING, "Ray's collective communication library"),
        "connect": (MISSING, "Ray Client: use `init(address=\"ray://...\")`"),
        "disconnect": (MISSING, "Ray Client: use `shutdown()`"),
        "deregister_serializer": (MISSING, "custom serializers"),
        "register_serializer": (MISSING, "custom serializers"),
        "disable_log_once_globally": (MISSING, "Ray's log de-duplication"),
        "enable_periodic_logging": (MISSING, "Ray's log de-duplication"),
        "log_once": (MISSING, "Ray's log de-duplication"),
        "get_node_instance_id": (MISSING, "cloud instance ids"),
        "iter": (MISSING, "deprecated in Ray"),
        "pdb": (MISSING, "debugging tasks: tracker issue 20"),
        "ray_debugpy": (MISSING, "debugging tasks: tracker issue 20"),
    },
    "ray.util.ActorPool": {
        name: (SUPPORTED, "") for name in (
            "get_next", "get_next_unordered", "has_free", "has_next", "map", "map_unordered",
            "pop_idle", "push", "submit")
    },
    "ray.util.queue": {
        "Queue": (SUPPORTED, "members below"),
        "Empty": (SUPPORTED, ""),
        "Full": (SUPPORTED, ""),
    },
    "ray.util.queue.Queue": {
        **{name: (SUPPORTED, "") for name in (
            "empty", "full", "get", "get_nowait", "get_nowait_batch", "put", "put_nowait",
            "put_nowait_batch", "qsize", "shutdown", "size")},
        "get_async": (MISSING, "tracker issue 16"),
        "put_async": (MISSING, "tracker issue 16"),
    },
}


def rows() -> list[tuple[str, str, str]]:
    """(Ray's full name, status, note) for every entry, in the table's order."""
    return [(f"{owner}.{name}", status, note)
            for owner, members in TABLE.items()
            for name, (status, note) in members.items()]


def counts() -> dict[str, int]:
    tally = {SUPPORTED: 0, DIFFERS: 0, MISSING: 0}
    for _, status, _ in rows():
        tally[status] += 1
    return tally


def markdown() -> str:
    """README's coverage table (between its markers), made from TABLE."""
    tally = counts()
    lines = [f"<details><summary>Ray Core, name by name: {tally[SUPPORTED]} supported, "
             f"{tally[DIFFERS]} differ, {tally[MISSING]} missing "
             "(made from <code>jupyter_raylite/coverage.py</code>)</summary>", "",
             "| Ray's name | here | how |", "|---|---|---|"]
    lines += [f"| `{name}` | {status} | {note} |" for name, status, note in rows()]
    lines += ["", "</details>"]
    return "\n".join(lines)
