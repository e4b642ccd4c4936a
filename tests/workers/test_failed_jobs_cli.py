"""Failed jobs land in RQ's failed registry with their reason; an operator
lists them and requeues them with `flask --app app failed-jobs`."""

from __future__ import annotations

import pytest
from redis import Redis
from rq import SimpleWorker
from rq.registry import FailedJobRegistry

from app import create_app
from workers.queueing import RQJobQueue

URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def jobs(monkeypatch):
    monkeypatch.setenv("DUBAN_REDIS_URL", URL)
    connection = Redis.from_url(URL)
    connection.flushdb()
    queue = RQJobQueue(connection)
    yield queue
    connection.flushdb()
    connection.close()


def test_failed_jobs_are_listed_with_their_reason_and_requeued(jobs, store_env):
    jobs.queue.enqueue("json.loads", "这不是 JSON", job_id="broken-job", retry=None)
    worker = SimpleWorker([jobs.queue], connection=jobs.connection, serializer=jobs.queue.serializer)
    worker.work(burst=True)
    registry = FailedJobRegistry(queue=jobs.queue)
    assert registry.get_job_ids() == ["broken-job"]

    app = create_app({"DUBAN_STORE_ENV": store_env, "DUBAN_EMBEDDED_PROJECTOR": False, "TESTING": True})
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["failed-jobs"])
    assert listed.exit_code == 0, listed.output
    assert "失败任务 1 个" in listed.output
    assert "broken-job" in listed.output and "JSONDecodeError" in listed.output

    requeued = runner.invoke(args=["failed-jobs", "--requeue", "broken-job"])
    assert requeued.exit_code == 0, requeued.output
    assert "已重新排队：broken-job" in requeued.output
    assert registry.get_job_ids() == [] and jobs.queue.job_ids == ["broken-job"]

    missing = runner.invoke(args=["failed-jobs", "--requeue", "no-such-job"])
    assert missing.exit_code == 1
    app.extensions["duban"].close()
