"""Fuzzing the two places user text and values enter: the option validators (``@remote(...)``,
``.options(...)`` for tasks and actors) and the ``%raylite`` argument parsers.

Whatever the input, the only outcomes allowed are success or the documented error type with a
message (TypeError/ValueError for options, UsageError for magics): never another exception.
Inputs that once broke a rule stay here as explicit @example cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jupyter_raylite.options import ActorOptions, TaskOptions

TASK_KEYS = ["num_cpus", "num_gpus", "memory", "resources", "num_returns", "max_retries",
             "retry_exceptions", "name", "scheduling_strategy", "runtime_env"]
ACTOR_KEYS = ["num_cpus", "num_gpus", "memory", "resources", "max_restarts",
              "max_task_retries", "max_concurrency", "name", "namespace", "lifetime",
              "get_if_exists"]

values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=6),
                                                         st.floats(allow_nan=True), max_size=3),
    st.just(ValueError), st.just((KeyError, 1)), st.just(object()))
keys = st.one_of(st.sampled_from(TASK_KEYS + ACTOR_KEYS), st.text(max_size=10))


def _check_outcome(make, options: dict) -> None:
    try:
        result = make(**options)
    except (TypeError, ValueError) as error:
        assert str(error), "an error without a message"
        return
    # Accepted: what was stored is usable.
    for field in ("num_cpus", "num_gpus", "memory"):
        value = getattr(result, field, 0)
        assert value is None or (math.isfinite(value) and value >= 0), (field, value)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=4))
@example({"num_cpus": float("nan")})
@example({"num_cpus": float("inf")})
@example({"resources": {"CPU": 1}})
@example({"resources": {"disk": float("nan")}})
@example({"num_returns": True})
@example({"max_retries": -2})
@example({"retry_exceptions": [ValueError, 1]})
def test_task_options_accept_or_explain(options):
    _check_outcome(TaskOptions.from_kwargs, options)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(keys, values, max_size=4))
@example({"max_concurrency": 0})
@example({"lifetime": "forever"})
@example({"max_restarts": -5})
def test_actor_options_accept_or_explain(options):
    _check_outcome(ActorOptions.from_kwargs, options)


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(ValueError, match="num_cpus") as info:
        TaskOptions.from_kwargs(num_cpu=2)
    assert "num_cpu" in str(info.value)


# -- %raylite -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def magics():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    from jupyter_raylite.jupyter.extension import Settings
    from jupyter_raylite.jupyter.magics import RayliteMagics
    return RayliteMagics(start_ipython() or get_ipython(), Settings())


ARGUMENT_WORDS = ["--num-cpus", "--num-gpus", "--resources", "--object-store-memory",
                  "--state", "--limit", "--all", "--this-cell", "--function", "--max-nodes",
                  "cancel", "keep", "running", "-1", "0", "3", "1e400", "nan", "{}", '{"a":',
                  '{"disk": 2}', "'", '"', "x y", "--", "-h"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["init", "restart", "tasks", "cancel", "interrupt", "graph", "inspect",
                        "timeline", "meters", "status"]),
       st.lists(st.one_of(st.sampled_from(ARGUMENT_WORDS), st.text(max_size=8)), max_size=5))
@example("tasks", ["--limit", "1e400"])
@example("init", ["--resources", '{"a":'])
@example("graph", ["-h"])
@example("init", ["'"])
def test_magic_arguments_parse_or_give_usage_errors(magics, word, parts):
    """Only the parsing stage: nothing starts or stops a cluster here."""
    from IPython.core.error import UsageError

    from jupyter_raylite.jupyter.magics import parse_args
    handler = getattr(magics, f"_{word}")
    line = " ".join(parts)
    try:
        args = parse_args(handler, line)
        if word in ("init", "restart"):  # the checks made before touching the cluster
            magics._init_options(args)
    except UsageError as error:
        assert str(error)
