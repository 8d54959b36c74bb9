"""What a submitted task is: its function, its arguments (with ObjectRef dependencies marked) and
the ids of the objects it will return.  Built by whichever process submits (driver or worker)."""

from __future__ import annotations

from dataclasses import dataclass

from jupyter_raylite.core.events import summarize_arguments
from jupyter_raylite.core.refs import ObjectRef, new_id, return_object_ids
from jupyter_raylite.core.serialization import Payload, serialize
from jupyter_raylite.options import TaskOptions


class ArgDependency:
    """Stands in a pickled argument list for a top-level ObjectRef; the worker puts the value
    there.  Refs nested inside containers are pickled as refs instead, as Ray does."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index

    def __reduce__(self):
        return (ArgDependency, (self.index,))


@dataclass
class TaskSpec:
    task_id: str
    function_id: str
    name: str
    args: Payload
    dependencies: tuple[str, ...]
    return_ids: tuple[str, ...]
    options: TaskOptions
    parent_task_id: str | None = None
    function_blob: bytes | None = None  # sent with the first submission from each process
    captured_refs: tuple[str, ...] = ()  # ObjectRefs the function's globals/closure capture
    origin: object = None  # what the driver submitted it from (a notebook cell); see Head
    args_summary: str = ""  # for the task inspector


def build_task_spec(function_id: str, name: str, args: tuple, kwargs: dict,
                    options: TaskOptions, segment_for, parent_task_id: str | None) -> TaskSpec:
    """Mark top-level ObjectRef arguments as dependencies and serialize the rest."""
    task_id = new_id("t")
    payload, dependencies = build_arguments(name, args, kwargs, segment_for, task_id)
    return_ids = return_object_ids(task_id, options.num_returns)
    return TaskSpec(task_id, function_id, name, payload, dependencies, return_ids,
                    options, parent_task_id, args_summary=summarize_arguments(args, kwargs))


def resolve_arguments(args: tuple, kwargs: dict, values: list) -> tuple[tuple, dict]:
    """Put dependency values in the places marked by ArgDependency."""
    def fill(value):
        return values[value.index] if type(value) is ArgDependency else value
    return tuple(fill(a) for a in args), {k: fill(v) for k, v in kwargs.items()}


@dataclass
class ActorSpec:
    """An actor to create: its class, constructor arguments, options and how to find it."""

    actor_id: str
    class_id: str
    class_name: str
    methods: dict
    is_async: bool
    args: Payload
    dependencies: tuple[str, ...]
    options: object  # ActorOptions
    namespace: str | None
    class_blob: bytes | None = None
    captured_refs: tuple[str, ...] = ()
    parent_task_id: str | None = None  # the task that created it, if a task did
    origin: object = None
    args_summary: str = ""


@dataclass
class ActorCallSpec:
    """One method call on an actor."""

    task_id: str
    actor_id: str
    name: str  # "Class.method", for output prefixes and errors
    method: str
    args: Payload
    dependencies: tuple[str, ...]
    return_ids: tuple[str, ...]
    parent_task_id: str | None = None
    origin: object = None
    args_summary: str = ""


def build_arguments(name: str, args: tuple, kwargs: dict, segment_for, task_id: str):
    """Serialize call arguments with top-level ObjectRefs marked as dependencies."""
    dependencies: list[str] = []

    def mark(value):
        if type(value) is ObjectRef:
            dependencies.append(value.hex())
            return ArgDependency(len(dependencies) - 1)
        return value

    marked = (tuple(mark(a) for a in args), {k: mark(v) for k, v in kwargs.items()})
    payload = serialize(marked, segment_for(task_id), what=f"arguments of {name}()")
    return payload, tuple(dependencies)
