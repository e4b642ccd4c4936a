"""A county with two zones for the score tests, and a seeded random history of
it lived day by day through the service (not a test module itself)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from domain.errors import DomainError
from domain.events import UNIT, Actor, local_date
from domain.finding import ACKNOWLEDGED, FILED, OPEN, SUBMITTED
from domain.rules.deductions import deadline_has_passed
from domain.service import Duban
from projections.ledger_query import LedgerQuery
from projections.runner import Follower, ledger_projection, scores_projection
from projections.scores_query import ScoreQuery
from tests.integration.county import County, build_county, local


@dataclass
class World:
    county: County
    zone_west: UUID
    town_west: UUID
    village_west: UUID
    actors: dict[UUID, Actor] = field(default_factory=dict)

    @property
    def app(self) -> Duban:
        return self.county.app

    @property
    def units(self) -> list[UUID]:
        c = self.county
        return [c.village_a, c.village_b, c.town_id, c.department_id, self.town_west, self.village_west]


def build_world(app: Duban) -> World:
    """build_county's county plus a western zone with a town and a village, and a
    unit user for every accountable unit."""
    county = build_county(app)
    zone_west = app.register_unit(name="西战区", kind="zone", parent_id=county.county_id).id
    town_west = app.register_unit(name="龙镇", kind="town", parent_id=zone_west).id
    village_west = app.register_unit(name="刘家坪村", kind="village", parent_id=town_west).id
    world = World(county, zone_west, town_west, village_west)
    world.actors = {county.village_a: county.unit_a, county.village_b: county.unit_b, county.town_id: county.town_user}
    for unit_id, login in ((county.department_id, "edu"), (town_west, "long"), (village_west, "liu")):
        user = app.register_user(unit_id=unit_id, name=f"{login}用户", login=f"w-{login}", roles=[UNIT]).id
        world.actors[unit_id] = app.actor(user, UNIT)
    return world


@contextmanager
def views(app: Duban, store_env: dict[str, str]) -> Iterator[tuple[Callable[[], None], LedgerQuery, ScoreQuery]]:
    """The ledger and score views beside the store: (catch up, ledger query, score query)."""
    ledger, scores = ledger_projection(store_env), scores_projection(store_env)
    followers = [Follower(app, ledger, batch_size=9), Follower(app, scores, batch_size=9)]

    def catch_up() -> None:
        for follower in followers:
            follower.catch_up()

    try:
        yield catch_up, LedgerQuery(ledger.view), ScoreQuery(scores.view)
    finally:
        for projection in (ledger, scores):
            projection.view.datastore.close()


def live_day(world: World, rng: random.Random, day: date, findings: list[UUID]) -> None:
    """One working day of an office: the morning sweep, then filings, notices,
    rectifications, verifications, extensions, appeals and the odd reorganisation.
    Commands the domain refuses are simply not recorded, as in real life."""
    app, c = world.app, world.county
    clock = c.clock
    clock.set(local(day.year, day.month, day.day, 8, 30))

    def attempt(command: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        clock.advance(minutes=rng.randint(1, 20))
        try:
            command(*args, **kwargs)
        except DomainError:
            pass

    for finding_id in findings:
        f = app.finding(finding_id)
        if f.status in (OPEN, ACKNOWLEDGED) and f.deadline and deadline_has_passed(date.fromisoformat(f.deadline), clock()):
            attempt(app.record_missed_deadline, finding_id)
    clock.set(local(day.year, day.month, day.day, 9, 0))
    for _ in range(rng.randint(0, 3)):
        unit_id = rng.choice(world.units)
        findings.append(
            app.file_finding(
                unit_id=unit_id,
                category=rng.choice(["missing", "inconsistent", "outdated"]),
                source="inspection",
                severity=rng.choice(["general", "general", "serious", "grave"]),
                check_item=rng.choice(["收入核算表", "帮扶手册", "危房改造档案"]),
                description=f"第{len(findings) + 1}号问题",
                actor=c.inspector,
            ).id
        )
        clock.advance(minutes=5)
    for finding_id in list(findings):
        f = app.finding(finding_id)
        unit = world.actors[f.unit_id]
        roll = rng.random()
        if f.status == FILED and roll < 0.8:
            attempt(app.issue_notice, finding_id, c.inspector)
        elif f.status == OPEN and roll < 0.4:
            attempt(app.acknowledge_notice, finding_id, unit)
        elif f.status in (OPEN, ACKNOWLEDGED) and roll < 0.25:
            attempt(app.submit_rectification, finding_id, "已补齐材料", unit)
        elif f.status in (OPEN, ACKNOWLEDGED) and roll < 0.28 and not f.pending_extension:
            attempt(app.request_extension, finding_id, local_date(clock()) + timedelta(days=20), "需入户核实", unit)
        elif f.pending_extension and roll < 0.5:
            attempt(app.grant_extension, finding_id, c.command)
        elif f.status == SUBMITTED and roll < 0.45:
            attempt(app.accept_rectification, finding_id, c.inspector)
        elif f.status == SUBMITTED and roll < 0.6:
            attempt(app.reject_rectification, finding_id, "佐证材料不全", c.inspector)
        elif roll > 0.995:
            attempt(app.withdraw_finding, finding_id, "重复登记", c.command)
        elif f.deductions and roll > 0.98:
            number = rng.choice(sorted(f.deductions))
            attempt(app.reverse_deduction, finding_id, number, "申诉成立", c.command)
    if rng.random() < 0.05:
        attempt(app.rename_unit, c.village_b, f"孟岔村{day.day}", c.command)
    if rng.random() < 0.03:
        attempt(app.move_unit, world.village_west, rng.choice([c.town_id, world.town_west]), c.command)
    if rng.random() < 0.04:
        overdue = [fid for fid in findings if app.finding(fid).missed_deadlines][:3]
        if overdue:
            units = sorted({app.finding(fid).unit_id for fid in overdue}, key=str)
            try:
                clock.advance(minutes=3)
                draft = app.draft_circular(
                    county_id=c.county_id, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发",
                    period="", body="现将整改不力情况通报如下。", finding_ids=overdue, unit_ids=units, actor=c.command,
                )  # fmt: skip
                attempt(app.issue_circular, draft.id, c.command)
            except DomainError:
                pass
