"""A view stored under an earlier schema version is emptied when it is opened
and rebuilt from the log; a view of the current version is left alone."""

from __future__ import annotations

from projections.runner import Follower, inbox_projection, ledger_projection
from tests.integration.county import build_county, opened


def _set_version(view, name: str, version: int | None) -> None:  # type: ignore[no-untyped-def]
    with view.writing() as rows:
        rows._cursor.execute(  # noqa: SLF001
            f"DELETE FROM {view.qualified('view_versions')} WHERE view = {view.placeholder}", (name,)
        )
        if version is not None:
            rows._cursor.execute(  # noqa: SLF001
                f"INSERT INTO {view.qualified('view_versions')} (view, version)"
                f" VALUES ({view.placeholder}, {view.placeholder})",
                (name, version),
            )


def test_an_outdated_view_is_emptied_on_opening_and_rebuilds_to_the_same_rows(store_env):
    from projections.ledger_query import LedgerQuery

    with opened(store_env) as app:
        county = build_county(app)
        county.file()
        first = ledger_projection(store_env)
        Follower(app, first).catch_up()
        before = LedgerQuery(first.view).all_rows()
        _set_version(first.view, "ledger", 1)  # as stored before end-of-day copies existed
        first.view.datastore.close()

        reopened = ledger_projection(store_env)
        assert reopened.view.max_tracking_id(app.name) in (None, 0)
        assert LedgerQuery(reopened.view).all_rows() == []
        Follower(app, reopened).catch_up()
        assert LedgerQuery(reopened.view).all_rows() == before
        reopened.view.datastore.close()


def test_a_current_view_and_one_stored_before_versions_existed_are_kept(store_env):
    with opened(store_env) as app:
        build_county(app)
        inbox = inbox_projection(store_env)
        Follower(app, inbox).catch_up()
        position = inbox.view.max_tracking_id(app.name)
        assert position
        _set_version(inbox.view, "inbox", None)  # written before versions were recorded: version 1
        inbox.view.datastore.close()
        for _ in range(2):
            again = inbox_projection(store_env)
            assert again.view.max_tracking_id(app.name) == position
            again.view.datastore.close()


def test_a_new_view_is_recorded_at_the_current_version_without_a_reset(store_env, caplog):
    with opened(store_env) as app:
        build_county(app)
        fresh = ledger_projection(store_env)
        assert "earlier schema" not in caplog.text
        assert fresh.view.reset_if_outdated("ledger") is False
        with fresh.view.reading() as rows:
            found = rows.all(f"SELECT version FROM {fresh.view.qualified('view_versions')} WHERE view = ?", ("ledger",))
        assert [int(r["version"]) for r in found] == [2]
        fresh.view.datastore.close()
