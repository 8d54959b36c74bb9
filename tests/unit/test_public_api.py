"""The public surface is pinned: adding or removing a name is a deliberate change."""

import pytest

import jupyter_raylite
from jupyter_raylite import exceptions

PUBLIC = {
    "ObjectRef", "actor", "available_resources", "cancel", "cluster_resources", "exceptions",
    "get", "get_actor", "get_gpu_ids", "get_runtime_context", "init", "is_initialized", "kill",
    "method", "nodes", "put", "remote", "shutdown", "timeline", "wait",
    # Ray's modules, reachable as attributes after `import ray`, as in Ray
    "remote_function", "runtime_context", "util",
    # ours: the notebook views, and the drop-in
    "inspector", "meters", "progress", "task_graph", "as_ray",
}


def test_public_api_names_are_pinned():
    assert set(jupyter_raylite.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(jupyter_raylite, name)


def test_public_api_exception_classes_match_rays():
    """Every public class of ray.exceptions, under Ray's name and with Ray's bases, so that an
    except clause written for Ray catches here what it catches there."""
    for name in exceptions.__all__:
        assert isinstance(getattr(exceptions, name), type), name
    try:
        import ray.exceptions as oracle
    except ImportError:
        pytest.skip("ray is not installed: nothing to compare with")
    rays = {name for name, value in vars(oracle).items()
            if not name.startswith("_") and isinstance(value, type)
            and issubclass(value, BaseException) and value.__module__ == oracle.__name__}
    assert rays - set(exceptions.__all__) == set(), "classes of Ray's that we lack"
    for name in rays:
        ours, theirs = getattr(exceptions, name), getattr(oracle, name)
        assert ([base.__name__ for base in ours.__bases__]
                == [base.__name__ for base in theirs.__bases__]), name


def test_view_functions_stay_functions_once_their_modules_are_imported():
    import importlib
    import pkgutil

    import jupyter_raylite.widgets as views
    for module in pkgutil.iter_modules(views.__path__):
        importlib.import_module(f"jupyter_raylite.widgets.{module.name}")
    for name in ("task_graph", "meters", "inspector", "progress"):
        assert callable(getattr(views, name)), name  # not shadowed by a submodule
        assert getattr(jupyter_raylite, name) is getattr(views, name)
