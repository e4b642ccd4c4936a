"""The projector is woken by PostgreSQL's NOTIFY when events are written, rather
than by its next poll; the LISTEN connection survives being cut."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from domain.service import Duban
from projections.runner import Follower, ledger_projection
from projections.wakeup import StoreWakeup, listen_for_writes
from tests.integration.county import County, build_county, opened
from tests.support import postgres_connection, postgres_schema, sqlite_env

#: Far beyond the test: a follower that processes anything did not get there by polling.
NEVER = 3600.0


def until(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    """Watch (bounded) for a condition; waking nobody."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


class CountingFollower(Follower):
    """A follower that counts the steps it has finished."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.steps_done = 0
        self.lock = threading.Lock()

    def step(self, stop: int | None = None) -> int:
        done = super().step(stop)
        with self.lock:
            self.steps_done += 1
        return done


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    with postgres_schema() as env:
        yield env


def file_one(app: Duban, county: County, check_item: str) -> int:
    recorded = app.file_finding(
        unit_id=county.village_a, category="missing", source="inspection", severity="general",
        check_item=check_item, description="缺失", actor=county.inspector,
    )  # fmt: skip
    assert recorded.position is not None
    return recorded.position


def test_a_follower_is_woken_by_a_write_from_another_application_object(postgres: dict[str, str]) -> None:
    with opened(postgres) as projector_app, opened(postgres) as writer:
        county = build_county(writer)
        projection = ledger_projection(postgres)
        follower = CountingFollower(projector_app, projection, poll_interval=NEVER)
        follower.catch_up()
        wakeup = listen_for_writes(projector_app, [follower])
        assert wakeup is not None
        try:
            # It wakes the (not yet started) follower once on listening: the
            # thread's first step is followed by a second, then it waits.
            assert wakeup.listening.wait(20)
            follower.start()
            assert until(lambda: follower.steps_done >= 2)
            # Nothing else will wake it for an hour but a notification.
            position = file_one(writer, county, "家庭成员信息")
            assert until(lambda: follower.position >= position), "the follower was not woken by NOTIFY"
            assert wakeup.notifications >= 1
            assert projection.view.max_tracking_id(projector_app.name) >= position
            assert follower.error is None
        finally:
            wakeup.stop()
            follower.stop()
            projection.view.datastore.close()


def test_the_listen_connection_reconnects_after_being_cut(postgres: dict[str, str]) -> None:
    with opened(postgres) as projector_app, opened(postgres) as writer:
        county = build_county(writer)
        projection = ledger_projection(postgres)
        follower = Follower(projector_app, projection, poll_interval=NEVER)
        follower.catch_up()
        wakeup = StoreWakeup(projector_app, follower.wake, reconnect_delay=0.1, check_every=0.2).start()
        try:
            assert wakeup.listening.wait(20)
            follower.start()
            pid = wakeup.backend_pid()
            assert pid is not None
            with postgres_connection() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            assert until(lambda: wakeup.listens >= 2 and wakeup.listening.is_set()), "it did not listen again"
            assert wakeup.backend_pid() != pid
            seen = wakeup.notifications
            position = file_one(writer, county, "危房改造台账")
            assert until(lambda: wakeup.notifications > seen), "no notification after reconnecting"
            assert until(lambda: follower.position >= position)
            assert follower.error is None
        finally:
            wakeup.stop()
            follower.stop()
            projection.view.datastore.close()
    assert not wakeup.listening.is_set()


def test_sqlite_has_no_notifications_so_followers_poll(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with opened(sqlite_env(tmp_path)) as app:
        assert listen_for_writes(app, []) is None
        with pytest.raises(ValueError):
            StoreWakeup(app, lambda: None)
