"""The prefix of an actor's output on the driver, on the local runtime.

Ray (log_to_driver) prints ``(Counter pid=N) text`` for an actor whose class defines no
``__repr__``.  When the class defines one (or inherits one from a base class), what the
constructor prints still has the class name, and everything after it ``(<repr> pid=N) text``,
with the repr taken once, right after ``__init__`` (later changes to the state it shows do not
change the prefix).  Checked on Ray 2.60 by hand; the compat suite runs Ray with
log_to_driver=False, so these run on the local runtime only.
"""

from __future__ import annotations

import pytest

import jupyter_raylite as ray
from leaks import wait_until


class Labelled:
    def __repr__(self):
        return f"Labelled[{self.tag}#{self.calls}]"


@ray.remote
class Tagged(Labelled):
    def __init__(self, tag):
        self.tag, self.calls = tag, 0
        print("constructed")

    def say(self, text):
        self.calls += 1
        print(text)
        return 1


@ray.remote
class Plain:
    def __init__(self):
        print("plain constructed")

    def say(self, text):
        print(text)
        return 1


@pytest.fixture
def output(capfd):
    seen = []

    def until(*lines):
        def arrived():
            seen.append(capfd.readouterr().out)
            return all(line in "".join(seen) for line in lines)
        assert wait_until(arrived), "".join(seen)
        return "".join(seen)
    return until


def test_actor_output_prefix_is_the_class_name(cluster, output):
    plain = Plain.remote()
    ray.get(plain.say.remote("plain hello"))
    text = output("plain constructed", "plain hello")
    assert "(Plain pid=" in text
    assert all(line.startswith("(Plain pid=") for line in text.splitlines() if "plain" in line)


def test_actor_output_prefix_is_the_repr_taken_after_init(cluster, output):
    tagged = Tagged.remote("x")
    ray.get([tagged.say.remote("first"), tagged.say.remote("second")])
    text = output("constructed", "first", "second")
    lines = {line.split(") ", 1)[1]: line.split(" pid=", 1)[0] for line in text.splitlines()
             if ") " in line}
    # The constructor's line has the class name; later lines the repr as it was after
    # __init__, though `calls` changed since.
    assert lines == {"constructed": "(Tagged", "first": "(Labelled[x#0]",
                     "second": "(Labelled[x#0]"}
