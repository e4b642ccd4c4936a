"""Fixtures for the projection tests: a Duban application with a small county,
and the ledger view beside it, on a fresh SQLite file and on a fresh PostgreSQL
schema (``store_env`` is parametrised over both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.service import Duban
from projections.ledger_query import LedgerQuery
from projections.runner import Follower
from tests.integration.county import County, build_county, ledger, opened


@pytest.fixture
def app(store_env: dict[str, str]) -> Iterator[Duban]:
    with opened(store_env) as application:
        yield application


@pytest.fixture
def county(app: Duban) -> County:
    return build_county(app)


@pytest.fixture
def view(app: Duban, store_env: dict[str, str]) -> Iterator[tuple[Follower, LedgerQuery]]:
    """The ledger's follower (small batches, to exercise catching up in steps) and its query."""
    with ledger(app, store_env) as pair:
        yield pair
