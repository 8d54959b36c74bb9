"""Worker output into the cell that submitted the work, even after that cell has finished.

Each task remembers the parent message of the cell that submitted it (its *origin*, see
core/head.py).  A line a worker prints is published on the kernel's IOPub channel as a
``stream`` message with that parent, so the notebook shows it under that cell: not under
whichever cell happens to run now, which is where Ray's and Dask's output lands.
"""

from __future__ import annotations

import sys

from jupyter_raylite.core import runtime


class CellOutputRouter:
    def __init__(self, kernel):
        self.kernel = kernel

    def current_cell(self):
        """The parent message of the request being executed (the origin of a submission)."""
        try:
            return self.kernel.get_parent("shell")
        except TypeError:  # ipykernel < 6.1 took no channel argument
            return self.kernel.get_parent()

    def write(self, origin, name, pid, stream, text) -> None:
        if not origin:
            runtime.print_output(origin, name, pid, stream, text)
            return
        body = runtime.prefixed(name, pid, text)
        kernel = self.kernel

        def publish():
            # On the kernel's IOPub thread: first what the cell itself printed and ipykernel
            # still buffers (up to 0.2 s), so "print(...); ray.get(...)" shows in that order.
            for own in (sys.stdout, sys.stderr):
                if getattr(own, "pub_thread", None) is io_thread:
                    own._flush()
            kernel.session.send(kernel.iopub_socket, "stream", {"name": stream, "text": body},
                                parent=origin, ident=f"stream.{stream}".encode())

        io_thread = getattr(kernel, "iopub_thread", None)
        if io_thread is not None and hasattr(io_thread, "schedule"):
            io_thread.schedule(publish)
        else:  # an older or different kernel: its IOPub socket is thread-safe on its own
            kernel.session.send(kernel.iopub_socket, "stream", {"name": stream, "text": body},
                                parent=origin, ident=f"stream.{stream}".encode())
