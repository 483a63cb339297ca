"""Read-your-writes positions: the latest log position each tenant's writes reached. A
client reads after its own latest write; clients that share one tracker read after each
other's writes too."""

from __future__ import annotations

import threading

from .results import LogPosition


class PositionTracker:
    """The highest position observed per tenant. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._positions: dict[str, LogPosition] = {}

    def observe(self, tenant: str, position: LogPosition) -> None:
        """Records `position` if it is past the tenant's current one (same partition)."""
        with self._lock:
            current = self._positions.get(tenant)
            if current is None or current.partition != position.partition or position.offset > current.offset:
                self._positions[tenant] = position

    def get(self, tenant: str) -> LogPosition | None:
        with self._lock:
            return self._positions.get(tenant)
