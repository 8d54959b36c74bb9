"""The head's end of a worker connection: framed, non-blocking, with an outbox.

The head must never block on a worker.  With pipelined actor calls both sides can have a full
socket buffer at once: the head writing calls, the actor writing results.  If both writes
blocked, neither side would read again.  So the head writes only what the socket takes now and
keeps the rest in an outbox, flushed when the selector reports the socket writable; and it
reads whatever has arrived, keeping a partial frame for the next read.

Frames use the format of ``multiprocessing.connection.Connection`` (a 4-byte big-endian signed
length, then the bytes), which is what the worker's end speaks.
"""

from __future__ import annotations

import socket
import struct
from collections import deque

_HEADER = struct.Struct("!i")
_READ_SIZE = 1 << 18


class Channel:
    def __init__(self, sock: socket.socket):
        sock.setblocking(False)
        self.sock = sock
        self.closed = False
        self._inbox = bytearray()
        self._outbox: deque[memoryview] = deque()

    def fileno(self) -> int:
        return self.sock.fileno()

    @property
    def wants_write(self) -> bool:
        return bool(self._outbox)

    def send(self, frame: bytes) -> None:
        """Queue a frame and write as much as the socket takes without blocking."""
        if len(frame) >= 2**31:
            raise ValueError("message too large for a worker connection (2 GiB)")
        self._outbox.append(memoryview(_HEADER.pack(len(frame))))
        self._outbox.append(memoryview(frame))
        self.flush()

    def flush(self) -> None:
        outbox = self._outbox
        try:
            while outbox:
                sent = self.sock.send(outbox[0])
                if sent == len(outbox[0]):
                    outbox.popleft()
                else:
                    outbox[0] = outbox[0][sent:]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:  # the worker is gone; its death is handled when the read sees EOF
            outbox.clear()

    def receive(self) -> list[bytes]:
        """Every complete frame that has arrived; sets ``closed`` at end of stream."""
        while True:
            try:
                chunk = self.sock.recv(_READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                break
            self._inbox += chunk
            if len(chunk) < _READ_SIZE:
                break
        return self._frames()

    def _frames(self) -> list[bytes]:
        frames, buffer, start = [], self._inbox, 0
        while len(buffer) - start >= 4:
            (size,) = _HEADER.unpack_from(buffer, start)
            if len(buffer) - start - 4 < size:
                break
            frames.append(bytes(buffer[start + 4:start + 4 + size]))
            start += 4 + size
        if start:
            del buffer[:start]
        return frames

    def close(self) -> None:
        self.closed = True
        self._outbox.clear()
        self.sock.close()
