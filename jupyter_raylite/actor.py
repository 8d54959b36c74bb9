"""``@remote`` on a class: actors, their handles and their methods (Ray's ``ray.actor``).

``Counter.remote(*args)`` returns an ``ActorHandle`` at once; the actor's ``__init__`` runs in a
process of its own.  ``handle.method.remote(...)`` returns ObjectRefs; calls made through the
cluster run in the order they were submitted.  A handle is counted like an ObjectRef (see
core/refs.py): when no handle is left anywhere and the actor is neither named nor detached, the
actor finishes its queued calls and exits.
"""

from __future__ import annotations

import inspect

from jupyter_raylite import dropin
from jupyter_raylite.core import context, refs
from jupyter_raylite.core.refs import new_id
from jupyter_raylite.core.serialization import dumps_code
from jupyter_raylite.options import ActorOptions, TaskOptions


def method(*, num_returns: int = 1, **options):
    """Annotate an actor method: ``@ray.method(num_returns=2)``."""
    # Same validation as task options: a typo such as num_return=2 fails here.
    TaskOptions.from_kwargs(num_returns=num_returns, **options)

    def annotate(function):
        function.__ray_num_returns__ = num_returns
        return function
    return annotate


class ActorExit(SystemExit):
    """Raised by ``exit_actor()``: the actor finishes the current call and exits for good."""


def exit_actor() -> None:
    """End the current actor from inside one of its methods; later calls raise ActorDiedError."""
    runtime = context.current_runtime(auto=False)
    if runtime is None or getattr(runtime, "actor_id", None) is None:
        ray = dropin.real_ray()
        if ray is not None and ray.is_initialized():  # an actor of the Ray backend
            ray.actor.exit_actor()
        raise TypeError("exit_actor() can only be called inside an actor's method.")
    raise ActorExit(0)


def _method_table(cls) -> dict[str, int]:
    """Public methods of an actor class and how many values each returns."""
    table = {}
    for name, member in inspect.getmembers(cls, predicate=callable):
        if name.startswith("__") and name != "__call__":
            continue
        table[name] = getattr(member, "__ray_num_returns__", 1)
    return table


def _is_async(cls) -> bool:
    return any(inspect.iscoroutinefunction(m) or inspect.isasyncgenfunction(m)
               for _, m in inspect.getmembers(cls, predicate=callable))


class ActorClass:
    """A class whose instances are actors: use ``Cls.remote(...)``, not ``Cls(...)``."""

    def __init__(self, cls: type, options: ActorOptions, class_id: str | None = None):
        self._cls = cls
        self._options = options
        self.class_id = class_id or new_id("c")
        self.class_name = cls.__name__
        self.methods = _method_table(cls)
        self.is_async = _is_async(cls)
        self._blob = None
        self.__doc__ = cls.__doc__
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__module__ = cls.__module__

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"Actors cannot be instantiated directly. Instead of '{self.class_name}()', use "
            f"'{self.class_name}.remote()'.")

    def remote(self, *args, **kwargs) -> "ActorHandle":
        return self._create(self._options, args, kwargs)

    def options(self, **options) -> "_BoundActorOptions":
        return _BoundActorOptions(self, ActorOptions.from_kwargs(self._options, **options))

    def _create(self, options: ActorOptions, args, kwargs) -> "ActorHandle":
        runtime = context.current_runtime()
        if hasattr(runtime, "make_actor"):  # on Ray: Ray's own actor handle
            return runtime.make_actor(self, args, kwargs, options)
        actor_id, created = runtime.create_actor(self, args, kwargs, options)
        # A new actor's creator is counted as a holder by the head already; an existing actor
        # found through get_if_exists is not.
        return ActorHandle(actor_id, self.class_name, self.methods, self.is_async,
                           _announce=not created)

    def class_blob(self) -> tuple[bytes, tuple[str, ...]]:
        if self._blob is None:
            self._blob = dumps_code(self._cls)
        return self._blob

    def __reduce__(self):
        return (ActorClass, (self._cls, self._options, self.class_id))

    def __repr__(self) -> str:
        return f"<ActorClass {self.class_name}>"


class _BoundActorOptions:
    def __init__(self, actor_class: ActorClass, options: ActorOptions):
        self._actor_class = actor_class
        self._options = options

    def remote(self, *args, **kwargs) -> "ActorHandle":
        return self._actor_class._create(self._options, args, kwargs)

    def options(self, **options) -> "_BoundActorOptions":
        return _BoundActorOptions(self._actor_class,
                                  ActorOptions.from_kwargs(self._options, **options))


class ActorHandle:
    """A reference to an actor; ``handle.method.remote(...)`` calls it.  Picklable into tasks,
    actors and ``put``, like an ObjectRef."""

    def __init__(self, actor_id: str, class_name: str, methods: dict[str, int],
                 is_async: bool = False, _announce: bool = True):
        self._actor_id = actor_id
        self._class_name = class_name
        self._methods = methods
        self._is_async = is_async
        refs.counter.add(actor_id, _announce)

    def __del__(self):
        try:
            refs.counter.remove(self._actor_id)
        except Exception:  # interpreter shutdown
            pass

    def __getattr__(self, name: str) -> "ActorMethod":
        methods = self.__dict__.get("_methods")
        if methods is None or name not in methods:
            raise AttributeError(f"'ActorHandle' object has no attribute '{name}'")
        return ActorMethod(self, name, TaskOptions(num_returns=methods[name]))

    def __reduce__(self):
        refs.record_pickled(self._actor_id, repr(self),
                            "Use ray.get_actor(name) to find a named actor from another program.")
        return (ActorHandle, (self._actor_id, self._class_name, self._methods, self._is_async))

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def __eq__(self, other) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __repr__(self) -> str:
        return f"Actor({self._class_name}, {self._actor_id})"

    @property
    def _ray_actor_id(self) -> str:
        return self._actor_id


class ActorMethod:
    """``handle.method``: ``.remote(...)`` calls it; ``.options(num_returns=...)`` adjusts."""

    def __init__(self, handle: ActorHandle, name: str, options: TaskOptions):
        self._handle = handle
        self._name = name
        self._options = options

    def remote(self, *args, **kwargs):
        runtime = context.current_runtime()
        result = runtime.submit_actor_call(self._handle._actor_id, self._handle._class_name,
                                           self._name, args, kwargs, self._options)
        if self._options.num_returns == 1:
            return result[0]
        if self._options.num_returns == 0:
            return None
        return result

    def options(self, **options) -> "ActorMethod":
        unsupported = set(options) - {"num_returns", "name"}
        if unsupported:
            raise ValueError(
                f"Actor method options are num_returns and name; got {sorted(unsupported)}. "
                "Resources and retries are set on the actor class with .options(...).")
        return ActorMethod(self._handle, self._name,
                           TaskOptions.from_kwargs(self._options, **options))

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"Actor methods cannot be called directly. Instead of running "
            f"'{self._name}()', try '{self._name}.remote()'.")
