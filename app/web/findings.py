"""A finding's page (its ledger row and whole history), its action forms, and
the form that files a new one.

Every command goes through one method of the Duban service; the domain decides
and refuses with a DomainError (nothing recorded). After a step the request
waits for the views to reach the new position, so the page it redirects to
already shows the effect. A new finding's form does not wait: it leaves the
position in the session and redirects to the finding's page, which waits
(bounded) for the views it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid4

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from werkzeug.datastructures import MultiDict

from app.access import RoleNotAllowed, allow, signed_in
from app.body_limits import body_limit
from app.evidence import uploads as evidence_uploads
from app.evidence import web as evidence_web
from app.identity import current_actor, runtime
from app.labels import actor_name, event_details, event_label, local_time
from app.runtime import FILING_VIEWS
from app.web.scope import parse_id, require_visible
from domain.errors import ConcurrentChange, DomainError, InvalidInput, MissingField, NotPermitted
from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, ROLES, SYSTEM, UNIT, Actor
from domain.finding import ACKNOWLEDGED, CLOSED, FILED, OPEN, SUBMITTED, WITHDRAWN
from domain.service import Duban, NotACadre, Recorded, UnknownFinding

bp = Blueprint("findings", __name__)
#: The session key of the log position a filing wrote, for the finding's page to wait for.
FILED_POSITION = "filed_position"

RECTIFYING = (OPEN, ACKNOWLEDGED)
ENDED = (CLOSED, WITHDRAWN)
FILERS = (INSPECTOR, COMMAND)
#: Units a finding can be filed against, in the order the form lists them.
FILING_KINDS = ("town", "village", "department")


# Reading form input
def text(form: Mapping[str, str], key: str) -> str:
    return (form.get(key) or "").strip()


def form_date(form: Mapping[str, str], key: str, label: str, required: bool = True) -> date | None:
    value = text(form, key)
    if not value:
        if required:
            raise MissingField(label)
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput(f"“{label}”不是有效日期，请按 2026-10-09 的格式填写") from error


def form_int(form: Mapping[str, str], key: str, message: str) -> int:
    try:
        return int(text(form, key))
    except ValueError as error:
        raise InvalidInput(message) from error


def _evidence_lost() -> bool:
    """Whether the failed form had files chosen (a browser never refills a file input)."""
    return bool(evidence_uploads.chosen(request.files.getlist(evidence_uploads.FIELD)))


def _evidence(actor: Actor, *roles: str) -> list[dict[str, Any]]:
    """The request's evidence files, checked and stored; only for a role that may
    send them, so nobody else can fill the store."""
    files = request.files.getlist(evidence_uploads.FIELD)
    if not evidence_uploads.chosen(files):
        return []
    actor.require_role(*roles)
    return evidence_uploads.receive(files, evidence_web.store())


def _submit_rectification(d: Duban, f: UUID, a: Actor, form: Mapping[str, str]) -> Recorded:
    return d.submit_rectification(
        f, text(form, "description"), a,
        evidence=[line.strip() for line in text(form, "evidence").splitlines() if line.strip()],
        attachments=_evidence(a, UNIT),
    )  # fmt: skip


# The actions on a finding's page
@dataclass(frozen=True)
class Action:
    slug: str
    title: str
    button: str
    roles: tuple[str, ...]
    run: Callable[[Duban, UUID, Actor, Mapping[str, str]], Recorded]
    success: Callable[[Recorded], str]
    #: Whether the form is worth showing in the finding's current state (the domain still decides).
    shown: Callable[[dict[str, Any]], bool]
    danger: bool = False


def _deadline_of(result: Recorded) -> str:
    return result.value.due.isoformat() if result.value is not None else ""


ACTIONS: dict[str, Action] = {
    a.slug: a
    for a in (
        Action(
            "issue-notice", "下发整改通知", "下发整改通知", (INSPECTOR, COMMAND),
            lambda d, f, a, form: d.issue_notice(f, a),
            lambda r: f"已下发整改通知，整改期限：{_deadline_of(r)}",
            lambda s: s["status"] == FILED,
        ),
        Action(
            "acknowledge", "签收整改通知", "签收", (UNIT,),
            lambda d, f, a, form: d.acknowledge_notice(f, a),
            lambda r: "已签收整改通知",
            lambda s: s["status"] == OPEN,
        ),
        Action(
            "submit", "提交整改", "提交整改材料", (UNIT,),
            _submit_rectification,
            lambda r: "已提交整改材料，等待验收",
            lambda s: s["status"] in RECTIFYING,
        ),
        Action(
            "request-extension", "申请延期", "提交延期申请", (UNIT,),
            lambda d, f, a, form: d.request_extension(f, form_date(form, "until", "延期至"), text(form, "reason"), a),
            lambda r: "已提交延期申请，等待县指挥部审批",
            lambda s: s["status"] in RECTIFYING and not s["pending_extension"],
        ),
        Action(
            "grant-extension", "批准延期", "批准延期", (COMMAND,),
            lambda d, f, a, form: d.grant_extension(
                f, a, until=form_date(form, "until", "批准延期至", required=False), note=text(form, "note")
            ),
            lambda r: "已批准延期",
            lambda s: bool(s["pending_extension"]) and s["status"] not in ENDED,
        ),
        Action(
            "deny-extension", "不予延期", "不予延期", (COMMAND,),
            lambda d, f, a, form: d.deny_extension(f, text(form, "reason"), a),
            lambda r: "已决定不予延期",
            lambda s: bool(s["pending_extension"]) and s["status"] not in ENDED,
        ),
        Action(
            "accept", "验收通过（销号）", "验收通过，销号", (INSPECTOR, COMMAND),
            lambda d, f, a, form: d.accept_rectification(f, a, note=text(form, "note")),
            lambda r: "验收通过，问题已销号",
            lambda s: s["status"] == SUBMITTED,
        ),
        Action(
            "reject", "退回整改（不到位）", "退回整改", (INSPECTOR, COMMAND),
            lambda d, f, a, form: d.reject_rectification(f, text(form, "reason"), a),
            lambda r: f"已退回整改并扣分，新的整改期限：{_deadline_of(r)}",
            lambda s: s["status"] == SUBMITTED,
            danger=True,
        ),
        Action(
            "record-missed", "记录逾期", "记录逾期并扣分", (COMMAND,),
            lambda d, f, a, form: d.record_missed_deadline(f, a),
            lambda r: "已记录逾期并按考评规则扣分",
            lambda s: s["missable"],
            danger=True,
        ),
        Action(
            "reverse-deduction", "撤销扣分（申诉）", "撤销扣分", (COMMAND,),
            lambda d, f, a, form: d.reverse_deduction(
                f, form_int(form, "deduction_number", "请选择要撤销的扣分"), text(form, "reason"), a
            ),
            lambda r: "已撤销该笔扣分（原扣分记录保留在历史中）",
            lambda s: any(not d["reversed"] for d in s["deductions"]),
        ),
        Action(
            "escalate", "移交纪检", "移交纪检监察机关", (COMMAND,),
            lambda d, f, a, form: d.escalate(f, text(form, "reason"), a),
            lambda r: "已移交纪检监察机关",
            lambda s: s["status"] not in ENDED and not s["escalated"],
            danger=True,
        ),
        Action(
            "withdraw", "撤销问题", "撤销该问题", (INSPECTOR, COMMAND),
            lambda d, f, a, form: d.withdraw_finding(f, text(form, "reason"), a),
            lambda r: "已撤销该问题（历史记录保留）",
            lambda s: s["status"] not in ENDED,
            danger=True,
        ),
    )
}  # fmt: skip


class UnknownAction(DomainError):
    status = 404
    message = "没有这项操作"


def _names(county_id: str) -> dict[str, str]:
    query = runtime().query
    names = {u["unit_id"]: u["name"] for u in query.units(county_id)}
    names.update({u["user_id"]: u["name"] for u in query.users(county_id)})
    return names


def _who(actor_id: str, role: str, names: Mapping[str, str]) -> str:
    """张三（督查员）, or 系统 for the system's own steps."""
    name = actor_name(actor_id, names)
    if role == SYSTEM or actor_id == SYSTEM:
        return name
    return f"{name}（{ROLES.get(role, role)}）"


def visible_row(finding_id: UUID, actor: Actor) -> dict[str, Any]:
    """The finding's ledger row, if it exists and this identity may see it."""
    rt = runtime()
    row = rt.query.finding(str(finding_id), rt.today())
    if row is None:
        rt.duban.finding(finding_id)  # raises UnknownFinding (404) for anything else
        if not rt.catch_up() or (row := rt.query.finding(str(finding_id), rt.today())) is None:
            raise UnknownFinding("该问题已登记，问题台账正在更新，请稍后刷新")
    require_visible(actor, row, rt.query)
    return row


def render_finding(
    finding_id: UUID,
    *,
    failed: str | None = None,
    error: str | None = None,
    values: Mapping[str, str] | None = None,
    status: int = 200,
    error_field: str | None = None,
    evidence_lost: bool = False,
) -> Any:
    rt = runtime()
    fresh = rt.fresh()
    actor = current_actor()
    assert actor is not None
    row = visible_row(finding_id, actor)
    names = _names(str(actor.county_id))
    history = [
        {
            "time": local_time(event.timestamp),
            "who": _who(event.actor_id, event.actor_role, names),
            "label": event_label(event),
            "details": event_details(event, names),
            "attachments": evidence_web.links(finding_id, event),
        }
        for event in rt.duban.history(finding_id)
    ]
    escalation_hint = None
    missable = False
    if actor.role == COMMAND:
        escalation_hint = rt.duban.escalation_due(finding_id)
        missable = rt.duban.finding(finding_id).is_missable(rt.clock())
    state = {**row, "missable": missable}
    from app.web.documents import document_for, download_url

    notice = document_for(finding_id)
    notice_document = (
        {"row": notice, "download": download_url(notice) if notice.rendered else None} if notice is not None else None
    )
    actions = [a for a in ACTIONS.values() if actor.role in a.roles and a.shown(state)]
    if failed and failed in ACTIONS and ACTIONS[failed] not in actions and actor.role in ACTIONS[failed].roles:
        actions.append(ACTIONS[failed])  # keep the form the user just used next to its message
    return (
        render_template(
            "pages/finding.html",
            f=row,
            history=history,
            actions=actions,
            escalation_hint=escalation_hint,
            failed=failed,
            error=error,
            error_in_form=any(a.slug == failed for a in actions),
            values=values or {},
            error_field=error_field,
            evidence_lost=evidence_lost,
            choose_again=evidence_uploads.CHOOSE_AGAIN,
            fresh=fresh,
            notice_document=notice_document,
            may_issue_unit_notice=actor.role in (INSPECTOR, COMMAND),
            # Cases are the discipline office's and the command office's to see.
            case_ids=rt.cases.cases_of_findings([str(finding_id)]).get(str(finding_id), [])
            if actor.role in (COMMAND, DISCIPLINE) else [],
        ),
        status,
    )


@bp.get("/findings/<finding_id>")
@signed_in
def show(finding_id: str) -> Any:
    fid = parse_id(finding_id)
    # A filing redirects here having left the log position it wrote in the session:
    # wait (bounded) until the views this page reads have it, so it shows the new finding.
    position = session.pop(FILED_POSITION, None)
    if isinstance(position, int) and not runtime().wait_for(position, FILING_VIEWS):
        flash("问题台账正在更新，如未显示最新状态请稍后刷新", "info")
    return render_finding(fid)


@bp.post("/findings/<finding_id>/<action>")
@allow(INSPECTOR, UNIT, COMMAND)
@body_limit(evidence_uploads.MAX_REQUEST_BYTES, evidence_uploads.TOO_LARGE_MESSAGE)
def act(finding_id: str, action: str) -> Any:
    fid = parse_id(finding_id)
    spec = ACTIONS.get(action)
    if spec is None:
        raise UnknownAction()
    actor = current_actor()
    assert actor is not None
    rt = runtime()
    visible_row(fid, actor)
    if actor.role not in spec.roles:  # before the form is read: its errors would say nothing of the role
        raise RoleNotAllowed.naming(spec.roles)
    try:
        result = spec.run(rt.duban, fid, actor, request.form)
    except DomainError as error:
        return render_finding(
            fid, failed=action, error=error.message, values=request.form, status=error.status,
            error_field=getattr(error, "field", None), evidence_lost=_evidence_lost(),
        )  # fmt: skip
    caught_up = rt.wait_for(result.position)
    flash(spec.success(result), "success")
    if not caught_up:
        flash("问题台账正在更新，如未显示最新状态请稍后刷新", "info")
    return redirect(url_for("findings.show", finding_id=str(fid)), 303)


# Filing a new finding
def _filing_choices(actor: Actor) -> dict[str, Any]:
    query = runtime().query
    units = query.units(str(actor.county_id))
    names = {u["unit_id"]: u["name"] for u in units}
    groups = []
    for kind in FILING_KINDS:
        members = sorted(
            (u for u in units if u["kind"] == kind and not u["retired"]),
            key=lambda u: (names.get(u["parent_id"] or "", ""), u["name"]),
        )
        if members:
            groups.append(
                {
                    "kind": kind,
                    "units": [
                        {
                            "unit_id": u["unit_id"],
                            "label": f"{u['name']}（{names[u['parent_id']]}）" if kind == "village" and u["parent_id"] in names else u["name"],
                        }
                        for u in members
                    ],
                }
            )
    cadres = [
        {"user_id": u["user_id"], "label": f"{u['name']}（{u['unit_name'] or ''}）"}
        for u in query.users(str(actor.county_id))
        if CADRE in u["roles"].split(",")
    ]
    return {"unit_groups": groups, "cadres": cadres}


def _require_filer(actor: Actor) -> None:
    if actor.role not in FILERS:
        raise NotPermitted("此操作只能由督查员、指挥部办公室执行")


def _render_new(
    actor: Actor, values: MultiDict[str, str], error: DomainError | str | None = None, status: int = 200
) -> Any:
    fresh = runtime().fresh()
    error_field = getattr(error, "field", None)
    message = error.message if isinstance(error, DomainError) else error
    return (
        render_template(
            "pages/new_finding.html",
            values=values,
            error=message,
            error_field=error_field,
            evidence_lost=error is not None and _evidence_lost(),
            choose_again=evidence_uploads.CHOOSE_AGAIN,
            evidence_limits=_evidence_limits(),
            fresh=fresh,
            **_filing_choices(actor),
        ),
        status,
    )


def _evidence_limits() -> str:
    from domain.attachments import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS

    megabytes = 1024 * 1024
    return (
        f"JPEG、PNG照片或PDF文件，最多{MAX_ATTACHMENTS}个，每个不超过{MAX_ATTACHMENT_BYTES // megabytes}MB，"
        f"合计不超过{evidence_uploads.MAX_REQUEST_BYTES // megabytes}MB"
    )


def _uuid(value: str, missing: DomainError, malformed: DomainError) -> UUID:
    if not value.strip():
        raise missing
    try:
        return UUID(value.strip())
    except ValueError as error:
        raise malformed from error


@bp.route("/findings/new", methods=["GET", "POST"])
@allow(*FILERS)
@body_limit(evidence_uploads.MAX_REQUEST_BYTES, evidence_uploads.TOO_LARGE_MESSAGE)
def new() -> Any:
    actor = current_actor()
    assert actor is not None
    _require_filer(actor)
    rt = runtime()
    if request.method == "GET":
        defaults = MultiDict(
            {"source": "inspection", "severity": "general", "issue_now": "1", "finding_id": str(uuid4())}
        )
        return _render_new(actor, defaults)

    form = request.form
    try:
        finding_id = UUID(text(form, "finding_id"))
    except ValueError:
        finding_id = uuid4()
    values = MultiDict(form)
    values.setlist("finding_id", [str(finding_id)])
    try:
        unit_id = _uuid(text(form, "unit_id"), MissingField("责任单位"), InvalidInput("请选择责任单位"))
        for key, label in (("category", "问题类型"), ("source", "问题来源"), ("severity", "问题等级")):
            if not text(form, key):
                raise MissingField(label)
        cadre_ids = [_uuid(c, NotACadre(), NotACadre()) for c in form.getlist("cadre_ids") if c.strip()]
        attachments = _evidence(actor, *FILERS)
        filed = rt.duban.file_finding(
            unit_id=unit_id,
            category=text(form, "category"),
            source=text(form, "source"),
            severity=text(form, "severity"),
            check_item=text(form, "check_item"),
            description=text(form, "description"),
            household_no=text(form, "household_no"),
            cadre_ids=cadre_ids,
            actor=actor,
            finding_id=finding_id,
            attachments=attachments,
        )
    except ConcurrentChange as error:
        try:
            existing = rt.duban.finding(finding_id)
        except DomainError:
            return _render_new(actor, values, error, error.status)
        if existing.county_id != actor.county_id:
            return _render_new(actor, values, error, error.status)
        flash("该问题已经登记过（表单被重复提交），未再次登记", "info")
        session[FILED_POSITION] = rt.duban.position()  # at or after the first submission's
        return redirect(url_for("findings.show", finding_id=str(finding_id)), 303)
    except DomainError as error:
        return _render_new(actor, values, error, error.status)

    message = "已登记问题"
    position = filed.position
    if form.get("issue_now"):
        try:
            notice = rt.duban.issue_notice(filed.id, actor)
        except DomainError as error:
            flash(f"问题已登记，但整改通知未能下发：{error.message}", "error")
        else:
            position = notice.position
            message += f"，并已下发整改通知，整改期限：{_deadline_of(notice)}"
    flash(message, "success")
    # The filing does not wait for the views: the finding's page does, for the position left here.
    session[FILED_POSITION] = position
    return redirect(url_for("findings.show", finding_id=str(filed.id)), 303)
