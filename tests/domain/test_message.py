"""Messages (通知) and contacts: sent once, each delivery attempt a fact, read by recipients."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from domain.errors import NotPermitted, WrongCounty
from domain.events import SYSTEM_ACTOR
from domain.message import (
    AlreadyDelivered,
    AlreadyRead,
    Message,
    NoRecipients,
    NotARecipient,
    UnknownChannel,
    UnknownPurpose,
    message_id,
)
from domain.org import InvalidEmail, InvalidWebhook, Unit, User
from tests.domain.helpers import assert_event, at, emitted, refused


def send(world, **overrides) -> Message:
    values = dict(
        message_id=message_id("notice", world.village.id, 1),
        county_id=world.county.id,
        purpose="notice",
        title=" 整改通知 ",
        body="请于2026-03-16前完成整改。",
        unit_ids=(world.village.id, world.village.id),
        user_ids=(UUID(world.cadre.user_id),),
        actor=SYSTEM_ACTOR,
        now=at(),
    )
    values.update(overrides)
    return Message.send(**values)


def test_a_message_id_is_decided_by_what_it_is_about():
    finding = uuid4()
    assert message_id("reminder", finding, 2, 3) == message_id("reminder", finding, 2, 3)
    assert message_id("reminder", finding, 2, 3) != message_id("reminder", finding, 2, 1)
    assert message_id("reminder", finding, 2, 3) != message_id("notice", finding, 2, 3)


def test_a_message_is_sent_to_units_and_users(world):
    message = send(world)
    [event] = emitted(message)
    assert_event(
        event, Message.Sent, actor=SYSTEM_ACTOR, now=at(), aggregate=message,
        county_id=world.county.id, purpose="notice", finding_id=None,
        unit_ids=[world.village.id], user_ids=[UUID(world.cadre.user_id)],
        title="整改通知", body="请于2026-03-16前完成整改。",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"purpose": "gossip"}, UnknownPurpose),
        ({"unit_ids": (), "user_ids": ()}, NoRecipients),
    ],
)
def test_a_message_needs_a_known_purpose_and_recipients(world, overrides, error):
    with pytest.raises(error):
        send(world, **overrides)


def test_only_the_system_or_supervisors_of_the_county_send(world):
    with pytest.raises(NotPermitted):
        send(world, actor=world.village_unit)
    with pytest.raises(WrongCounty):
        send(world, actor=world.foreign_command)


def test_each_attempt_is_recorded_and_a_success_is_final(world):
    message = send(world)
    message.collect_events()
    message.record_delivery("webhook", "unit:x", False, "HTTP 500", SYSTEM_ACTOR, at(minutes=1))
    message.record_delivery("webhook", "unit:x", True, "", SYSTEM_ACTOR, at(minutes=2))
    first, second = emitted(message)
    assert_event(first, Message.DeliveryAttempted, actor=SYSTEM_ACTOR, now=at(minutes=1),
                 channel="webhook", recipient="unit:x", attempt=1, succeeded=False, detail="HTTP 500")  # fmt: skip
    assert_event(second, Message.DeliveryAttempted, actor=SYSTEM_ACTOR, now=at(minutes=2),
                 channel="webhook", recipient="unit:x", attempt=2, succeeded=True, detail="")  # fmt: skip
    assert message.was_delivered("webhook", "unit:x")
    refused(message, AlreadyDelivered, message.record_delivery, "webhook", "unit:x", True, "", SYSTEM_ACTOR, at(minutes=3))
    refused(message, UnknownChannel, message.record_delivery, "fax", "unit:x", True, "", SYSTEM_ACTOR, at(minutes=3))
    refused(message, NotPermitted, message.record_delivery, "email", "user:y", True, "", world.command, at(minutes=3))


def test_recipients_read_a_message_once(world):
    message = send(world)
    message.collect_events()
    message.mark_read(world.village_unit, at(hours=1))
    [event] = emitted(message)
    assert_event(event, Message.Read, actor=world.village_unit, now=at(hours=1), user_id=UUID(world.village_unit.user_id))
    message.mark_read(world.cadre, at(hours=2))
    emitted(message)
    refused(message, AlreadyRead, message.mark_read, world.cadre, at(hours=3))
    refused(message, NotARecipient, message.mark_read, world.other_village_unit, at(hours=3))
    refused(message, WrongCounty, message.mark_read, world.foreign_unit, at(hours=3))
    refused(message, NotPermitted, message.mark_read, SYSTEM_ACTOR, at(hours=3))


def test_a_unit_gets_a_webhook_and_loses_it(world):
    unit: Unit = world.village
    unit.configure_webhook(" https://robot.example/send?key=1 ", "s" * 16, world.command, at())
    unit.configure_webhook("", "ignored-secret-xx", world.command, at(days=1))
    first, second = emitted(unit)
    assert_event(first, Unit.WebhookConfigured, actor=world.command, now=at(), url="https://robot.example/send?key=1", secret="s" * 16)
    assert_event(second, Unit.WebhookConfigured, actor=world.command, now=at(days=1), url="", secret="")
    assert unit.webhook_url == "" and unit.webhook_secret == ""
    refused(unit, InvalidWebhook, unit.configure_webhook, "ftp://x", "s" * 16, world.command, at(days=2))
    refused(unit, InvalidWebhook, unit.configure_webhook, "https://x", "short", world.command, at(days=2))
    refused(unit, NotPermitted, unit.configure_webhook, "https://x", "s" * 16, world.village_unit, at(days=2))


def test_a_user_sets_their_own_email_and_the_office_may_too(world):
    user = User.register(unit=world.village, name="帮扶人", login="bangfu", roles=["cadre"], actor=SYSTEM_ACTOR, now=at())
    user.collect_events()
    me = user.acting_as("cadre")
    user.set_email(" bangfu@example.cn ", me, at(days=1))
    user.set_email("office-set@example.cn", world.command, at(days=2))
    first, second = emitted(user)
    assert_event(first, User.EmailSet, actor=me, now=at(days=1), email="bangfu@example.cn")
    assert_event(second, User.EmailSet, actor=world.command, now=at(days=2), email="office-set@example.cn")
    refused(user, InvalidEmail, user.set_email, "not-an-address", me, at(days=3))
    refused(user, NotPermitted, user.set_email, "x@example.cn", world.village_unit, at(days=3))
