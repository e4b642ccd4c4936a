"""The inbox (站内信): message events in, rows out; who sees what and how many
are unread; a replayed position is rejected; a rebuild equals the live view.
Every test runs on SQLite and on PostgreSQL (``store_env``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from domain.events import CADRE, UNIT
from domain.message import AlreadyRead, NotARecipient, message_id
from domain.rules.rulebook import Rules
from domain.service import Duban
from projections.inbox_query import InboxQuery
from projections.runner import Follower, inbox_projection
from tests.integration.county import County, local

View = tuple[Follower, InboxQuery]


@pytest.fixture
def inbox(app: Duban, store_env: dict[str, str]) -> Iterator[View]:
    """The inbox's follower (small batches, to exercise catching up in steps) and its query."""
    projection = inbox_projection(store_env)
    follower = Follower(app, projection, batch_size=3, poll_interval=0.05)
    try:
        yield follower, InboxQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


def rows_of(query: InboxQuery, table: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "table"} for r in query.all_rows() if r["table"] == table]


def send(app: Duban, c: County, purpose: str, subject: UUID, *qualifiers: object, finding: bool = True,
         units: tuple[UUID, ...] = (), users: tuple[UUID, ...] = (), title: str = "整改通知") -> UUID:  # fmt: skip
    key = message_id(purpose, subject, *qualifiers)
    app.send_message(
        message_id=key, county_id=c.county_id, purpose=purpose, title=title, body=f"{title}：请按期整改",
        unit_ids=units, user_ids=users, finding_id=subject if finding else None,
    )  # fmt: skip
    return key


def caught_up(follower: Follower) -> None:
    follower.catch_up()
    assert follower.position == follower.app.position()


def counts(query: InboxQuery, c: County) -> dict[str, int]:
    """Unread counts of the county's people, each acting in their own role."""
    return {
        "unit_a": query.unread_count(c.unit_a.user_id, str(c.village_a), UNIT),
        "clerk": query.unread_count(str(c.non_cadre_id), str(c.village_a), UNIT),
        "cadre": query.unread_count(str(c.cadre_id), str(c.village_a), CADRE),
        "unit_b": query.unread_count(c.unit_b.user_id, str(c.village_b), UNIT),
        "town": query.unread_count(c.town_user.user_id, str(c.town_id), UNIT),
        "command": query.unread_count(c.command.user_id, str(c.office_id), c.command.role),
        "inspector": query.unread_count(c.inspector.user_id, str(c.office_id), c.inspector.role),
    }


# Events in, rows out
def test_each_message_event_adds_its_rows(app: Duban, county: County, inbox: View) -> None:
    follower, query = inbox
    c = county
    f = c.file()
    sent_at = c.clock().isoformat()
    m = send(app, c, "notice", f, 1, units=(c.village_a,), users=(c.cadre_id,))
    caught_up(follower)
    assert rows_of(query, "inbox_messages") == [
        {
            "message_id": str(m), "county_id": str(c.county_id), "purpose": "notice", "finding_id": str(f),
            "title": "整改通知", "body": "整改通知：请按期整改", "sent_at": sent_at,
        }
    ]  # fmt: skip
    assert {(r["recipient_kind"], r["recipient_id"]) for r in rows_of(query, "inbox_recipients")} == {
        ("unit", str(c.village_a)), ("user", str(c.cadre_id)),
    }  # fmt: skip
    assert rows_of(query, "inbox_reads") == [] and rows_of(query, "inbox_deliveries") == []

    # Sending it again records nothing, so the view has nothing new either.
    assert app.send_message(
        message_id=m, county_id=c.county_id, purpose="notice", title="整改通知", body="", unit_ids=[c.village_a]
    ).position is None  # fmt: skip

    unit, cadre = f"unit:{c.village_a}", f"user:{c.cadre_id}"
    c.clock.advance(minutes=1)
    app.record_delivery(m, "inbox", unit, True, "已进入站内信")
    app.record_delivery(m, "webhook", unit, False, "连接超时")
    c.clock.advance(minutes=5)
    retried_at = c.clock().isoformat()
    app.record_delivery(m, "webhook", unit, True, "HTTP 200")
    app.record_delivery(m, "email", cadre, False, "未设置邮箱")
    caught_up(follower)
    assert [
        (d["channel"], d["recipient"], d["attempt"], d["succeeded"], d["detail"]) for d in query.deliveries(str(m))
    ] == [
        ("email", cadre, 1, False, "未设置邮箱"),
        ("inbox", unit, 1, True, "已进入站内信"),
        ("webhook", unit, 1, False, "连接超时"),
        ("webhook", unit, 2, True, "HTTP 200"),
    ]  # fmt: skip
    assert query.deliveries(str(m))[-1]["at"] == retried_at
    assert {d["county_id"] for d in rows_of(query, "inbox_deliveries")} == {str(c.county_id)}

    c.clock.set(local(2026, 3, 3, 8, 30))
    app.mark_message_read(m, c.unit_a)
    app.mark_message_read(m, app.actor(c.cadre_id, CADRE))
    caught_up(follower)
    assert rows_of(query, "inbox_reads") == sorted(
        (
            {"message_id": str(m), "user_id": user, "county_id": str(c.county_id), "read_at": c.clock().isoformat()}
            for user in (c.unit_a.user_id, str(c.cadre_id))
        ),
        key=lambda r: r["user_id"],
    )
    message = query.message(str(m))
    assert message is not None
    assert (message["unit_ids"], message["user_ids"]) == ([str(c.village_a)], [str(c.cadre_id)])
    assert {r["user_id"] for r in message["read_by"]} == {c.unit_a.user_id, str(c.cadre_id)}
    assert query.message(str(message_id("notice", f, 99))) is None

    # Every row of every table carries the county.
    assert {r["county_id"] for r in query.all_rows()} == {str(c.county_id)}


# Who sees what
def test_unread_counts_per_person_and_role(app: Duban, county: County, inbox: View) -> None:
    follower, query = inbox
    c = county
    f = c.file()
    caught_up(follower)
    assert set(counts(query, c).values()) == {0}

    notice = send(app, c, "notice", f, 1, units=(c.village_a,), users=(c.cadre_id,))
    c.clock.advance(hours=1)
    reminder = send(app, c, "reminder", f, 1, 3, units=(c.village_a,), title="整改到期提醒")
    c.clock.advance(hours=1)
    proposal = send(app, c, "escalation_proposal", f, units=(c.office_id,), title="移交纪检建议")
    caught_up(follower)
    # The unit's users see the unit's messages; the cadre only the one naming them;
    # another village, the town above and the inspector in the office see none of them.
    assert counts(query, c) == {"unit_a": 2, "clerk": 2, "cadre": 1, "unit_b": 0, "town": 0, "command": 1, "inspector": 0}

    page = query.messages_for(c.unit_a.user_id, str(c.village_a), UNIT)
    assert [r["message_id"] for r in page.rows] == [str(reminder), str(notice)]  # newest first
    assert [r["is_read"] for r in page.rows] == [False, False]
    assert page.total == 2 and page.pages == 1
    cadre_page = query.messages_for(str(c.cadre_id), str(c.village_a), CADRE)
    assert [r["message_id"] for r in cadre_page.rows] == [str(notice)]
    assert query.messages_for(c.unit_b.user_id, str(c.village_b), UNIT).rows == []
    command_page = query.messages_for(c.command.user_id, str(c.office_id), c.command.role)
    assert [(r["message_id"], r["purpose"]) for r in command_page.rows] == [(str(proposal), "escalation_proposal")]

    # Reading is per person: the clerk of the same unit still has it unread.
    app.mark_message_read(notice, c.unit_a)
    caught_up(follower)
    assert counts(query, c) == {"unit_a": 1, "clerk": 2, "cadre": 1, "unit_b": 0, "town": 0, "command": 1, "inspector": 0}
    rows = query.messages_for(c.unit_a.user_id, str(c.village_a), UNIT).rows
    assert [(r["message_id"], r["is_read"]) for r in rows] == [(str(reminder), False), (str(notice), True)]
    assert rows[1]["read_at"] == c.clock().isoformat()
    assert [r["is_read"] for r in query.messages_for(str(c.non_cadre_id), str(c.village_a), UNIT).rows] == [
        False, False,
    ]  # fmt: skip

    # The domain refuses a second read and anyone not addressed: the view changes no further.
    before = query.all_rows()
    with pytest.raises(AlreadyRead):
        app.mark_message_read(notice, c.unit_a)
    with pytest.raises(NotARecipient):
        app.mark_message_read(notice, c.unit_b)
    caught_up(follower)
    assert query.all_rows() == before

    # One message addressed to a person twice over (by name and by unit) counts once.
    both = send(app, c, "rejected", f, 2, units=(c.village_a,), users=(c.unit_a.user_id,), title="退回整改通知")
    caught_up(follower)
    assert counts(query, c)["unit_a"] == 2
    page = query.messages_for(c.unit_a.user_id, str(c.village_a), UNIT, page=1, per_page=2)
    assert ([r["message_id"] for r in page.rows], page.total, page.pages) == ([str(both), str(reminder)], 3, 2)
    page = query.messages_for(c.unit_a.user_id, str(c.village_a), UNIT, page=2, per_page=2)
    assert [r["message_id"] for r in page.rows] == [str(notice)]


# Replays are rejected
def test_a_replayed_position_is_rejected_and_changes_nothing(app: Duban, county: County, inbox: View) -> None:
    follower, query = inbox
    c = county
    f = c.file()
    m = send(app, c, "notice", f, 1, units=(c.village_a,), users=(c.cadre_id,))
    app.record_delivery(m, "inbox", f"unit:{c.village_a}", True, "已进入站内信")
    app.mark_message_read(m, c.unit_a)
    app.adopt_rules(c.county_id, Rules(overdue_points=Decimal("1")), date(2026, 4, 1), c.command)
    follower.catch_up()
    head = follower.position
    assert head == app.position()
    before = query.all_rows()

    projection = follower.projection
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    by_kind = {type(app.mapper.to_domain_event(n)).__qualname__: n for n in notifications}
    replays = [by_kind[k] for k in ("Message.Sent", "Message.DeliveryAttempted", "Message.Read")]

    for notification in replays:
        event = app.mapper.to_domain_event(notification)
        for position in (notification.id, head):
            with pytest.raises(IntegrityError):
                projection.process_event(event, Tracking(app.name, position))
            with pytest.raises(IntegrityError):
                projection.process_batch([(event, Tracking(app.name, position))])
    with pytest.raises(IntegrityError):
        projection.process_batch([], caught_up_to=Tracking(app.name, head))
    # A batch that starts beyond the head but ends on a replayed position is refused whole.
    sent = app.mapper.to_domain_event(replays[0])
    with pytest.raises(IntegrityError):
        projection.process_batch([(sent, Tracking(app.name, head + 1)), (sent, Tracking(app.name, replays[0].id))])
    assert query.all_rows() == before
    assert follower.position == head
    assert follower.catch_up() == 0
    assert query.all_rows() == before


# Rebuild equals live
def test_rebuild_equals_live(app: Duban, county: County, inbox: View) -> None:
    follower, query = inbox
    c = county
    follower.step()  # the org chart only: of no interest, the head is recorded
    a, b = c.file(), c.file(unit_id=c.village_b, check_item="危房改造台账")
    notice_a = send(app, c, "notice", a, 1, units=(c.village_a,), users=(c.cadre_id,))
    notice_b = send(app, c, "notice", b, 1, units=(c.village_b,))
    follower.step()
    for unit, m in ((c.village_a, notice_a), (c.village_b, notice_b)):
        app.record_delivery(m, "inbox", f"unit:{unit}", True, "已进入站内信")
        app.record_delivery(m, "webhook", f"unit:{unit}", False, "连接超时")
    c.clock.advance(days=1)
    app.mark_message_read(notice_a, c.unit_a)
    follower.step()
    app.record_delivery(notice_a, "webhook", f"unit:{c.village_a}", True, "HTTP 200")
    reminder = send(app, c, "reminder", a, 1, 3, units=(c.village_a,), title="整改到期提醒")
    app.mark_message_read(notice_b, c.unit_b)
    app.issue_notice(a, c.inspector)  # a ledger event between inbox events
    plain = send(app, c, "escalation_proposal", a, finding=False, units=(c.office_id,), title="移交纪检建议")
    app.mark_message_read(plain, c.command)
    app.mark_message_read(reminder, app.actor(c.non_cadre_id, UNIT))
    app.record_delivery(notice_a, "email", f"user:{c.cadre_id}", False, "未设置邮箱")
    follower.catch_up()
    assert follower.position == app.position()

    live = query.all_rows()
    assert len([r for r in live if r["table"] == "inbox_messages"]) == 4
    assert len([r for r in live if r["table"] == "inbox_reads"]) == 4
    assert len([r for r in live if r["table"] == "inbox_deliveries"]) == 6
    assert [r["finding_id"] for r in rows_of(query, "inbox_messages") if r["message_id"] == str(plain)] == [None]

    follower.projection.view.drop_view(app.name)
    assert follower.position == 0
    assert query.all_rows() == []
    follower.catch_up()
    assert query.all_rows() == live

    for batch_size in (1, 1000):
        follower.projection.view.drop_view(app.name)
        Follower(app, follower.projection, batch_size=batch_size).catch_up()
        assert query.all_rows() == live


def test_the_follower_records_the_head_past_events_of_no_interest(app: Duban, county: County, inbox: View) -> None:
    follower, query = inbox
    c = county
    position = c.app.issue_notice(c.file(), c.inspector).position
    assert position is not None
    assert follower.wait_for(position, timeout=0.1) is False
    follower.catch_up()
    assert follower.position == position
    assert query.all_rows() == []
