"""The clock background work runs on.

In production it is the system clock. When ``DUBAN_CLOCK_KEY`` is set, every
process (policy follower, RQ workers, the test itself) reads the current
instant from that Redis key, so a test can move time forward by days and see
reminders, deadlines and escalations happen through real workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timezone

from domain.service import system_clock

CLOCK_KEY_VARIABLE = "DUBAN_CLOCK_KEY"


class RedisClock:
    def __init__(self, connection, key: str):  # type: ignore[no-untyped-def]
        self.connection = connection
        self.key = key

    def __call__(self) -> datetime:
        value = self.connection.get(self.key)
        if value is None:
            return system_clock()
        return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value).astimezone(timezone.utc)

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self.connection.set(self.key, instant.astimezone(timezone.utc).isoformat())


def clock_from_env(connection=None) -> Callable[[], datetime]:  # type: ignore[no-untyped-def]
    key = os.environ.get(CLOCK_KEY_VARIABLE)
    if not key:
        return system_clock
    if connection is None:
        from workers.queueing import redis_connection

        connection = redis_connection()
    return RedisClock(connection, key)
