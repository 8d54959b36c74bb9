"""README's coverage table is made from jupyter_raylite/coverage.py, and that table tells the
truth: what it marks present is there, what it marks missing is not, and it names every public
name of Ray Core's modules (checked against the installed Ray)."""

from __future__ import annotations

import importlib
import inspect
import os

import pytest

from jupyter_raylite import coverage
from jupyter_raylite.dropin import RAY_LAYOUT

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"

# Parts of Ray's top-level namespace that are not Ray Core: its libraries, other languages,
# internals and version data.
NOT_CORE = {"data", "workflow", "autoscaler", "widgets", "internal", "_config", "__version__",
            "cpp_function", "java_actor_class", "java_function", "Language"}


def resolve(ray_name: str):
    """The object of ours that stands for Ray's ``ray_name``; raises if there is none."""
    parts = ray_name.split(".")
    for cut in range(len(parts), 0, -1):
        ours = RAY_LAYOUT.get(".".join(parts[:cut]))
        if ours is not None:
            value = importlib.import_module(ours)
            for attribute in parts[cut:]:
                value = getattr(value, attribute)
            return value
    raise LookupError(ray_name)


def test_readme_shows_the_generated_coverage_table():
    with open(README) as f:
        text = f.read()
    assert START in text and END in text, "README lost its coverage markers"
    shown = text[text.index(START) + len(START):text.index(END)].strip()
    assert shown == coverage.markdown(), (
        "README's coverage table is out of date: run "
        "python -c 'import jupyter_raylite.coverage as c; print(c.markdown())' and paste it "
        "between the markers")


@pytest.mark.parametrize("name, status", [(n, s) for n, s, _ in coverage.rows()])
def test_coverage_marks_what_is_present_and_what_is_missing(name, status):
    if status == coverage.MISSING:
        with pytest.raises((AttributeError, ImportError, LookupError)):
            resolve(name)
    else:
        resolve(name)


def test_coverage_names_every_public_name_of_ray_core():
    ray = pytest.importorskip("ray")  # the oracle, installed with the test extra
    import ray.exceptions
    import ray.runtime_context
    import ray.util
    import ray.util.queue

    def members(cls):
        return {n for n in dir(cls) if not n.startswith("_")}

    expected = {
        "ray": set(ray.__all__) - NOT_CORE,
        "ray.actor": {"ActorClass", "ActorHandle", "ActorMethod", "exit_actor", "method"},
        "ray.util": set(ray.util.__all__),
        "ray.util.ActorPool": members(ray.util.ActorPool),
        "ray.util.queue": {"Queue", "Empty", "Full"},
        "ray.util.queue.Queue": members(ray.util.queue.Queue),
        "ray.exceptions": {n for n, c in vars(ray.exceptions).items()
                           if inspect.isclass(c) and issubclass(c, BaseException)
                           and not n.startswith("_") and c.__module__.startswith("ray")},
        "ray.ObjectRef": members(ray.ObjectRef),
        "ray.runtime_context.RuntimeContext": members(ray.runtime_context.RuntimeContext),
    }
    listed = {name for name, _, _ in coverage.rows()}
    unlisted = sorted(f"{owner}.{name}" for owner, names in expected.items()
                      for name in names if f"{owner}.{name}" not in listed)
    assert not unlisted, f"coverage.py has no row for {unlisted}"
