"""``@remote`` on a function: a handle whose ``.remote(...)`` submits a task.

The function is pickled by value once per definition (cloudpickle: notebook and ``__main__``
code by value, importable code by reference) and shipped to each worker once, then named by
its id.  Re-running a cell that defines a remote function makes a new handle with a new id, so
the new code is what runs.
"""

from __future__ import annotations

import functools
import inspect
import math

from jupyter_raylite.core import context
from jupyter_raylite.core.refs import new_id
from jupyter_raylite.core.serialization import dumps_code
from jupyter_raylite.options import TaskOptions

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class _Default:
    """Stands for any default value in a kept signature (shown as ``b=...``)."""

    def __repr__(self) -> str:
        return "..."


_DEFAULT = _Default()


class CallSignature:
    """The parameters of a remote function, actor constructor or actor method: each
    ``.remote(...)`` binds its arguments here, so a wrong call raises TypeError where it is
    made (as in Ray), not later from ``get``.

    Built once per function or method and carried by handles, so only names, kinds and
    whether a default exists are kept: a handle pickles whatever the defaults are.  This is on
    the per-call path: calls that surely fit are accepted by comparing counts and name sets
    worked out here; only the others (mostly wrong ones) are bound by ``inspect``.
    """

    __slots__ = ("_parameters", "_signature", "_fewest", "_most", "_shapes", "_open")

    def __init__(self, parameters: tuple[tuple[str, int, bool], ...] = ()):
        self._parameters = parameters
        empty = inspect.Parameter.empty
        kept = [inspect.Parameter(name, kind, default=_DEFAULT if has_default else empty)
                for name, kind, has_default in parameters]
        self._signature = inspect.Signature(kept)
        positional = [p for p in kept if p.kind in _POSITIONAL]
        keyword_only = [p for p in kept if p.kind == p.KEYWORD_ONLY]
        self._open = any(p.kind == p.VAR_KEYWORD for p in kept)  # takes **kwargs
        self._most = len(positional)
        if any(p.kind == p.VAR_POSITIONAL for p in kept):
            self._most = math.inf
        # For n positional arguments: which names keywords may give, which they must, and
        # which they must not even into **kwargs (the ones taken, and positional-only names,
        # which inspect refuses as keywords); None: no keywords can make such a call fit.
        self._shapes: list = []
        for n in range(len(positional) + 1):
            rest = positional[n:] + keyword_only
            if any(p.kind == p.POSITIONAL_ONLY and p.default is empty for p in rest):
                self._shapes.append(None)
                continue
            self._shapes.append((
                frozenset(p.name for p in rest if p.kind != p.POSITIONAL_ONLY),
                frozenset(p.name for p in rest if p.default is empty),
                frozenset(p.name for i, p in enumerate(positional)
                          if i < n or p.kind == p.POSITIONAL_ONLY)))
        self._fewest = math.inf
        for n, shape in enumerate(self._shapes):
            if shape is not None and not shape[1]:
                self._fewest = n  # the fewest positional arguments that fit without keywords
                break

    @classmethod
    def of(cls, function, drop_first: bool = False) -> "CallSignature | None":
        """The signature of ``function`` (without ``self`` for an instance method), or None
        when Python cannot tell (some builtins): then no call is checked."""
        try:
            parameters = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError):
            return None
        if drop_first and parameters and parameters[0].kind in _POSITIONAL:
            parameters = parameters[1:]
        return cls(tuple((p.name, int(p.kind), p.default is not p.empty) for p in parameters))

    def check(self, args: tuple, kwargs: dict, *name: str) -> None:
        """Raise TypeError if ``args`` and ``kwargs`` do not fit; ``name``'s parts (such as
        class and method) say in the message what was called."""
        count = len(args)
        if not kwargs:
            if self._fewest <= count <= self._most:
                return
        elif count <= self._most:
            shape = self._shapes[min(count, len(self._shapes) - 1)]
            if shape is not None:
                allowed, needed, taken = shape
                keys = kwargs.keys()
                if needed <= keys and (keys.isdisjoint(taken) if self._open else keys <= allowed):
                    return
        try:
            self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            # Ray's message is inspect's; ours also names the call and what it takes.
            called = ".".join(name)
            raise TypeError(f"{called}.remote(): {exc}; the signature is {called}{self}.") \
                from None

    def __reduce__(self):
        return (CallSignature, (self._parameters,))

    def __str__(self) -> str:
        return str(self._signature)

    def __repr__(self) -> str:
        return f"<CallSignature {self}>"


class RemoteFunction:
    """A function that runs as a task on the cluster: call ``.remote(*args)``, not ``f(...)``."""

    def __init__(self, function, options: TaskOptions, function_id: str | None = None):
        self._function = function
        self._options = options
        self.function_id = function_id or new_id("f")
        self.function_name = getattr(function, "__name__", repr(function))
        self._blob: bytes | None = None
        self._signature = CallSignature.of(function)
        functools.update_wrapper(self, function)

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"Remote functions cannot be called directly. Instead of running "
            f"'{self.function_name}()', try '{self.function_name}.remote()'.")

    def remote(self, *args, **kwargs):
        """Submit a task; returns an ObjectRef (or a list of them when num_returns != 1)."""
        return self._submit(self._options, args, kwargs)

    def options(self, **options) -> "_BoundOptions":
        """A handle with some options changed: ``f.options(num_cpus=2).remote(x)``."""
        return _BoundOptions(self, TaskOptions.from_kwargs(self._options, **options))

    def _submit(self, options: TaskOptions, args, kwargs):
        if self._signature is not None:
            self._signature.check(args, kwargs, self.function_name)
        runtime = context.current_runtime()
        refs = runtime.submit_task(self, args, kwargs, options)
        if options.num_returns == 1:
            return refs[0]
        if options.num_returns == 0:
            return None
        return refs

    def function_blob(self) -> tuple[bytes, tuple[str, ...]]:
        """The pickled function, and the ids of ObjectRefs its globals or closure capture."""
        if self._blob is None:
            self._blob, self._captured = dumps_code(self._function)
        return self._blob, self._captured

    def __reduce__(self):
        # Inside another task's closure: ship the function itself, keep the id.
        return (RemoteFunction, (self._function, self._options, self.function_id))

    def __repr__(self) -> str:
        return f"<RemoteFunction {self.function_name}>"


class _BoundOptions:
    """The result of ``.options(...)``: only ``.remote()`` and further ``.options()``."""

    def __init__(self, remote_function: RemoteFunction, options: TaskOptions):
        self._remote_function = remote_function
        self._options = options

    def remote(self, *args, **kwargs):
        return self._remote_function._submit(self._options, args, kwargs)

    def options(self, **options) -> "_BoundOptions":
        return _BoundOptions(self._remote_function,
                             TaskOptions.from_kwargs(self._options, **options))
