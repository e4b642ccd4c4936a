"""案件: the discipline office's cases. It opens a case from an escalated
finding (or on its own initiative), links more findings, records hearings and
sanctions, and closes the case with a conclusion. The command office reads the
cases (it escalated the findings) but writes nothing here; nobody else sees
them.

Every step is one service command; a refused one re-shows the form with what
was typed and the reason next to the field, and records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.access import allow
from app.identity import runtime
from app.web.admin.common import (
    acting, already_recorded, county_finding, county_unit, field_of, finish, form_id, sorted_units, text, unit_label,
)  # fmt: skip
from app.web.admin.history import described
from app.web.admin.ledger_reads import escalated
from app.web.findings import form_date
from domain.case import SANCTIONS, Case, CaseAlreadyClosed, FindingsAlreadyLinked, HearingInTheFuture, UnknownSanction
from domain.errors import ConcurrentChange, DomainError, InvalidInput, UnknownUnit
from domain.events import COMMAND, DISCIPLINE, Actor
from domain.service import Duban, Recorded, UnknownCase, UnknownFinding

bp = Blueprint("cases", __name__)

STATUSES = {"open": "办理中", "closed": "已结案"}
FIELDS = {
    "subject_unit_id": "被调查单位", "summary": "案由", "finding_ids": "关联问题", "held_on": "谈话（听证）日期",
    "participants": "参加人员", "note": "谈话（听证）情况", "sanction": "处理方式", "subject": "处理对象",
    "conclusion": "结案意见",
}  # fmt: skip
BY_TYPE = {
    UnknownUnit: "subject_unit_id", UnknownFinding: "finding_ids", FindingsAlreadyLinked: "finding_ids",
    HearingInTheFuture: "held_on", UnknownSanction: "sanction", CaseAlreadyClosed: "form",
}  # fmt: skip


def _names(county_id: str, findings: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    query = runtime().query
    names = {u["unit_id"]: u["name"] for u in query.units(county_id)}
    names.update({u["user_id"]: u["name"] for u in query.users(county_id)})
    names.update({fid: f"{row['unit_name'] or ''}：{row['check_item']}" for fid, row in (findings or {}).items()})
    return names


def _case_events(findings: Mapping[str, Mapping[str, Any]]) -> dict[type, tuple[str, Any]]:
    def finding_list(ids: Any, names: Mapping[str, str]) -> str:
        return "；".join(names.get(str(f), "（未知问题）") for f in ids) or "—"

    return {
        Case.Opened: (
            "立案",
            lambda e, n: [("案由", e.summary), ("被调查单位", n.get(str(e.subject_unit_id), "—") if e.subject_unit_id else "—")]
            + ([("关联问题", finding_list(e.finding_ids, n))] if e.finding_ids else []),
        ),
        Case.FindingsLinked: ("关联问题", lambda e, n: [("关联问题", finding_list(e.finding_ids, n))]),
        Case.HearingRecorded: (
            "谈话（听证）",
            lambda e, n: [("日期", e.held_on), ("参加人员", e.participants), ("情况", e.note)],
        ),
        Case.SanctionRecorded: (
            "作出处理",
            lambda e, n: [("处理方式", SANCTIONS.get(e.sanction, e.sanction)), ("处理对象", e.subject)]
            + ([("说明", e.note)] if e.note else []),
        ),
        Case.Closed: ("结案", lambda e, n: [("结案意见", e.conclusion)]),
    }


def _case(case_id: str, actor: Actor) -> Case:
    """A case of the caller's county; any other id is not found (404)."""
    try:
        key = UUID(case_id)
    except ValueError as error:
        raise UnknownCase() from error
    case = runtime().duban.case(key)
    if case.county_id != actor.county_id:
        raise UnknownCase()
    return case


def _finding_ids(values: list[str], actor: Actor) -> list[UUID]:
    """Findings picked or typed in a form: each the county's, or not found."""
    return [county_finding(v.strip(), actor) for v in values if v.strip()]


def _unlinked_escalations(actor: Actor, exclude: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Escalated findings no case lists yet: what the office should open cases for."""
    rt = runtime()
    rows = escalated(rt.query, str(actor.county_id), rt.today())
    in_cases = rt.cases.cases_of_findings([r["finding_id"] for r in rows])
    return [r for r in rows if r["finding_id"] not in in_cases and r["finding_id"] not in exclude]


# The list
@bp.get("/cases")
@allow(DISCIPLINE, COMMAND)
def index() -> Any:
    actor = acting()
    rt = runtime()
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    cases = rt.cases.listing(str(actor.county_id), status or None)
    finding_ids = sorted({f for c in cases for f in c["finding_ids"]})
    findings = rt.query.findings_by_ids(finding_ids, rt.today())
    return render_template(
        "pages/cases.html",
        cases=cases,
        findings=findings,
        names=_names(str(actor.county_id)),
        status=status,
        statuses=STATUSES,
        sanctions=SANCTIONS,
        waiting=_unlinked_escalations(actor) if actor.role == DISCIPLINE else [],
        may_open=actor.role == DISCIPLINE,
        active="cases",
    )


# Opening a case
def _render_new(actor: Actor, values: MultiDict[str, str], error: DomainError | None = None) -> Any:
    rt = runtime()
    units = rt.query.units(str(actor.county_id))
    names = {u["unit_id"]: u["name"] for u in units}
    chosen = [v for v in values.getlist("finding_ids") if v]
    candidates = _unlinked_escalations(actor)
    known = {r["finding_id"] for r in candidates}
    extra = [f for f in chosen if f not in known]
    candidates += list(rt.query.findings_by_ids(extra, rt.today()).values())
    return (
        render_template(
            "pages/case_new.html",
            units=[{"unit_id": u["unit_id"], "label": unit_label(u, names)} for u in sorted_units(units)],
            candidates=candidates,
            chosen=chosen,
            values=values,
            error=error.message if error else None,
            error_field=field_of(error, FIELDS, BY_TYPE) if error else None,
            active="cases",
        ),
        error.status if error else 200,
    )


@bp.get("/cases/new")
@allow(DISCIPLINE)
def new() -> Any:
    actor = acting()
    values = MultiDict({"new_case_id": str(uuid4())})
    finding_id = request.args.get("finding_id", "")
    if finding_id:
        fid = county_finding(finding_id, actor)
        row = runtime().query.finding(str(fid), runtime().today())
        values.setlist("finding_ids", [str(fid)])
        if row is not None:
            values["subject_unit_id"] = row["unit_id"]
            values["summary"] = f"{row['unit_name']}对“{row['check_item']}”问题整改不力，经县指挥部办公室移交"
    return _render_new(actor, values)


@bp.post("/cases/new")
@allow(DISCIPLINE)
def create() -> Any:
    actor = acting()
    form = request.form
    new_id = form_id(form, "new_case_id")
    values = MultiDict(form)
    values.setlist("new_case_id", [str(new_id)])
    try:
        subject = text(form, "subject_unit_id")
        subject_id = county_unit(subject, actor).id if subject else None
        recorded = runtime().duban.open_case(
            county_id=actor.county_id,  # type: ignore[arg-type]
            summary=text(form, "summary"),
            actor=actor,
            finding_ids=_finding_ids(form.getlist("finding_ids"), actor),
            subject_unit_id=subject_id,
            case_id=new_id,
        )
    except ConcurrentChange as error:
        if not already_recorded(lambda: _case(str(new_id), actor)):
            return _render_new(actor, values, error)
        flash("该案件已经立案（表单被重复提交），未再次立案", "info")
        return redirect(url_for("cases.show", case_id=str(new_id)), 303)
    except DomainError as error:
        return _render_new(actor, values, error)
    return finish(recorded.position, "已立案", url_for("cases.show", case_id=str(recorded.id)))


# A case's page and its steps
@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    button: str
    run: Callable[[Duban, UUID, Actor, Mapping[str, str]], Recorded]
    success: str
    danger: bool = False


def _sanction(form: Mapping[str, str]) -> str:
    sanction = text(form, "sanction")
    if not sanction:
        raise InvalidInput("请选择“处理方式”")
    return sanction


def _held_on(form: Mapping[str, str]) -> date:
    return form_date(form, "held_on", "谈话（听证）日期")  # type: ignore[return-value]


STEPS: dict[str, Step] = {
    s.slug: s
    for s in (
        Step(
            "link", "关联问题", "关联所选问题",
            lambda d, c, a, form: d.link_case_findings(
                c, _finding_ids([*form.getlist("finding_ids"), *text(form, "other_finding_ids").split()], a), a
            ),
            "已关联问题",
        ),
        Step(
            "hearing", "记录谈话（听证）", "记录",
            lambda d, c, a, form: d.record_hearing(c, _held_on(form), text(form, "participants"), text(form, "note"), a),
            "已记录谈话（听证）",
        ),
        Step(
            "sanction", "作出处理", "记录处理",
            lambda d, c, a, form: d.record_sanction(c, _sanction(form), text(form, "subject"), text(form, "note"), a),
            "已记录处理决定",
        ),
        Step(
            "close", "结案", "结案",
            lambda d, c, a, form: d.close_case(c, text(form, "conclusion"), a),
            "已结案",
            danger=True,
        ),
    )
}  # fmt: skip


class UnknownStep(DomainError):
    status = 404
    message = "没有这项操作"


def render_case(
    case_id: str, *, failed: str | None = None, error: DomainError | None = None, values: Mapping[str, str] | None = None
) -> Any:
    actor = acting()
    rt = runtime()
    case = _case(case_id, actor)
    finding_ids = [str(f) for f in case.finding_ids]
    findings = rt.query.findings_by_ids(finding_ids, rt.today())
    names = _names(str(actor.county_id), findings)
    history = described(rt.duban.history(case.id), names, _case_events(findings))
    may_write = actor.role == DISCIPLINE and not case.closed
    return (
        render_template(
            "pages/case.html",
            case=case,
            status="closed" if case.closed else "open",
            statuses=STATUSES,
            subject_name=names.get(str(case.subject_unit_id)) if case.subject_unit_id else None,
            findings=[findings.get(f) or {"finding_id": f, "check_item": "（台账正在更新）"} for f in finding_ids],
            history=history,
            opened=history[0] if history else None,
            sanction_rows=[h for h in history if h["label"] == "作出处理"],
            steps=list(STEPS.values()) if may_write else [],
            link_candidates=_unlinked_escalations(actor, frozenset(finding_ids)) if may_write else [],
            sanctions=SANCTIONS,
            failed=failed,
            values=values or {},
            chosen=(values.getlist("finding_ids") if values is not None and hasattr(values, "getlist") else []),
            error=error.message if error else None,
            error_field=field_of(error, FIELDS, BY_TYPE) if error else None,
            active="cases",
        ),
        error.status if error else 200,
    )


@bp.get("/cases/<case_id>")
@allow(DISCIPLINE, COMMAND)
def show(case_id: str) -> Any:
    return render_case(case_id)


@bp.post("/cases/<case_id>/<action>")
@allow(DISCIPLINE)
def act(case_id: str, action: str) -> Any:
    actor = acting()
    case = _case(case_id, actor)
    step = STEPS.get(action)
    if step is None:
        raise UnknownStep()
    try:
        recorded = step.run(runtime().duban, case.id, actor, request.form)
    except DomainError as error:
        return render_case(case_id, failed=action, error=error, values=request.form)
    return finish(recorded.position, step.success, url_for("cases.show", case_id=str(case.id)))
