"""How fast the background work turns filed findings into delivered notices, and how long one takes.

Run from the repository root::

    .venv/bin/python bench/jobs.py [--findings 200] [--backends sqlite,postgres] [--setups fork1,fork2,pool2,simple1]
        [--latency-setups fork1,simple1] [--interval 0.2] [--policy-poll 0.5]

Everything real: the event store (a fresh SQLite file, or a fresh PostgreSQL
schema), Redis database 14 (flushed before and after every run; no other
database is touched), ``rq worker`` processes started like the Procfile's
``worker`` (JSON serializer, ``--with-scheduler``, the store's environment and
``DUBAN_REDIS_URL``), and, in this process, the policy runner
(``PolicyRunner`` with ``RQJobQueue``, system clock, poll interval 0.5 s as in
``python -m workers.policies``) and a ledger ``Follower`` thread.

The path of one finding: ``Finding.Filed`` -> the policy follower enqueues
``issue_notice`` -> a worker records ``NoticeIssued`` -> the policy follower
sees it and enqueues ``send_notice`` -> a worker sends the ``Message`` and
records its deliveries. The notice counts as delivered when its message
(``message_id("notice", finding_id, 1)``) has a successful
``("inbox", "unit:<unit id>")`` ``DeliveryAttempted``: the bench tails the log
for those events and confirms each with ``app.message(...).was_delivered(...)``.
Each finding names one cadre, so every notice is also delivered to a user's
inbox (a second ``DeliveryAttempted``, as in tests/workers/test_background.py).

1. Throughput, per worker setup (each on a fresh store and an empty Redis
   database): N findings filed one after another as fast as the service takes
   them; notices delivered per second from the first filing to the last
   delivery (the delivery's event timestamp).
2. Latency, per worker setup (by default one forking ``rq worker``, then one
   SimpleWorker), findings filed one every ~200 ms: the delay from
   ``Finding.Filed`` to the inbox ``DeliveryAttempted`` (both event timestamps,
   system clock, every process on this machine), median and 95th percentile,
   split along the path (policy pick-up, queue wait + fork, job bodies) with
   RQ's own enqueued/started timestamps. A setup whose throughput (part 1) is
   below the rate offered is reported as overloaded: its latency then holds a
   growing queue.

Progress goes to stderr; the report goes to stdout. Every process started is
stopped at the end, on an error and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.common import clear_environment, log, machine_facts  # noqa: E402

from eventsourcing.utils import get_topic  # noqa: E402
from redis import Redis  # noqa: E402

from domain.message import Message, message_id  # noqa: E402
from domain.service import system_clock  # noqa: E402
from projections.runner import Follower, ledger_projection  # noqa: E402
from projections.storage import open_application  # noqa: E402
from tests.integration.county import build_county  # noqa: E402
from tests.support import postgres_connection, postgres_schema, sqlite_env  # noqa: E402
from workers.policies import PolicyRunner, policy_projection  # noqa: E402
from workers.queueing import QUEUE_NAME, RQJobQueue  # noqa: E402

BACKENDS = ("sqlite", "postgres")
#: The only Redis database this bench uses (flushed before and after each run).
REDIS_URL = "redis://127.0.0.1:6379/14"
JSON_SERIALIZER = "rq.serializers.JSONSerializer"
RQ = str(Path(sys.executable).parent / "rq")

#: Variables that would point the stores (or the workers' clock and Redis) elsewhere.
STORE_CHOOSING = (
    "PERSISTENCE_MODULE", "DUBAN_PERSISTENCE_MODULE", "SQLITE_DBNAME", "DUBAN_SQLITE_DBNAME",
    "LEDGER_SQLITE_DBNAME", "POLICIES_SQLITE_DBNAME", "INBOX_SQLITE_DBNAME", "POSTGRES_SCHEMA",
    "DUBAN_POSTGRES_SCHEMA", "LEDGER_POSTGRES_SCHEMA", "CIPHER_TOPIC", "CIPHER_KEY", "DUBAN_CIPHER_TOPIC",
    "DUBAN_CIPHER_KEY", "DUBAN_CIPHER_KEY_FILE", "CREATE_TABLE", "DUBAN_CREATE_TABLE", "DUBAN_CLOCK_KEY",
    "DUBAN_REDIS_URL", "REDIS_URL", "DUBAN_SMTP_HOST",
)  # fmt: skip

DESCRIPTIONS = (
    "收入台账中务工收入与银行流水不一致，未附佐证材料",
    "帮扶手册未按季度更新，走访记录缺少签字",
    "一户一册家庭成员信息与系统不对应",
    "危房改造验收资料缺项，未见竣工照片",
    "饮水安全台账未填写水质检测结果",
)
CATEGORIES = ("missing", "omitted", "nonstandard", "outdated", "inconsistent", "noncorresponding", "other")


class Interrupted(BaseException):
    """SIGTERM (or SIGHUP): stop like on Ctrl-C."""


def _on_signal(signum: int, _frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


# Worker setups -------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    key: str
    label: str  # the table's "workers" column
    commands: tuple[tuple[str, ...], ...]  # one OS process each (besides their children)
    workers: int  # RQ workers expected to register
    note: str


#: Imported by ``rq worker -c`` in the worker's parent, so forked work horses inherit the modules
#: (it names no RQ setting: rq reads only upper-case names it knows, and this module has none of them).
PRELOAD_MODULE = "workers.preload"  # what the Procfile's worker runs with


def worker_command(name: str, simple: bool = False, preload: bool = False) -> tuple[str, ...]:
    command = [RQ, "worker", "--with-scheduler", "--serializer", JSON_SERIALIZER, "--url", REDIS_URL,
               "--path", str(REPO_ROOT), "--name", name]  # fmt: skip
    if simple:
        command += ["--worker-class", "rq.worker.SimpleWorker"]
    if preload:
        command += ["-c", PRELOAD_MODULE]
    return (*command, QUEUE_NAME)


def setups() -> dict[str, Setup]:
    pool = (RQ, "worker-pool", "-n", "2", "--serializer", JSON_SERIALIZER, "--url", REDIS_URL,
            "--path", str(REPO_ROOT), QUEUE_NAME)  # fmt: skip
    tag = uuid.uuid4().hex[:6]
    return {
        "fork1": Setup("fork1", "rq worker ×1", (worker_command(f"bench-{tag}-fork-1"),), 1,
                       "forks a work horse per job, importing the code afresh each time"),
        "fork2": Setup("fork2", "rq worker ×2",
                       (worker_command(f"bench-{tag}-fork-1"), worker_command(f"bench-{tag}-fork-2")), 2,
                       "two such processes"),
        "pool2": Setup("pool2", "rq worker-pool -n 2", (pool,), 2,
                       "one pool process forking two workers, each forking per job"),
        "fork1pre": Setup("fork1pre", "rq worker ×1 -c preload", (worker_command(f"bench-{tag}-pre-1", preload=True),),
                          1, f"forking, with `-c {PRELOAD_MODULE}` importing the code once in the parent (the Procfile's)"),
        "fork2pre": Setup("fork2pre", "rq worker ×2 -c preload",
                          (worker_command(f"bench-{tag}-pre-1", preload=True),
                           worker_command(f"bench-{tag}-pre-2", preload=True)), 2, "two such processes"),
        "simple1": Setup("simple1", "SimpleWorker ×1", (worker_command(f"bench-{tag}-simple-1", simple=True),), 1,
                         "no fork: jobs run in the worker process itself"),
        "simple2": Setup("simple2", "SimpleWorker ×2",
                         (worker_command(f"bench-{tag}-simple-1", simple=True),
                          worker_command(f"bench-{tag}-simple-2", simple=True)), 2,
                         "two such processes"),
    }  # fmt: skip


# Processes ---------------------------------------------------------------------------------


class Processes:
    """Worker processes of one run, each in its own session (so a Ctrl-C on the
    terminal reaches only this script, which stops them), output to a log file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: list[tuple[subprocess.Popen, Any, Path]] = []

    def start(self, command: tuple[str, ...], env: dict[str, str], name: str) -> subprocess.Popen:
        path = self.folder / f"{name}.log"
        out = path.open("wb")
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running.append((process, out, path))
        return process

    def dead(self) -> list[str]:
        return [f"pid {p.pid} exited with {p.returncode}" for p, _, _ in self.running if p.poll() is not None]

    def output(self) -> str:
        return "\n".join(path.read_text(errors="replace") for _, _, path in self.running if path.exists())

    def stop(self) -> None:
        """SIGTERM to each leader (RQ's warm shutdown: a worker lets its work horse
        finish, a pool passes the signal to its workers); whatever has not exited
        after 15 s is killed, with its descendants (a work horse runs in a process
        group of its own). A second Ctrl-C meanwhile is ignored, so the stop is
        never cut short."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self._stop()
        finally:
            signal.signal(signal.SIGINT, previous)

    def _stop(self) -> None:
        for process, _, _ in self.running:
            if process.poll() is None:
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for process, out, _ in self.running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pids = [*descendants(process.pid), process.pid]
                log(f"  worker {process.pid} did not stop in time: killing pids {pids}")
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                process.wait()
            out.close()


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, grandchildren...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found


def last_traceback(output: str, lines: int = 6) -> str:
    """The end of the last traceback in a worker's output (its exception line and what led to it)."""
    at = output.rfind("Traceback (most recent call last)")
    if at < 0:
        return ""
    tail = [line for line in output[at:].splitlines() if line.strip()]
    # The traceback ends at its exception line: the first unindented line after the header.
    end = next((i for i, line in enumerate(tail[1:], 1) if not line.startswith(" ")), len(tail) - 1)
    return "\n".join("    " + line for line in tail[max(0, end - lines + 1) : end + 1])


def wait_until(check: Any, timeout: float, what: str, procs: Processes | None = None, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if procs is not None and procs.dead():
            raise RuntimeError(f"a worker died while waiting for {what}: {procs.dead()}\n{procs.output()[-3000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


# Stores ------------------------------------------------------------------------------------


@contextmanager
def fresh_store(backend: str) -> Iterator[dict[str, str]]:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="duban-bench-jobs-"))
        try:
            env = sqlite_env(folder)
            yield {**env, "DUBAN_PERSISTENCE_MODULE": env["PERSISTENCE_MODULE"]}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        with postgres_schema() as env:
            yield {**env, "DUBAN_PERSISTENCE_MODULE": env["PERSISTENCE_MODULE"]}


def redis_db14() -> Redis:
    connection = Redis.from_url(REDIS_URL, socket_timeout=5, socket_connect_timeout=5)
    if connection.connection_pool.connection_kwargs.get("db") != 14:
        raise RuntimeError("the bench uses Redis database 14 only")
    return connection


def flush_quietly(redis: Redis) -> None:
    """Empty database 14 after a run; if Redis is down there is nothing to empty (it may have
    been restarted under us) and the run's own error says so."""
    from redis.exceptions import RedisError

    try:
        redis.flushdb()
    except RedisError as error:
        log(f"  could not flush Redis database 14 after the run: {error}")


# Watching inboxes --------------------------------------------------------------------------


@dataclass
class Delivery:
    finding_id: uuid.UUID
    at: datetime  # the DeliveryAttempted event's timestamp (the worker's clock)
    observed: float  # time.time() when this script saw it


class InboxWatch:
    """Tails the log for inbox deliveries of the expected notices; confirms each
    with ``app.message(message_id("notice", finding_id, 1)).was_delivered(...)``."""

    TOPIC = get_topic(Message.DeliveryAttempted)

    def __init__(self, app: Any):
        self.app = app
        self.position = app.position()
        self.expected: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}  # message id -> (finding, recipient)
        self.delivered: dict[uuid.UUID, Delivery] = {}

    def expect(self, finding_id: uuid.UUID, unit_id: uuid.UUID) -> None:
        self.expected[message_id("notice", finding_id, 1)] = (finding_id, f"unit:{unit_id}")

    @property
    def pending(self) -> int:
        return len(self.expected) - len(self.delivered)

    def poll(self) -> int:
        seen = 0
        head = self.app.recorder.max_notification_id() or 0
        while self.position < head:
            batch = self.app.recorder.select_notifications(
                start=self.position, limit=500, stop=head, topics=[self.TOPIC], inclusive_of_start=False
            )
            now = time.time()
            for notification in batch:
                event = self.app.mapper.to_domain_event(notification)
                wanted = self.expected.get(event.originator_id)
                if not wanted or event.channel != "inbox" or event.recipient != wanted[1] or not event.succeeded:
                    continue
                finding_id, recipient = wanted
                if finding_id not in self.delivered and self.app.message(event.originator_id).was_delivered(
                    "inbox", recipient
                ):
                    self.delivered[finding_id] = Delivery(finding_id, event.timestamp, now)
                    seen += 1
            if len(batch) < 500:
                self.position = head
            else:
                self.position = batch[-1].id
        return seen


# RQ job records ---------------------------------------------------------------------------


@dataclass
class JobTimes:
    func: str
    status: str
    enqueued: datetime | None
    started: datetime | None
    ended: datetime | None
    worker: str
    retried: bool


def job_times(redis: Redis, job_ids: list[str]) -> dict[str, JobTimes]:
    from rq.job import Job
    from rq.serializers import JSONSerializer

    found: dict[str, JobTimes] = {}
    for start in range(0, len(job_ids), 200):
        chunk = job_ids[start : start + 200]
        for job_id, job in zip(chunk, Job.fetch_many(chunk, connection=redis, serializer=JSONSerializer)):
            if job is None:
                continue
            found[job_id] = JobTimes(
                func=job.func_name.rsplit(".", 1)[-1],
                status=getattr(job.get_status(refresh=False), "value", "?"),
                enqueued=job.enqueued_at,
                started=job.started_at,
                ended=job.ended_at,
                worker=job.worker_name or "",
                retried=job.retries_left is not None and job.retries_left < 4,
            )
    return found


def seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# One run: a fresh store, empty Redis, workers, policies, ledger ------------------------------


class Complaints(logging.Handler):
    """Keeps what the policy runner and the ledger follower of this process complain about
    (a pause on a Redis or database error), and shows it on stderr."""

    NAMES = ("duban.policies", "duban.projector")

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = f"{record.name}: {record.getMessage()}"
        self.messages.append(message)
        log(f"  {message}")

    def __enter__(self) -> Complaints:
        for name in self.NAMES:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in self.NAMES:
            logging.getLogger(name).removeHandler(self)


@dataclass
class Rig:
    app: Any
    county: Any
    redis: Redis
    runner: PolicyRunner
    ledger: Follower
    procs: Processes
    setup: Setup
    complaints: Complaints
    worker_start_s: float = 0.0


@contextmanager
def rig(backend: str, setup: Setup, policy_poll: float) -> Iterator[Rig]:
    redis = redis_db14()
    redis.flushdb()
    folder = Path(tempfile.mkdtemp(prefix="duban-bench-workers-"))
    procs = Processes(folder)
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, folder, True)
        complaints = stack.enter_context(Complaints())
        stack.callback(redis.close)
        stack.callback(flush_quietly, redis)
        store = stack.enter_context(fresh_store(backend))
        app = open_application(store, clock=system_clock)
        stack.callback(app.close)
        county = build_county(app)  # the tables exist before any worker opens them
        env = {k: v for k, v in os.environ.items() if k not in STORE_CHOOSING}
        env.update(store)
        env["DUBAN_REDIS_URL"] = REDIS_URL
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        started = time.perf_counter()
        stack.callback(procs.stop)
        for i, command in enumerate(setup.commands, 1):
            procs.start(command, env, f"{setup.key}-{i}")

        ledger_view = ledger_projection(store)
        stack.callback(ledger_view.view.datastore.close)
        ledger = Follower(app, ledger_view).start()
        stack.callback(ledger.stop)
        projection = policy_projection(RQJobQueue(redis), app, store)
        stack.callback(projection.view.datastore.close)
        runner = PolicyRunner(app, projection, system_clock, poll_interval=policy_poll).start()
        stack.callback(runner.stop)

        from rq import Queue, Worker
        from rq.registry import StartedJobRegistry

        queue = Queue(QUEUE_NAME, connection=redis)
        wait_until(lambda: Worker.count(connection=redis) >= setup.workers, 60, f"{setup.workers} RQ worker(s)", procs)
        worker_start_s = time.perf_counter() - started

        def sweep_done() -> bool:
            from rq.job import Job
            from rq.serializers import JSONSerializer

            ids = [key.decode().removeprefix("rq:job:") for key in redis.scan_iter("rq:job:sweep_*")]
            jobs = Job.fetch_many(ids, connection=redis, serializer=JSONSerializer) if ids else []
            return bool(jobs) and all(job is not None and job.is_finished for job in jobs)

        def quiet() -> bool:  # the county seen by the policies, the policies' first sweep done
            return (
                runner.follower.position >= app.position()
                and sweep_done()
                and queue.count == 0
                and StartedJobRegistry(QUEUE_NAME, connection=redis).count == 0
            )

        wait_until(quiet, 60, "the policies to catch up and the queue to empty", procs)
        time.sleep(0.3)
        complaints.messages.clear()  # only what happens while measuring
        yield Rig(app, county, redis, runner, ledger, procs, setup, complaints, worker_start_s)


def finding_kwargs(county: Any, i: int) -> dict[str, Any]:
    return {
        "unit_id": county.village_a if i % 2 == 0 else county.village_b,
        "category": CATEGORIES[i % len(CATEGORIES)],
        "source": "inspection",
        "severity": "general",
        "check_item": f"收入台账第{i + 1}项",
        "description": f"{DESCRIPTIONS[i % len(DESCRIPTIONS)]}（第{i + 1}条）",
        "actor": county.inspector,
        "cadre_ids": [county.cadre_id],
    }


def wait_for_deliveries(r: Rig, watch: InboxWatch, timeout: float) -> None:
    from rq.registry import FailedJobRegistry

    deadline = time.monotonic() + timeout
    warned = False
    while watch.pending:
        watch.poll()
        if not watch.pending:
            break
        if r.procs.dead():
            raise RuntimeError(f"a worker died: {r.procs.dead()}\n{r.procs.output()[-3000:]}")
        if not warned and FailedJobRegistry(QUEUE_NAME, connection=r.redis).count:
            log("  warning: some job failed (see the job figures below)")
            warned = True
        if time.monotonic() > deadline:
            raise TimeoutError(f"{watch.pending} of {len(watch.expected)} notices not delivered after {timeout:.0f} s")
        time.sleep(0.05)


def job_summary(r: Rig, finding_ids: list[uuid.UUID]) -> dict[str, Any]:
    ids = [f"issue-notice_{f}" for f in finding_ids] + [f"notice_{f}_1" for f in finding_ids]
    times = job_times(r.redis, ids)
    out: dict[str, Any] = {"missing_jobs": len(ids) - len(times)}
    for func in ("issue_notice", "send_notice"):
        jobs = [t for t in times.values() if t.func == func]
        runs = [s for t in jobs if (s := seconds(t.started, t.ended)) is not None]
        waits = [s for t in jobs if (s := seconds(t.enqueued, t.started)) is not None]
        out[func] = {
            "run_p50": statistics.median(runs) if runs else float("nan"),
            "wait_p50": statistics.median(waits) if waits else float("nan"),
            "not_finished": sum(1 for t in jobs if t.status != "finished"),
            "retried": sum(1 for t in jobs if t.retried),
        }
    out["per_worker"] = Counter(t.worker for t in times.values())
    from rq.registry import FailedJobRegistry

    out["failed"] = FailedJobRegistry(QUEUE_NAME, connection=r.redis).count
    return out


# 1. Throughput ------------------------------------------------------------------------------


def run_throughput(backend: str, setup: Setup, n: int, args: argparse.Namespace) -> dict[str, Any]:
    with rig(backend, setup, args.policy_poll) as r:
        watch = InboxWatch(r.app)
        kwargs = [finding_kwargs(r.county, i) for i in range(n)]
        filed: list[uuid.UUID] = []
        began = datetime.now(timezone.utc)
        started = time.perf_counter()
        for kw in kwargs:
            finding_id = r.app.file_finding(**kw).id
            filed.append(finding_id)
            watch.expect(finding_id, kw["unit_id"])
        filing = time.perf_counter() - started
        log(f"  {backend} {setup.label}: filed {n} findings in {filing:.2f} s; waiting for the notices")
        wait_for_deliveries(r, watch, args.timeout)
        last = max(d.at for d in watch.delivered.values())
        span = (last - began).total_seconds()
        log(f"  {backend} {setup.label}: {n} notices delivered {span:.1f} s after the first filing")
        jobs = job_summary(r, filed)
        output = r.procs.output()
        return {
            "notices_per_s": n / span,
            "jobs_per_s": 2 * n / span,
            "span_s": span,
            "filing_per_s": n / filing,
            "worker_start_s": r.worker_start_s,
            "jobs": jobs,
            "tracebacks": output.count("Traceback"),
            "traceback": last_traceback(output),
            "complaints": list(r.complaints.messages),
        }


# 2. Latency ---------------------------------------------------------------------------------

#: The path of one finding, as (label, from point, to point); the points are below.
STAGES = (
    ("policy picks up Filed, enqueues issue_notice", "filed", "issue_enqueued"),
    ("queue wait + fork (issue_notice)", "issue_enqueued", "issue_started"),
    ("issue_notice job until NoticeIssued", "issue_started", "notice_issued"),
    ("NoticeIssued saved, policy picks it up, enqueues send_notice", "notice_issued", "send_enqueued"),
    ("queue wait + fork (send_notice)", "send_enqueued", "send_started"),
    ("send_notice job until Message.Sent", "send_started", "message_sent"),
    ("deliver: inbox DeliveryAttempted (unit)", "message_sent", "delivered"),
)


def finding_points(app: Any, finding_id: uuid.UUID, jobs: dict[str, JobTimes], delivery: Delivery) -> dict[str, Any]:
    points: dict[str, Any] = {}
    for event in app.history(finding_id):
        name = type(event).__name__
        if name == "Filed":
            points["filed"] = event.timestamp
        elif name == "NoticeIssued" and "notice_issued" not in points:
            points["notice_issued"] = event.timestamp
    key = message_id("notice", finding_id, 1)
    points["message_sent"] = app.history(key)[0].timestamp
    points["delivered"] = delivery.at
    issue = jobs.get(f"issue-notice_{finding_id}")
    send = jobs.get(f"notice_{finding_id}_1")
    points["issue_enqueued"] = issue.enqueued if issue else None
    points["issue_started"] = issue.started if issue else None
    points["send_enqueued"] = send.enqueued if send else None
    points["send_started"] = send.started if send else None
    return points


def run_latency(backend: str, setup: Setup, n: int, interval: float, args: argparse.Namespace) -> dict[str, Any]:
    with rig(backend, setup, args.policy_poll) as r:
        watch = InboxWatch(r.app)
        filed_at: dict[uuid.UUID, float] = {}
        order: list[uuid.UUID] = []
        began = time.monotonic()
        last_filing = began
        for i in range(n):
            # A steady rhythm: the i-th filing at i × interval (no drift from the calls themselves),
            # watching the inboxes meanwhile so the observed delivery times stay close to the truth.
            while (pause := began + i * interval - time.monotonic()) > 0:
                watch.poll()
                time.sleep(min(0.05, max(0.0, began + i * interval - time.monotonic())))
            kw = finding_kwargs(r.county, i)
            wall = time.time()
            last_filing = time.monotonic()
            finding_id = r.app.file_finding(**kw).id
            filed_at[finding_id] = wall
            order.append(finding_id)
            watch.expect(finding_id, kw["unit_id"])
        offered = (n - 1) / (last_filing - began) if n > 1 else 1 / interval
        log(f"  {backend} latency, {setup.label}: filed {n} findings at one per {interval * 1000:.0f} ms;"
            " waiting for the notices")  # fmt: skip
        wait_for_deliveries(r, watch, args.timeout)
        jobs = job_times(r.redis, [f"issue-notice_{f}" for f in order] + [f"notice_{f}_1" for f in order])
        event_delays: list[float] = []
        wall_delays: list[float] = []
        stages: dict[str, list[float]] = {label: [] for label, _, _ in STAGES}
        for finding_id in order:
            delivery = watch.delivered[finding_id]
            points = finding_points(r.app, finding_id, jobs, delivery)
            event_delays.append(seconds(points["filed"], points["delivered"]))  # type: ignore[arg-type]
            wall_delays.append(delivery.observed - filed_at[finding_id])
            for label, a, b in STAGES:
                value = seconds(points.get(a), points.get(b))
                if value is not None:
                    stages[label].append(value)
        summary = job_summary(r, order)
        output = r.procs.output()
        log(f"  {backend} latency, {setup.label}: median {statistics.median(event_delays):.2f} s")
        return {
            "event_delays": event_delays,
            "wall_delays": wall_delays,
            "stages": stages,
            "offered_per_s": offered,
            "jobs": summary,
            "tracebacks": output.count("Traceback"),
            "traceback": last_traceback(output),
            "complaints": list(r.complaints.messages),
        }


# Machine and report --------------------------------------------------------------------------


def machine(backends: list[str]) -> list[tuple[str, str]]:
    try:
        redis_version = str(redis_db14().info("server").get("redis_version", "?"))
    except Exception as error:
        redis_version = f"unreachable ({error.__class__.__name__})"
    return machine_facts(
        backends,
        ("rq", metadata.version("rq")),
        ("redis-py / server", f"{metadata.version('redis')} / {redis_version} (database 14)"),
    )


def fmt(value: float) -> str:
    if value != value:  # nan
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}" if value >= 1 else f"{value:.3f}"


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]], align: str) -> None:
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)).rstrip()

    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def print_trouble(run: dict[str, Any]) -> None:
    if run["complaints"]:
        print(f"  in this process ({len(run['complaints'])}): {run['complaints'][0]}")
        if len(run["complaints"]) > 1:
            print(f"    ... last: {run['complaints'][-1]}")
    if run["traceback"]:
        print("  last traceback in the worker output ends with:")
        print(run["traceback"])


def report(args: argparse.Namespace, throughput: dict, latency: dict, failures: list[str], known: dict[str, Setup]) -> None:
    print()
    print(f"Duban background work bench: throughput {args.findings} findings filed at once; latency "
          f"{args.latency_findings} findings filed one per {args.interval * 1000:.0f} ms; policy poll {args.policy_poll} s")  # fmt: skip
    print()
    rows: list[tuple[str, ...]] = []
    for backend in args.backends:
        for key in args.setups:
            t = throughput.get((backend, key))
            if not t:
                continue
            label, j = known[key].label, t["jobs"]
            rows.append((backend, label, "throughput: notices delivered", fmt(t["notices_per_s"]), "notices/s"))
            rows.append((backend, label, "  jobs done (2 per notice)", fmt(t["jobs_per_s"]), "jobs/s"))
            rows.append((backend, label, "  first filing to last delivery", fmt(t["span_s"]), "s"))
            rows.append((backend, label, "  issue_notice job run, median", fmt(j["issue_notice"]["run_p50"] * 1000), "ms"))
            rows.append((backend, label, "  send_notice job run, median", fmt(j["send_notice"]["run_p50"] * 1000), "ms"))
        for key in args.latency_setups:
            lat = latency.get((backend, key))
            if not lat:
                continue
            label, delays, walls = known[key].label, lat["event_delays"], lat["wall_delays"]
            k = min(10, len(delays))
            rows.append((backend, label, "latency: filed → in inbox, median", fmt(statistics.median(delays)), "s"))
            rows.append((backend, label, "latency: filed → in inbox, p95", fmt(percentile(delays, 95)), "s"))
            rows.append((backend, label, f"  first {k} filed, median", fmt(statistics.median(delays[:k])), "s"))
            rows.append((backend, label, f"  last {k} filed, median", fmt(statistics.median(delays[-k:])), "s"))
            rows.append((backend, label, "  file call → seen here, median", fmt(statistics.median(walls)), "s"))
            rows.append((backend, label, "  file call → seen here, p95", fmt(percentile(walls, 95)), "s"))
    print_table(("backend", "workers", "figure", "value", "unit"), rows, "<<<><")

    for backend in args.backends:
        done = [key for key in args.latency_setups if (backend, key) in latency]
        if not done:
            continue
        print()
        print(f"{backend}: where the latency goes, stage by stage (event and RQ timestamps; median / p95, s)")
        header = ("stage", *(known[key].label for key in done))
        stage_rows = []
        for label, _, _ in STAGES:
            cells = []
            for key in done:
                values = latency[(backend, key)]["stages"][label]
                cells.append(f"{fmt(statistics.median(values))} / {fmt(percentile(values, 95))}" if values else "-")
            stage_rows.append((label, *cells))
        print_table(header, stage_rows, "<" + ">" * len(done))
        for key in done:
            lat = latency[(backend, key)]
            capacity = throughput.get((backend, key), {}).get("notices_per_s")
            line = f"  {known[key].label}: offered {lat['offered_per_s']:.1f} findings/s ({2 * lat['offered_per_s']:.0f} jobs/s)"
            if capacity is not None:
                line += f"; its throughput above: {capacity:.1f} notices/s"
                if capacity < lat["offered_per_s"]:
                    line += " -> OVERLOADED: the queue grows during the run and its wait is in the latency"
            print(line)
    if latency:
        print()
        print(f"What makes up the delay: the policy follower polls the log every {args.policy_poll} s (the PolicyRunner")
        print("runs apart from the commands: nothing wakes it on a save), and it is on the path twice: Filed, then")
        print("NoticeIssued. Each of the two jobs then waits in the queue; a forking worker forks a work horse,")
        print("which imports the job's module and opens the application and the ledger view afresh (services()")
        print("is per process, and every horse is a new one) before the job body runs. issue_notice loads the")
        print("finding and the rulebook and saves NoticeIssued; send_notice loads the finding and the unit, saves")
        print("Message.Sent, then records one DeliveryAttempted per inbox (unit, then cadre). The NoticeIssued")
        print("stage also holds the end of the issue_notice job (RQ bookkeeping, horse exit). Event timestamps")
        print("are taken by the system clock of the process that ran the command, when the command starts;")
        print("RQ's started_at is taken in the work horse (or the SimpleWorker) just before the job's function")
        print("is imported and called.")
    print()
    for backend in args.backends:
        for key in args.setups:
            t = throughput.get((backend, key))
            if not t:
                continue
            j = t["jobs"]
            workers = " + ".join(str(c) for _, c in sorted(j["per_worker"].items()))
            print(f"{backend}, {known[key].label}: {known[key].note}.")
            print(f"  filing {fmt(t['filing_per_s'])} findings/s; queue wait median issue_notice"
                  f" {fmt(j['issue_notice']['wait_p50'])} s, send_notice {fmt(j['send_notice']['wait_p50'])} s;"
                  f" jobs per worker {workers}; failed {j['failed']}, retried"
                  f" {j['issue_notice']['retried'] + j['send_notice']['retried']}; tracebacks in worker output"
                  f" {t['tracebacks']}; workers ready {t['worker_start_s']:.1f} s after start")  # fmt: skip
            print_trouble(t)
        for key in args.latency_setups:
            lat = latency.get((backend, key))
            if lat:
                print(f"{backend}, latency run with {known[key].label}: failed jobs {lat['jobs']['failed']},"
                      f" tracebacks in worker output {lat['tracebacks']}")  # fmt: skip
                print_trouble(lat)
    for failure in failures:
        print(f"FAILED: {failure}")
    print()
    print("SimpleWorker runs each job in the worker process itself: no fork, and the imports, application")
    print("and views opened by its first job serve the next ones. The price: no isolation (a job that leaks")
    print("memory, leaves module state behind or crashes the interpreter takes the worker down with it), and")
    print("a job timeout is a SIGALRM in that same process. A forking worker pays a fork plus fresh imports")
    print("and a fresh services() for every job, and is immune to all that.")
    if any(key.endswith("pre") for key in args.setups):
        print(f"`rq worker -c {PRELOAD_MODULE}`: rq imports the -c module in the worker's parent, so horses inherit")
        print("those modules already imported; the horse still opens its own connections (safe across fork).")
    print()
    print("machine")
    for name, value in machine(args.backends):
        print(f"  {name:<29} {value}")


# Main ------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    known = setups()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--findings", type=int, default=200, help="findings per throughput run (default 200)")
    parser.add_argument("--latency-findings", type=int, default=50, help="findings in the latency run (default 50)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between filings in the latency run (0.2)")
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite,postgres (default sqlite)")
    parser.add_argument(
        "--setups", default="fork1pre,fork2pre,fork1,simple1",
        help=f"worker setups for throughput, comma-separated, of {','.join(known)} (default fork1pre,fork2pre,fork1,simple1)",
    )  # fmt: skip
    parser.add_argument("--policy-poll", type=float, default=0.5, help="PolicyRunner poll interval, s (default 0.5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a run after this many s (300)")
    parser.add_argument(
        "--latency-setups", default="fork1pre,simple1",
        help="worker setups for the latency run, comma-separated (default fork1pre,simple1; '' for none)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown or not args.backends:
        parser.error(f"--backends takes sqlite and/or postgres, not {','.join(sorted(unknown)) or 'nothing'}")
    args.setups = [s.strip() for s in args.setups.split(",") if s.strip()]
    args.latency_setups = [s.strip() for s in args.latency_setups.split(",") if s.strip()]
    unknown = (set(args.setups) | set(args.latency_setups)) - set(known)
    if unknown:
        parser.error(f"--setups and --latency-setups take {','.join(known)}, not {','.join(sorted(unknown))}")
    if args.findings < 1 or args.latency_findings < 1:
        parser.error("--findings and --latency-findings must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    clear_environment(STORE_CHOOSING, "the bench makes its own stores and Redis")
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    known = setups()
    throughput: dict[tuple[str, str], dict[str, Any]] = {}
    latency: dict[tuple[str, str], dict[str, Any]] = {}
    failures: list[str] = []
    began = time.monotonic()
    try:
        for backend in args.backends:
            if backend == "postgres":
                try:
                    postgres_connection().close()
                except Exception as error:
                    failures.append(f"{backend}: cannot connect ({error})")
                    continue
            for key in args.setups:
                log(f"{backend}: throughput with {known[key].label}")
                try:
                    throughput[(backend, key)] = run_throughput(backend, known[key], args.findings, args)
                except Exception as error:  # Redis or the database went away, a worker died: the next run
                    failures.append(f"{backend} {known[key].label}: {type(error).__name__}: {error}")
                    log(f"  failed: {error}")
            for key in args.latency_setups:
                log(f"{backend}: latency with {known[key].label}")
                try:
                    latency[(backend, key)] = run_latency(backend, known[key], args.latency_findings, args.interval, args)
                except Exception as error:
                    failures.append(f"{backend} latency with {known[key].label}: {type(error).__name__}: {error}")
                    log(f"  failed: {error}")
    except (KeyboardInterrupt, Interrupted) as stop:
        log(f"interrupted ({stop.__class__.__name__}): every worker was stopped, Redis database 14 flushed")
        return 130
    report(args, throughput, latency, failures, known)
    print(f"  {'wall time':<29} {time.monotonic() - began:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
