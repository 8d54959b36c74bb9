"""The wire between the head and a worker: length-prefixed frames of pickled tuples.

Frames are ``multiprocessing.connection.Connection`` byte messages over a private socket pair.
The first item of each tuple names the message:

    head -> worker   ("run", task_id, function_id, function_blob | None, name, args, deps,
                      return_ids, demand)
                     ("actor_init", actor_id, class_name, class_blob, args, deps,
                      max_concurrency, is_async, concurrency_groups)
                     ("call", task_id, method, name, args, deps, return_ids)
                     ("cancel_call", task_id)   ray.cancel() of an async actor's call
                     ("reply", request_id, result)          answer to get / wait / lookups
                     ("exit",)
    worker -> head   ("ready", pid)
                     ("refs", [("hold" | "drop", object_id), ...])
                     ("done", task_id, status, payloads, cause_type_names)
                                                            status: "ok" | "error" | "cancelled"
                     ("submit", TaskSpec)                   a nested task
                     ("put", object_id, payload)
                     ("get", request_id, object_ids, timeout)
                     ("wait", request_id, object_ids, num_returns, timeout)
                     ("cancel", object_id, force, recursive)
                     ("output", task_id, name, stream, text)
                     ("resources", request_id)
                     ("create_actor", ActorSpec)  ("create_named_actor", request_id, ActorSpec)
                     ("actor_call", ActorCallSpec)  ("kill_actor", actor_id, no_restart)
                     ("get_actor", request_id, name, namespace)  ("named_actors", request_id)
                     ("actor_ready",)  ("actor_init_failed", payload, text)  ("actor_exit",)
"""

from __future__ import annotations

import pickle

import cloudpickle


def dumps(message) -> bytes:
    try:
        return pickle.dumps(message, protocol=5)
    except (pickle.PicklingError, AttributeError, TypeError):
        # Only options such as retry_exceptions=[ErrorDefinedInNotebook] need cloudpickle;
        # every other message is plain data, and plain pickle is faster.
        return cloudpickle.dumps(message, protocol=5)


def loads(frame: bytes):
    return pickle.loads(frame)
