"""Background work when things go wrong: racing workers, a worker killed in the
middle of a job, Redis stopped, Redis flushed, the policy runner restarted,
a job that keeps failing. Real `rq worker` processes, Redis database 15, and
both event store backends; every fact still happens exactly once."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import pytest
from redis import Redis
from rq import Worker
from rq.worker import WorkerStatus
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.results import Result

from domain.finding import FILED
from domain.message import message_id
from domain.service import TravellingClock
from projections.ledger_query import LedgerQuery
from projections.runner import Follower, audit_projection, ledger_projection
from projections.storage import open_application
from tests.integration.county import build_county, local
from tests.workers.support import (
    CLOCK_KEY,
    PROXY_VARIABLES,
    REDIS_URL,
    eventually,
    exists,
    free_port,
    kill_worker,
    start_worker,
    stop_worker,
)
from workers import jobs
from workers.clock import RedisClock
from workers.policies import SWEEP_SECONDS, PolicyRunner, policy_projection
from workers.queueing import RETRY_INTERVALS_VARIABLE, RQJobQueue, redis_connection

#: A Monday; ten working days later the first deadline is 2026-03-16.
START = local(2026, 3, 2, 9, 0)
#: The first second after that deadline's day.
AFTER_DEADLINE = local(2026, 3, 17, 0, 0) + timedelta(seconds=1)
SECRET = "s3cret-0123456789abcdef"
REDIS_PORT = 6379
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", str(REDIS_PORT),
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's queues use the production connection settings, on database 15."""
    monkeypatch.setenv("DUBAN_REDIS_URL", REDIS_URL)
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# The test's side of the services: the application, a county, the ledger
# follower and the policy runner (threads of this process), and the audit chain
# as the projector keeps it (a notice's document waits for it: its anchor).


class Background:
    def __init__(self, store_env: dict[str, str], clock: Any):
        self.store_env = store_env
        self.clock = clock
        self.queue = RQJobQueue(redis_connection())
        self.app = open_application(store_env, clock=clock)
        self.views: list[Any] = []
        self.ledger: Follower | None = None
        self.runner: PolicyRunner | None = None
        self.chain: Follower | None = None
        try:
            self.county = build_county(self.app)
        except BaseException:
            self.close()
            raise

    def follow(self, queue: Any = None) -> tuple[Follower, PolicyRunner]:
        """New ledger follower and policy runner objects (not started yet), each on
        its view's tracked position."""
        ledger = ledger_projection(self.store_env)
        policies = policy_projection(queue or self.queue, self.app, self.store_env)
        self.views += [ledger.view, policies.view]
        self.ledger = Follower(self.app, ledger, poll_interval=0.1)
        self.runner = PolicyRunner(self.app, policies, self.clock, poll_interval=0.1)
        return self.ledger, self.runner

    def start(self) -> Background:
        chain = audit_projection(self.store_env)
        self.views.append(chain.view)
        self.chain = Follower(self.app, chain, poll_interval=0.1).start()  # not stopped by ``stop``: the projector
        ledger, runner = self.follow()
        ledger.start()
        runner.start()
        return self

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
        if self.ledger is not None:
            self.ledger.stop()

    def close(self) -> None:
        self.stop()
        if self.chain is not None:
            self.chain.stop()
        for view in self.views:
            view.datastore.close()
        self.app.close()
        self.queue.connection.close()

    def file(self, number: int, unit_id: UUID | None = None) -> UUID:
        """A finding with its own check item (so none is a repeat), naming the cadre."""
        return self.county.file(unit_id, check_item=f"收入核算表{number}", cadre_ids=[self.county.cadre_id])

    def notice_pairs(self, webhook: bool = False) -> Counter:
        """Each (channel, recipient) a notice to village A goes to, delivered once."""
        unit, user = f"unit:{self.county.village_a}", f"user:{self.county.cadre_id}"
        pairs = [("inbox", unit, True), ("inbox", user, True)] + ([("webhook", unit, True)] if webhook else [])
        return Counter(pairs)


@contextmanager
def services(store_env: dict[str, str], redis: Redis, clock: Any = None) -> Iterator[Background]:
    if clock is None:
        clock = RedisClock(redis, CLOCK_KEY)
    RedisClock(redis, CLOCK_KEY).set(START)  # what the workers read
    background = Background(store_env, clock)
    try:
        yield background.start()
    finally:
        background.close()


def kinds(app: Any, aggregate_id: UUID) -> Counter:
    return Counter(type(e).__name__ for e in app.history(aggregate_id))


def deliveries(app: Any, key: UUID) -> Counter:
    """(channel, recipient, succeeded) of every delivery attempt of a message."""
    return Counter(
        (e.channel, e.recipient, e.succeeded) for e in app.history(key) if type(e).__name__ == "DeliveryAttempted"
    )


def delivered(app: Any, key: UUID, pairs: Counter) -> bool:
    return exists(app, key) and set(pairs) <= set(deliveries(app, key))


def settled(queue: RQJobQueue) -> bool:
    """Nothing queued, running or waiting for a retry."""
    q = queue.queue
    return (
        q.count == 0
        and StartedJobRegistry(queue=q).get_job_count(cleanup=False) == 0
        and ScheduledJobRegistry(queue=q).get_job_count(cleanup=False) == 0
    )


def idle(queue: RQJobQueue) -> bool:
    """Every worker of the queue back to waiting for work (a finished job fully recorded)."""
    workers = Worker.all(queue=queue.queue)
    return bool(workers) and all(w.get_state() == WorkerStatus.IDLE for w in workers)


# A chat robot (HTTP webhook) that can hold a request until released


@dataclass
class Robot:
    url: str = ""
    bodies: list[bytes] = field(default_factory=list)
    hold_next: bool = False
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def robot() -> Iterator[Robot]:
    state = Robot()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            state.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if state.hold_next:
                state.hold_next = False
                state.held.set()
                state.release.wait(30)
            answer = b'{"errcode":0,"errmsg":"ok"}'
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client is gone (killed)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a killed client's connection: nothing to report

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/robot/send?key=abc"
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# 1. Two workers, one deadline


@pytest.mark.timeout(90)
def test_two_workers_and_duplicate_jobs_record_one_missed_deadline(store_env, redis):
    with services(store_env, redis) as bg:
        workers = [start_worker(store_env), start_worker(store_env)]
        outputs: list[str] = []
        try:
            finding_id = bg.file(1)
            eventually(lambda: delivered(bg.app, message_id("notice", finding_id, 1), bg.notice_pairs()), "the notice")
            eventually(lambda: len(Worker.all(queue=bg.queue.queue)) == 2, "both workers listening")

            # The deadline passes: the policy runner fires its timer (job deadline_<id>_1) and
            # enqueues a sweep; a retried job and a duplicate timer come under other ids.
            bg.clock.set(AFTER_DEADLINE)
            duplicates = [f"deadline-again_{finding_id}_{n}" for n in range(6)]
            for job_id in duplicates:
                bg.queue.enqueue(jobs.deadline_passed, str(finding_id), 1, job_id=job_id)
            bg.queue.enqueue(jobs.sweep, job_id="sweep-again")

            missed = message_id("deadline_missed", finding_id, 1)
            eventually(lambda: delivered(bg.app, missed, bg.notice_pairs()), "the notice of the miss")
            eventually(lambda: settled(bg.queue), "every job to have run")
        finally:
            outputs = [stop_worker(w) for w in workers]

        history = kinds(bg.app, finding_id)
        assert history["DeadlineMissed"] == 1
        assert history["PointsDeducted"] == 1
        assert bg.app.finding(finding_id).missed_deadlines == (1,)

        # Every duplicate ran and succeeded (finding the miss recorded), on both workers.
        q = bg.queue.queue
        assert FailedJobRegistry(queue=q).get_job_ids() == []
        finished = set(FinishedJobRegistry(queue=q).get_job_ids())
        assert {*duplicates, "sweep-again", f"deadline_{finding_id}_1"} <= finished
        ran = [q.fetch_job(job_id) for job_id in duplicates]
        assert [job.return_value() for job in ran] == ["missed"] * len(duplicates)
        assert len({job.worker_name for job in ran}) == 2, "both workers ran some of the duplicates"

        # The notice of the miss was sent once and delivered once to each recipient.
        assert kinds(bg.app, missed)["Sent"] == 1
        assert deliveries(bg.app, missed) == bg.notice_pairs()
    for output in outputs:
        assert "Traceback" not in output, output


# 2. A worker killed in the middle of a job


@pytest.mark.timeout(90)
def test_a_job_whose_worker_was_killed_is_retried_by_rq_and_nothing_doubles(store_env, redis, robot, monkeypatch):
    # RQ retries an abandoned job under the job's own Retry: with a pause, the retry waits in
    # the scheduled registry for a scheduler, and the killed worker's scheduler holds the
    # scheduler lock for another 61 s. Without a pause RQ puts it straight back on the queue.
    monkeypatch.setenv(RETRY_INTERVALS_VARIABLE, "0,0,0")
    with services(store_env, redis) as bg:
        village = f"unit:{bg.county.village_a}"
        bg.app.configure_webhook(bg.county.village_a, robot.url, SECRET, bg.county.command)
        robot.hold_next = True  # the first webhook request hangs: the job is in the middle
        first = start_worker(store_env)  # the Procfile's worker, scheduler and all
        second = None
        try:
            finding_id = bg.file(1)
            notice = message_id("notice", finding_id, 1)
            job_id = f"notice_{finding_id}_1"
            assert robot.held.wait(30), "the notice's webhook request"
            q = bg.queue.queue
            job = q.fetch_job(job_id)
            assert job is not None and job.get_status() == JobStatus.STARTED

            killed, first_output = kill_worker(first)
            assert len(killed) >= 2, "the scheduler and the work horse were killed with the worker"
            assert "Traceback" not in first_output, first_output

            # Half done: the message is sent and one inbox has it; the webhook's answer and the
            # cadre's inbox were lost with the work horse.
            assert kinds(bg.app, notice)["Sent"] == 1
            assert deliveries(bg.app, notice) == Counter([("inbox", village, True)])

            # RQ has not noticed: the job is still "started", its execution in the started
            # registry until the last heartbeat's ttl (60 s and more) runs out.
            started = StartedJobRegistry(queue=q)
            entries = redis.zrange(started.key, 0, -1, withscores=True)
            assert [member.decode().split(":")[0] for member, _ in entries] == [job_id]
            expires = entries[0][1]
            assert expires - time.time() > 50
            started.cleanup()  # a maintenance pass now changes nothing
            assert job.get_status() == JobStatus.STARTED
            # Nor can the policy's own job id be enqueued again while the dead job exists.
            bg.queue.enqueue(jobs.send_notice, str(finding_id), 1, job_id=job_id)
            assert job_id not in q.job_ids

            robot.release.set()
            second = start_worker(store_env)
            # Once the heartbeat has run out, a worker's maintenance (every --maintenance-interval,
            # 10 minutes by default) finds the abandoned job and retries it; done here as at that time.
            started.cleanup(timestamp=expires)
            eventually(lambda: job.get_status() == JobStatus.FINISHED, "the retried job to finish")
        finally:
            robot.release.set()
            second_output = stop_worker(second) if second is not None else ""
            if first.poll() is None:  # the test failed before the kill
                stop_worker(first)

        job = q.fetch_job(job_id)
        assert job.retries_left == 2  # one retry of three, used by the abandoned run
        assert FailedJobRegistry(queue=q).get_job_ids() == []
        # Nothing doubled: one message, each (channel, recipient) attempted and delivered once.
        assert kinds(bg.app, notice)["Sent"] == 1
        assert deliveries(bg.app, notice) == bg.notice_pairs(webhook=True)
        # The robot itself got the notice twice: the first answer never reached the killed
        # horse, so the retry had to send it again (at-least-once on the wire).
        assert len(robot.bodies) == 2 and robot.bodies[0] == robot.bodies[1]
    assert "Traceback" not in second_output, second_output


# 3. Redis stopped while findings are filed


def redis_answers() -> bool:
    """Whether Redis answers a PING now (a bare socket: no client retries and backoff)."""
    try:
        with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=0.5) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_for_redis(up: bool, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while redis_answers() != up:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@contextmanager
def redis_stopped() -> Iterator[None]:
    """Redis is stopped (every database of it, for every process), and started
    again afterwards whatever happens."""
    try:
        subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "shutdown", "nosave"], capture_output=True, timeout=10)
        assert wait_for_redis(up=False), "Redis did not stop"
        yield
    finally:
        if not redis_answers():
            subprocess.run(
                REDIS_START, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, timeout=20,
            )  # fmt: skip
        if not wait_for_redis(up=True):
            pytest.fail("Redis did not start again: " + " ".join(REDIS_START))


@pytest.mark.timeout(120)
def test_findings_filed_while_redis_is_down_get_their_notices_once_it_is_back(store_env, redis):
    # This process's clock must not need Redis: commands go on while it is down.
    clock = TravellingClock(START)
    with services(store_env, redis, clock=clock) as bg:
        worker = start_worker(store_env)
        try:
            before = bg.file(0)
            eventually(lambda: delivered(bg.app, message_id("notice", before, 1), bg.notice_pairs()), "a notice")
            # The notice's PDF is printed by a later job. Redis goes down with the worker idle: an
            # RQ worker still writing a finished job's result when Redis drops quits (it is for
            # the process manager to restart it), which is not what this test is about.
            eventually(lambda: bool(bg.app.finding(before).notice_documents), "the notice printed")
            eventually(lambda: settled(bg.queue) and idle(bg.queue), "the jobs so far")

            with redis_stopped():
                filed = [bg.file(n) for n in (1, 2, 3)]  # the event store is the truth
                time.sleep(1.0)
                assert bg.runner is not None
                # Nothing could be enqueued, so the policies have recorded nothing past them.
                assert bg.runner.follower.position < bg.app.position()
                assert all(bg.app.finding(f).status == FILED for f in filed)

            RedisClock(redis, CLOCK_KEY).set(START)  # Redis kept nothing, not even the test's clock
            for finding_id in filed:
                notice = message_id("notice", finding_id, 1)
                eventually(lambda: delivered(bg.app, notice, bg.notice_pairs()), "every notice", timeout=60)
            eventually(lambda: bg.runner.error is None, "the policies to run again")
            eventually(lambda: settled(bg.queue), "every job to have run")
            assert worker.poll() is None, "the worker lived through the outage"
        finally:
            stop_worker(worker)

        for finding_id in [before, *filed]:
            assert kinds(bg.app, finding_id)["NoticeIssued"] == 1
            notice = message_id("notice", finding_id, 1)
            assert kinds(bg.app, notice)["Sent"] == 1
            assert deliveries(bg.app, notice) == bg.notice_pairs()


# 4. A Redis flush loses no deadline


@pytest.mark.timeout(90)
def test_a_redis_flush_loses_no_missed_deadline(store_env, redis):
    with services(store_env, redis) as bg:
        assert bg.runner is not None
        worker = start_worker(store_env)
        try:
            filed = [bg.file(n) for n in (1, 2, 3)]
            for finding_id in filed:
                notice = message_id("notice", finding_id, 1)
                eventually(lambda: delivered(bg.app, notice, bg.notice_pairs()), "every notice")
            eventually(lambda: settled(bg.queue), "the notices' jobs")
        finally:
            output = stop_worker(worker)
        assert "Traceback" not in output, output

        # No worker now. The deadline passes: the timers fire, their jobs wait in the queue.
        bg.clock.set(AFTER_DEADLINE)
        deadline_jobs = {f"deadline_{f}_1" for f in filed}
        eventually(
            lambda: deadline_jobs <= set(bg.queue.queue.job_ids)
            and all(t["fired"] for t in bg.runner.projection.timers() if t["kind"] == "deadline"),
            "the deadline timers to fire",
        )

        # Redis loses everything (the test's clock kept, in the same transaction).
        with redis.pipeline(transaction=True) as flush:
            flush.flushdb()
            flush.set(CLOCK_KEY, AFTER_DEADLINE.isoformat())
            flush.execute()
        assert not deadline_jobs & set(bg.queue.queue.job_ids)  # (the runner may enqueue this bucket's sweep again)

        # The sweep records every miss: the policy runner enqueues one each bucket (and again at
        # once for a bucket whose sweep Redis lost).
        bg.clock.set(AFTER_DEADLINE + timedelta(seconds=SWEEP_SECONDS))
        worker = start_worker(store_env)
        try:
            for finding_id in filed:
                missed = message_id("deadline_missed", finding_id, 1)
                eventually(lambda: delivered(bg.app, missed, bg.notice_pairs()), "every missed deadline")
            eventually(lambda: settled(bg.queue), "the sweep's jobs")
            # Another sweep later finds nothing more to record.
            position = bg.app.position()
            later = AFTER_DEADLINE + timedelta(seconds=2 * SWEEP_SECONDS)
            bg.clock.set(later)
            sweep = f"sweep_{int(later.timestamp()) // SWEEP_SECONDS}"
            eventually(lambda: sweep in FinishedJobRegistry(queue=bg.queue.queue).get_job_ids(), "another sweep")
            assert bg.queue.queue.fetch_job(sweep).return_value()["failed"] == 0
            assert bg.app.position() == position
        finally:
            output = stop_worker(worker)
        assert "Traceback" not in output, output

        for finding_id in filed:
            history = kinds(bg.app, finding_id)
            assert history["DeadlineMissed"] == 1 and history["PointsDeducted"] == 1
            missed = message_id("deadline_missed", finding_id, 1)
            assert deliveries(bg.app, missed) == bg.notice_pairs()


# 5. The policy runner and the ledger projector restarted


class RecordingQueue:
    """The queue, noting every job id the policies ask for."""

    def __init__(self, queue: RQJobQueue):
        self.queue = queue
        self.job_ids: list[str] = []

    def enqueue(self, func: Any, *args: Any, job_id: str) -> None:
        self.job_ids.append(job_id)
        self.queue.enqueue(func, *args, job_id=job_id)


def spy_on_batches(follower: Follower) -> list[int]:
    """The log positions a follower's projection is given from now on."""
    seen: list[int] = []
    projection = follower.projection
    process_batch = projection.process_batch

    def spy(items: Any, caught_up_to: Any = None) -> None:
        seen.extend(tracking.notification_id for _, tracking in items)
        process_batch(items, caught_up_to=caught_up_to)

    projection.process_batch = spy
    return seen


@pytest.mark.timeout(90)
def test_restarted_policies_and_ledger_go_on_from_their_tracked_positions(store_env, redis):
    with services(store_env, redis) as bg:
        worker = start_worker(store_env)
        try:
            first = [bg.file(n) for n in (1, 2)]
            for finding_id in first:
                notice = message_id("notice", finding_id, 1)
                eventually(lambda: delivered(bg.app, notice, bg.notice_pairs()), "the first notices")
            eventually(lambda: settled(bg.queue), "the first jobs")
            old_runner, old_ledger = bg.runner, bg.ledger
            assert old_runner is not None and old_ledger is not None
            eventually(lambda: old_runner.follower.position == old_ledger.position == bg.app.position(), "caught up")

            bg.stop()
            policies_at, ledger_at = old_runner.follower.position, old_ledger.position
            later = [bg.file(n) for n in (3, 4)]
            time.sleep(0.5)
            assert [bg.app.finding(f).status for f in later] == [FILED, FILED]  # nobody follows the log

            # New objects on the same views, as a restarted process would make them.
            recording = RecordingQueue(bg.queue)
            new_ledger, new_runner = bg.follow(recording)
            assert (new_runner.follower.position, new_ledger.position) == (policies_at, ledger_at)
            policies_seen, ledger_seen = spy_on_batches(new_runner.follower), spy_on_batches(new_ledger)
            new_ledger.start()
            new_runner.start()
            for finding_id in later:
                notice = message_id("notice", finding_id, 1)
                eventually(lambda: delivered(bg.app, notice, bg.notice_pairs()), "the later notices")
            eventually(lambda: settled(bg.queue), "the later jobs")
            eventually(lambda: new_runner.follower.position == new_ledger.position == bg.app.position(), "caught up")
        finally:
            output = stop_worker(worker)
        assert "Traceback" not in output, output

        # The new objects went on from the tracked positions: no event given to them twice.
        assert policies_seen and min(policies_seen) > policies_at
        assert ledger_seen and min(ledger_seen) > ledger_at
        # Nothing enqueued again for what was processed; each later finding's jobs once.
        about_later = [j for j in recording.job_ids if any(str(f) in j for f in later)]
        others = [j for j in recording.job_ids if j not in about_later]
        assert all(j.startswith("sweep_") for j in others), others
        assert sorted(about_later) == sorted(
            [f"issue-notice_{f}" for f in later] + [f"notice_{f}_1" for f in later]
            + [f"render-notice_{f}_1" for f in later]  # the notice's document (issue 5)
        )  # fmt: skip
        for finding_id in [*first, *later]:
            assert kinds(bg.app, finding_id)["NoticeIssued"] == 1
        timers = Counter(t["finding_id"] for t in bg.runner.projection.timers())
        assert timers == {str(f): 3 for f in [*first, *later]}  # the deadline and two reminders each
        # The ledger has every finding, the later ones too, with its deadline.
        ledger = LedgerQuery(new_ledger.projection.view)
        for finding_id in [*first, *later]:
            row = ledger.finding(str(finding_id), START.date())
            assert row is not None and row["deadline"] == bg.app.finding(finding_id).deadline


# 6. A job that keeps failing


@pytest.mark.timeout(90)
def test_a_job_that_keeps_failing_is_retried_with_pauses_then_kept_as_failed(store_env, redis, monkeypatch):
    # RQ schedules in whole seconds (it truncates the due time), so a pause of 2 s lasts at least 1 s.
    monkeypatch.setenv(RETRY_INTERVALS_VARIABLE, "2,2")
    with services(store_env, redis) as bg:
        village = f"unit:{bg.county.village_a}"
        bg.app.configure_webhook(bg.county.village_a, f"http://127.0.0.1:{free_port()}/robot", SECRET, bg.county.command)
        worker = start_worker(store_env)
        try:
            finding_id = bg.file(1)
            notice = message_id("notice", finding_id, 1)
            job_id = f"notice_{finding_id}_1"
            q = bg.queue.queue
            failed = FailedJobRegistry(queue=q)
            statuses: list[str] = []
            seen_at: dict[int, float] = {}

            def watch() -> bool:
                done = job_id in failed.get_job_ids()  # first: the attempts read below include the last
                job = q.fetch_job(job_id)
                if job is not None:
                    statuses.append(job.get_status(refresh=False))
                if exists(bg.app, notice):
                    attempts = deliveries(bg.app, notice)[("webhook", village, False)]
                    seen_at.setdefault(attempts, time.monotonic())
                return done

            eventually(watch, "the job to land among the failed", timeout=40, interval=0.05)
        finally:
            output = stop_worker(worker)

        job = q.fetch_job(job_id)
        assert job.get_status() == JobStatus.FAILED and job.retries_left == 0
        result = job.latest_result()
        assert result is not None and result.type == Result.Type.FAILED
        assert "DeliveryFailed" in result.exc_string and "connection refused" in result.exc_string
        # Between the runs the job waited in the scheduled registry; the scheduler requeued it.
        assert JobStatus.SCHEDULED in statuses
        # Two pauses of at least a second each, less the watcher's lag in seeing the first attempt.
        assert seen_at[3] - seen_at[1] >= 1.8
        assert output.count("DeliveryFailed") >= 3
        # Three failed webhook attempts (numbered 1 to 3); the inboxes were delivered once.
        assert deliveries(bg.app, notice) == Counter(
            {("inbox", village, True): 1, ("inbox", f"user:{bg.county.cadre_id}", True): 1,
             ("webhook", village, False): 3}
        )  # fmt: skip
        webhook = [e.attempt for e in bg.app.history(notice) if type(e).__name__ == "DeliveryAttempted"
                   and e.channel == "webhook"]  # fmt: skip
        assert webhook == [1, 2, 3]
        # The other jobs were not held up.
        assert f"issue-notice_{finding_id}" in FinishedJobRegistry(queue=q).get_job_ids()
        assert failed.get_job_ids() == [job_id]



# 4b. A flush that loses a finding's very first jobs


@pytest.mark.timeout(90)
def test_a_redis_flush_loses_no_notice(store_env, redis):
    """Redis loses the notice jobs of fresh findings before any worker ran them:
    once the grace period has passed, the sweep issues and sends every notice."""
    with services(store_env, redis) as bg:
        filed = [bg.file(n) for n in (1, 2)]
        issue_jobs = {f"issue-notice_{f}" for f in filed}
        eventually(lambda: issue_jobs <= set(bg.queue.queue.job_ids), "the notices' jobs to be queued")
        with redis.pipeline(transaction=True) as flush:
            flush.flushdb()
            flush.set(CLOCK_KEY, START.isoformat())
            flush.execute()

        later = START + jobs.SWEEP_GRACE + timedelta(seconds=SWEEP_SECONDS)
        bg.clock.set(later)
        worker = start_worker(store_env)
        try:
            for finding_id in filed:
                notice = message_id("notice", finding_id, 1)
                eventually(lambda: delivered(bg.app, notice, bg.notice_pairs()), "every notice")
            # Each notice is then printed: a warm shutdown arriving while RQ forks for a
            # job makes RQ itself quit with a traceback, so stop only an idle worker.
            eventually(lambda: not bg.queue.queue.job_ids and idle(bg.queue), "the notices to be printed")
        finally:
            output = stop_worker(worker)
        assert "Traceback" not in output, output
        for finding_id in filed:
            assert kinds(bg.app, finding_id)["NoticeIssued"] == 1
            assert kinds(bg.app, message_id("notice", finding_id, 1))["Sent"] == 1
