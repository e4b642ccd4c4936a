"""Spreadsheets in and out: the ledger as .xlsx (same filters and scope as the
ledger page), and an inspection team's spreadsheet imported as one inspection
with its findings (with the template to fill in).

The import checks the whole file first (app/excel/findings_import.py) and
refuses it as a whole, row by row, on any problem. A good file is recorded by
one service command in one write (Duban.import_inspection), so there is never a
half-done import; the inspection id derives from the county and the file's
sha256, so the same file twice records nothing the second time.
"""

from __future__ import annotations

import io
from typing import Any
from uuid import UUID

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from app.excel.container import MAX_FILE_BYTES
from app.excel.findings_import import MAX_ROWS, Directory, Problem, column_label, read_import
from app.excel.import_template import import_template
from app.excel.ledger_export import ledger_workbook
from app.excel.workbook import XLSX_MIMETYPE
from app.access import allow, signed_in
from app.body_limits import body_limit
from app.identity import current_actor, runtime
from app.labels import local_time
from app.web.findings import FILING_KINDS
from app.web.ledger_filters import ledger_choice
from app.web.scope import scope_for
from domain.errors import DomainError, InvalidInput, NotPermitted
from domain.events import CADRE, COMMAND, INSPECTOR, ROLES, UNIT, Actor
from domain.service import ImportProblem, ImportRefused, UnknownInspection, imported_inspection_id

bp = Blueprint("excel", __name__)

#: More rows than this is not a ledger a clerk reads; narrow the filters instead.
MAX_EXPORT_ROWS = 100_000
IMPORTERS = (INSPECTOR, COMMAND)
#: The upload's body: the file plus the form's few fields.
IMPORT_REQUEST_BYTES = MAX_FILE_BYTES + 64 * 1024


class ExportTooLarge(InvalidInput):
    message = f"符合条件的问题超过{MAX_EXPORT_ROWS}条，请缩小筛选范围后再导出"


# Ledger out
def _scope_text(actor: Actor, unit_name: str) -> str:
    if actor.role == UNIT:
        return f"本单位（{unit_name}）及下属单位的问题"
    if actor.role == CADRE:
        return f"列{actor.name}为帮扶责任人的问题"
    return "全县"


def _xlsx(data: bytes, filename: str) -> Response:
    response = send_file(io.BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=filename)
    # The export names units and (masked) households: keep it out of shared caches.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/ledger.xlsx")
@signed_in
def ledger_export() -> Any:
    rt = runtime()
    fresh = rt.fresh()
    actor = current_actor()
    assert actor is not None
    today = rt.today()
    choice = ledger_choice(request.args, scope_for(actor, rt.query), rt.query, today)
    as_of, described = choice.as_of, choice.described
    page = rt.query.page(choice.filter, today, 1, MAX_EXPORT_ROWS)
    if page.total > MAX_EXPORT_ROWS:
        raise ExportTooLarge()
    unit_name = rt.duban.unit(actor.unit_id).name
    preamble = [
        ("筛选条件", "；".join(described) or "无（全部问题）"),
        ("查看范围", _scope_text(actor, unit_name)),
        ("数据截至", f"{as_of.isoformat()}日终（历史视图）" if as_of else today.isoformat()),
        ("导出时间", local_time(rt.clock())),
        ("导出人", f"{actor.name}（{unit_name}·{ROLES.get(actor.role, actor.role)}）"),
        ("问题总数", f"{page.total}条"),
    ]
    if not fresh:
        preamble.append(("提示", "问题台账正在更新，导出的可能不是最新数据"))
    return _xlsx(ledger_workbook(preamble, page.rows), f"问题台账-{(as_of or today).isoformat()}.xlsx")


# Inspections in
def _require_importer(actor: Actor) -> None:
    if actor.role not in IMPORTERS:
        raise NotPermitted("此操作只能由督查员、指挥部办公室执行")


def _directory(actor: Actor) -> Directory:
    query = runtime().query
    county = str(actor.county_id)
    return Directory.from_view(query.units(county), query.users(county), FILING_KINDS)


@bp.get("/inspections/import/template.xlsx")
@allow(*IMPORTERS)
def template() -> Any:
    actor = current_actor()
    assert actor is not None
    _require_importer(actor)
    runtime().catch_up()
    directory = _directory(actor)
    return _xlsx(import_template(directory.unit_labels(), directory.cadre_labels()), "督查问题导入模板.xlsx")


def _render_import(
    *, problems: list[Problem] | None = None, error: str | None = None, notice: str | None = None,
    filename: str = "", status: int = 200, issue_notices: bool = True,
) -> Any:
    return (
        render_template(
            "pages/import_findings.html",
            problems=problems or [],
            error=error,
            notice=notice,
            filename=filename,
            issue_notices=issue_notices,
            max_rows=MAX_ROWS,
            max_megabytes=MAX_FILE_BYTES // 1024 // 1024,
        ),
        status,
    )


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> Any:
    return _render_import(
        problems=[Problem(None, "文件", f"文件过大，导入文件不能超过{MAX_FILE_BYTES // 1024 // 1024}MB")], status=413
    )


SERVICE_FIELDS = {ImportProblem.UNIT: "unit", ImportProblem.CADRES: "cadres"}


def _service_problem(problem: ImportProblem) -> Problem:
    field = SERVICE_FIELDS.get(problem.field)
    return Problem(problem.row, column_label(field) if field else "", problem.message)


def _already_imported(inspection_id: UUID) -> str | None:
    try:
        inspection = runtime().duban.inspection(inspection_id)
    except UnknownInspection:
        return None
    return f"该文件已于此前导入（督查批次“{inspection.title}”），本次没有重复登记任何问题"


@bp.route("/inspections/import", methods=["GET", "POST"])
@allow(*IMPORTERS)
@body_limit(IMPORT_REQUEST_BYTES, f"文件过大，导入文件不能超过{MAX_FILE_BYTES // 1024 // 1024}MB")
def import_findings() -> Any:
    actor = current_actor()
    assert actor is not None
    _require_importer(actor)
    if request.method == "GET":
        return _render_import()
    issue_notices = request.form.get("issue_notices") == "1"
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render_import(error="请选择要导入的Excel文件（.xlsx）", status=400, issue_notices=issue_notices)
    filename = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:100]
    data = upload.read(MAX_FILE_BYTES + 1)
    rt = runtime()
    rt.catch_up()  # the unit and cadre names are read from the ledger view
    parsed = read_import(data, filename, _directory(actor))
    inspection_id = imported_inspection_id(actor.county_id, parsed.digest) if actor.county_id else None
    if inspection_id is not None and (done := _already_imported(inspection_id)):
        return _render_import(notice=done, filename=filename, issue_notices=issue_notices)
    page = {"filename": filename, "issue_notices": issue_notices}
    if not parsed.ok or parsed.header is None or inspection_id is None:
        return _render_import(problems=list(parsed.problems), status=400 if parsed.unreadable else 422, **page)
    header = parsed.header
    try:
        result = rt.duban.import_inspection(
            inspection_id=inspection_id,
            county_id=actor.county_id,
            title=header.title,
            source=header.source,
            starts_on=header.starts_on,
            ends_on=header.ends_on,
            rows=parsed.rows,
            actor=actor,
            summary=f"由电子表格“{filename}”导入，共{len(parsed.rows)}个问题（文件SHA-256：{parsed.digest}）",
            issue_notices=issue_notices,
        )
    except ImportRefused as refused:
        return _render_import(problems=[_service_problem(p) for p in refused.problems], status=refused.status, **page)
    except DomainError as error:
        return _render_import(error=error.message, status=error.status, **page)
    if result.value.already_imported:
        return _render_import(notice=_already_imported(inspection_id), **page)
    caught_up = rt.wait_for(result.position)
    count = len(result.value.finding_ids)
    message = f"已导入督查批次“{header.title}”，登记问题{count}个"
    flash(message + ("，并已下发整改通知" if issue_notices else "（整改通知尚未下发）"), "success")
    if not caught_up:
        flash("问题台账正在更新，如未显示全部问题请稍后刷新", "info")
    return redirect(url_for("ledger.index"), 303)
