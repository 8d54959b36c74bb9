"""Run each compatibility test on jupyter_raylite and, where it is installed, on real Ray.

The same test body runs against both: what passes on Ray is Ray's behaviour, and jupyter_raylite
must match it.  One cluster per module and implementation; on Ray, one job per module and
implementation on a cluster the modules share (shared_ray.py: Ray takes seconds to start).
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

import meeting
import shared_ray

from jupyter_raylite import dropin

if dropin.active():
    # Run through the drop-in runner (python -m jupyter_raylite -m pytest tests/compat):
    # `import ray` is jupyter_raylite, and the tests run on it under Ray's name.
    IMPLEMENTATIONS = ["dropin"]
else:
    IMPLEMENTATIONS = ["raylite"]
    if importlib.util.find_spec("ray") is not None:
        # Ray itself, and jupyter_raylite's API on a Ray cluster (the scale-out backend).
        IMPLEMENTATIONS += ["ray", "raylite-on-ray"]

# One cluster per module and implementation: a module's tests share it (a cluster takes time to
# start), and no module sees what another left running.  A module may set NUM_CPUS; tests
# that mean "every CPU" ask for cluster_resources()["CPU"].
NUM_CPUS = 4
# Ray's options for a driver of these tests: no log lines of the workers in the test's output.
RAY_DRIVER = dict(log_to_driver=False, configure_logging=False)


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def ray_impl(request):
    num_cpus = getattr(request.module, "NUM_CPUS", NUM_CPUS)
    if request.param == "raylite":
        import jupyter_raylite as impl
        impl.init(num_cpus=num_cpus)
    elif request.param == "dropin":
        import ray as impl
        assert impl.__name__ == "jupyter_raylite", "the drop-in gave the real Ray"
        impl.init(num_cpus=num_cpus, include_dashboard=False, **RAY_DRIVER)
    else:
        # Ray itself, or jupyter_raylite's Ray backend: a job of its own, in a namespace of its
        # own, on the cluster of this size that the modules share.
        import ray
        if request.param == "ray":
            impl = ray
        else:
            import jupyter_raylite as impl
        impl.init(address=shared_ray.address(num_cpus),
                  namespace=f"{request.module.__name__}-{request.param}", **RAY_DRIVER)
        shared_ray.wait_until_idle(ray)
    yield impl
    impl.shutdown()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    # The shared Ray clusters stop when the last compatibility test is done, not at the end of
    # the whole run: the tests after these want the machine's cores.
    result = yield
    if nextitem is None or nextitem.path.parent != item.path.parent:
        shared_ray.shutdown()
    return result


def pytest_sessionfinish(session):
    shared_ray.shutdown()   # a run stopped early (-x, Ctrl-C) leaves no Ray cluster either


@pytest.fixture(scope="module", autouse=True)
def _travel_by_value(request):
    # Ray's workers import modules by name, and the tests' folder is not on their path: the
    # test module and its helpers travel by value instead (harmless for jupyter_raylite).
    if importlib.util.find_spec("ray") is not None and not dropin.active():
        import ray
        for module in (sys.modules[request.module.__name__], meeting):
            ray.cloudpickle.register_pickle_by_value(module)


@pytest.fixture
def exceptions(ray_impl):
    return ray_impl.exceptions


@pytest.fixture
def on_ray(ray_impl, request) -> bool:
    """Whether Ray runs the work (Ray itself, or jupyter_raylite's Ray backend): where the
    two runtimes are allowed to differ (Ray's asynchronous kill, for one), tests ask this."""
    return request.node.callspec.params["ray_impl"] not in ("raylite", "dropin")
