"""Shared fixtures: ``store_env`` runs a test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import postgres_schema, sqlite_env


@pytest.fixture(autouse=True, scope="session")
def files_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Printed documents and evidence files go to temporary folders, in this process and
    in the workers it starts (they inherit the environment), never into the checkout's var/."""
    import os

    folders = {"DUBAN_DOCUMENTS_DIR": "documents", "DUBAN_EVIDENCE_DIR": "evidence"}
    previous = {name: os.environ.get(name) for name in folders}
    for name, folder in folders.items():
        os.environ[name] = str(tmp_path_factory.mktemp(folder))
    yield
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_env(request: pytest.FixtureRequest, tmp_path) -> Iterator[dict[str, str]]:
    """The environment of a fresh, empty event store on each backend."""
    if request.param == "sqlite":
        yield sqlite_env(tmp_path)
    else:
        with postgres_schema() as env:
            yield env


#: Tests that share Redis database 15 (flushed around each) and start worker processes;
#: one of them stops the Redis server. ``make test`` runs them one after another
#: (``-m shared_redis``) beside the rest, which run on several processes.
SHARED_REDIS = ("tests/workers/", "tests/documents_flow/", "tests/processes/")


def pytest_itemcollected(item: pytest.Item) -> None:
    if item.nodeid.startswith(SHARED_REDIS):
        item.add_marker(pytest.mark.shared_redis)
