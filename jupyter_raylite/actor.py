"""``@remote`` on a class: actors, their handles and their methods (Ray's ``ray.actor``).

``Counter.remote(*args)`` returns an ``ActorHandle`` at once; the actor's ``__init__`` runs in a
process of its own.  ``handle.method.remote(...)`` returns ObjectRefs; calls made through the
cluster run in the order they were submitted.  A handle is counted like an ObjectRef (see
core/refs.py): when no handle is left anywhere and the actor is neither named nor detached, the
actor finishes its queued calls and exits.

A handle carries its class's method table (``MethodInfo``: what ``@method`` set, and the
method's signature), so each ``.remote(...)`` is checked where it is made, in any process.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect

from jupyter_raylite import dropin
from jupyter_raylite.core import context, refs
from jupyter_raylite.core.refs import new_id
from jupyter_raylite.core.serialization import dumps_code
from jupyter_raylite.options import ActorOptions, TaskOptions
from jupyter_raylite.remote_function import CallSignature

# What Ray's @method takes, in Ray's order (its error messages list them so).
_METHOD_OPTIONS = ("num_returns", "concurrency_group", "max_task_retries", "retry_exceptions",
                   "_generator_backpressure_num_objects", "_num_objects_per_yield",
                   "enable_task_events", "tensor_transport")
# The ones that take effect here; each is kept on the method under Ray's attribute name, so a
# class handed to Ray (the Ray backend) behaves the same there.
_APPLIED_METHOD_OPTIONS = ("num_returns", "concurrency_group", "max_task_retries",
                           "retry_exceptions")


class MethodDecoratorError(TypeError, AssertionError):
    """``@method`` was given something it does not take.  Ray asserts there, so code written
    for Ray may catch AssertionError: this error is both."""


class UndefinedConcurrencyGroupError(ValueError, AssertionError):
    """A method names a concurrency group its actor class does not define (an AssertionError
    in Ray, hence both)."""


class ActorClassInheritanceException(TypeError):
    """``class Sub(SomeActorClass)``: actor classes cannot be subclassed (as in Ray)."""


def method(*args, **options):
    """Annotate an actor method: ``@ray.method(num_returns=2, concurrency_group="io")``.

    Takes Ray's options: ``num_returns``, ``concurrency_group`` (one of the class's
    ``concurrency_groups``), ``max_task_retries`` and ``retry_exceptions`` (the method's own,
    instead of the actor's).  Bare ``@ray.method`` leaves the method as it is, as in Ray.
    """
    if len(args) == 1 and callable(args[0]) and not options:
        return args[0]
    if args:
        raise MethodDecoratorError(
            "The @ray.method decorator must be applied using no arguments or at least one of "
            f"the arguments in the list {list(_METHOD_OPTIONS)}, for example "
            "'@ray.method(num_returns=2)'.")
    _check_method_options(options)
    attributes = {f"__ray_{key}__": value for key, value in options.items()
                  if key in _APPLIED_METHOD_OPTIONS}

    def annotate(function):
        for name, value in attributes.items():
            setattr(function, name, value)
        return function
    return annotate


def _check_method_options(options: dict) -> None:
    for key, value in options.items():
        if key not in _METHOD_OPTIONS:
            raise MethodDecoratorError(
                f"Unexpected keyword argument to @ray.method: '{key}'. The supported keyword "
                f"arguments are {list(_METHOD_OPTIONS)}")
        reason = _unsupported_method_option(key, value)
        if reason is not None:
            raise NotImplementedError(f"@ray.method({key}={value!r}) is not supported: {reason}")
    # The same checks as the task and actor options of those names.
    TaskOptions.from_kwargs(**{k: options[k] for k in ("num_returns", "retry_exceptions")
                               if k in options})
    if "max_task_retries" in options:
        ActorOptions.from_kwargs(max_task_retries=options["max_task_retries"])
    group = options.get("concurrency_group")
    if group is not None and (not isinstance(group, str) or not group):
        raise TypeError(f"concurrency_group must be the name of one of the actor class's "
                        f"concurrency_groups, got {group!r}.")


def _unsupported_method_option(key: str, value) -> str | None:
    """Why an option Ray's @method takes has no effect here (None: it has)."""
    if key in ("_generator_backpressure_num_objects", "_num_objects_per_yield") or (
            key == "num_returns" and value in ("streaming", "dynamic")):
        return "actor methods cannot stream results (generators) here; remove the option."
    if key == "enable_task_events" and value not in (None, True):
        return "every call is recorded for the task views; remove the option."
    if key == "tensor_transport" and value is not None:
        return "values always travel through the object store here; remove the option."
    return None


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


@functools.lru_cache(maxsize=None)
def _call_options(num_returns: int) -> TaskOptions:
    return TaskOptions(num_returns=num_returns)


@dataclasses.dataclass(frozen=True)
class MethodInfo:
    """One method of an actor class, as its handles know it."""

    num_returns: int = 1
    max_task_retries: int | None = None  # None: the actor's max_task_retries
    # By qualified class name: the head matches them against a failure's class names and
    # never unpickles user classes.
    retry_exceptions: bool | tuple[str, ...] = False
    concurrency_group: str | None = None  # None: the default group
    signature: CallSignature | None = None  # None: Python cannot tell; calls go unchecked

    @classmethod
    def of(cls, member, signature: CallSignature | None) -> "MethodInfo":
        """What ``@method`` set on ``member``."""
        retry = getattr(member, "__ray_retry_exceptions__", False)
        if not isinstance(retry, bool):
            retry = tuple(f"{t.__module__}.{t.__qualname__}" for t in retry)
        return cls(getattr(member, "__ray_num_returns__", 1),
                   getattr(member, "__ray_max_task_retries__", None), retry,
                   getattr(member, "__ray_concurrency_group__", None), signature)


def _is_function_or_method(member) -> bool:
    return inspect.isfunction(member) or inspect.ismethod(member)


# Methods every actor has, as Ray adds them to each actor class; the worker runs them with
# the actor instance as the first argument.
def _ray_ready(instance) -> bool:
    return True


def _ray_call(instance, fn, *args, **kwargs):
    return fn(instance, *args, **kwargs)


def _ray_terminate(instance) -> None:
    exit_actor()


BUILTIN_METHODS = {"__ray_ready__": _ray_ready, "__ray_call__": _ray_call,
                   "__ray_terminate__": _ray_terminate}


def bound_method(instance, name: str):
    """What a call of ``name`` runs on the actor ``instance`` (in the actor's process)."""
    builtin = BUILTIN_METHODS.get(name)
    return functools.partial(builtin, instance) if builtin else getattr(instance, name)


def method_groups(cls) -> dict[str, str]:
    """The concurrency group each method of ``cls`` names; methods of the default group are
    left out."""
    return {name: member.__ray_concurrency_group__
            for name, member in inspect.getmembers(cls, _is_function_or_method)
            if getattr(member, "__ray_concurrency_group__", None) is not None}


def _method_table(cls) -> dict[str, MethodInfo]:
    """Every method of an actor class (Ray's rule: its functions and methods, inherited ones
    and the user's own dunders included), and the built-in ones."""
    table = {}
    for name, member in inspect.getmembers(cls, _is_function_or_method):
        # Instance methods drop `self`; static methods have none; class methods come bound.
        unbound = not (isinstance(inspect.getattr_static(cls, name), staticmethod)
                       or inspect.ismethod(member))
        table[name] = MethodInfo.of(member, CallSignature.of(member, drop_first=unbound))
    for name, function in BUILTIN_METHODS.items():
        table[name] = MethodInfo(signature=CallSignature.of(function, drop_first=True))
    return table


def _constructor_signature(cls) -> CallSignature | None:
    init = getattr(cls, "__init__", None)
    if not _is_function_or_method(init):
        # No __init__ written in Python (object's, or a builtin base's): Ray gives the class
        # one that takes no arguments.
        return CallSignature()
    return CallSignature.of(init, drop_first=True)


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
        self._init_signature = _constructor_signature(cls)
        self._blob = None
        self.__doc__ = cls.__doc__
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__module__ = cls.__module__

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"Actors cannot be instantiated directly. Instead of '{self.class_name}()', use "
            f"'{self.class_name}.remote()'.")

    def __getattr__(self, name: str):
        # Class attributes, static and class methods read through the actor class, as in Ray.
        cls = self.__dict__.get("_cls")
        if cls is None or name.startswith("__"):
            raise AttributeError(name)
        try:
            return getattr(cls, name)
        except AttributeError:
            raise AttributeError(
                f"'ActorClass({self.class_name})' object has no attribute '{name}'") from None

    def __mro_entries__(self, bases):
        raise ActorClassInheritanceException(
            f"Attempted to define a subclass of actor class '{self.class_name}'. Inheriting "
            "from actor classes is not supported. Inherit from the plain class instead and "
            "make the subclass an actor class with @ray.remote (the plain class is "
            f"{self.class_name}.__ray_actor_class__ if the decorator was applied in place).")

    @property
    def __ray_actor_class__(self) -> type:
        """The plain class (Ray's name for it)."""
        return self._cls

    def remote(self, *args, **kwargs) -> "ActorHandle":
        return self._create(self._options, args, kwargs)

    def options(self, **options) -> "_BoundActorOptions":
        return _BoundActorOptions(self, _actor_options(self._options, options))

    def _create(self, options: ActorOptions, args, kwargs) -> "ActorHandle":
        self._check_groups(options)
        if self._init_signature is not None:
            self._init_signature.check(args, kwargs, self.class_name)
        runtime = context.current_runtime()
        if hasattr(runtime, "make_actor"):  # on Ray: Ray's own actor handle
            return runtime.make_actor(self, args, kwargs, options)
        actor_id, created = runtime.create_actor(self, args, kwargs, options)
        # A new actor's creator is counted as a holder by the head already; an existing actor
        # found through get_if_exists is not.
        return ActorHandle(actor_id, self.class_name, self.methods, self.is_async,
                           _announce=not created)

    def _check_groups(self, options: ActorOptions) -> None:
        defined = {name for name, _ in options.concurrency_groups}
        for name, info in self.methods.items():
            if info.concurrency_group is not None and info.concurrency_group not in defined:
                raise UndefinedConcurrencyGroupError(
                    f"Method {self.class_name}.{name} is in concurrency group "
                    f"{info.concurrency_group!r}, which the actor class does not define. "
                    "Define it where the class is declared: @ray.remote(concurrency_groups="
                    f"{{{info.concurrency_group!r}: 1, ...}}).")

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
        return _BoundActorOptions(self._actor_class, _actor_options(self._options, options))


def _actor_options(base: ActorOptions, options: dict) -> ActorOptions:
    if "concurrency_groups" in options:
        # Ray's rule: the groups belong to the class; methods name them in @method.
        raise ValueError("Setting 'concurrency_groups' is not supported in '.options()'. "
                         "Pass it where the class is declared: "
                         "@ray.remote(concurrency_groups={...}).")
    return ActorOptions.from_kwargs(base, **options)


class ActorHandle:
    """A reference to an actor; ``handle.method.remote(...)`` calls it.  Picklable into tasks,
    actors and ``put``, like an ObjectRef."""

    def __init__(self, actor_id: str, class_name: str, methods: dict[str, MethodInfo],
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
        info = None if methods is None else methods.get(name)
        if info is None:
            raise AttributeError(f"'ActorHandle' object has no attribute '{name}'")
        return ActorMethod(self, name, info, _call_options(info.num_returns))

    def __dir__(self):
        return list(self._methods)  # as Ray's handle: what tab completion offers

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

    def __init__(self, handle: ActorHandle, name: str, info: MethodInfo, options: TaskOptions):
        self._handle = handle
        self._name = name
        self._info = info
        self._options = options

    def remote(self, *args, **kwargs):
        signature = self._info.signature
        if signature is not None:
            signature.check(args, kwargs, self._handle._class_name, self._name)
        runtime = context.current_runtime()
        result = runtime.submit_actor_call(self._handle._actor_id, self._handle._class_name,
                                           self._name, args, kwargs, self._options)
        if self._options.num_returns == 1:
            return result[0]
        if self._options.num_returns == 0:
            return None
        return result

    def options(self, **options) -> "ActorMethod":
        per_method = sorted(set(options) & {"concurrency_group", "max_task_retries",
                                            "retry_exceptions"})
        if per_method:
            # TODO(#15): a call's spec has no room for them yet (core/task_spec.py).
            raise NotImplementedError(
                f"{per_method} cannot be set per call here; set them on the method with "
                f"@ray.method({per_method[0]}=...).")
        unsupported = set(options) - {"num_returns", "name"}
        if unsupported:
            raise ValueError(
                f"Actor method options are num_returns and name; got {sorted(unsupported)}. "
                "Resources and restarts are set on the actor class with .options(...).")
        return ActorMethod(self._handle, self._name, self._info,
                           TaskOptions.from_kwargs(self._options, **options))

    def __call__(self, *args, **kwargs):
        raise TypeError(
            f"Actor methods cannot be called directly. Instead of running "
            f"'{self._name}()', try '{self._name}.remote()'.")
