"""The county's rulebook (效能考评规则): versions in force from a date, and the
official holiday arrangements its working-day deadlines are counted on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, InvalidInput
from domain.events import COMMAND, SYSTEM, Actor, DubanEvent, local_date
from domain.rules.rulebook import Rules, RulebookVersion
from domain.rules.working_days import HolidayArrangement, WorkingCalendar


class NoRulebookInForce(DomainError):
    message = "该日期没有生效的考评规则，请先由县指挥部发布规则"


class RulebookAlreadyOpen(DomainError):
    message = "该县的考评规则已经发布，请发布新版本而不是重新建立"


class BackdatedRulebook(InvalidInput):
    message = "新版规则的生效日期不能早于发布当天"


class InvalidHolidayArrangement(InvalidInput):
    message = "放假安排不正确：日期必须属于该年度，且同一天不能既放假又调休上班"


def rulebook_id(county_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"duban:rulebook:{county_id}")


class Rulebook(Aggregate):
    class Event(DubanEvent):
        pass

    class Adopted(Event):
        version: int
        in_force_from: str
        rules: dict[str, Any]

        def apply(self, rulebook: Rulebook) -> None:
            rulebook.versions = (
                *rulebook.versions,
                RulebookVersion(self.version, self.in_force_from, Rules.from_dict(self.rules)),
            )

    class FirstAdopted(Adopted, Aggregate.Created):
        """The first version opens the county's rulebook."""

        county_id: UUID

    class HolidayArrangementRecorded(Event):
        year: int
        days_off: list[str]
        make_up_workdays: list[str]

        def apply(self, rulebook: Rulebook) -> None:
            rulebook.holiday_arrangements = {
                **rulebook.holiday_arrangements,
                self.year: HolidayArrangement(
                    year=self.year,
                    days_off=frozenset(date.fromisoformat(d) for d in self.days_off),
                    make_up_workdays=frozenset(date.fromisoformat(d) for d in self.make_up_workdays),
                ),
            }

    def __init__(self, county_id: UUID, version: int, in_force_from: str, rules: dict[str, Any]):
        # FirstAdopted's own apply() (inherited from Adopted) adds version 1.
        self.county_id = county_id
        self.versions: tuple[RulebookVersion, ...] = ()
        self.holiday_arrangements: dict[int, HolidayArrangement] = {}

    @classmethod
    def open(cls, *, county_id: UUID, rules: Rules, in_force_from: date, actor: Actor, now: datetime) -> Rulebook:
        actor.require_role(COMMAND, SYSTEM)
        actor.require_county(county_id)
        rules.check()
        return cls._create(
            cls.FirstAdopted,
            id=rulebook_id(county_id),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            version=1,
            in_force_from=in_force_from.isoformat(),
            rules=rules.to_dict(),
        )

    def adopt(self, rules: Rules, in_force_from: date, actor: Actor, now: datetime) -> int:
        """Adopt a new version; past deductions keep the version they were made under."""
        actor.require_role(COMMAND, SYSTEM)
        actor.require_county(self.county_id)
        rules.check()
        if in_force_from < local_date(now):
            raise BackdatedRulebook()
        version = self.versions[-1].version + 1
        self.trigger_event(
            self.Adopted,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            version=version,
            in_force_from=in_force_from.isoformat(),
            rules=rules.to_dict(),
        )
        return version

    def in_force_on(self, day: date) -> RulebookVersion:
        """The latest version in force on a day (ties go to the later version)."""
        candidates = [v for v in self.versions if date.fromisoformat(v.in_force_from) <= day]
        if not candidates:
            raise NoRulebookInForce()
        return max(candidates, key=lambda v: (v.in_force_from, v.version))

    def record_holiday_arrangement(
        self, year: int, days_off: list[date], make_up_workdays: list[date], actor: Actor, now: datetime
    ) -> None:
        """Record the State Council's arrangement for a year; it wins over the
        packaged calendar from now on, and never moves a deadline already set."""
        actor.require_role(COMMAND, SYSTEM)
        actor.require_county(self.county_id)
        off, work = set(days_off), set(make_up_workdays)
        if off & work or any(d.year != year for d in off | work):
            raise InvalidHolidayArrangement()
        self.trigger_event(
            self.HolidayArrangementRecorded,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            year=year,
            days_off=sorted(d.isoformat() for d in off),
            make_up_workdays=sorted(d.isoformat() for d in work),
        )

    def working_calendar(self) -> WorkingCalendar:
        return WorkingCalendar(self.holiday_arrangements)
