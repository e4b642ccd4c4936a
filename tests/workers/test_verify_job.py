"""The services mode's verification run: the discipline office's page enqueues an
RQ job, a worker runs it with its progress in the job's meta, the result is
recorded with the person who asked, and the page shows it once the view has it."""

from __future__ import annotations

from uuid import uuid4

import pytest
from redis import Redis
from rq import SimpleWorker
from rq.job import Job

from app import create_app
from tests.integration.county import build_county
from tests.web.conftest import act_as, post
from workers import context
from workers.queueing import RQJobQueue

URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def jobs(monkeypatch):
    monkeypatch.setenv("DUBAN_REDIS_URL", URL)
    connection = Redis.from_url(URL)
    connection.flushdb()
    yield RQJobQueue(connection)
    connection.flushdb()
    connection.close()


def test_a_run_from_the_page_is_a_job_with_progress_and_its_result_is_recorded(jobs, store_env):
    app = create_app({"DUBAN_STORE_ENV": store_env, "DUBAN_EMBEDDED_PROJECTOR": False, "TESTING": True,
                      "SECRET_KEY": "test"})  # fmt: skip
    rt = app.extensions["duban"]
    try:
        county = build_county(rt.duban)
        county.file()
        with rt.paused("audit") as follower:  # the projector process's work, by hand
            follower.catch_up()
        context.use(context.Services(rt.duban, rt.query, rt.clock, None, None, audit=rt.audit))
        client = app.test_client()
        act_as(client, county.users["discipline"], "discipline")
        run_id = str(uuid4())
        assert post(client, "/audit/verify", {"run_id": run_id}).status_code == 303
        assert client.get(f"/audit/runs/{run_id}/progress").get_json()["state"] == "queued"

        SimpleWorker([jobs.queue], connection=jobs.connection, serializer=jobs.queue.serializer).work(burst=True)
        job = Job.fetch(f"verify-{run_id}", connection=jobs.connection, serializer=jobs.queue.serializer)
        assert job.get_status() == "finished" and job.return_value() == "intact"
        head = rt.audit.head()
        assert job.get_meta()["position"] == job.get_meta()["total"] == head.position
        # Recorded, but the projector has not shown it yet: still going, as far as the page knows.
        assert client.get(f"/audit/runs/{run_id}/progress").get_json()["state"] == "running"
        with rt.paused("verifications") as follower:
            follower.catch_up()
        answer = client.get(f"/audit/runs/{run_id}/progress").get_json()
        assert answer["state"] == "done" and answer["outcome"] == "intact"
        run = rt.verifications.run(run_id)
        assert run is not None and run["actor_id"] == str(county.users["discipline"]) and run["head"] == head.chain
    finally:
        context.use(None)
        rt.close()
