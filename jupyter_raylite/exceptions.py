"""Ray's exception types, with the remote traceback kept.

The names and the class hierarchy follow ``ray.exceptions`` so that ``except`` clauses written
for Ray catch the same errors here.  A task's exception reaches the caller as a
``RayTaskError`` that is *also* an instance of the user's own exception class (Ray's
"dual" exception), so ``except ValueError`` keeps working around ``get``.
"""

from __future__ import annotations

import linecache
import os
import re


class RayError(Exception):
    """Base class of every error the runtime raises on behalf of a task, actor or object."""


class RaySystemError(RayError):
    """The runtime itself failed (a bug or an unexpected environment), not the user's code."""


class RayTaskError(RayError):
    """A task raised an exception; ``cause`` is that exception, ``traceback_str`` its traceback.

    ``get`` raises ``as_instanceof_cause()``, which is also an instance of ``type(cause)``.
    """

    def __init__(self, function_name: str, traceback_str: str, cause: BaseException | None,
                 pid: int | None = None):
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.pid = pid if pid is not None else os.getpid()
        super().__init__(function_name, traceback_str, cause, self.pid)

    def __reduce__(self):
        return (RayTaskError, (self.function_name, self.traceback_str, self.cause, self.pid))

    def __str__(self) -> str:
        header = f"{self.function_name}() (pid={self.pid})"
        return f"{header}\n{with_source_lines(self.traceback_str).rstrip()}"

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this error: the remote traceback of the user's code, not
        the local frames of the get() that re-raised it."""
        return [f"{type(self).__name__}: {self.function_name}() failed in a worker "
                f"(pid={self.pid})", *with_source_lines(self.traceback_str).rstrip().splitlines()]

    def as_instanceof_cause(self) -> "RayTaskError":
        """Return an exception that is both a RayTaskError and an instance of the cause's class.

        Falls back to ``self`` when the cause's class cannot be subclassed (a final class, or
        one whose layout conflicts with ``Exception``'s).
        """
        cause = self.cause
        if cause is None or isinstance(cause, RayTaskError):
            return self
        cause_cls = type(cause)
        try:
            dual_cls = _dual_class(cause_cls)
            dual = dual_cls.__new__(dual_cls)
        except TypeError:
            return self
        # Exception.__new__ fills args from the call; set the rest by hand, because calling
        # the user's __init__ again could have side effects or need other arguments.
        dual.__dict__.update(getattr(cause, "__dict__", {}))
        dual.function_name = self.function_name
        dual.traceback_str = self.traceback_str
        dual.cause = cause
        dual.pid = self.pid
        dual.args = cause.args
        return dual


_FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+), in ')


def with_source_lines(traceback_text: str) -> str:
    """Fill in source lines a worker could not show: code from a notebook cell lives only in
    the kernel's line cache, so the process that displays the error looks it up there."""
    lines = traceback_text.splitlines(keepends=True)
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        match = _FRAME.match(line)
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if match and not following.startswith("    "):
            source = linecache.getline(match["file"], int(match["line"])).strip()
            if source:
                out.append(f"    {source}\n")
    return "".join(out)


_dual_classes: dict[type, type] = {}


def _dual_class(cause_cls: type) -> type:
    """Build (once per cause class) the class ``RayTaskError(CauseClass)``."""
    try:
        return _dual_classes[cause_cls]
    except KeyError:
        pass

    def __str__(self):
        return RayTaskError.__str__(self)

    def __reduce__(self):
        return RayTaskError.__reduce__(self)

    def _render_traceback_(self):
        return RayTaskError._render_traceback_(self)

    name = f"RayTaskError({cause_cls.__name__})"
    dual = type(name, (RayTaskError, cause_cls), {
        "__init__": lambda self, *a, **k: None,
        "__str__": __str__,
        "__reduce__": __reduce__,
        "_render_traceback_": _render_traceback_,
        "__module__": __name__,
    })
    _dual_classes[cause_cls] = dual
    return dual


class GetTimeoutError(RayError, TimeoutError):
    """``get`` or ``wait``-based code ran past its ``timeout``; the work goes on."""


class TaskCancelledError(RayError):
    """The task was cancelled with ``cancel()`` (or by interrupting the cell that started it)."""

    def __init__(self, task_id: str | None = None, message: str | None = None):
        self.task_id = task_id
        super().__init__(message or f"Task {task_id} was cancelled.")

    def __reduce__(self):
        return (TaskCancelledError, (self.task_id, str(self)))


class WorkerCrashedError(RayError):
    """The worker process running the task died (exit, signal, out-of-memory kill)."""


class TaskUnschedulableError(RayError):
    """The task asks for resources that no node of the cluster will ever have."""


class ObjectLostError(RayError):
    """The object's value is no longer available anywhere."""


class ObjectFreedError(ObjectLostError):
    """The object was freed while a reference to it was still being used."""


class OwnerDiedError(ObjectLostError):
    """The process that owned the object (its creator) died."""


class ObjectStoreFullError(RayError):
    """The object store has no room for a new object."""


class RayActorError(RayError):
    """An actor could not run a method call: it died, or could not be created."""


class ActorDiedError(RayActorError):
    """The actor's process died or the actor was killed; its calls cannot run."""


class ActorUnavailableError(RayActorError):
    """The actor is temporarily unreachable (for example while it restarts)."""


__all__ = [
    "RayError", "RaySystemError", "RayTaskError", "GetTimeoutError", "TaskCancelledError",
    "WorkerCrashedError", "TaskUnschedulableError", "ObjectLostError", "ObjectFreedError",
    "OwnerDiedError", "ObjectStoreFullError", "RayActorError", "ActorDiedError",
    "ActorUnavailableError",
]
