"""The audit chain view: every stored event hashed in log order, as stored;
a replayed position is refused; a rebuild gives exactly the live rows; the
head at any past position is the chain recomputed up to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain import audit
from domain.audit import GENESIS, event_digest, link
from domain.service import Duban
from projections.audit_chain import AuditChainQuery
from projections.runner import Follower, audit_projection
from tests.integration.county import County

View = tuple[Follower, AuditChainQuery]


@pytest.fixture
def chain(app: Duban, store_env: dict[str, str]) -> Iterator[View]:
    projection = audit_projection(store_env)
    follower = Follower(app, projection, batch_size=7, poll_interval=0.05)
    try:
        yield follower, AuditChainQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


def stored(app: Duban) -> list[Any]:
    return list(app.recorder.select_notifications(start=1, limit=1_000_000))


def recomputed(notifications: list[Any], upto: int | None = None) -> bytes:
    head = GENESIS
    for n in notifications:
        if upto is not None and n.id > upto:
            break
        head = link(head, n.id, event_digest(n.topic, n.originator_id, n.originator_version, n.state))
    return head


def test_every_stored_event_is_chained_in_log_order(app: Duban, county: County, chain: View) -> None:
    follower, query = chain
    county.file()
    county.file(check_item="家庭成员信息")
    follower.catch_up()
    notifications = stored(app)
    head = query.head()
    assert head.position == notifications[-1].id
    assert head.events == len(notifications)
    assert head.chain == recomputed(notifications).hex()
    first = query.recorded_at(notifications[0].id)
    assert first is not None and first.topic == notifications[0].topic
    assert query.position_of(str(notifications[3].originator_id), notifications[3].originator_version) == notifications[3].id


def test_the_digest_covers_the_state_as_stored(app: Duban, county: County, chain: View) -> None:
    """The store encrypts; the chain is over the cipher text, so it is checked without the key."""
    follower, query = chain
    county.file()
    follower.catch_up()
    last = stored(app)[-1]
    decrypted = app.mapper.cipher.decrypt(last.state) if app.mapper.cipher else last.state
    recorded = query.recorded_at(last.id)
    assert recorded is not None
    assert recorded.digest == event_digest(last.topic, last.originator_id, last.originator_version, last.state).hex()
    if app.mapper.cipher:
        assert recorded.digest != event_digest(last.topic, last.originator_id, last.originator_version, decrypted).hex()


def test_the_head_at_a_past_position(app: Duban, county: County, chain: View, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "CHECKPOINT_EVERY", 5)
    monkeypatch.setattr("projections.audit_chain.is_checkpoint", audit.is_checkpoint)
    follower, query = chain
    for n in range(4):
        county.file(check_item=f"检查项{n}")
    follower.catch_up()
    notifications = stored(app)
    assert len(query.checkpoints(limit=100)) >= 2
    for n in notifications[:: max(1, len(notifications) // 9)]:
        at = query.head_at(n.id)
        assert at is not None
        assert at.position == n.id
        assert at.chain == recomputed(notifications, upto=n.id).hex()
    assert query.head_at(notifications[-1].id + 1) is None  # not yet read that far


def test_a_replayed_position_is_refused(app: Duban, county: County, chain: View) -> None:
    follower, query = chain
    county.file()
    follower.catch_up()
    before = query.all_rows()
    notification = stored(app)[-1]
    with pytest.raises(IntegrityError):
        follower.projection.process_batch([(notification, Tracking(app.name, notification.id))])
    assert query.all_rows() == before


def test_a_rebuild_gives_exactly_the_live_rows(app: Duban, county: County, chain: View) -> None:
    follower, query = chain
    county.file()
    follower.catch_up()
    county.file(check_item="家庭成员信息")
    follower.catch_up()
    live = query.all_rows()
    follower.projection.view.drop_view(app.name)
    assert query.head().events == 0
    follower.catch_up()
    assert query.all_rows() == live
