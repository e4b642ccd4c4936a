"""The findings filed against one unit on one check item (检查事项), so that a
repeat within the rulebook's window (same unit, same item, again) is decided
from recorded facts and under optimistic concurrency, not from a read model."""

from __future__ import annotations

from datetime import date, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.events import Actor, DubanEvent


def normalise_check_item(check_item: str) -> str:
    return " ".join(check_item.split())


def check_item_record_id(unit_id: UUID, check_item: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"duban:check-item:{unit_id}:{normalise_check_item(check_item)}")


class CheckItemRecord(Aggregate):
    class Event(DubanEvent):
        pass

    class FindingRecorded(Event):
        finding_id: UUID
        filed_on: str

        def apply(self, record: CheckItemRecord) -> None:
            record.filings = (*record.filings, (self.finding_id, self.filed_on))

    class FirstFindingRecorded(FindingRecorded, Aggregate.Created):
        county_id: UUID
        unit_id: UUID
        check_item: str

    def __init__(self, county_id: UUID, unit_id: UUID, check_item: str, finding_id: UUID, filed_on: str):
        # FirstFindingRecorded's inherited apply() adds the first filing.
        self.county_id = county_id
        self.unit_id = unit_id
        self.check_item = check_item
        self.filings: tuple[tuple[UUID, str], ...] = ()

    @classmethod
    def start(
        cls, *, county_id: UUID, unit_id: UUID, check_item: str, finding_id: UUID, actor: Actor, now: datetime, filed_on: date
    ) -> CheckItemRecord:
        return cls._create(
            cls.FirstFindingRecorded,
            id=check_item_record_id(unit_id, check_item),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            unit_id=unit_id,
            check_item=normalise_check_item(check_item),
            finding_id=finding_id,
            filed_on=filed_on.isoformat(),
        )

    def record(self, finding_id: UUID, filed_on: date, actor: Actor, now: datetime) -> None:
        self.trigger_event(
            self.FindingRecorded,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            finding_id=finding_id,
            filed_on=filed_on.isoformat(),
        )

    def filed_dates(self) -> list[tuple[UUID, date]]:
        return [(fid, date.fromisoformat(day)) for fid, day in self.filings]
