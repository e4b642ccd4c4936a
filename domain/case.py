"""Discipline cases (纪检案件): opened from an escalation or on the office's own
initiative, sanctions recorded, closed. Only the discipline office writes here."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, InvalidInput, MissingField
from domain.events import DISCIPLINE, Actor, DubanEvent, local_date

SANCTIONS = {
    "talk": "约谈",
    "admonition": "诫勉",
    "criticism": "通报批评",
    "organisational": "组织处理",
    "party_discipline": "党纪处分",
}


class UnknownSanction(InvalidInput):
    message = "未知的处理方式"


class CaseAlreadyClosed(DomainError):
    message = "该案件已结案"


class FindingsAlreadyLinked(InvalidInput):
    message = "所选问题都已关联到该案件"


class HearingInTheFuture(InvalidInput):
    message = "谈话（听证）日期不能晚于今天"


class Case(Aggregate):
    class Event(DubanEvent):
        pass

    class Opened(Event, Aggregate.Created):
        county_id: UUID
        subject_unit_id: UUID | None
        finding_ids: list[UUID]
        summary: str

    class FindingsLinked(Event):
        """More findings brought into the case (only ones not linked before)."""

        finding_ids: list[UUID]

        def apply(self, case: Case) -> None:
            case.finding_ids = (*case.finding_ids, *self.finding_ids)

    class HearingRecorded(Event):
        """A hearing or talk held (谈话、听证): when, who took part, what was said."""

        held_on: str  # ISO date, Asia/Shanghai calendar
        participants: str
        note: str

        def apply(self, case: Case) -> None:
            case.hearings += 1

    class SanctionRecorded(Event):
        sanction: str
        subject: str
        note: str

        def apply(self, case: Case) -> None:
            case.sanctions = (*case.sanctions, (self.sanction, self.subject))

    class Closed(Event):
        conclusion: str

        def apply(self, case: Case) -> None:
            case.closed = True

    def __init__(self, county_id: UUID, subject_unit_id: UUID | None, finding_ids: list[UUID], summary: str):
        self.county_id = county_id
        self.subject_unit_id = subject_unit_id
        self.finding_ids = tuple(finding_ids)
        self.summary = summary
        self.sanctions: tuple[tuple[str, str], ...] = ()
        self.hearings = 0
        self.closed = False

    @classmethod
    def open(
        cls,
        *,
        county_id: UUID,
        subject_unit_id: UUID | None,
        finding_ids: tuple[UUID, ...],
        summary: str,
        actor: Actor,
        now: datetime,
        case_id: UUID | None = None,
    ) -> Case:
        actor.require_role(DISCIPLINE)
        actor.require_county(county_id)
        if not summary.strip():
            raise MissingField("案由")
        return cls._create(
            cls.Opened,
            id=case_id or uuid4(),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            subject_unit_id=subject_unit_id,
            finding_ids=list(dict.fromkeys(finding_ids)),
            summary=summary.strip(),
        )

    def link_findings(self, finding_ids: tuple[UUID, ...], actor: Actor, now: datetime) -> None:
        """Link findings the case did not list yet; the caller checked they are the county's."""
        self._require_writable(actor)
        if not finding_ids:
            raise MissingField("关联问题")
        new = [f for f in dict.fromkeys(finding_ids) if f not in self.finding_ids]
        if not new:
            raise FindingsAlreadyLinked()
        self.trigger_event(
            self.FindingsLinked, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, finding_ids=new
        )

    def record_hearing(self, held_on: date, participants: str, note: str, actor: Actor, now: datetime) -> None:
        self._require_writable(actor)
        if held_on > local_date(now):
            raise HearingInTheFuture()
        if not participants.strip():
            raise MissingField("参加人员")
        if not note.strip():
            raise MissingField("谈话（听证）情况")
        self.trigger_event(
            self.HearingRecorded,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            held_on=held_on.isoformat(),
            participants=participants.strip(),
            note=note.strip(),
        )

    def _require_writable(self, actor: Actor) -> None:
        actor.require_role(DISCIPLINE)
        actor.require_county(self.county_id)
        if self.closed:
            raise CaseAlreadyClosed()

    def record_sanction(self, sanction: str, subject: str, note: str, actor: Actor, now: datetime) -> None:
        actor.require_role(DISCIPLINE)
        actor.require_county(self.county_id)
        if self.closed:
            raise CaseAlreadyClosed()
        if sanction not in SANCTIONS:
            raise UnknownSanction()
        if not subject.strip():
            raise MissingField("处理对象")
        self.trigger_event(
            self.SanctionRecorded,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            sanction=sanction,
            subject=subject.strip(),
            note=note.strip(),
        )

    def close(self, conclusion: str, actor: Actor, now: datetime) -> None:
        actor.require_role(DISCIPLINE)
        actor.require_county(self.county_id)
        if self.closed:
            raise CaseAlreadyClosed()
        if not conclusion.strip():
            raise MissingField("结案意见")
        self.trigger_event(
            self.Closed, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, conclusion=conclusion.strip()
        )
