"""Fixtures for the service tests: each runs on a fresh SQLite file and on a
fresh PostgreSQL schema (``store_env`` is parametrised over both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.service import Duban
from tests.integration.county import County, SaveSpy, build_county, opened


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[Duban]:
    with opened(store_env) as application:
        yield application


@pytest.fixture
def spy(app: Duban) -> SaveSpy:
    return SaveSpy(app)


@pytest.fixture
def county(app: Duban, spy: SaveSpy) -> County:
    return build_county(app)
