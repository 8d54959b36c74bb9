"""Ray's exception types, with the remote traceback kept.

Every public class of ``ray.exceptions`` exists here with Ray's name and Ray's bases (a test
pins both against Ray), so ``except`` clauses written for Ray catch the same errors here, even
for the classes this runtime never raises.  A task's exception reaches the caller as a
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


# The local cluster's one node, by the address nodes() reports for it.
_LOCAL_NODE_IP = "127.0.0.1"


class RayTaskError(RayError):
    """A task raised an exception; ``cause`` is that exception, ``traceback_str`` its traceback.

    ``get`` raises ``as_instanceof_cause()``, which is also an instance of ``type(cause)``.
    ``str()`` reads like Ray's: a header naming the task, its pid and node address stands in
    for each "Traceback (most recent call last):" line of the remote traceback.
    """

    def __init__(self, function_name: str, traceback_str: str, cause: BaseException | None,
                 pid: int | None = None, ip: str | None = None, actor_id: str | None = None):
        if isinstance(cause, RayTaskError) and cause.cause is not None:
            # The task failed because a task it waited on failed (a nested get): the first
            # failure stays the cause, so `except ValueError` catches it two tasks away, as in
            # Ray; the traceback text still shows both tasks.
            cause = cause.cause
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.pid = pid if pid is not None else os.getpid()
        self.ip = ip or _LOCAL_NODE_IP
        self.actor_id = actor_id
        super().__init__(function_name, traceback_str, cause, self.pid)

    def __reduce__(self):
        return (RayTaskError, (self.function_name, self.traceback_str, self.cause, self.pid,
                               self.ip, self.actor_id))

    def _header(self) -> str:
        """Ray's first line of a task error: ``ray::name() (pid=N, ip=ADDRESS)``."""
        where = f"pid={self.pid}, ip={self.ip}"
        if self.actor_id:
            where += f", actor_id={self.actor_id}"
        return f"ray::{self.function_name}() ({where})"

    def __str__(self) -> str:
        lines = with_source_lines(self.traceback_str).rstrip().splitlines()
        if not any(line.startswith("Traceback ") for line in lines):
            # No plain traceback to stand in for (an exception group's, or one whose frames
            # were all the runtime's): the header goes first.
            return "\n".join([self._header(), *lines])
        return "\n".join(self._header() if line.startswith("Traceback ") else line
                         for line in lines)

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this error: the remote traceback of the user's code, not
        the local frames of the get() that re-raised it."""
        return f"{type(self).__name__}: {self}".splitlines()

    def as_instanceof_cause(self) -> "RayTaskError":
        """Return an exception that is both a RayTaskError and an instance of the cause's class.

        Falls back to ``self`` when the cause's class cannot be subclassed (a final class, or
        one whose layout conflicts with ``Exception``'s) or instantiated without its
        ``__init__`` (an exception group holding a KeyboardInterrupt cannot be an Exception).
        """
        cause = self.cause
        if cause is None or isinstance(cause, RayTaskError):
            return self
        try:
            dual = _new_dual(_dual_class(type(cause)), cause)
        except TypeError:
            return self
        # The rest by hand: calling the user's __init__ again could have side effects or
        # need other arguments.
        dual.__dict__.update(getattr(cause, "__dict__", {}))
        dual.function_name = self.function_name
        dual.traceback_str = self.traceback_str
        dual.cause = cause
        dual.pid = self.pid
        dual.ip = self.ip
        dual.actor_id = self.actor_id
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


def _new_dual(dual_cls: type, cause: BaseException) -> BaseException:
    # An exception group keeps its message and sub-exceptions (what `except*` splits) in
    # fields that only __new__ fills: give it the cause's arguments, and none if the class
    # wants others (a plain exception's args are set afterwards anyway).
    try:
        return dual_cls.__new__(dual_cls, *cause.args)
    except TypeError:
        return dual_cls.__new__(dual_cls)


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


# The classes below are Ray's too.  The local cluster has no part that fails this way (no
# raylet, GCS, placement groups, runtime environments, compiled graphs or other languages) and
# never raises them; they exist so that code written for Ray, and the Ray backend, which passes
# Ray's errors on under these names, catch the same classes.

class CrossLanguageError(RayError):
    """Ray raises it for an exception that came from a task written in another language."""


class LocalRayletDiedError(RayError):
    """Ray raises it when the raylet (the node's scheduler process) died under a task."""


class NodeDiedError(RayError):
    """Ray raises it when the node that ran a task or held an object died or is unreachable."""


class OutOfMemoryError(RayError):
    """Ray raises it when its memory monitor killed a task or actor because the node ran low."""


class OutOfDiskError(RayError):
    """Ray raises it when an object could not be stored: the store is full and disk too."""


class AuthenticationError(RayError):
    """Ray raises it when a client's token is missing or does not match the cluster's."""


class RpcError(RayError):
    """Ray raises it when a call between its processes failed in the RPC layer."""


class UserCodeException(RayError):
    """Ray's libraries raise it to wrap an exception from user code they ran."""


class UnserializableException(RayError):
    """Ray raises it when a task's exception could not be unpickled; it keeps the text."""


class ObjectFetchTimedOutError(ObjectLostError):
    """Ray raises it when fetching an object timed out because no node had a copy."""


class ObjectReconstructionFailedError(ObjectLostError):
    """Ray raises it when a lost object could not be rebuilt by running its task again."""


class ReferenceCountingAssertionError(ObjectLostError, AssertionError):
    """Ray raises it when an object was deleted while a reference to it still existed."""


class PlasmaObjectNotAvailable(RayError):
    """Ray raises it internally when an object was not in the store within a timeout."""


class OufOfBandObjectRefSerializationException(RayError):
    """Ray raises it when an ObjectRef was pickled outside Ray's serializer (if configured)."""


class ObjectRefStreamEndOfStreamError(RayError):
    """Ray raises it when a streaming generator has no more ObjectRefs to yield."""


class StreamingGeneratorReplayInconsistentError(RaySystemError):
    """Ray raises it when a retried streaming generator yielded a different number of items."""


class AsyncioActorExit(RayError):
    """Ray raises it inside an async actor that called ``exit_actor()``, to end it."""


class ActorUnschedulableError(RayError):
    """Ray raises it when an actor can never be placed (its pinned node died, for one)."""


class ActorAlreadyExistsError(ValueError, RayError):
    """Ray raises it when a named actor is created under a name already taken."""


class ActorHandleNotFoundError(ValueError, RayError):
    """Ray raises it when ``kill()`` gets the handle of an actor from an earlier session."""


class PendingCallsLimitExceeded(RayError):
    """Ray raises it when an actor has more queued calls than its ``max_pending_calls``."""


class TaskPlacementGroupRemoved(RayError):
    """Ray raises it when the placement group a task was to run in was removed."""


class ActorPlacementGroupRemoved(RayError):
    """Ray raises it when the placement group an actor was to run in was removed."""


class RuntimeEnvSetupError(RayError):
    """Ray raises it when a task's or actor's ``runtime_env`` could not be set up."""


class RayChannelError(RaySystemError):
    """Ray raises it when a compiled graph's channel failed."""


class RayChannelTimeoutError(RayChannelError, TimeoutError):
    """Ray raises it when a compiled graph's channel read or write timed out."""


class RayCgraphCapacityExceeded(RaySystemError):
    """Ray raises it when a compiled graph's channel buffer is full."""


class RayDirectTransportError(RaySystemError):
    """Ray raises it when a direct (GPU) object transfer between actors failed."""


__all__ = [
    # the task, object and actor errors this runtime raises
    "RayError", "RaySystemError", "RayTaskError", "GetTimeoutError", "TaskCancelledError",
    "WorkerCrashedError", "TaskUnschedulableError", "ObjectLostError", "ObjectFreedError",
    "OwnerDiedError", "ObjectStoreFullError", "RayActorError", "ActorDiedError",
    "ActorUnavailableError",
    # Ray's others, for except clauses and the Ray backend
    "CrossLanguageError", "LocalRayletDiedError", "NodeDiedError", "OutOfMemoryError",
    "OutOfDiskError", "AuthenticationError", "RpcError", "UserCodeException",
    "UnserializableException", "ObjectFetchTimedOutError", "ObjectReconstructionFailedError",
    "ReferenceCountingAssertionError", "PlasmaObjectNotAvailable",
    "OufOfBandObjectRefSerializationException", "ObjectRefStreamEndOfStreamError",
    "StreamingGeneratorReplayInconsistentError", "AsyncioActorExit", "ActorUnschedulableError",
    "ActorAlreadyExistsError", "ActorHandleNotFoundError", "PendingCallsLimitExceeded",
    "TaskPlacementGroupRemoved", "ActorPlacementGroupRemoved", "RuntimeEnvSetupError",
    "RayChannelError", "RayChannelTimeoutError", "RayCgraphCapacityExceeded",
    "RayDirectTransportError",
]
