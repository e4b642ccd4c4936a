"""Access to full histories (查阅记录): who viewed or exported which history, when.

The discipline office reads every history; that reading is itself recorded,
so the office (and whoever audits it) can see who looked at a finding's, a
unit's, a person's or a circular's history, with which filters, and which
audit bundles left the system. Each access is one small aggregate of one event
(no two accesses ever contend for the same record).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import InvalidInput
from domain.events import COMMAND, DISCIPLINE, Actor, DubanEvent

#: The kinds of history there are, as a clerk names them.
SUBJECT_KINDS = {
    "finding": "问题",
    "unit": "单位",
    "person": "人员",
    "circular": "通报",
}

#: Who may read full histories.
READERS = (DISCIPLINE, COMMAND)


class UnknownSubjectKind(InvalidInput):
    message = "未知的履历类型"


class InvalidBundleHash(InvalidInput):
    message = "审计材料包的SHA-256格式不正确"


class HistoryAccess(Aggregate):
    class Event(DubanEvent):
        pass

    class Viewed(Event, Aggregate.Created):
        """A full history page was shown: which subject, with which filters
        (from/to dates, actor, page), to whom (the event's actor)."""

        county_id: UUID
        subject_kind: str
        subject_id: UUID
        subject_name: str
        filters: dict[str, str]

    class Exported(Event, Aggregate.Created):
        """An audit bundle (PDF) was exported: as Viewed, plus how many events it
        listed and the SHA-256 of the file handed out."""

        county_id: UUID
        subject_kind: str
        subject_id: UUID
        subject_name: str
        filters: dict[str, str]
        events: int
        sha256: str

    def __init__(self, county_id: UUID, subject_kind: str, subject_id: UUID, subject_name: str, filters: dict[str, str], **_: Any):
        self.county_id = county_id
        self.subject_kind = subject_kind
        self.subject_id = subject_id
        self.subject_name = subject_name
        self.filters = dict(filters)

    @classmethod
    def _checked(cls, county_id: UUID, subject_kind: str, filters: dict[str, str], actor: Actor) -> dict[str, str]:
        actor.require_role(*READERS)
        actor.require_county(county_id)
        if subject_kind not in SUBJECT_KINDS:
            raise UnknownSubjectKind()
        return {str(k): str(v) for k, v in filters.items() if v not in (None, "")}

    @classmethod
    def viewed(
        cls, *, county_id: UUID, subject_kind: str, subject_id: UUID, subject_name: str, filters: dict[str, str],
        actor: Actor, now: datetime, access_id: UUID | None = None,
    ) -> HistoryAccess:  # fmt: skip
        kept = cls._checked(county_id, subject_kind, filters, actor)
        return cls._create(
            cls.Viewed, id=access_id or uuid4(), timestamp=now, actor_id=actor.user_id, actor_role=actor.role,
            county_id=county_id, subject_kind=subject_kind, subject_id=subject_id, subject_name=subject_name,
            filters=kept,
        )  # fmt: skip

    @classmethod
    def exported(
        cls, *, county_id: UUID, subject_kind: str, subject_id: UUID, subject_name: str, filters: dict[str, str],
        events: int, sha256: str, actor: Actor, now: datetime, access_id: UUID | None = None,
    ) -> HistoryAccess:  # fmt: skip
        kept = cls._checked(county_id, subject_kind, filters, actor)
        digest = (sha256 or "").lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InvalidBundleHash()
        return cls._create(
            cls.Exported, id=access_id or uuid4(), timestamp=now, actor_id=actor.user_id, actor_role=actor.role,
            county_id=county_id, subject_kind=subject_kind, subject_id=subject_id, subject_name=subject_name,
            filters=kept, events=int(events), sha256=digest,
        )  # fmt: skip
