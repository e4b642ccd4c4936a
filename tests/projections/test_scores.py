"""The score view: every figure explained by its deductions, rates, rankings,
a rulebook change mid-quarter, rebuilds, and time travel that agrees with what
the live views showed on each day of a simulated history."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.events import local_date
from domain.rules.rulebook import DEFAULT_RULES, Rules
from projections.ledger_query import LedgerFilter
from tests.integration.county import local, opened
from tests.projections.scores_world import World, build_world, live_day, views


def miss(world: World, finding_id: Any) -> None:
    """Let the finding's deadline pass and have the system record it missed."""
    app = world.app
    deadline = date.fromisoformat(app.finding(finding_id).deadline)
    after = deadline + timedelta(days=1)
    if world.county.clock() < local(after.year, after.month, after.day, 8, 30):
        world.county.clock.set(local(after.year, after.month, after.day, 8, 30))
    app.record_missed_deadline(finding_id)


def test_a_town_score_is_its_base_minus_every_deduction_of_its_own_and_its_villages(store_env):
    with opened(store_env, start=local(2026, 4, 1)) as app:
        world = build_world(app)
        c = world.county
        late = c.file(c.village_a)
        app.issue_notice(late, c.inspector)
        repeat = c.file(c.village_a)  # same unit, same check item within 90 days: doubled
        app.issue_notice(repeat, c.inspector)
        rejected = c.file(c.village_b, check_item="帮扶手册")
        app.issue_notice(rejected, c.inspector)
        app.submit_rectification(rejected, "已整改", c.unit_b)
        app.reject_rectification(rejected, "佐证不全", c.inspector)
        on_time = c.file(c.town_id, check_item="危房改造档案")
        app.issue_notice(on_time, c.inspector)
        app.submit_rectification(on_time, "已整改", c.town_user)
        app.accept_rectification(on_time, c.inspector)
        miss(world, late)
        miss(world, repeat)
        app.reverse_deduction(repeat, 1, "申诉成立：系统故障", c.command)
        with views(app, store_env) as (catch_up, _, scores):
            catch_up()
            today = local_date(c.clock())
            report = scores.unit_report(str(c.town_id), "2026Q2", today)
            by_period = {
                period: scores.ranking(str(c.county_id), period, today).unit(str(c.town_id)).score
                for period in ("2026-04", "2026-05", "2026", "2026Q1")
            }

    assert report is not None
    town = report.score
    # 0.5 (late) + 0.5 (rejected); the doubled 1.0 for the repeat was reversed on appeal.
    assert (town.base, town.deducted, town.score) == (Decimal(100), Decimal("1.0"), Decimal("99.0"))
    explained = [(d.unit_id, d.rule_id, d.points, d.counts, d.rulebook_version) for d in report.deductions]
    assert sorted(explained, key=str) == sorted(
        [
            (str(c.village_b), "inadequate", Decimal("0.5"), True, 1),
            (str(c.village_a), "overdue", Decimal("0.5"), True, 1),
            (str(c.village_a), "overdue", Decimal("1.0"), False, 1),
        ],
        key=str,
    )
    assert sum(d.points for d in report.deductions if d.counts) == town.deducted
    # Deadlines: the town's own met; the late and the repeated missed; the rejected one was
    # submitted in time but inadequate, so not met (its new deadline has not come yet).
    assert (town.due, town.met) == (4, 1)
    assert town.on_time_rate == Decimal("0.25")
    assert (town.findings, town.closed, town.closure_rate) == (4, 1, Decimal("0.25"))
    assert town.by_category == {"missing": 4}
    village_a = report.ranking.unit(str(c.village_a))
    assert village_a is not None and village_a.score == Decimal("99.5")
    # Months and years add up the same facts: everything happened in April.
    assert today.month == 4
    assert by_period == {"2026-04": Decimal(99), "2026-05": Decimal(100), "2026": Decimal(99), "2026Q1": Decimal(100)}


def test_ranks_are_within_a_kind_ties_share_a_place_and_zones_compare_their_towns_average(store_env):
    with opened(store_env, start=local(2026, 4, 1)) as app:
        world = build_world(app)
        c = world.county
        for unit_id in (c.village_a, c.village_b):
            finding = c.file(unit_id)
            app.issue_notice(finding, c.inspector)
        for finding in [c.file(world.village_west, check_item="帮扶手册")]:
            app.issue_notice(finding, c.inspector)
            miss(world, finding)
        with views(app, store_env) as (catch_up, _, scores):
            catch_up()
            ranking = scores.ranking(str(c.county_id), "2026Q2", local_date(c.clock()))

    villages = {s.name: (s.rank, s.score) for s in ranking.by_kind["village"]}
    assert villages == {"高庙山村": (1, Decimal(100)), "孟岔村": (1, Decimal(100)), "刘家坪村": (3, Decimal("99.5"))}
    towns = [(s.name, s.rank, s.score) for s in ranking.by_kind["town"]]
    assert towns == [("银州街道", 1, Decimal(100)), ("龙镇", 2, Decimal("99.5"))]
    assert [(s.name, s.rank) for s in ranking.by_kind["department"]] == [("县教育局", 1)]
    assert [(z.name, z.rank, z.average, z.towns) for z in ranking.zones] == [
        ("东战区", 1, Decimal("100.00"), 1),
        ("西战区", 2, Decimal("99.50"), 1),
    ]
    west = ranking.unit(str(world.town_west))
    assert west is not None and west.change == Decimal("-0.5") and west.previous_score == Decimal(100)


def test_a_new_rulebook_version_changes_only_the_deductions_from_its_effective_date(store_env):
    with opened(store_env, start=local(2026, 4, 1)) as app:
        world = build_world(app)
        c = world.county
        before = c.file(c.village_a)
        app.issue_notice(before, c.inspector)
        miss(world, before)  # in April, under version 1
        app.clock.set(local(2026, 4, 20))
        stricter = Rules.from_dict({**DEFAULT_RULES.to_dict(), "overdue_points": "1.5"})
        app.adopt_rules(c.county_id, stricter, date(2026, 5, 15), c.command)
        app.clock.set(local(2026, 5, 6))
        straddling = c.file(c.village_b, check_item="帮扶手册")  # notice under version 1, missed under 2
        app.issue_notice(straddling, c.inspector)
        department = c.file(c.department_id, check_item="危房改造档案")
        app.issue_notice(department, c.inspector)
        app.clock.set(local(2026, 5, 14, 12))
        with views(app, store_env) as (catch_up, _, scores):
            catch_up()
            on_14th = scores.unit_report(str(c.town_id), "2026Q2", date(2026, 5, 14))
            miss(world, straddling)
            miss(world, department)
            catch_up()
            end = local_date(c.clock())
            town = scores.unit_report(str(c.town_id), "2026Q2", end)
            education = scores.unit_report(str(c.department_id), "2026Q2", end)
        day_after = {
            f: (date.fromisoformat(app.finding(f).deadline) + timedelta(days=1)).isoformat()
            for f in (before, straddling)
        }

    def missed_on(finding_id: Any) -> str:
        return day_after[finding_id]

    assert on_14th is not None and town is not None and education is not None
    assert missed_on(before) < "2026-05-15" <= missed_on(straddling)
    # Version 2 was adopted on 20 April but is in force only from 15 May.
    assert [(d.occurred_on, d.rulebook_version, d.points) for d in on_14th.deductions] == [
        (missed_on(before), 1, Decimal("0.5"))
    ]
    assert [(d.occurred_on, d.rulebook_version, d.points) for d in town.deductions] == [
        (missed_on(before), 1, Decimal("0.5")),
        (missed_on(straddling), 2, Decimal("1.5")),
    ]
    assert town.score.score == Decimal(98)
    assert [(d.rulebook_version, d.points) for d in education.deductions] == [(2, Decimal("1.5"))]
    # The base score is the one in force on the period's first day.
    assert town.ranking.rulebook_version == 1 and town.score.base == Decimal(100)


def _figures(ledger: Any, scores: Any, county_id: str, day: date, as_of: date | None) -> dict[str, Any]:
    """Everything the ledger, ranking, unit and dashboard pages read for ``day``."""
    f = LedgerFilter(county_id=county_id, as_of=as_of)
    period = f"{day.year}Q{(day.month - 1) // 3 + 1}"
    ranking = scores.ranking(county_id, period, day)
    towns = [s.unit_id for s in ranking.by_kind["town"]]
    return {
        "ledger": ledger.page(f, day, 1, 10_000).rows,
        "counts": ledger.status_counts(f, day),
        "overdue": ledger.page(LedgerFilter(county_id=county_id, as_of=as_of, overdue_only=True), day).total,
        "units": ledger.units(county_id, as_of),
        "dashboard": ledger.dashboard(county_id, day, date(day.year, 1, 1), day, as_of),
        "ranking": asdict(ranking),
        "reports": [asdict(scores.unit_report(unit_id, period, day)) for unit_id in towns],
    }


@pytest.mark.slow
def test_the_past_as_of_any_day_is_what_the_live_views_showed_that_day(store_env):
    rng = random.Random(20260331)
    seen: dict[date, dict[str, Any]] = {}
    first = date(2026, 3, 2)
    with opened(store_env, start=local(2026, 3, 2, 8)) as app:
        world = build_world(app)
        county_id = str(world.county.county_id)
        findings: list[Any] = []
        with views(app, store_env) as (catch_up, ledger, scores):
            for offset in range(45):
                day = first + timedelta(days=offset)
                live_day(world, rng, day, findings)
                if offset % 4 == 0 or offset > 40:
                    catch_up()
                    seen[day] = _figures(ledger, scores, county_id, day, as_of=None)
            app.clock.advance(days=3)
            live_day(world, rng, local_date(app.clock()), findings)
            catch_up()
            for day, live in seen.items():
                assert _figures(ledger, scores, county_id, day, as_of=day) == live, f"as of {day}"
            statuses = {row["status"] for row in seen[max(seen)]["ledger"]}
    # The history was varied enough to mean something.
    assert {"open", "acknowledged", "submitted", "closed"} <= statuses
    assert any(r["deductions"] for report in seen[max(seen)]["reports"] for r in [report])


def test_rebuilding_the_score_view_gives_exactly_the_same_rows(store_env):
    rng = random.Random(7)
    with opened(store_env, start=local(2026, 3, 2, 8)) as app:
        world = build_world(app)
        findings: list[Any] = []
        for offset in range(20):
            live_day(world, rng, date(2026, 3, 2) + timedelta(days=offset), findings)
        with views(app, store_env) as (catch_up, ledger, scores):
            catch_up()
            before = scores.all_rows(), ledger.all_rows()
            scores.view.drop_view(app.name)
            ledger.view.drop_view(app.name)
            assert scores.all_rows() == [] and ledger.all_rows() == []
            catch_up()
            after = scores.all_rows(), ledger.all_rows()
    assert after == before
    tables = {row["table"] for row in before[0]}
    assert {"score_deductions", "score_deadlines", "score_findings", "score_units_days"} <= tables
