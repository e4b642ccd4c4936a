"""Shared fixtures: ``store_env`` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import postgres_schema, sqlite_env


@pytest.fixture(autouse=True, scope="session")
def documents_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Printed documents go to a temporary folder, in this process and in the workers it
    starts (they inherit the environment), never into the checkout's var/documents."""
    import os

    previous = os.environ.get("DUBAN_DOCUMENTS_DIR")
    os.environ["DUBAN_DOCUMENTS_DIR"] = str(tmp_path_factory.mktemp("documents"))
    yield
    if previous is None:
        os.environ.pop("DUBAN_DOCUMENTS_DIR", None)
    else:
        os.environ["DUBAN_DOCUMENTS_DIR"] = previous


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, str]]:
    """The environment of a fresh, empty event store on each backend."""
    if request.param == "sqlite":
        yield sqlite_env(tmp_path)
    else:
        with postgres_schema() as env:
            yield env
