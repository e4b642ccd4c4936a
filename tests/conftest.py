"""Shared fixtures: ``store_env`` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import postgres_schema, sqlite_env


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, str]]:
    """The environment of a fresh, empty event store on each backend."""
    if request.param == "sqlite":
        yield sqlite_env(tmp_path)
    else:
        with postgres_schema() as env:
            yield env
