"""PostgreSQL views share one connection pool per process: a process holding every
view holds one pool for them (and the store's), not one per view."""

from __future__ import annotations

import pytest

from projections import shared_pool
from projections.runner import PROJECTIONS
from tests.support import postgres_schema

pytestmark = pytest.mark.postgres


def test_every_view_in_a_process_reads_and_writes_through_one_pool() -> None:
    with postgres_schema() as env:
        pools_before = shared_pool.open_pools()
        projections = [make(env) for make in PROJECTIONS.values()]
        try:
            pools = {id(projection.view.datastore.pool) for projection in projections}
            assert len(pools) == 1
            assert shared_pool.open_pools() == pools_before + 1
            for projection in projections:
                with projection.view.reading() as rows:
                    assert rows.one("SELECT 1 AS one")["one"] == 1
            pool = projections[0].view.datastore.pool
            assert pool.get_stats()["pool_size"] <= pool.max_size
        finally:
            for projection in projections:
                projection.view.datastore.close()
        assert shared_pool.open_pools() == pools_before
        assert pool.closed


def test_closing_one_view_leaves_the_others_their_connections() -> None:
    with postgres_schema() as env:
        ledger, scores = PROJECTIONS["ledger"](env), PROJECTIONS["scores"](env)
        ledger.view.datastore.close()
        ledger.view.datastore.close()  # twice is the same as once: it must not take the scores' share
        with scores.view.reading() as rows:
            assert rows.one("SELECT 1 AS one")["one"] == 1
        pool = scores.view.datastore.pool
        assert not pool.closed
        scores.view.datastore.close()
        assert pool.closed


def test_views_of_different_schemas_do_not_share_a_pool() -> None:
    with postgres_schema() as first, postgres_schema() as second:
        a, b = PROJECTIONS["ledger"](first), PROJECTIONS["ledger"](second)
        try:
            assert a.view.datastore.pool is not b.view.datastore.pool
            assert a.view.datastore.schema != b.view.datastore.schema
        finally:
            a.view.datastore.close()
            b.view.datastore.close()


def test_a_view_opened_after_the_last_closed_gets_a_fresh_pool() -> None:
    with postgres_schema() as env:
        first = PROJECTIONS["ledger"](env)
        old_pool = first.view.datastore.pool
        first.view.datastore.close()
        again = PROJECTIONS["ledger"](env)
        try:
            assert again.view.datastore.pool is not old_pool
            with again.view.reading() as rows:
                assert rows.one("SELECT 1 AS one")["one"] == 1
        finally:
            again.view.datastore.close()


def test_a_view_that_fails_to_open_gives_its_share_of_the_pool_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from projections import storage

    def refused(*_args: object) -> None:
        raise RuntimeError("the view's tables could not be made")

    with postgres_schema() as env:
        pools_before = shared_pool.open_pools()
        monkeypatch.setattr(storage, "_reset_if_outdated", refused)
        with pytest.raises(RuntimeError):
            PROJECTIONS["ledger"](env)
        assert shared_pool.open_pools() == pools_before
