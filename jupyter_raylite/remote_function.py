"""``@remote`` on a function: a handle whose ``.remote(...)`` submits a task.

The function is pickled by value once per definition (cloudpickle: notebook and ``__main__``
code by value, importable code by reference) and shipped to each worker once, then named by
its id.  Re-running a cell that defines a remote function makes a new handle with a new id, so
the new code is what runs.
"""

from __future__ import annotations

import functools

from jupyter_raylite.core import context
from jupyter_raylite.core.refs import new_id
from jupyter_raylite.core.serialization import dumps_code
from jupyter_raylite.options import TaskOptions


class RemoteFunction:
    """A function that runs as a task on the cluster: call ``.remote(*args)``, not ``f(...)``."""

    def __init__(self, function, options: TaskOptions, function_id: str | None = None):
        self._function = function
        self._options = options
        self.function_id = function_id or new_id("f")
        self.function_name = getattr(function, "__name__", repr(function))
        self._blob: bytes | None = None
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
