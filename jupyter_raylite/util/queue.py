"""A first-in first-out queue shared by tasks and actors, held by an async actor (Ray's API)."""

from __future__ import annotations

import asyncio
import queue as stdlib_queue

from jupyter_raylite import api


class Empty(stdlib_queue.Empty):
    """Raised by ``get`` when the queue stays empty (non-blocking or past the timeout)."""


class Full(stdlib_queue.Full):
    """Raised by ``put`` when the queue stays full (non-blocking or past the timeout)."""


class _QueueActor:
    def __init__(self, maxsize: int):
        self.queue = asyncio.Queue(maxsize)

    def qsize(self) -> int:
        return self.queue.qsize()

    def maxsize(self) -> int:
        return self.queue.maxsize

    async def put(self, item, timeout=None) -> bool:
        try:
            await asyncio.wait_for(self.queue.put(item), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def get(self, timeout=None):
        try:
            return True, await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return False, None

    def put_nowait(self, item) -> bool:
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            return False

    def put_nowait_batch(self, items) -> bool:
        if self.queue.maxsize and self.queue.qsize() + len(items) > self.queue.maxsize:
            return False
        for item in items:
            self.queue.put_nowait(item)
        return True

    def get_nowait(self):
        try:
            return True, self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return False, None

    def get_nowait_batch(self, count: int):
        if count > self.queue.qsize():
            return False, None
        return True, [self.queue.get_nowait() for _ in range(count)]


class Queue:
    """``Queue(maxsize=0)``: ``put``/``get`` with ``block`` and ``timeout``, from any process.

    The queue lives in an actor, so its handle can be passed to tasks and actors.
    """

    def __init__(self, maxsize: int = 0, actor_options: dict | None = None):
        options = {"num_cpus": 0, **(actor_options or {})}
        self.maxsize = maxsize
        self.actor = api.remote(**options)(_QueueActor).remote(maxsize)

    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        return api.get(self.actor.qsize.remote())

    def qsize(self) -> int:
        return self.size()

    def empty(self) -> bool:
        return self.size() == 0

    def full(self) -> bool:
        return self.maxsize > 0 and self.size() >= self.maxsize

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        """Add an item; with ``block=False`` or a ``timeout`` raise Full if there is no room."""
        if not block:
            if not api.get(self.actor.put_nowait.remote(item)):
                raise Full
            return
        if timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        if not api.get(self.actor.put.remote(item, timeout)):
            raise Full

    def get(self, block: bool = True, timeout: float | None = None):
        """Remove and return an item; with ``block=False`` or a ``timeout`` raise Empty."""
        if not block:
            ok, item = api.get(self.actor.get_nowait.remote())
        else:
            if timeout is not None and timeout < 0:
                raise ValueError("'timeout' must be a non-negative number")
            ok, item = api.get(self.actor.get.remote(timeout))
        if not ok:
            raise Empty
        return item

    def put_nowait(self, item) -> None:
        self.put(item, block=False)

    def get_nowait(self):
        return self.get(block=False)

    def put_nowait_batch(self, items) -> None:
        if not isinstance(items, list):
            raise TypeError("put_nowait_batch() takes a list of items")
        if not api.get(self.actor.put_nowait_batch.remote(items)):
            raise Full(f"Cannot add {len(items)} items to queue of size {self.size()} and "
                       f"maxsize {self.maxsize}.")

    def get_nowait_batch(self, num_items: int) -> list:
        if not isinstance(num_items, int) or num_items < 0:
            raise ValueError("'num_items' must be a nonnegative integer")
        ok, items = api.get(self.actor.get_nowait_batch.remote(num_items))
        if not ok:
            raise Empty(f"Cannot get {num_items} items from queue of size {self.size()}.")
        return items

    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """Terminate the queue's actor."""
        if self.actor is not None:
            api.kill(self.actor)
            self.actor = None
