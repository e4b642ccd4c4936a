"""Operator commands: ``flask --app app <command>``."""

from __future__ import annotations

import sys
import time
from typing import Any
from uuid import UUID

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.labels import VIEW_LABELS
from projections.storage import open_application, open_view


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["duban"]


@click.command("load-demo")
@click.option("--if-empty", is_flag=True, help="事件库非空时跳过（不报错）。")
@with_appcontext
def load_demo_command(if_empty: bool) -> None:
    """载入演示县（米脂县）的数据：只能载入空的事件库。"""
    from app.demo import load_demo  # written separately; imported only when needed

    runtime = _runtime()
    summary = load_demo(current_app.config["DUBAN_STORE_ENV"])
    if summary is None:
        if if_empty:
            click.echo("事件库中已有数据，跳过载入演示数据。")
            return
        click.echo(
            "拒绝载入：事件库中已有数据，演示数据只能载入空的事件库。"
            "如确需重新载入，请先清空数据（make clean-data），或使用 --if-empty 跳过。",
            err=True,
        )
        sys.exit(1)
    click.echo(summary.describe())
    # Every view, the audit chain included: the demo's history is chained from its first event.
    for name in runtime.views:
        with runtime.paused(name) as follower:
            follower.catch_up()
    click.echo("问题台账等查询视图与审计哈希链已更新。")


@click.command("rebuild-projections")
@click.option(
    "--audit-chain", is_flag=True,
    help="同时重建审计哈希链。重建按事件库现状重新计算，会把此前的篡改一并认可：仅在核验无误后使用。",
)  # fmt: skip
@with_appcontext
def rebuild_projections_command(audit_chain: bool) -> None:
    """删除各查询视图（问题台账、通知、效能考评等），并从事件日志重放重建。"""
    runtime = _runtime()
    if not runtime.embedded:
        click.echo("提示：服务模式下请先停止 projector 进程，重建完成后再启动。")
    for name, view in runtime.views.items():
        # A chain rebuilt from a tampered store would bless the tampering: only on request.
        if name == "audit" and not audit_chain:
            click.echo("审计哈希链未重建（如需重建，请先运行 verify-history 核验，再加 --audit-chain）。")
            continue
        with runtime.paused(name) as follower:
            _rebuild(VIEW_LABELS.get(name, name), view.projection, follower)


def _rebuild(label: str, projection, follower) -> None:  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    duban = _runtime().duban
    projection.view.drop_view(duban.name)
    head = duban.recorder.max_notification_id() or 0
    started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        task = progress.add_task(f"重建{label}", total=max(head, 1))

        def report(position: int, latest: int) -> None:
            progress.update(task, completed=position, total=max(latest, 1))

        processed = follower.catch_up(progress=report)
        progress.update(task, completed=max(follower.position, 1))
    elapsed = max(time.perf_counter() - started, 1e-9)
    click.echo(
        f"{label}已重建：重放 {processed} 个事件（日志位置 {follower.position}），"
        f"用时 {elapsed:.2f} 秒，约 {processed / elapsed:,.0f} 个事件/秒。"
    )


@click.command("init-store")
@with_appcontext
def init_store_command() -> None:
    """创建事件库和全部视图（问题台账、通知、效能考评、后台策略）的数据表（只需一次），并显示存放位置。"""
    from projections.runner import PROJECTIONS
    from workers.policies import PolicyPostgresView, PolicySQLiteView

    runtime = _runtime()
    env = {**(runtime.store_env or {}), "CREATE_TABLE": "y"}
    application = open_application(env, runtime.clock)
    views = [
        *(make(env).view for make in PROJECTIONS.values()),
        open_view("policies", PolicySQLiteView, PolicyPostgresView, env),
    ]
    try:
        position = application.position()
    finally:
        application.close()
        for view in views:
            view.datastore.close()
    click.echo("数据表已就绪。")
    for line in runtime.describe_store():
        click.echo(line)
    click.echo(f"事件日志当前位置：{position}")


#: Findings the overdue sweep loads side by side and saves in one transaction.
SWEEP_BATCH = 200
#: Threads loading a batch's findings: each load is mostly a round trip to the store.
SWEEP_LOADERS = 4


def _loaded_findings(duban: Any, finding_ids: list[str]) -> list[Any]:
    """Each finding's aggregate, or the domain error loading it gave (an id the store
    does not know), in the order of the ids."""
    from concurrent.futures import ThreadPoolExecutor

    from domain.errors import DomainError

    def load(finding_id: str) -> Any:
        try:
            return duban.finding(UUID(finding_id))
        except DomainError as error:
            return error

    with ThreadPoolExecutor(SWEEP_LOADERS) as pool:
        return list(pool.map(load, finding_ids))


@click.command("sweep-overdue")
@with_appcontext
def sweep_overdue_command() -> None:
    """记录每个已过整改期限的问题的逾期（并按考评规则扣分）；可重复运行。"""
    from domain.errors import DomainError
    from domain.events import SYSTEM_ACTOR
    from projections.ledger_query import LedgerFilter

    runtime = _runtime()
    if runtime.embedded:  # read an up-to-date ledger
        with runtime.paused() as follower:
            follower.catch_up()
    candidates = runtime.query.finding_ids(LedgerFilter(overdue_only=True), runtime.today())
    recorded = skipped = 0
    position = None
    for chunk in (candidates[i : i + SWEEP_BATCH] for i in range(0, len(candidates), SWEEP_BATCH)):
        findings = []
        for finding_id, loaded in zip(chunk, _loaded_findings(runtime.duban, chunk)):
            if isinstance(loaded, DomainError):
                click.echo(f"{finding_id}：{loaded.message}", err=True)
                skipped += 1
            else:
                findings.append(loaded)
        done = runtime.duban.record_missed_deadlines(findings, SYSTEM_ACTOR)
        recorded, skipped = recorded + done.recorded, skipped + done.skipped
        position = done.position or position
    if position is not None:
        with runtime.paused() as follower:
            follower.catch_up()
    click.echo(f"已记录逾期 {recorded} 项，跳过 {skipped} 项（已记录过或不再逾期）。")


@click.command("failed-jobs")
@click.option("--requeue", "requeue", multiple=True, metavar="JOB_ID", help="重新排队该任务（可多次给出）。")
@click.option("--requeue-all", is_flag=True, help="重新排队全部失败任务。")
def failed_jobs_command(requeue: tuple[str, ...], requeue_all: bool) -> None:
    """列出后台失败任务（重试用尽后进入 RQ 失败登记），并可重新排队。"""
    from rq.registry import FailedJobRegistry

    from workers.queueing import RQJobQueue

    jobs = RQJobQueue()
    registry = FailedJobRegistry(queue=jobs.queue)
    ids = registry.get_job_ids()
    chosen = ids if requeue_all else [i for i in requeue if i in ids]
    for job_id in chosen:
        registry.requeue(job_id)
        click.echo(f"已重新排队：{job_id}")
    unknown = [i for i in requeue if i not in ids]
    for job_id in unknown:
        click.echo(f"没有这个失败任务：{job_id}", err=True)
    remaining = registry.get_job_ids()
    click.echo(f"失败任务 {len(remaining)} 个：")
    for job in jobs.queue.job_class.fetch_many(remaining, connection=jobs.connection, serializer=jobs.queue.serializer):
        if job is None:
            continue
        reason = (job.latest_result().exc_string if job.latest_result() else "") or ""
        last_line = reason.strip().splitlines()[-1] if reason.strip() else "（无原因记录）"
        click.echo(f"  {job.id}  {job.func_name}{tuple(job.args)}  {job.ended_at or ''}  {last_line}")
    if unknown:
        sys.exit(1)


@click.command("verify-history")
@click.option("--anchor", "anchor_text", default=None, metavar="H@N", help="核验纸质文书上的存证（链头@序号）：该序号及以前的历史是否被改写。")
@with_appcontext
def verify_history_command(anchor_text: str | None) -> None:
    """按事件库现状从头重算审计哈希链，与审计链的记录比对，报告历史是否完整或首个篡改处；
    给出 --anchor 时核验存证。每次核验都记为一个事件（操作人：系统）。
    退出码：0 完整（存证相符），1 发现篡改（存证不符），2 输入有误。"""
    from uuid import uuid4

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from domain.audit import InvalidAnchor, parse_anchor
    from domain.events import SYSTEM_ACTOR
    from domain.verification import GOOD
    from projections.audit_verify import run_and_record

    runtime = _runtime()
    try:
        anchor = parse_anchor(anchor_text) if anchor_text is not None else None
    except InvalidAnchor as error:
        click.echo(error.message, err=True)
        sys.exit(2)
    duban = runtime.duban
    started = time.perf_counter()
    label = f"核验存证 {anchor}" if anchor else "核验历史"
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
        task = progress.add_task(label, total=max(duban.position(), 1))

        def report(position: int, total: int) -> None:
            progress.update(task, completed=position, total=max(total, 1))

        result, _ = run_and_record(duban, runtime.audit, SYSTEM_ACTOR, uuid4(), anchor, report)
    elapsed = max(time.perf_counter() - started, 1e-9)
    click.echo(result.describe())
    click.echo(f"用时 {elapsed:.2f} 秒，约 {result.events / elapsed:,.0f} 个事件/秒；本次核验已记录。")
    sys.exit(0 if result.outcome in GOOD else 1)


def register_commands(app: Flask) -> None:
    app.cli.add_command(load_demo_command)
    app.cli.add_command(rebuild_projections_command)
    app.cli.add_command(init_store_command)
    app.cli.add_command(sweep_overdue_command)
    app.cli.add_command(failed_jobs_command)
    app.cli.add_command(verify_history_command)
    from app.cli_tenancy import county_cli, region_cli

    app.cli.add_command(region_cli)
    app.cli.add_command(county_cli)
