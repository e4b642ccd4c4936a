"""Helpers for the pure domain tests: a small county, its users, a rulebook,
and the assertions every test makes about the events a command produced."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from domain.events import (
    COMMAND,
    DISCIPLINE,
    INSPECTOR,
    SYSTEM_ACTOR,
    UNIT,
    CADRE,
    Actor,
)
from domain.finding import Finding
from domain.org import Unit, User
from domain.rulebook import Rulebook
from domain.rules.rulebook import DEFAULT_RULES, RulebookVersion, Rules
from domain.rules.working_days import LIBRARY, ComputedDeadline

UTC = timezone.utc

#: Monday 2 March 2026, 09:00 in Asia/Shanghai.
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

#: The fields every Duban event carries besides its payload.
BASE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic", "actor_id", "actor_role"}
)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """An instant relative to T0."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


def make_deadline(due: date, basis: str = LIBRARY, working_days: int = 10) -> ComputedDeadline:
    return ComputedDeadline(due=due, basis=basis, working_days=working_days)


# ---------------------------------------------------------------- assertions
def payload_of(event: Any) -> dict[str, Any]:
    return {k: v for k, v in event.__dict__.items() if k not in BASE_FIELDS}


def assert_event(
    event: Any,
    cls: type,
    *,
    actor: Actor,
    now: datetime,
    aggregate: Aggregate | None = None,
    **payload: Any,
) -> None:
    """The event is exactly ``cls``, by ``actor`` at ``now``, with exactly ``payload``."""
    assert type(event) is cls, f"expected {cls.__qualname__}, got {type(event).__qualname__}"
    assert event.actor_id == actor.user_id
    assert event.actor_role == actor.role
    assert event.timestamp == now
    if aggregate is not None:
        assert event.originator_id == aggregate.id
    assert payload_of(event) == payload


def emitted(aggregate: Aggregate) -> list[Any]:
    """Collect the aggregate's new events, checking their versions run on without a gap."""
    events = list(aggregate.collect_events())
    if events:
        versions = [e.originator_version for e in events]
        assert versions == list(range(versions[0], versions[0] + len(versions)))
        assert versions[-1] == aggregate.version
        assert all(e.originator_id == aggregate.id for e in events)
    return events


def state_of(aggregate: Aggregate) -> dict[str, Any]:
    return copy.deepcopy({k: v for k, v in vars(aggregate).items() if k != "_pending_events"})


def refused(aggregate: Aggregate, error: type[Exception], command: Callable[..., Any], *args: Any, **kwargs: Any):
    """The command raises exactly ``error``, adds no event and changes no state."""
    before_events = list(aggregate.pending_events)
    before_state = state_of(aggregate)
    with pytest.raises(error) as info:
        command(*args, **kwargs)
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}"
    assert list(aggregate.pending_events) == before_events
    assert state_of(aggregate) == before_state
    return info.value


# ---------------------------------------------------------------- the county
@dataclass
class World:
    county: Unit
    zone: Unit
    town: Unit
    village: Unit
    other_town: Unit
    other_village: Unit
    department: Unit
    foreign_county: Unit
    foreign_town_unit: Unit
    inspector: Actor
    command: Actor
    discipline: Actor
    village_unit: Actor
    town_unit: Actor
    other_village_unit: Actor
    other_town_unit: Actor
    cadre: Actor
    foreign_inspector: Actor
    foreign_command: Actor
    foreign_unit: Actor
    rulebook: Rulebook

    @property
    def path(self) -> tuple:
        """The village's unit path, nearest first (as the service computes it)."""
        return (self.village.id, self.town.id, self.zone.id, self.county.id)

    @property
    def rules(self) -> RulebookVersion:
        return self.rulebook.in_force_on(T0.date())


def _user(unit: Unit, name: str, role: str) -> Actor:
    user = User.register(unit=unit, name=name, login=name, roles=[role], actor=SYSTEM_ACTOR, now=T0)
    return user.acting_as(role)


def build_world(rules: Rules = DEFAULT_RULES) -> World:
    sys, now = SYSTEM_ACTOR, T0 - timedelta(days=60)
    county = Unit.register(name="米脂县", kind="county", parent=None, actor=sys, now=now)
    zone = Unit.register(name="东战区", kind="zone", parent=county, actor=sys, now=now)
    town = Unit.register(name="银州街道", kind="town", parent=zone, actor=sys, now=now)
    village = Unit.register(name="高西沟村", kind="village", parent=town, actor=sys, now=now)
    other_town = Unit.register(name="桃镇", kind="town", parent=zone, actor=sys, now=now)
    other_village = Unit.register(name="杨家沟村", kind="village", parent=other_town, actor=sys, now=now)
    department = Unit.register(name="县教育局", kind="department", parent=county, actor=sys, now=now)
    office = Unit.register(name="县脱贫攻坚指挥部办公室", kind="office", parent=county, actor=sys, now=now)
    commission = Unit.register(name="县纪委监委", kind="discipline", parent=county, actor=sys, now=now)
    foreign_county = Unit.register(name="佳县", kind="county", parent=None, actor=sys, now=now)
    foreign_zone = Unit.register(name="西战区", kind="zone", parent=foreign_county, actor=sys, now=now)
    foreign_town = Unit.register(name="佳芦镇", kind="town", parent=foreign_zone, actor=sys, now=now)
    rulebook = Rulebook.open(
        county_id=county.id, rules=rules, in_force_from=date(2026, 1, 1), actor=sys, now=now
    )
    world = World(
        county=county,
        zone=zone,
        town=town,
        village=village,
        other_town=other_town,
        other_village=other_village,
        department=department,
        foreign_county=foreign_county,
        foreign_town_unit=foreign_town,
        inspector=_user(office, "督查员甲", INSPECTOR),
        command=_user(office, "指挥部乙", COMMAND),
        discipline=_user(commission, "纪委丙", DISCIPLINE),
        village_unit=_user(village, "村队长丁", UNIT),
        town_unit=_user(town, "街道戊", UNIT),
        other_village_unit=_user(other_village, "村队长己", UNIT),
        other_town_unit=_user(other_town, "镇干部庚", UNIT),
        cadre=_user(village, "帮扶人辛", CADRE),
        foreign_inspector=_user(foreign_town, "佳县督查员", INSPECTOR),
        foreign_command=_user(foreign_town, "佳县指挥部", COMMAND),
        foreign_unit=_user(foreign_town, "佳县镇干部", UNIT),
        rulebook=rulebook,
    )
    for aggregate in (county, zone, town, village, other_town, other_village, department, foreign_county, rulebook):
        aggregate.collect_events()
    return world


# ---------------------------------------------------------------- findings
FILED_AT = at()
NOTICE_AT = at(hours=1)
ACK_AT = at(days=1)
SUBMIT_AT = at(days=3)
DONE_AT = at(days=4)
#: The first deadline every finding built here gets (a Monday).
DEADLINE = date(2026, 3, 16)


def file_finding(world: World, **overrides: Any) -> Finding:
    values: dict[str, Any] = dict(
        county_id=world.county.id,
        unit_id=world.village.id,
        unit_path=world.path,
        category="missing",
        source="inspection",
        severity="general",
        check_item="两不愁三保障信息",
        description="贫困户档案缺少住房安全鉴定表",
        actor=world.inspector,
        now=FILED_AT,
    )
    values.update(overrides)
    return Finding.file(**values)


def finding_in(world: World, status: str, *, repeat_of: Any = None, deadline: date = DEADLINE) -> Finding:
    """A finding driven through the ordinary path to ``status``, its events collected."""
    finding = file_finding(world, repeat_of=repeat_of)
    if status != "filed":
        finding.issue_notice(make_deadline(deadline), (world.village.id,), world.inspector, NOTICE_AT)
    if status in ("acknowledged", "submitted", "closed"):
        finding.acknowledge(world.village_unit, ACK_AT)
    if status in ("submitted", "closed"):
        finding.submit_rectification("已补齐鉴定表", ("photo-1.jpg",), world.village_unit, SUBMIT_AT)
    if status == "closed":
        finding.accept_rectification("整改到位", world.inspector, DONE_AT)
    if status == "withdrawn":
        finding.withdraw("误登记", world.inspector, DONE_AT)
    finding.collect_events()
    assert finding.status == status
    return finding


def end_of_day_utc(day: date) -> datetime:
    """The instant a deadline day ends in Asia/Shanghai, as UTC."""
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)
