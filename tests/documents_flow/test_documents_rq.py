"""A circular printed by a real `rq worker` process: the policy enqueues the job
on Redis (database 15), the worker waits for the audit chain to read the issue
(its anchor), prints, stores and registers it."""

from __future__ import annotations

from projections.runner import Follower, audit_projection
from projections.storage import open_application
from tests.documents_flow.conftest import pdf_text, sha256
from tests.integration.county import build_county, local
from tests.workers.support import CLOCK_KEY, eventually, start_worker, stop_worker
from workers.clock import RedisClock
from workers.documents.storage import DocumentStore
from workers.policies import policy_projection
from workers.queueing import RQJobQueue


def test_a_real_worker_prints_an_issued_circular_once(store_env, redis, tmp_path):
    clock = RedisClock(redis, CLOCK_KEY)
    clock.set(local(2026, 3, 2, 9, 0))
    store = DocumentStore(tmp_path / "documents")
    app = open_application(store_env, clock=clock)
    county = build_county(app)
    policies = policy_projection(RQJobQueue(redis), app, store_env)
    audit = audit_projection(store_env)
    worker = start_worker(store_env, env={"DUBAN_DOCUMENTS_DIR": str(store.directory)})
    try:
        circular = app.draft_circular(
            county_id=county.county_id, kind="criticism", title="关于整改不力单位的通报", prefix="米脱指发",
            period="2026Q1", body="决定通报批评。", finding_ids=[], unit_ids=[county.village_a], actor=county.command,
        ).id  # fmt: skip
        app.issue_circular(circular, county.command)
        Follower(app, policies).catch_up()  # enqueues render-circular_<id> on Redis
        Follower(app, audit).catch_up()  # the projector's chain reads the issue; the job waits for it
        eventually(lambda: app.circular(circular).document_sha256, "the registered document", timeout=60)
        registered = app.circular(circular).document_sha256
        assert sha256(store.read(registered)) == registered
        anchor = app.circular(circular).document_anchor
        assert anchor and f"历史存证：{anchor}" in pdf_text(store.read(registered))
        # The same job id again is refused by RQ while it is kept; run by hand it records nothing.
        position = app.position()
        Follower(app, policies).catch_up()
        assert app.position() == position
    finally:
        output = stop_worker(worker)
        policies.view.datastore.close()
        audit.view.datastore.close()
        app.close()
    assert "Traceback" not in output, output
