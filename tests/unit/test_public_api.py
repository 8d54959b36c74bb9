"""The public surface is pinned: adding or removing a name is a deliberate change."""

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


def test_public_api_exception_names_match_rays():
    try:
        import ray.exceptions as oracle
    except ImportError:
        oracle = None
    for name in ["RayError", "RayTaskError", "GetTimeoutError", "TaskCancelledError",
                 "WorkerCrashedError", "ObjectLostError", "RayActorError", "ActorDiedError",
                 "ObjectStoreFullError", "TaskUnschedulableError", "ObjectFreedError",
                 "OwnerDiedError", "RaySystemError"]:
        assert name in exceptions.__all__
        if oracle is not None:  # the same class exists in Ray, with the same base
            ours, theirs = getattr(exceptions, name), getattr(oracle, name)
            assert ours.__mro__[1].__name__ == theirs.__mro__[1].__name__


def test_view_functions_stay_functions_once_their_modules_are_imported():
    import importlib
    import pkgutil

    import jupyter_raylite.widgets as views
    for module in pkgutil.iter_modules(views.__path__):
        importlib.import_module(f"jupyter_raylite.widgets.{module.name}")
    for name in ("task_graph", "meters", "inspector", "progress"):
        assert callable(getattr(views, name)), name  # not shadowed by a submodule
        assert getattr(jupyter_raylite, name) is getattr(views, name)
