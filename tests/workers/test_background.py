"""Background work end to end: real Redis, a real `rq worker --with-scheduler`
process, the policy follower, and a clock that every process reads from Redis,
so a finding's weeks go by in seconds. Each fact happens exactly once."""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from domain.message import message_id
from projections.runner import Follower, audit_projection, ledger_projection
from projections.storage import open_application
from tests.integration.county import build_county, local
from tests.workers.support import CLOCK_KEY, eventually, exists, start_worker, stop_worker
from workers.clock import RedisClock
from workers.policies import PolicyRunner, policy_projection
from workers.queueing import RQJobQueue


def test_a_finding_lives_its_weeks_through_real_workers(store_env, redis):
    clock = RedisClock(redis, CLOCK_KEY)
    clock.set(local(2026, 3, 2, 9, 0))
    app = open_application(store_env, clock=clock)
    county = build_county(app)
    ledger = Follower(app, ledger_projection(store_env), poll_interval=0.1).start()
    chain = Follower(app, audit_projection(store_env), poll_interval=0.1).start()  # as the projector: anchors
    queue = RQJobQueue(redis)
    runner = PolicyRunner(app, policy_projection(queue, app, store_env), clock, poll_interval=0.1).start()
    worker = start_worker(store_env)
    try:
        finding_id = app.file_finding(
            unit_id=county.village_a, category="missing", source="inspection", severity="general",
            check_item="收入核算", description="收入核算表缺项", actor=county.inspector, cadre_ids=[county.cadre_id],
        ).id  # fmt: skip

        # The notice is issued and delivered without anyone asking.
        notice = message_id("notice", finding_id, 1)
        eventually(lambda: exists(app, notice), "the notice")
        finding = app.finding(finding_id)
        assert finding.deadline == "2026-03-16"  # ten working days

        # Three days and one day before the deadline: reminders.
        clock.set(local(2026, 3, 13, 9, 0, ) + timedelta(seconds=1))
        eventually(lambda: exists(app, message_id("reminder", finding_id, 1, 3)), "the 3-day reminder")
        clock.set(local(2026, 3, 15, 9, 0) + timedelta(seconds=1))
        eventually(lambda: exists(app, message_id("reminder", finding_id, 1, 1)), "the 1-day reminder")

        # The end of the deadline's day: the miss and its deduction, recorded by the worker.
        clock.set(local(2026, 3, 17, 0, 0) + timedelta(seconds=1))
        eventually(lambda: exists(app, message_id("deadline_missed", finding_id, 1)), "the missed deadline notice")

        # Thirty days overdue: the sweep proposes escalation to the command office.
        clock.set(local(2026, 4, 16, 10, 0))
        eventually(lambda: exists(app, message_id("escalation_proposal", finding_id, 0, "overdue30")), "the proposal")

        # Let everything settle, then nothing more happens on another sweep.
        time.sleep(2.0)
        position = app.position()
        clock.set(local(2026, 4, 16, 10, 30))
        time.sleep(3.0)
        assert app.position() == position

        kinds = Counter(type(e).__name__ for e in app.history(finding_id))
        assert kinds["NoticeIssued"] == 1
        assert kinds["DeadlineMissed"] == 1
        assert kinds["PointsDeducted"] == 1
        assert app.finding(finding_id).points_deducted == 1 * app.rules_in_force(county.county_id).rules.overdue_points
        proposal = app.message(message_id("escalation_proposal", finding_id, 0, "overdue30"))
        assert proposal.unit_ids == (county.office_id,)
        for key in (notice, message_id("reminder", finding_id, 1, 3), message_id("reminder", finding_id, 1, 1)):
            attempts = Counter(
                (e.channel, e.recipient) for e in app.history(key) if type(e).__name__ == "DeliveryAttempted"
            )
            assert attempts == {("inbox", f"unit:{county.village_a}"): 1, ("inbox", f"user:{county.cadre_id}"): 1}
    finally:
        runner.stop()
        ledger.stop()
        chain.stop()
        chain.projection.view.datastore.close()
        output = stop_worker(worker)
        app.close()
    assert "Traceback" not in output, output
