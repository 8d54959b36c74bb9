"""Actor processes: reclaimed when no handle is left, gone after shutdown, output tagged."""

from __future__ import annotations

import gc
import os
import sys

import psutil
import pytest

import jupyter_raylite as ray
from leaks import HANG, wait_until


@ray.remote
class Holder:
    def pid(self):
        return os.getpid()

    def say(self, text):
        print(text)
        print(f"err {text}", file=sys.stderr)


def test_actor_without_handles_exits_after_its_queued_calls(cluster):
    holder = Holder.remote()
    pid = ray.get(holder.pid.remote())
    last = holder.pid.remote()
    del holder
    gc.collect()
    assert ray.get(last) == pid  # the queued call still ran
    assert wait_until(lambda: _gone(pid), timeout=HANG)


def _gone(pid: int) -> bool:
    """Exited (or exited and not yet reaped); it may vanish between two looks at it."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_handle_passed_to_a_task_keeps_the_actor_alive(cluster):
    @ray.remote
    def ask(actor):
        return ray.get(actor.pid.remote())

    holder = Holder.remote()
    pid = ray.get(holder.pid.remote())
    ref = ask.remote(holder)
    del holder
    assert ray.get(ref) == pid


def test_named_actor_survives_without_handles_until_killed(cluster):
    Holder.options(name="keeper").remote()
    gc.collect()
    pid = ray.get(ray.get_actor("keeper").pid.remote())
    assert psutil.pid_exists(pid)
    ray.kill(ray.get_actor("keeper"))
    assert wait_until(lambda: not psutil.pid_exists(pid), timeout=HANG)


def test_actor_output_is_prefixed_with_the_class_name(cluster, capfd):
    holder = Holder.remote()
    pid = ray.get(holder.pid.remote())
    ray.get(holder.say.remote("hello"))
    seen = {"out": "", "err": ""}

    def arrived():
        out, err = capfd.readouterr()
        seen["out"] += out
        seen["err"] += err
        return "hello" in seen["out"] and "err hello" in seen["err"]

    assert wait_until(arrived)
    assert f"(Holder pid={pid}) hello\n" in seen["out"]
    assert f"(Holder pid={pid}) err hello\n" in seen["err"]


def test_actor_options_are_validated():
    with pytest.raises(ValueError, match="max_restarts"):
        Holder.options(max_restart=1)
    with pytest.raises(ValueError, match="lifetime"):
        Holder.options(lifetime="forever")


def test_actor_runtime_context_names_the_actor(cluster):
    @ray.remote
    class Who:
        def ids(self):
            ctx = ray.get_runtime_context()
            return ctx.get_actor_id(), ctx.get_task_id()

    who = Who.remote()
    actor_id, task_id = ray.get(who.ids.remote())
    assert actor_id == who._actor_id and task_id
