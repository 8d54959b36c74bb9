"""Resource sets: what a node has, what a task holds, and the arithmetic between them.

Amounts are kept in ten-thousandths (Ray's own fixed-point unit) so that fractional requests
such as ``num_cpus=0.1`` add up exactly instead of drifting with floating point.
"""

from __future__ import annotations

from dataclasses import dataclass

_UNIT = 10_000


def _fixed(amount: float) -> int:
    return round(amount * _UNIT)


@dataclass(frozen=True)
class Statistics:
    """A snapshot of one resource pool, for meters and ``available_resources()``."""

    total: dict[str, float]
    available: dict[str, float]


class ResourcePool:
    """The resources of one node; tasks acquire and release demands against it."""

    def __init__(self, total: dict[str, float]):
        self._total = {name: _fixed(v) for name, v in total.items()}
        self._available = dict(self._total)

    def fits(self, demand: dict[str, float]) -> bool:
        return all(_fixed(v) <= self._available.get(k, 0) for k, v in demand.items())

    def acquire(self, demand: dict[str, float]) -> None:
        """Take a demand; may drive amounts below zero (a worker resuming after ``get``)."""
        for k, v in demand.items():
            self._available[k] = self._available.get(k, 0) - _fixed(v)

    def release(self, demand: dict[str, float]) -> None:
        for k, v in demand.items():
            self._available[k] = self._available.get(k, 0) + _fixed(v)

    def statistics(self) -> Statistics:
        return Statistics(
            total={k: v / _UNIT for k, v in self._total.items()},
            available={k: max(v, 0) / _UNIT for k, v in self._available.items()},
        )
