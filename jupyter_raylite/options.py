"""One frozen options type for remote functions, validated in one place.

``@remote(...)``, ``.options(...)`` and the runtime all speak ``TaskOptions``; nothing else
repeats the option names.  Validation happens when the options are given, so a typo fails at
the decorator or the ``.options()`` call, not later inside a worker.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

# Options Ray accepts that change nothing on a single-node embedded cluster (placement across
# nodes, runtime environments, event recording).  They are accepted so that Ray code runs
# unchanged; README's API coverage lists them.
_PLACEMENT_OPTIONS = frozenset({
    "scheduling_strategy", "runtime_env", "placement_group", "placement_group_bundle_index",
    "placement_group_capture_child_tasks", "accelerator_type", "label_selector",
    "enable_task_events", "_metadata", "object_store_memory", "_labels",
})
ACCEPTED_AND_IGNORED_TASK_OPTIONS = _PLACEMENT_OPTIONS | {"fallback_strategy", "tensor_transport"}


@dataclasses.dataclass(frozen=True)
class TaskOptions:
    """How a remote function's tasks run: what they need, how many results, how to retry."""

    num_cpus: float = 1
    num_gpus: float = 0
    memory: float = 0
    resources: tuple[tuple[str, float], ...] = ()
    num_returns: int = 1
    max_retries: int = 3
    retry_exceptions: bool | tuple[type, ...] = False
    name: str | None = None

    @classmethod
    def from_kwargs(cls, base: "TaskOptions | None" = None, **kwargs: Any) -> "TaskOptions":
        """Validate user keyword options and return a new TaskOptions built on ``base``."""
        return _updated(base or cls(), kwargs, ACCEPTED_AND_IGNORED_TASK_OPTIONS,
                        "remote functions", _check)

    def resource_demand(self) -> dict[str, float]:
        """The resources one task holds while it runs, by Ray's resource names."""
        return _demand(self, self.num_cpus)


def _demand(options, num_cpus: float) -> dict[str, float]:
    """Computed once per options value (a function's options serve all its calls: this is
    on the per-task path three times); callers must not change the dict."""
    cached = options.__dict__.get("_demand")
    if cached is None:
        demand = {"CPU": float(num_cpus), "GPU": float(options.num_gpus),
                  "memory": float(options.memory), **dict(options.resources)}
        cached = {k: v for k, v in demand.items() if v}
        object.__setattr__(options, "_demand", cached)  # frozen: a cache, not a field
    return cached


def _updated(base, kwargs: dict, ignored: frozenset, what: str, check):
    """``base`` with the validated options replaced; unknown keywords list the valid ones."""
    valid = {f.name for f in dataclasses.fields(base)}
    updates = {}
    for key, value in kwargs.items():
        if key in ignored:
            continue
        if key not in valid:
            raise ValueError(
                f"Invalid option keyword {key!r} for {what}. Valid ones are "
                f"{', '.join(sorted(valid | ignored))}.")
        updates[key] = check(key, value)
    return dataclasses.replace(base, **updates)


def _check(key: str, value: Any) -> Any:
    if key in ("num_cpus", "num_gpus", "memory"):
        return _non_negative_number(key, value)
    if key == "resources":
        return _custom_resources(value)
    if key == "num_returns":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"num_returns must be a non-negative int, got {value!r}.")
        return value
    if key == "max_retries":
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise ValueError(
                f"max_retries must be an int >= -1 (-1 retries forever), got {value!r}.")
        return value
    if key == "retry_exceptions":
        return _retry_exceptions(value)
    if key == "name":
        if value is not None and not isinstance(value, str):
            raise TypeError(f"name must be a string, got {type(value).__name__}.")
        return value
    raise AssertionError(f"unhandled option {key}")  # every dataclass field has a branch


def _non_negative_number(key: str, value: Any) -> float:
    # (NaN compares false with everything and infinity fits nothing: both found by fuzzing.)
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"{key} must be a finite, non-negative number, got {value!r}.")
    return value


def _custom_resources(value: Any) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise TypeError(f"resources must be a dict of name to amount, got {type(value).__name__}.")
    for name, amount in value.items():
        if not isinstance(name, str):
            raise TypeError(f"resource names must be strings, got {name!r}.")
        if name in ("CPU", "GPU", "memory"):
            raise ValueError(
                f"Use the {'num_cpus' if name == 'CPU' else 'num_gpus' if name == 'GPU' else 'memory'}"
                f" option instead of resources={{{name!r}: ...}}.")
        _non_negative_number(f"resources[{name!r}]", amount)
    return tuple(sorted(value.items()))


def _retry_exceptions(value: Any) -> bool | tuple[type, ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(
            isinstance(t, type) and issubclass(t, BaseException) for t in value):
        return tuple(value)
    raise TypeError(
        f"retry_exceptions must be a bool or a list of exception types, got {value!r}.")


ACCEPTED_AND_IGNORED_ACTOR_OPTIONS = _PLACEMENT_OPTIONS | {"max_pending_calls",
                                                           "allow_out_of_order_execution"}


ASYNC_ACTOR_DEFAULT_CONCURRENCY = 1000  # Ray's default for an async actor


@dataclasses.dataclass(frozen=True)
class ActorOptions:
    """How an actor runs: what its process holds, how it restarts, how it is found."""

    num_cpus: float | None = None  # None: needs no CPU while alive (Ray's default for actors)
    num_gpus: float = 0
    memory: float = 0
    resources: tuple[tuple[str, float], ...] = ()
    max_restarts: int = 0
    max_task_retries: int = 0
    max_concurrency: int | None = None  # None: 1, or 1000 for an async actor (Ray's defaults)
    name: str | None = None
    namespace: str | None = None
    lifetime: str | None = None
    get_if_exists: bool = False
    # Named pools of their own for the methods that name them (@method(concurrency_group=));
    # set only where the class is declared, as in Ray.
    concurrency_groups: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_kwargs(cls, base: "ActorOptions | None" = None, **kwargs: Any) -> "ActorOptions":
        """Validate user keyword options and return a new ActorOptions built on ``base``."""
        return _updated(base or cls(), kwargs, ACCEPTED_AND_IGNORED_ACTOR_OPTIONS, "actors",
                        _check_actor)

    def resource_demand(self) -> dict[str, float]:
        """The resources the actor's process holds while it lives."""
        return _demand(self, self.num_cpus or 0)

    @property
    def detached(self) -> bool:
        return self.lifetime == "detached"

    def concurrency(self, is_async: bool) -> int:
        """How many calls of the default group run at once (Ray's defaults if not set)."""
        if self.max_concurrency is not None:
            return self.max_concurrency
        return ASYNC_ACTOR_DEFAULT_CONCURRENCY if is_async else 1


def _check_actor(key: str, value: Any) -> Any:
    if key in ("num_cpus", "num_gpus", "memory", "resources"):
        return None if key == "num_cpus" and value is None else _check(key, value)
    if key in ("max_restarts", "max_task_retries"):
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise ValueError(f"{key} must be an int >= -1 (-1 means forever), got {value!r}.")
        return value
    if key == "max_concurrency":
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"max_concurrency must be a positive int, got {value!r}.")
        return value
    if key in ("name", "namespace"):
        if value is not None and (not isinstance(value, str) or not value):
            raise TypeError(f"{key} must be a non-empty string, got {value!r}.")
        return value
    if key == "lifetime":
        if value not in (None, "detached", "non_detached"):
            raise ValueError(
                f"lifetime must be None, 'detached' or 'non_detached', got {value!r}.")
        return value
    if key == "get_if_exists":
        if not isinstance(value, bool):
            raise TypeError(f"get_if_exists must be a bool, got {value!r}.")
        return value
    if key == "concurrency_groups":
        return _concurrency_groups(value)
    raise AssertionError(f"unhandled actor option {key}")  # every field has a branch


def _concurrency_groups(value: Any) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise TypeError(
            "concurrency_groups must be a dict of group name to its number of threads (or "
            f"concurrent coroutines), e.g. {{'io': 2}}; got {type(value).__name__}.")
    for name, size in value.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"concurrency group names must be non-empty strings, got {name!r}.")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(
                f"concurrency_groups[{name!r}] must be a positive int (how many calls of the "
                f"group run at once), got {size!r}.")
    return tuple(value.items())
