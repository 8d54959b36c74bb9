"""Names for the cells that submitted work.  Events carry the id of the notebook request that
submitted a task (see core/events.py); a reader knows the cell as "In [12]"."""

from __future__ import annotations

_LIMIT = 10_000
_labels: dict[str, str] = {}


def remember(cell_id: str | None, label: str) -> None:
    if cell_id is None or _labels.get(cell_id) == label:
        return
    _labels[cell_id] = label
    if len(_labels) > _LIMIT:  # dicts keep insertion order: drop the oldest
        del _labels[next(iter(_labels))]


def label(cell_id: str | None) -> str:
    if cell_id is None:
        return "outside any cell"
    return _labels.get(cell_id) or f"request {cell_id[:8]}"


def remember_running(shell, cell_id: str | None) -> None:
    """Name the cell being executed by its prompt number.  IPython counts the cell before it
    runs it, so while it runs, its own number is one less than the shell's counter."""
    remember(cell_id, f"In [{shell.execution_count - 1}]")
