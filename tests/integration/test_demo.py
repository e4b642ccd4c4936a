"""The demo county loads through the service on both backends and tells the whole story."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from app.demo import REGION_LOGIN, REGION_NAME, DemoSummary, demo_id, load_demo
from domain.errors import NotYourUnit
from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, REGION, UNIT
from domain.finding import RECTIFYING, STATUSES, Finding
from domain.rules.deductions import INADEQUATE, OVERDUE
from domain.service import TravellingClock
from projections.runner import Follower, ledger_projection
from projections.storage import open_application
from tests.support import sqlite_env

#: A Friday, 11:00 in Mizhi.
NOW = datetime(2026, 11, 27, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo_app(store_env: dict[str, str]) -> Iterator[Any]:
    """The store, opened on a clock standing at NOW (the conftest's ``app`` builds a county)."""
    application = open_application(store_env, clock=TravellingClock(NOW))
    yield application
    application.close()


def loaded(store_env: dict[str, str]) -> DemoSummary:
    summary = load_demo(store_env, NOW)
    assert summary is not None
    assert summary.problems == ()
    return summary


def events(app: Any) -> list[Any]:
    notifications = app.recorder.select_notifications(start=None, limit=1_000_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


def history_names(app: Any, finding_id: Any) -> list[str]:
    return [type(e).__name__ for e in app.history(finding_id)]


def test_the_demo_county_tells_every_part_of_the_story(store_env: dict[str, str], demo_app: Any) -> None:
    app = demo_app
    summary = loaded(store_env)
    findings: list[Finding] = [app.finding(i) for i in summary.finding_ids]

    assert 55 <= len(findings) <= 65
    statuses = {f.status for f in findings}
    assert statuses == set(STATUSES)
    assert summary.counts_by_status == {s: sum(f.status == s for f in findings) for s in STATUSES}
    assert {f.category for f in findings} == {
        "missing", "omitted", "nonstandard", "outdated", "inconsistent", "noncorresponding", "other"
    }  # fmt: skip
    assert {f.severity for f in findings} == {"general", "serious", "grave"}
    assert {f.source for f in findings} == {"inspection", "extraction", "mutual", "routine"}
    assert any(f.household_no for f in findings) and any(f.cadre_ids for f in findings)
    assert all(len(f.household_no) == 18 and f.household_no.isdigit() for f in findings if f.household_no)

    overdue_now = [f for f in findings if f.status in RECTIFYING and f.deadline_number in f.missed_deadlines]
    assert overdue_now and len(overdue_now) == summary.overdue_now
    assert all("DeadlineMissed" in history_names(app, f.id) for f in overdue_now)
    assert any(f.rejections == 1 for f in findings)
    assert any(f.rejections >= 2 for f in findings)
    assert any(f.deadline_basis == "extension" for f in findings)
    assert any("ExtensionDenied" in history_names(app, f.id) for f in findings)
    assert sum(f.escalated for f in findings) >= 2
    assert sum(f.status == "withdrawn" for f in findings) >= 2
    assert any(d.reversed for f in findings for d in f.deductions.values())
    repeats = [f for f in findings if f.repeat_of is not None]
    assert len(repeats) >= 2
    doubled = [d for f in repeats for d in f.deductions.values() if d.rule_id in (OVERDUE, INADEQUATE)]
    assert doubled and all(d.points == 1 for d in doubled)  # 0.5 doubled
    assert all(
        d.points == 0.5 for f in findings if f.repeat_of is None for d in f.deductions.values()
    )

    # The inspection is complete, the circular issued with its number, the case sanctioned.
    inspection = app.inspection(summary.inspection_id)
    assert inspection.completed and "督查" in inspection.title
    assert summary.circular_number == "米脱指发〔2026〕1号"
    case = app.case(summary.case_id)
    assert case.sanctions and case.sanctions[0][0] == "talk"
    assert all(app.finding(f).escalated for f in case.finding_ids)

    # Users for every role, with an example login each.
    assert set(summary.users_by_role) == {COMMAND, INSPECTOR, UNIT, CADRE, DISCIPLINE, REGION}
    for role, (count, login) in summary.users_by_role.items():
        assert count >= 1
        assert role in app.user(demo_id(f"user:{login}")).roles
    assert "米脂县" in summary.describe()

    # Written through the service on a travelling clock: about 75 days, ending at NOW.
    everything = events(app)
    assert summary.events_written == len(everything) == app.position()
    assert max(e.timestamp for e in everything) <= NOW
    assert NOW - timedelta(days=80) <= min(e.timestamp for e in everything) <= NOW - timedelta(days=70)

    # All county data carries the county's id.
    # (The city's office above it is the region's: its user belongs to the region, not the county.)
    region = app.region(demo_id(f"region:{REGION_NAME}"))
    assert region.county_ids == (summary.county_id,)
    created = [e for e in everything if hasattr(e, "county_id") and e.originator_id != demo_id(f"user:{REGION_LOGIN}")]
    assert {e.county_id for e in created} == {summary.county_id}
    assert summary.county_id == demo_id("unit:米脂县")
    assert all(f.unit_path[-1] == summary.county_id for f in findings)
    kinds = {type(e).__qualname__ for e in created}
    assert {"Unit.Registered", "User.Registered", "Finding.Filed", "Inspection.Planned", "Circular.Drafted",
            "Case.Opened", "Rulebook.FirstAdopted"} <= kinds  # fmt: skip

    # A second load finds the store in use and writes nothing.
    assert load_demo(store_env, NOW) is None
    assert app.position() == summary.events_written


def test_the_demo_is_deterministic_given_now(store_env: dict[str, str], demo_app: Any, tmp_path: Path) -> None:
    app = demo_app
    loaded(store_env)
    folder = tmp_path / "again"
    folder.mkdir()
    again_env = sqlite_env(folder)
    loaded(again_env)
    again = open_application(again_env, clock=TravellingClock(NOW))
    try:

        def story(application: Any) -> list[tuple[Any, ...]]:
            # Circulars and cases get random ids from the domain; everything else is fixed.
            return [
                (
                    type(e).__qualname__,
                    e.timestamp,
                    e.originator_version,
                    e.originator_id if e.originator_id.version == 5 else None,
                    getattr(e, "deadline", None),
                )
                for e in events(application)
            ]

        assert story(app) == story(again)
    finally:
        again.close()


def test_the_ledger_rebuilds_and_units_act_only_on_their_own(store_env: dict[str, str], demo_app: Any) -> None:
    app = demo_app
    summary = loaded(store_env)
    projection = ledger_projection(store_env)
    try:
        Follower(app, projection).catch_up()
        with projection.view.reading() as rows:
            count = rows.one("SELECT COUNT(*) AS n FROM {ledger_findings}")["n"]
            ledger_status = {
                r["finding_id"]: r["status"] for r in rows.all("SELECT finding_id, status FROM {ledger_findings}")
            }
            counties = {r["county_id"] for r in rows.all("SELECT DISTINCT county_id FROM {ledger_units}")}
            counties |= {r["county_id"] for r in rows.all("SELECT DISTINCT county_id FROM {ledger_users}")}
            units = {r["unit_id"]: r["kind"] for r in rows.all("SELECT unit_id, kind FROM {ledger_units}")}
            unit_users = {
                r["unit_id"]: r["user_id"]
                for r in rows.all("SELECT unit_id, user_id, roles FROM {ledger_users}")
                if r["roles"] == UNIT
            }
    finally:
        projection.view.datastore.close()
    assert count == len(summary.finding_ids)
    assert ledger_status == {str(i): app.finding(i).status for i in summary.finding_ids}
    counties.discard(str(demo_id(f"region:{REGION_NAME}")))  # the city office's user belongs to its region
    assert counties == {str(summary.county_id)}

    # A village team leader cannot touch another village's finding, but can its own.
    finding = next(
        f
        for f in (app.finding(i) for i in summary.finding_ids)
        if f.status == "open" and units[str(f.unit_id)] == "village"
    )
    own = app.actor(UUID(unit_users[str(finding.unit_id)]), UNIT)
    other_village = next(u for u, kind in units.items() if kind == "village" and u != str(finding.unit_id))
    stranger = app.actor(UUID(unit_users[other_village]), UNIT)
    before = app.position()
    with pytest.raises(NotYourUnit):
        app.acknowledge_notice(finding.id, stranger)
    with pytest.raises(NotYourUnit):
        app.submit_rectification(finding.id, "已整改", stranger)
    assert app.position() == before
    app.acknowledge_notice(finding.id, own)
    assert app.finding(finding.id).status == "acknowledged"
