"""How actors end and come back: exit_actor(), kill(no_restart=False), named actors by
namespace. The same behaviour on jupyter_raylite and on Ray."""

from __future__ import annotations

import os

import pytest
from leaks import HANG, wait_until


def test_exit_actor_fails_its_own_call_runs_atexit_and_ends_the_actor(ray_impl, exceptions,
                                                                       tmp_path):
    marker = str(tmp_path / "atexit-ran")

    @ray_impl.remote
    class Quitter:
        def __init__(self, marker):
            import atexit
            atexit.register(lambda: open(marker, "w").close())

        def quit(self):
            ray_impl.actor.exit_actor()

        def ping(self):
            return "pong"

    actor = Quitter.remote(marker)
    assert ray_impl.get(actor.ping.remote()) == "pong"
    # The call that exits returns no value: getting it raises, as every later call does.
    with pytest.raises(exceptions.ActorDiedError):
        ray_impl.get(actor.quit.remote(), timeout=HANG)
    with pytest.raises(exceptions.ActorDiedError):
        ray_impl.get(actor.ping.remote(), timeout=HANG)
    assert wait_until(lambda: os.path.exists(marker), timeout=HANG), "atexit handlers ran"


def test_exit_actor_outside_an_actor_raises(ray_impl):
    with pytest.raises(TypeError):
        ray_impl.actor.exit_actor()


def _answer_from_a_new_process(ray_impl, exceptions, call, old_pid):
    """Ray's kill() is asynchronous (a call made right after it may still reach the old
    process) and it fails calls made while the actor restarts (ActorUnavailableError); here
    those calls wait for the new process. Either way a new process answers: its answer."""
    answers = []

    def answered():
        try:
            answer = ray_impl.get(call(), timeout=HANG)
        except exceptions.RayActorError:
            return False
        answers.append(answer)
        return answer[0] != old_pid
    assert wait_until(answered, timeout=HANG, interval=0.2)
    return answers[-1]


def _dies(ray_impl, exceptions, call) -> None:
    """Calls end in ActorDiedError (Ray's kill() is asynchronous: a call made right after it
    may still be answered, or fail as unavailable while Ray settles the actor's fate)."""
    def died():
        try:
            ray_impl.get(call(), timeout=HANG)
        except exceptions.ActorDiedError:
            return True
        except exceptions.RayActorError:
            return False
        return False
    assert wait_until(died, timeout=HANG, interval=0.2)


def test_kill_with_restarts_left_and_no_restart_false_restarts_the_actor(ray_impl, exceptions):
    @ray_impl.remote(max_restarts=-1)
    class Phoenix:
        def __init__(self):
            self.calls = 0

        def state(self):
            self.calls += 1
            return os.getpid(), self.calls

    actor = Phoenix.remote()
    ray_impl.get(actor.state.remote())
    first_pid, calls = ray_impl.get(actor.state.remote())
    assert calls == 2
    ray_impl.kill(actor, no_restart=False)
    _, calls = _answer_from_a_new_process(ray_impl, exceptions, actor.state.remote, first_pid)
    assert calls == 1  # the new process ran __init__ again
    ray_impl.kill(actor)  # no_restart=True: for good
    _dies(ray_impl, exceptions, actor.state.remote)


def test_kill_with_no_restarts_left_ends_the_actor(ray_impl, exceptions):
    @ray_impl.remote(max_restarts=0)
    class Mortal:
        def ping(self):
            return "pong"

    actor = Mortal.remote()
    assert ray_impl.get(actor.ping.remote()) == "pong"
    ray_impl.kill(actor, no_restart=False)
    _dies(ray_impl, exceptions, actor.ping.remote)


def test_list_named_actors_in_this_and_in_all_namespaces(ray_impl):
    util = ray_impl.util

    @ray_impl.remote
    class Named:
        def ping(self):
            return "pong"

    here = Named.options(name="listed-here").remote()
    there = Named.options(name="listed-there", namespace="elsewhere").remote()
    anonymous = Named.remote()
    ray_impl.get([here.ping.remote(), there.ping.remote(), anonymous.ping.remote()])
    assert "listed-here" in util.list_named_actors()
    assert "listed-there" not in util.list_named_actors()
    everywhere = util.list_named_actors(all_namespaces=True)
    assert {"name": "listed-there", "namespace": "elsewhere"} in everywhere
    assert any(entry["name"] == "listed-here" for entry in everywhere)
    assert ray_impl.get(ray_impl.get_actor("listed-there", namespace="elsewhere")
                        .ping.remote()) == "pong"
    ray_impl.kill(here)
    ray_impl.kill(there)
    assert wait_until(lambda: "listed-here" not in util.list_named_actors(), timeout=HANG)


def test_cancel_of_a_running_async_actor_call_raises_task_cancelled_error(ray_impl, exceptions):
    import asyncio

    @ray_impl.remote
    class Sleeper:
        def __init__(self):
            self.started = 0

        async def slow(self):
            self.started += 1
            await asyncio.sleep(600)

        async def started_calls(self):
            return self.started

        async def ping(self):
            return "pong"

    actor = Sleeper.remote()
    ref = actor.slow.remote()
    assert wait_until(lambda: ray_impl.get(actor.started_calls.remote()) == 1, timeout=HANG)
    ray_impl.cancel(ref)
    # Ray's error is RayTaskError(TaskCancelledError); through the Ray backend its cause keeps
    # Ray's own class.
    with pytest.raises((exceptions.TaskCancelledError, exceptions.RayTaskError)) as info:
        ray_impl.get(ref, timeout=HANG)
    assert "TaskCancelledError" in type(info.value).__name__ + repr(info.value)
    assert ray_impl.get(actor.ping.remote()) == "pong"  # the actor lives on
