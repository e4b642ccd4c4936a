"""Messages (通知): what the system tells units and people, and how each delivery went.

A message's id is derived from what it is about (purpose, finding, deadline
number, ...), so a policy or a job that runs twice finds the message already
sent instead of sending it again. Every delivery attempt on every channel is a
recorded fact, and so is a recipient reading it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, InvalidInput, MissingField, NotPermitted
from domain.events import COMMAND, INSPECTOR, SYSTEM, UNIT, Actor, DubanEvent

PURPOSES = {
    "notice": "整改通知",
    "reminder": "整改到期提醒",
    "deadline_missed": "逾期扣分通知",
    "rejected": "退回整改通知",
    "escalation_proposal": "移交纪检建议",
}

CHANNELS = {"inbox": "站内信", "webhook": "工作群机器人", "email": "电子邮件"}


class UnknownPurpose(InvalidInput):
    message = "未知的通知类型"


class UnknownChannel(InvalidInput):
    message = "未知的送达渠道"


class NoRecipients(InvalidInput):
    message = "通知至少要有一个接收单位或接收人"


class AlreadyDelivered(DomainError):
    message = "该通知已经通过此渠道送达该接收方"


class NotARecipient(DomainError):
    status = 403
    message = "您不是该通知的接收方"


class AlreadyRead(DomainError):
    message = "该通知已读"


def message_id(purpose: str, subject_id: UUID, *qualifiers: object) -> UUID:
    """The one id a message about this subject for this purpose can have."""
    tail = ":".join(str(q) for q in qualifiers)
    return uuid5(NAMESPACE_URL, f"duban:message:{purpose}:{subject_id}:{tail}")


class Message(Aggregate):
    class Event(DubanEvent):
        pass

    class Sent(Event, Aggregate.Created):
        county_id: UUID
        purpose: str
        finding_id: UUID | None
        unit_ids: list[UUID]
        user_ids: list[UUID]
        title: str
        body: str

    class DeliveryAttempted(Event):
        channel: str
        recipient: str
        attempt: int
        succeeded: bool
        detail: str

        def apply(self, message: Message) -> None:
            key = (self.channel, self.recipient)
            message.attempts = {**message.attempts, key: self.attempt}
            if self.succeeded:
                message.delivered = (*message.delivered, key)

    class Read(Event):
        user_id: UUID

        def apply(self, message: Message) -> None:
            message.read_by = (*message.read_by, self.user_id)

    def __init__(
        self,
        county_id: UUID,
        purpose: str,
        finding_id: UUID | None,
        unit_ids: list[UUID],
        user_ids: list[UUID],
        title: str,
        body: str,
    ):
        self.county_id = county_id
        self.purpose = purpose
        self.finding_id = finding_id
        self.unit_ids = tuple(unit_ids)
        self.user_ids = tuple(user_ids)
        self.title = title
        self.body = body
        self.attempts: dict[tuple[str, str], int] = {}
        self.delivered: tuple[tuple[str, str], ...] = ()
        self.read_by: tuple[UUID, ...] = ()

    @classmethod
    def send(
        cls,
        *,
        message_id: UUID,
        county_id: UUID,
        purpose: str,
        title: str,
        body: str,
        unit_ids: tuple[UUID, ...],
        user_ids: tuple[UUID, ...],
        actor: Actor,
        now: datetime,
        finding_id: UUID | None = None,
    ) -> Message:
        actor.require_role(SYSTEM, COMMAND, INSPECTOR)
        actor.require_county(county_id)
        if purpose not in PURPOSES:
            raise UnknownPurpose()
        if not title.strip():
            raise MissingField("通知标题")
        if not unit_ids and not user_ids:
            raise NoRecipients()
        return cls._create(
            cls.Sent,
            id=message_id,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            purpose=purpose,
            finding_id=finding_id,
            unit_ids=list(dict.fromkeys(unit_ids)),
            user_ids=list(dict.fromkeys(user_ids)),
            title=title.strip(),
            body=body.strip(),
        )

    def was_delivered(self, channel: str, recipient: str) -> bool:
        return (channel, recipient) in self.delivered

    def record_delivery(
        self, channel: str, recipient: str, succeeded: bool, detail: str, actor: Actor, now: datetime
    ) -> None:
        """One attempt on one channel to one recipient, and how it went. Once a
        delivery succeeded, another attempt is refused: a retried job sends nothing twice."""
        actor.require_role(SYSTEM)
        if channel not in CHANNELS:
            raise UnknownChannel()
        if self.was_delivered(channel, recipient):
            raise AlreadyDelivered()
        self.trigger_event(
            self.DeliveryAttempted,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            channel=channel,
            recipient=recipient,
            attempt=self.attempts.get((channel, recipient), 0) + 1,
            succeeded=succeeded,
            detail=detail[:500],
        )

    def is_addressed_to(self, actor: Actor) -> bool:
        if actor.user_id in {str(u) for u in self.user_ids}:
            return True
        return actor.role in (UNIT, COMMAND) and actor.unit_id in self.unit_ids

    def mark_read(self, actor: Actor, now: datetime) -> None:
        actor.require_county(self.county_id)
        if actor.role == SYSTEM:
            raise NotPermitted()
        if not self.is_addressed_to(actor):
            raise NotARecipient()
        reader = UUID(actor.user_id)
        if reader in self.read_by:
            raise AlreadyRead()
        self.trigger_event(self.Read, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, user_id=reader)
