"""A rebuild's fast paths give the rows the live path gives, for every view:
PostgreSQL's bulk load (COPY, and COPY into a staging table for an upsert or an
update) and the follower's read-ahead thread. A generated county (every kind of
event) is followed in small live batches; each view is then dropped and rebuilt
with the fast paths forced on, and every table must hold exactly the same rows.
Also: an error on either side of the read-ahead stops it and is raised."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from bench.generate import generate
from projections import runner
from projections.postgres import PostgresRows
from projections.runner import PROJECTIONS, Follower
from projections.storage import open_application


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One generated county per backend, shared by the module's tests (it takes seconds)."""
    from tests.support import postgres_schema, sqlite_env

    stores: dict[str, Any] = {"sqlite": sqlite_env(tmp_path_factory.mktemp("bulk"))}
    with postgres_schema() as postgres:
        stores["postgres"] = postgres
        for env in stores.values():
            generate(env, counties=1, target_events_per_county=2500)
        yield stores


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, generated: dict[str, Any]) -> dict[str, str]:
    return generated[request.param]


def dump(view: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the view, in a fixed order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with view.reading() as rows:
        for name in view.table_names:
            found = rows.all(f"SELECT * FROM {{{name}}}")
            tables[name] = sorted((tuple(dict(r).items()) for r in found), key=repr)
    return tables


#: Views the generator writes nothing to (no messages, history reads or verification
#: runs): their own tests rebuild them; here they only show the fast paths do no harm.
NOT_GENERATED = ("inbox", "history_access", "verifications")


def follow_live(follower: Follower) -> None:
    """As the live view was built: batch after batch of at most ``batch_size``, no read-ahead."""
    while follower.step():
        pass


@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_a_rebuild_by_bulk_load_and_read_ahead_equals_the_live_view(
    name: str, store: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = open_application(store)
    projection = PROJECTIONS[name](store)
    try:
        projection.view.drop_view(app.name)
        monkeypatch.setattr(PostgresRows, "copies_from", None)  # the live path: statements in the pipeline
        follow_live(Follower(app, projection, batch_size=40))
        live = dump(projection.view)
        assert sum(map(len, live.values())) or name in NOT_GENERATED

        projection.view.drop_view(app.name)
        monkeypatch.setattr(PostgresRows, "copies_from", 1)  # every insert and update by COPY
        monkeypatch.setattr(runner, "INDEXLESS_REBUILD_FROM", 1)
        readers: list[str] = []
        original = runner.ReadAhead._read

        def counted(self: runner.ReadAhead) -> None:
            readers.append(threading.current_thread().name)
            original(self)

        monkeypatch.setattr(runner.ReadAhead, "_read", counted)
        rebuilt = Follower(app, projection, batch_size=40, catch_up_batch_size=300)
        rebuilt.catch_up()
        assert readers == [f"read-ahead-{name}"]
        assert rebuilt.position == app.recorder.max_notification_id()
        assert dump(projection.view) == live
    finally:
        projection.view.datastore.close()
        app.close()


class Failing(Exception):
    pass


@pytest.fixture
def emptied_ledger(store: dict[str, str]) -> Iterator[tuple[Any, Any]]:
    """The application and the ledger's projection, the view emptied."""
    app = open_application(store)
    projection = PROJECTIONS["ledger"](store)
    try:
        projection.view.drop_view(app.name)
        yield app, projection
    finally:
        projection.view.datastore.close()
        app.close()


def test_an_error_applying_a_batch_stops_the_read_ahead_and_resumes_the_garbage_collector(
    emptied_ledger: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A far-behind catch-up applies its batches with the collector paused
    (projections/collector.py) and resumes it however it ends."""
    app, projection = emptied_ledger
    collecting: list[bool] = []  # whether the collector ran automatically, batch by batch
    failing = [True]
    original = projection.process_batch

    def watched(items: Any, caught_up_to: Any = None) -> None:
        collecting.append(gc.isenabled())
        if failing[0] and len(collecting) == 3:
            raise Failing("the view's database went away")
        original(items, caught_up_to=caught_up_to)

    monkeypatch.setattr(projection, "process_batch", watched)
    with pytest.raises(Failing):
        Follower(app, projection, batch_size=40, catch_up_batch_size=100).catch_up()
    assert not any(t.name.startswith("read-ahead-") for t in threading.enumerate())
    assert collecting == [False, False, False] and gc.isenabled()
    # Two batches were committed, the third not: the view stands after the second.
    follower = Follower(app, projection, batch_size=40, catch_up_batch_size=100)
    assert 0 < follower.position
    failing[0] = False
    collecting.clear()
    follower.catch_up()
    assert follower.position == app.recorder.max_notification_id()
    assert collecting and not any(collecting[:-1])  # the last, a short live batch, may run with it on
    assert gc.isenabled()


def test_an_error_reading_ahead_is_raised_by_the_catch_up(
    emptied_ledger: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, projection = emptied_ledger
    reads: list[int] = []
    original = Follower.read_batch

    def failing_second(self: Follower, start: int, head: int, limit: int) -> Any:
        reads.append(start)
        if threading.current_thread().name.startswith("read-ahead-") and len(reads) == 2:
            raise Failing("the store's connection was lost")
        return original(self, start, head, limit)

    monkeypatch.setattr(Follower, "read_batch", failing_second)
    with pytest.raises(Failing):
        Follower(app, projection, batch_size=40, catch_up_batch_size=100).catch_up()
    assert not any(t.name.startswith("read-ahead-") for t in threading.enumerate())


def test_a_long_catch_up_refreshes_the_planner_statistics_as_the_tables_grow(
    emptied_ledger: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every time the events applied have doubled (from ``STATISTICS_FROM``), and once
    at the end: with the statistics of the empty tables, PostgreSQL's planner scanned
    the whole of a growing table for every batch."""
    app, projection = emptied_ledger
    refreshed: list[int] = []
    follower = Follower(app, projection, batch_size=40, catch_up_batch_size=100)
    monkeypatch.setattr(projection.view, "refresh_statistics", lambda: refreshed.append(follower.position))
    monkeypatch.setattr(runner, "STATISTICS_FROM", 200)
    monkeypatch.setattr(runner, "INDEXLESS_REBUILD_FROM", 1)
    follower.catch_up()
    assert len(refreshed) >= 4  # after 200, 400, 800 and 1,600 events, and at the end
    assert refreshed == sorted(refreshed) and refreshed[-1] == app.recorder.max_notification_id()
