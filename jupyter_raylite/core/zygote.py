"""The cluster's launcher and reaper: a small process that forks workers and outlives none of them.

    driver (kernel)                     zygote (own session)            workers
    head thread --- control socket ---> fork request + socket fd  ----> fork() -> worker loop
               <--- "forked" / "exited" (pid, status) -------------- waitpid on SIGCHLD

Why a process of our own rather than a library's process pool or fork server:
- Jupyter interrupts a kernel with SIGINT to its whole process group and force-restarts it with
  SIGKILL to the group.  The zygote runs in its own session, so interrupts never reach workers.
- It forks workers from an interpreter that has already imported the worker code (and no
  kernel threads or ZeroMQ sockets), so a worker is ready in milliseconds.
- It is the parent of every worker, so it learns each exit status (to name the signal or exit
  code in WorkerCrashedError) and it reaps them all.
- When the driver dies in any way, even ``kill -9``, the control socket reaches end-of-file; the
  zygote then kills every worker and unlinks the cluster's shared-memory segments.  Workers also
  carry ``PR_SET_PDEATHSIG`` so they die if the zygote itself is killed.

The control socket is a SOCK_SEQPACKET socket pair: message boundaries come for free and
file descriptors travel with ``socket.send_fds``.  No address is ever bound, so nothing else on
the machine can connect.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import selectors
import signal
import socket
import sys

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the zygote's clean-up still kills us
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def exit_code(status: int) -> int:
    """A waitpid status as Popen's returncode: the exit code, or minus the signal number."""
    return os.waitstatus_to_exitcode(status)


class Zygote:
    def __init__(self, control: socket.socket, cluster_id: str):
        self.control = control
        self.cluster_id = cluster_id
        self.children: dict[int, str] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    def serve(self) -> None:
        # Processes that tasks start (and leave behind) are re-parented to us, not to init,
        # so that clean-up can reap them too.
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1)
        except (OSError, AttributeError):
            pass
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # Keep the default SIGINT away: a stray Ctrl-C in a terminal must not kill the cluster.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        selector = selectors.DefaultSelector()
        selector.register(self.control, selectors.EVENT_READ, "control")
        selector.register(self._wake_r, selectors.EVENT_READ, "child")
        try:
            while True:
                for key, _ in selector.select():
                    if key.data == "child":
                        os.read(self._wake_r, 4096)
                        self._reap()
                    elif not self._on_control():
                        return
        finally:
            self._cleanup()

    def _on_control(self) -> bool:
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 65536, 4)
        except ConnectionResetError:
            data, fds = b"", []
        if not data:  # the driver is gone
            return False
        message = pickle.loads(data)
        if message[0] == "fork":
            self._fork(message[1], fds[0])
            return True
        if message[0] == "shutdown":
            return False
        raise RuntimeError(f"zygote: unknown request {message[0]!r}")

    def _fork(self, worker_id: str, conn_fd: int) -> None:
        zygote_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                os.close(self._wake_r)
                os.close(self._wake_w)
                self.control.close()
                _die_with_parent(zygote_pid)
                from jupyter_raylite.core import worker
                code = worker.main(conn_fd, self.cluster_id, worker_id)
            finally:
                os._exit(code)
        os.close(conn_fd)
        self.children[pid] = worker_id
        self._send(("forked", worker_id, pid))

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.children.pop(pid, None) is not None:  # not an adopted grandchild
                self._send(("exited", pid, exit_code(status)))

    def _send(self, message) -> None:
        try:
            self.control.send(pickle.dumps(message))
        except OSError:  # the driver is gone; clean-up follows on the next read
            pass

    def _cleanup(self) -> None:
        # Every process of our session goes: workers and whatever their tasks started.
        # Twice, in case one of them forked while the first round ran.
        for _ in range(2):
            for pid in _session_members(exclude=os.getpid()):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            while True:
                try:
                    os.waitpid(-1, 0)
                except ChildProcessError:
                    break
        self.children.clear()
        from jupyter_raylite.core.object_store import unlink_cluster_segments
        unlink_cluster_segments(self.cluster_id)


def _session_members(exclude: int) -> list[int]:
    """Pids of the processes in this process's session (the zygote leads its own)."""
    session, members = os.getsid(0), []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != exclude:
            try:
                if os.getsid(int(entry)) == session:
                    members.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    return members


def main() -> None:
    control_fd, cluster_id = int(sys.argv[1]), sys.argv[2]
    control = socket.socket(fileno=control_fd)
    # Import the worker's code once here, so that every forked worker starts with it loaded.
    from jupyter_raylite.core import worker  # noqa: F401
    Zygote(control, cluster_id).serve()


if __name__ == "__main__":
    main()
