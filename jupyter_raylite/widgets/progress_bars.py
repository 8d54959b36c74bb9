"""A progress bar over ObjectRefs: how many are done, how many failed.

``jupyter_raylite.progress(refs)`` gives a widget in a kernel and a text bar on stderr in a
terminal; both follow the refs from the monitor thread and stop once every ref is done.
``progress(refs).get()`` shows the bar and returns ``get(refs)``: the way to watch a long get.
"""

from __future__ import annotations

import sys

import ipywidgets as widgets

from jupyter_raylite.observe.monitor import get_monitor


class _ProgressCounter:
    """Which refs are done, checked with ``wait(timeout=0)`` on the ones still pending."""

    def __init__(self, refs, monitor):
        from jupyter_raylite import api
        from jupyter_raylite.core.refs import ObjectRef
        refs = list(refs)
        bad = [r for r in refs if not isinstance(r, ObjectRef)]
        if bad:
            raise TypeError(f"progress() takes a list of ObjectRefs; got {type(bad[0]).__name__}"
                            ". Pass what .remote() returned.")
        self.refs = refs
        self._api = api
        self._pending = list(dict.fromkeys(refs))  # wait() takes each ref once
        self.total = len(self._pending)
        self.done = 0
        self.failed = 0
        self.lost = 0
        self.monitor = monitor or get_monitor()

    def refresh(self) -> bool:
        """Count what finished since the last call; True once nothing is left to wait for."""
        if not self._pending:
            return True
        client = self._client()  # never started here: a progress bar must not start a cluster
        if client is None:
            # The cluster these refs belong to is gone: they will never finish.
            self.lost += len(self._pending)
            self._pending = []
            return True
        try:
            ready, self._pending = client.wait(self._pending, len(self._pending), 0)
        except Exception:  # freed or foreign refs: count them out rather than wait forever
            self.lost += len(self._pending)
            self._pending = []
            return True
        self.done += len(ready)
        state_of = getattr(client, "object_state", None)
        if state_of is not None:
            self.failed += sum(1 for r in ready if state_of(r.hex())[0] == "failed")
        return not self._pending

    def _client(self):
        cluster = self._api._cluster
        return getattr(cluster, "client", None)

    def text(self) -> str:
        extra = [f"{n} {what}" for n, what in ((self.failed, "failed"), (self.lost, "lost"))
                 if n]
        return f"{self.done}/{self.total} done" + "".join(f", {e}" for e in extra)

    def get(self, timeout=None):
        return self._api.get(self.refs, timeout=timeout)


def make_progress(refs, description: str = "", monitor=None):
    """A Progress widget in a kernel, a TextProgress elsewhere."""
    if _in_kernel():
        return Progress(refs, description, monitor)
    return TextProgress(refs, description, monitor)


def _in_kernel() -> bool:
    from IPython import get_ipython
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _FollowsRefs:
    """What both bars share: a counter that the monitor thread refreshes until every ref is
    done, then the bar stops following."""

    def _follow(self, counter: _ProgressCounter) -> None:
        self.counter = counter
        self._monitor = counter.monitor
        self._finished = False
        self._monitor.subscribe(self._on_update)

    def _draw(self, finished: bool) -> None:
        raise NotImplementedError

    def _on_update(self, _model, _update) -> None:
        if self._finished:
            return
        finished = self.counter.refresh()
        self._draw(finished)
        if finished:
            self._finished = True
            self._monitor.unsubscribe(self._on_update)

    def get(self, timeout=None):
        """``get(refs)``, with the bar following while it waits."""
        try:
            return self.counter.get(timeout)
        finally:
            with self._monitor.lock:  # not at the same time as the monitor thread
                self._on_update(None, None)

    def _stop_following(self) -> None:
        self._monitor.unsubscribe(self._on_update)


class Progress(widgets.HBox, _FollowsRefs):
    def __init__(self, refs, description: str = "", monitor=None):
        counter = _ProgressCounter(refs, monitor)  # checks the refs before any widget exists
        self.bar = widgets.IntProgress(min=0, max=max(counter.total, 1),
                                       description=description)
        self.bar.add_class("rl-progress")
        self.label = widgets.Label(counter.text())
        self.label.add_class("rl-progress-label")
        super().__init__([self.bar, self.label])
        self._shown = False
        self._follow(counter)

    def __repr__(self) -> str:  # what a notebook saved without widget state shows
        return f"Progress({self.counter.total} objects)"

    def _repr_mimebundle_(self, **kwargs):
        self._shown = True
        return super()._repr_mimebundle_(**kwargs)

    def _draw(self, finished: bool) -> None:
        self.bar.value = self.counter.done
        self.label.value = self.counter.text()
        if self.counter.failed or self.counter.lost:
            self.bar.bar_style = "danger"
        elif finished:
            self.bar.bar_style = "success"

    def get(self, timeout=None):
        """Show the bar (if it is not shown yet) and return ``get(refs)``."""
        if not self._shown:
            from IPython.display import display
            display(self)
        return super().get(timeout)

    def close(self) -> None:
        self._stop_following()
        super().close()


class TextProgress(_FollowsRefs):
    """The same bar as text on stderr, for scripts and terminals."""

    width = 30

    def __init__(self, refs, description: str = "", monitor=None, stream=None):
        self.description = description
        self.stream = stream or sys.stderr
        self._follow(_ProgressCounter(refs, monitor))

    def __repr__(self) -> str:
        return f"TextProgress({self.counter.text()})"

    def line(self) -> str:
        counter = self.counter
        filled = self.width * counter.done // max(counter.total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        prefix = f"{self.description} " if self.description else ""
        return f"{prefix}[{bar}] {counter.text()}"

    def _draw(self, finished: bool) -> None:
        self.stream.write("\r" + self.line() + ("\n" if finished else ""))
        self.stream.flush()

    def close(self) -> None:
        self._stop_following()
