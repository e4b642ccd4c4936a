"""Fixtures of the background-work tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis import Redis

from tests.workers.support import REDIS_URL


@pytest.fixture
def redis() -> Iterator[Redis]:
    """A real, empty Redis database (15), flushed around the test (as RQ's own suite does)."""
    connection = Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()
