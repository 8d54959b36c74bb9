"""The drop-in: ``import ray`` and ``import ray.<sub>`` resolve to jupyter_raylite's modules.

One meta-path finder, first on ``sys.meta_path``, answers for the name ``ray`` and every
``ray.<sub>``.  The modules it hands out are jupyter_raylite's own (``ray is jupyter_raylite``,
``ray.util.queue is jupyter_raylite.util.queue``), never copies of their names, so a class or
a module-level setting seen through either name is the same object.  ``RAY_LAYOUT`` lists
the part of Ray's module tree we mirror; any other ``ray.<sub>`` fails with
``ModuleNotFoundError`` naming it, and never falls through to a real Ray that happens to be
installed.

Who turns it on:
- the driver, by ``as_ray()``, ``python -m jupyter_raylite SCRIPT`` (``__main__.py``), or
  ``JUPYTER_RAYLITE_AS_RAY=1`` in its environment when ``jupyter_raylite`` is imported;
- every worker of the local cluster, always (``core/worker.py``): a task that imports
  ``ray`` runs on the cluster that runs it, whatever the driver called it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys

ENV_VARIABLE = "JUPYTER_RAYLITE_AS_RAY"

# Ray's module -> ours.  A module joins this table when it exists with Ray's public names.
RAY_LAYOUT = {
    "ray": "jupyter_raylite",
    "ray.actor": "jupyter_raylite.actor",
    "ray.exceptions": "jupyter_raylite.exceptions",
    "ray.remote_function": "jupyter_raylite.remote_function",
    "ray.runtime_context": "jupyter_raylite.runtime_context",
    "ray.util": "jupyter_raylite.util",
    "ray.util.actor_pool": "jupyter_raylite.util.actor_pool",
    "ray.util.queue": "jupyter_raylite.util.queue",
    "ray.cloudpickle": "cloudpickle",  # Ray vendors cloudpickle under this name
}


class _AliasLoader(importlib.abc.Loader):
    """Loads ``ray.<sub>`` as the module of ours that stands for it (imported as itself)."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        pass  # imported under its own name already


class _RayFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "ray" and not fullname.startswith("ray."):
            return None
        ours = RAY_LAYOUT.get(fullname)
        if ours is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: jupyter_raylite stands in for ray (the drop-in "
                f"is on) and has no {fullname} yet. It has {', '.join(sorted(RAY_LAYOUT))}. "
                f"To use the real Ray, run without the drop-in (no as_ray(), "
                f"python -m jupyter_raylite or {ENV_VARIABLE}=1).", name=fullname)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(ours))


_finder = _RayFinder()


def active() -> bool:
    """Whether ``import ray`` resolves to jupyter_raylite in this process."""
    return _finder in sys.meta_path


def as_ray() -> None:
    """Make ``import ray`` (and ``import ray.<sub>``) give jupyter_raylite in this process and
    in every process it starts; idempotent.

    Call it before anything imports the real Ray: once Ray's own modules are loaded, the two
    cannot share the name, and this raises rather than mixing them.
    """
    real = real_ray()
    if real is not None:
        raise RuntimeError(
            "The real Ray is already imported in this process (sys.modules['ray'] is "
            f"{getattr(real, '__file__', real)!r}), so 'ray' cannot stand for jupyter_raylite "
            "any more. Call jupyter_raylite.as_ray() before anything imports ray (first in "
            "the notebook or script), or run the script with python -m jupyter_raylite.")
    install()
    os.environ[ENV_VARIABLE] = "1"  # for the processes this one starts (kernels, scripts)
    import jupyter_raylite
    sys.modules["ray"] = jupyter_raylite


def turn_on_if_asked() -> None:
    """``as_ray()`` if ``JUPYTER_RAYLITE_AS_RAY=1``; a warning, not an error, where the real
    Ray is imported already (the import of jupyter_raylite itself must not fail)."""
    if os.environ.get(ENV_VARIABLE) != "1" or active():
        return
    if real_ray() is not None:
        import warnings
        warnings.warn(f"{ENV_VARIABLE}=1 is set, but the real Ray is imported already: "
                      "'ray' stays the real Ray in this process.", RuntimeWarning, stacklevel=3)
        return
    as_ray()


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (and nothing else); idempotent."""
    if not active():
        sys.meta_path.insert(0, _finder)


def real_ray():
    """The real Ray if it is imported in this process, else None: the one question the rest
    of the package asks about the name ``ray`` (under the drop-in, it is ours)."""
    module = sys.modules.get("ray")
    if module is None or module is sys.modules.get("jupyter_raylite"):
        return None
    return module
