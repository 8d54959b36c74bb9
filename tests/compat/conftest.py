"""Run each compatibility test on jupyter_raylite and, where it is installed, on real Ray.

The same test body runs against both: what passes on Ray is Ray's behaviour, and jupyter_raylite
must match it.  One cluster per module and implementation (Ray takes seconds to start).
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

IMPLEMENTATIONS = ["raylite"]
if importlib.util.find_spec("ray") is not None:
    # Ray itself, and jupyter_raylite's API on a Ray cluster (the scale-out backend).
    IMPLEMENTATIONS += ["ray", "raylite-on-ray"]

NUM_CPUS = 4


@pytest.fixture(scope="module", params=IMPLEMENTATIONS)
def ray_impl(request):
    num_cpus = getattr(request.module, "NUM_CPUS", NUM_CPUS)
    if request.param == "raylite":
        import jupyter_raylite as impl
        impl.init(num_cpus=num_cpus)
    elif request.param == "raylite-on-ray":
        import ray

        import jupyter_raylite as impl
        ray.cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
        impl.init(backend="ray", num_cpus=num_cpus, include_dashboard=False,
                  log_to_driver=False, configure_logging=False)
    else:
        import ray as impl
        # Ray's workers import the test module by name unless it travels by value.
        impl.cloudpickle.register_pickle_by_value(sys.modules[request.module.__name__])
        impl.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                  configure_logging=False)
    yield impl
    impl.shutdown()


@pytest.fixture
def exceptions(ray_impl):
    return ray_impl.exceptions


@pytest.fixture
def on_ray(ray_impl, request) -> bool:
    """Whether Ray runs the work (Ray itself, or jupyter_raylite's Ray backend): where the
    two runtimes are allowed to differ (Ray's asynchronous kill, for one), tests ask this."""
    return request.node.callspec.params["ray_impl"] != "raylite"
