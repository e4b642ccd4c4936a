"""PostgreSQL views' transactions: a view's commit does not wait for the WAL flush
(a view is rebuilt from the log), while the event store's commits still do."""

from __future__ import annotations

import pytest

from projections.runner import PROJECTIONS
from projections.storage import open_application
from tests.support import postgres_schema

pytestmark = pytest.mark.postgres


def test_a_view_commits_without_waiting_for_the_disk_and_the_store_still_waits() -> None:
    with postgres_schema() as env:
        app = open_application(env)
        projection = PROJECTIONS["ledger"](env)
        try:
            with projection.view.writing() as rows:
                assert rows.one("SHOW synchronous_commit")["synchronous_commit"] == "off"
            with projection.view.reading() as rows:
                assert rows.one("SHOW synchronous_commit")["synchronous_commit"] == "on"
            with app.recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()["synchronous_commit"] == "on"
        finally:
            projection.view.datastore.close()
            app.close()
