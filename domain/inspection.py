"""An inspection round (督查批次): who checks what, when; findings are filed in it."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, InvalidInput, MissingField
from domain.events import COMMAND, INSPECTOR, SOURCES, Actor, DubanEvent
from domain.finding import UnknownSource


class InspectionAlreadyCompleted(DomainError):
    message = "该督查批次已结束，不能再登记问题"


class Inspection(Aggregate):
    class Event(DubanEvent):
        pass

    class Planned(Event, Aggregate.Created):
        county_id: UUID
        title: str
        source: str
        inspector_ids: list[UUID]
        starts_on: str
        ends_on: str

    class Completed(Event):
        summary: str

        def apply(self, inspection: Inspection) -> None:
            inspection.completed = True

    def __init__(
        self, county_id: UUID, title: str, source: str, inspector_ids: list[UUID], starts_on: str, ends_on: str
    ):
        self.county_id = county_id
        self.title = title
        self.source = source
        self.inspector_ids = tuple(inspector_ids)
        self.starts_on = starts_on
        self.ends_on = ends_on
        self.completed = False

    @classmethod
    def plan(
        cls,
        *,
        county_id: UUID,
        title: str,
        source: str,
        inspector_ids: tuple[UUID, ...],
        starts_on: date,
        ends_on: date,
        actor: Actor,
        now: datetime,
        inspection_id: UUID | None = None,
    ) -> Inspection:
        actor.require_role(COMMAND, INSPECTOR)
        actor.require_county(county_id)
        if not title.strip():
            raise MissingField("督查名称")
        if source not in SOURCES:
            raise UnknownSource()
        if ends_on < starts_on:
            raise InvalidInput("督查结束日期不能早于开始日期")
        return cls._create(
            cls.Planned,
            id=inspection_id or uuid4(),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            title=title.strip(),
            source=source,
            inspector_ids=list(dict.fromkeys(inspector_ids)),
            starts_on=starts_on.isoformat(),
            ends_on=ends_on.isoformat(),
        )

    def require_open(self) -> None:
        if self.completed:
            raise InspectionAlreadyCompleted()

    def complete(self, summary: str, actor: Actor, now: datetime) -> None:
        actor.require_role(COMMAND, INSPECTOR)
        actor.require_county(self.county_id)
        self.require_open()
        self.trigger_event(
            self.Completed, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, summary=summary.strip()
        )
