"""Shared-memory segments for large objects: create once, map read-only anywhere, unlink once.

A large value is written by the process that produced it into one POSIX shared-memory segment
(a file in /dev/shm) named ``raylite_<cluster id>_<object id>``, readable and writable by the
owning user only.  Readers map it read-only, so numpy arrays come back zero-copy and immutable,
as in Ray.  The head unlinks the segment when no reference to the object is left; mappings
that are still open stay valid until their last view is garbage collected (POSIX semantics).

If the driver dies without cleaning up, the cluster's launcher unlinks every segment with the
cluster's prefix; a later cluster also removes segments of clusters whose driver is dead.
"""

from __future__ import annotations

import mmap
import os
import re
import tempfile
from dataclasses import dataclass

SEGMENT_PREFIX = "raylite_"
# Buffers start on cache-line boundaries so numpy sees aligned data.
_ALIGN = 64
_SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


@dataclass(frozen=True)
class SegmentLayout:
    """Where the pickle stream and each out-of-band buffer sit inside a segment."""

    name: str
    size: int
    meta_len: int
    buffers: tuple[tuple[int, int], ...]  # (offset, length)


def segment_name(cluster_id: str, object_id: str) -> str:
    return f"{SEGMENT_PREFIX}{cluster_id}_{object_id}"


def _aligned(n: int) -> int:
    return (n + _ALIGN - 1) // _ALIGN * _ALIGN


# The largest object this process may write (the cluster's object_store_memory); set by the
# runtime in the driver and in each worker.  None: no limit but /dev/shm's own.
capacity: int | None = None


def write_segment(name: str, meta: bytes, buffers: list[memoryview]) -> SegmentLayout:
    """Write a pickle stream and its buffers into a new segment; return how to read it back."""
    offset = _aligned(len(meta))
    spans = []
    for buf in buffers:
        spans.append((offset, buf.nbytes))
        offset = _aligned(offset + buf.nbytes)
    size = max(offset, 1)
    if capacity is not None and size > capacity:
        from jupyter_raylite.exceptions import ObjectStoreFullError
        raise ObjectStoreFullError(
            f"An object of {size / 2**20:,.1f} MiB is larger than the whole object store "
            f"({capacity / 2**20:,.1f} MiB). Raise object_store_memory in ray.init() (or "
            "%raylite init --object-store-memory BYTES), or split the data into smaller "
            "objects.")
    path = os.path.join(_SHM_DIR, name)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Left by an earlier attempt of the same task whose worker died before reporting:
        # nobody can have read it, so it is replaced.
        os.unlink(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        # Allocating the pages up front is faster than growing the file while writing, and
        # turns "no room in /dev/shm" into a clear error here instead of a SIGBUS later.
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            from jupyter_raylite.exceptions import ObjectStoreFullError
            raise ObjectStoreFullError(
                f"No room in {_SHM_DIR} for an object of {size / 2**20:.1f} MiB ({exc.strerror})."
                " Free objects you no longer need (drop their ObjectRefs), or give the machine "
                "more shared memory (in Docker: --shm-size).") from exc
        # pwrite copies straight from the caller's buffer into the page cache: one copy, no
        # page faults on a fresh mapping.
        _pwrite_all(fd, meta, 0)
        for buf, (start, _) in zip(buffers, spans):
            _pwrite_all(fd, buf.cast("B") if buf.format != "B" else buf, start)
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(fd)
    return SegmentLayout(name, size, len(meta), tuple(spans))


def _pwrite_all(fd: int, data, offset: int) -> None:
    view = memoryview(data)
    while view.nbytes:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def read_segment(layout: SegmentLayout) -> tuple[memoryview, list[memoryview]]:
    """Map a segment read-only; return views of the pickle stream and of each buffer."""
    path = os.path.join(_SHM_DIR, layout.name)
    fd = os.open(path, os.O_RDONLY)
    try:
        mapping = mmap.mmap(fd, layout.size, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    view = memoryview(mapping)
    meta = view[:layout.meta_len]
    return meta, [view[start:start + length] for start, length in layout.buffers]


def unlink_segment(name: str) -> None:
    try:
        os.unlink(os.path.join(_SHM_DIR, name))
    except FileNotFoundError:
        pass


def unlink_cluster_segments(cluster_id: str) -> int:
    """Remove every segment of one cluster; returns how many there were."""
    prefix = f"{SEGMENT_PREFIX}{cluster_id}_"
    removed = 0
    for entry in os.listdir(_SHM_DIR):
        if entry.startswith(prefix):
            unlink_segment(entry)
            removed += 1
    return removed


_CLUSTER_RE = re.compile(rf"^{SEGMENT_PREFIX}(\d+)x[0-9a-f]+_")


def remove_orphaned_segments() -> int:
    """Unlink segments left by clusters whose driver process no longer exists."""
    removed = 0
    for entry in os.listdir(_SHM_DIR):
        match = _CLUSTER_RE.match(entry)
        if match and not _pid_alive(int(match.group(1))):
            unlink_segment(entry)
            removed += 1
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
