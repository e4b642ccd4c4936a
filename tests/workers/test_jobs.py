"""Jobs called directly, as a worker would: each safe to run twice, and a
timer for a deadline since extended or met records nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from domain.message import message_id
from projections.ledger_query import LedgerQuery
from projections.runner import ledger_projection
from tests.integration.county import County, build_county, local, opened
from workers import context, jobs
from workers.channels import WebhookChannel


@pytest.fixture
def county(store_env) -> Iterator[County]:
    with opened(store_env, start=local(2026, 3, 2)) as app:
        view = ledger_projection(store_env).view
        context.use(context.Services(app, LedgerQuery(view), app.clock, WebhookChannel(timeout=1), None))
        try:
            yield build_county(app)
        finally:
            context.use(None)
            view.datastore.close()


def noticed(county: County) -> str:
    finding = county.file()
    assert jobs.issue_notice(str(finding)) == "issued"
    assert jobs.issue_notice(str(finding)) == "already issued"
    jobs.send_notice(str(finding), 1)
    return str(finding)


def test_a_job_run_twice_records_nothing_the_second_time(county):
    finding = noticed(county)
    position = county.app.position()
    jobs.send_notice(finding, 1)
    jobs.deliver(str(message_id("notice", county.finding(finding).id, 1)))
    assert county.app.position() == position


def test_a_timer_for_a_deadline_since_extended_records_nothing(county):
    finding = noticed(county)
    county.app.request_extension(county.finding(finding).id, date(2026, 4, 30), "需要乡镇审核", county.unit_a)
    county.app.grant_extension(county.finding(finding).id, county.command)
    county.clock.set(local(2026, 3, 17, 0, 1))  # past the first deadline, not the second
    position = county.app.position()
    assert jobs.deadline_passed(finding, 1) == "not missed"
    assert jobs.send_reminder(finding, 1, 3) == "not needed"
    assert county.app.position() == position


def test_a_timer_for_a_deadline_met_records_nothing(county):
    finding = noticed(county)
    county.app.submit_rectification(county.finding(finding).id, "已补齐", county.unit_a)
    county.app.accept_rectification(county.finding(finding).id, county.inspector)
    county.clock.set(local(2026, 3, 17, 0, 1))
    position = county.app.position()
    assert jobs.deadline_passed(finding, 1) == "not missed"
    assert jobs.propose_escalation(finding) == "not due"
    assert county.app.position() == position


def test_a_missed_deadline_is_recorded_once_however_often_its_timer_fires(county):
    finding = noticed(county)
    county.clock.set(local(2026, 3, 17, 0, 1))
    assert jobs.deadline_passed(finding, 1) == "missed"
    position = county.app.position()
    assert jobs.deadline_passed(finding, 1) == "missed"
    assert county.app.position() == position
    assert county.finding(county.finding(finding).id).missed_deadlines == (1,)


def test_a_reminder_that_fires_after_its_deadline_is_dropped(county):
    finding = noticed(county)
    county.clock.advance(days=30)
    position = county.app.position()
    assert jobs.send_reminder(finding, 1, 1) == "too late"
    assert county.app.position() == position


def test_the_sweep_reads_every_ledger_row_in_keyset_pages(county, monkeypatch):
    from projections.ledger import LedgerProjection
    from projections.ledger_query import LedgerFilter
    from projections.runner import Follower

    filed = {str(county.file(check_item=f"贫困户档案：第{i}项")) for i in range(5)}
    Follower(county.app, LedgerProjection(context.services().ledger.view)).catch_up()
    monkeypatch.setattr(jobs, "SWEEP_PAGE", 2)
    rows = list(jobs._ledger_rows(LedgerFilter(status="filed"), county.app.clock().date()))
    assert sorted(r["finding_id"] for r in rows) == sorted(filed)
