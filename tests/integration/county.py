"""A small county written through the Duban service, shared by the integration
and projection tests (not a test module itself).

Everything is registered through the service's commands, so the store holds
exactly what a real office would have written: the county, a zone, a town,
villages, the command and discipline offices, one user per role and the first
rulebook version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, UNIT, Actor, local_date
from domain.finding import Finding
from domain.rules.rulebook import DEFAULT_RULES, Rules
from domain.service import Duban, TravellingClock
from projections.ledger_query import LedgerQuery
from projections.runner import Follower, ledger_projection
from projections.storage import open_application

CHINA = timezone(timedelta(hours=8))


def local(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    """An instant given as Asia/Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=CHINA)


#: A Monday in 2026, a year the packaged holiday calendar knows.
START = local(2026, 3, 2)


@contextmanager
def opened(
    store_env: dict[str, str], start: datetime = START, clock: TravellingClock | None = None
) -> Iterator[Duban]:
    """The Duban application on ``store_env`` with a travelling clock (its own,
    or one shared with another application object); closed after."""
    app = open_application(store_env, clock=clock or TravellingClock(start))
    try:
        yield app
    finally:
        app.close()


class SaveSpy:
    """Keeps the aggregates a command saved, as they are in memory after it.

    Wraps ``app.save`` (public API) so a test can compare what the command
    held in memory with what a reload from the store gives back."""

    def __init__(self, app: Duban):
        self.saved: dict[UUID, Any] = {}
        #: For each call of ``save``: the events it was given to write, by class name.
        self.calls: list[list[str]] = []
        original = app.save

        def save(*objs: Any, **kwargs: Any) -> Any:
            pending = [
                type(e).__qualname__ for obj in objs if obj is not None for e in getattr(obj, "pending_events", ())
            ]
            result = original(*objs, **kwargs)
            self.calls.append(pending)
            for obj in objs:
                if obj is not None and hasattr(obj, "id"):
                    self.saved[obj.id] = obj
            return result

        app.save = save  # type: ignore[method-assign]


@dataclass
class County:
    app: Duban
    name: str
    county_id: UUID
    zone_id: UUID
    town_id: UUID
    village_a: UUID
    village_b: UUID
    department_id: UUID
    office_id: UUID
    discipline_unit_id: UUID
    command: Actor
    inspector: Actor
    unit_a: Actor
    unit_b: Actor
    town_user: Actor
    discipline: Actor
    cadre_id: UUID
    non_cadre_id: UUID
    users: dict[str, UUID] = field(default_factory=dict)

    @property
    def clock(self) -> TravellingClock:
        return self.app.clock  # type: ignore[return-value]

    def file(self, unit_id: UUID | None = None, **overrides: Any) -> UUID:
        values: dict[str, Any] = {
            "unit_id": unit_id or self.village_a,
            "category": "missing",
            "source": "inspection",
            "severity": "general",
            "check_item": "贫困户档案：收入核算表",
            "description": "收入核算表缺少2025年第四季度务工收入",
            "actor": self.inspector,
        }
        values.update(overrides)
        return self.app.file_finding(**values).id

    def finding(self, finding_id: UUID) -> Finding:
        return self.app.finding(finding_id)


def build_county(
    app: Duban,
    name: str = "米脂县",
    rules: Rules = DEFAULT_RULES,
    in_force_from: date | None = None,
    prefix: str = "",
) -> County:
    """Register a county with its org chart, users and first rulebook version."""
    p = prefix or name[:2]
    county = app.register_unit(name=name, kind="county", parent_id=None, code=p).id
    zone = app.register_unit(name="东战区", kind="zone", parent_id=county).id
    town = app.register_unit(name="银州街道", kind="town", parent_id=zone).id
    village_a = app.register_unit(name="高庙山村", kind="village", parent_id=town).id
    village_b = app.register_unit(name="孟岔村", kind="village", parent_id=town).id
    department = app.register_unit(name="县教育局", kind="department", parent_id=county).id
    office = app.register_unit(name="县脱贫攻坚指挥部办公室", kind="office", parent_id=county).id
    discipline_unit = app.register_unit(name="县纪委监委", kind="discipline", parent_id=county).id

    def user(unit_id: UUID, login: str, display: str, roles: list[str]) -> UUID:
        return app.register_user(unit_id=unit_id, name=display, login=f"{p}-{login}", roles=roles).id

    users = {
        "command": user(office, "command", "张主任", [COMMAND]),
        "inspector": user(office, "inspector", "李督查", [INSPECTOR]),
        "unit_a": user(village_a, "unit-a", "王队长", [UNIT]),
        "unit_b": user(village_b, "unit-b", "赵队长", [UNIT]),
        "town": user(town, "town", "刘镇长", [UNIT]),
        "discipline": user(discipline_unit, "discipline", "陈书记", [DISCIPLINE]),
        "cadre": user(village_a, "cadre", "周干部", [CADRE]),
        "non_cadre": user(village_a, "clerk", "吴文书", [UNIT]),
    }
    today = local_date(app.clock())
    app.open_rulebook(county, rules, in_force_from or today)
    return County(
        app=app,
        name=name,
        county_id=county,
        zone_id=zone,
        town_id=town,
        village_a=village_a,
        village_b=village_b,
        department_id=department,
        office_id=office,
        discipline_unit_id=discipline_unit,
        command=app.actor(users["command"], COMMAND),
        inspector=app.actor(users["inspector"], INSPECTOR),
        unit_a=app.actor(users["unit_a"], UNIT),
        unit_b=app.actor(users["unit_b"], UNIT),
        town_user=app.actor(users["town"], UNIT),
        discipline=app.actor(users["discipline"], DISCIPLINE),
        cadre_id=users["cadre"],
        non_cadre_id=users["non_cadre"],
        users=users,
    )


@contextmanager
def ledger(app: Duban, store_env: dict[str, str]) -> Iterator[tuple[Follower, LedgerQuery]]:
    """A ledger view beside the store, its follower and its query; closed after."""
    projection = ledger_projection(store_env)
    follower = Follower(app, projection, batch_size=7, poll_interval=0.05)
    try:
        yield follower, LedgerQuery(projection.view)
    finally:
        follower.stop()
        projection.view.datastore.close()


def stream(app: Duban, aggregate_id: UUID) -> list[int]:
    """The versions stored for one aggregate, in order."""
    return [event.originator_version for event in app.history(aggregate_id)]
