"""County-wide circulars (通报): the command office drafts one (a circular of
criticism starts from a suggested list: every unit with an overdue or
inadequate rectification in the period), edits it, issues it under the next
number of its series, and may revoke it. Everyone in the county reads issued
circulars; drafts are for the command and discipline offices.

Every step is one service command; a refused one re-shows the form with what
was typed and the reason, and records nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.access import allow, signed_in
from app.identity import current_actor, runtime
from app.web.as_of import period_choices, period_from
from domain.circular import CIRCULAR_KINDS, CIRCULAR_STATUSES, CRITICISM, RANKING
from domain.errors import DomainError, InvalidInput, NotPermitted
from domain.events import COMMAND, DISCIPLINE, Actor
from domain.rules import periods
from domain.service import UnknownFinding

bp = Blueprint("circulars", __name__)

#: Who sees drafts: the office that writes them and the office that audits everything.
DRAFT_READERS = (COMMAND, DISCIPLINE)


class UnknownCircular(DomainError):
    status = 404
    message = "找不到该通报"


class CircularsNotPermitted(NotPermitted):
    message = "只有指挥部办公室可以起草、修改、印发或撤销通报"


def _actor() -> Actor:
    runtime().fresh()
    actor = current_actor()
    assert actor is not None
    return actor


def _require_command(actor: Actor) -> None:
    if actor.role != COMMAND:
        raise CircularsNotPermitted()


def _circular(circular_id: str, actor: Actor) -> dict[str, Any]:
    try:
        key = str(UUID(circular_id))
    except ValueError as error:
        raise UnknownCircular() from error
    row = runtime().circulars.circular(key)
    # Another county's circular, or a draft one may not read, is simply not found.
    if row is None or row["county_id"] != str(actor.county_id):
        raise UnknownCircular()
    if row["status"] == "draft" and actor.role not in DRAFT_READERS:
        raise UnknownCircular()
    return row


def _ids(values: list[str]) -> list[UUID]:
    found = []
    for value in values:
        try:
            found.append(UUID(value))
        except ValueError as error:
            raise UnknownFinding() from error
    return found


def paragraphs_text(text: str) -> str:
    """The body as typed, one paragraph a line: each line is printed as its own
    paragraph (一、 and （一） lines as headings), never as a line broken inside a
    paragraph, which would print a visible space between Chinese characters."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _defaults(kind: str, period: str) -> dict[str, str]:
    label = periods.label(period)
    if kind == RANKING:
        return {
            "title": f"关于{label}效能考评结果的通报",
            "body": f"现将{label}各镇（街道）、村（社区）和县直部门效能考评结果通报如下，请各单位对照排名查找差距，抓好整改落实。",
        }
    return {
        "title": f"关于{label}问题整改不力单位的通报",
        "body": f"为严肃工作纪律，压实整改责任，经研究，决定对{label}问题整改逾期或整改不到位的以下单位予以全县通报批评，并按效能考评规则扣减相应分值。请被通报单位认真反思，限期整改到位。",
    }


def _candidates(actor: Actor, period: str, chosen: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The suggested units and findings, plus any the draft already lists, for the check boxes."""
    rt = runtime()
    today = rt.today()
    suggested = rt.scores.criticism_candidates(str(actor.county_id), period, today)
    units = {u["unit_id"]: u for u in rt.query.units(str(actor.county_id))}
    finding_ids = [f for findings in suggested.values() for f in findings]
    if chosen:
        finding_ids += [f for f in chosen.get("finding_ids", []) if f not in finding_ids]
    rows = rt.query.findings_by_ids(finding_ids, today)
    by_unit: dict[str, dict[str, Any]] = {}
    for unit_id in [*suggested, *((chosen or {}).get("unit_ids", []))]:
        if unit_id in units and unit_id not in by_unit:
            by_unit[unit_id] = {"unit": units[unit_id], "findings": [], "suggested": unit_id in suggested}
    for finding_id in finding_ids:
        row = rows.get(finding_id)
        if row is None or row["unit_id"] not in by_unit:
            continue
        points = suggested.get(row["unit_id"], {}).get(finding_id, Decimal(0))
        by_unit[row["unit_id"]]["findings"].append({**row, "deducted": points})
    return sorted(by_unit.values(), key=lambda c: (c["unit"]["kind"], c["unit"]["name"]))


@bp.get("/circulars")
@signed_in
def index() -> Any:
    actor = _actor()
    rows = runtime().circulars.listing(str(actor.county_id), include_drafts=actor.role in DRAFT_READERS)
    return render_template(
        "pages/circulars.html", circulars=rows, kinds=CIRCULAR_KINDS, statuses=CIRCULAR_STATUSES, can_draft=actor.role == COMMAND
    )


def _render_form(actor: Actor, values: Mapping[str, Any], error: str | None = None, status: int = 200) -> Any:
    kind = values.get("kind") if values.get("kind") in CIRCULAR_KINDS else CRITICISM
    period = values.get("period") or periods.period_of(runtime().today())
    chosen = {"unit_ids": list(values.get("unit_ids", [])), "finding_ids": list(values.get("finding_ids", []))}
    return (
        render_template(
            "pages/circular_new.html",
            values=values,
            kind=kind,
            period=period,
            kinds=CIRCULAR_KINDS,
            choices=period_choices(runtime().today()),
            candidates=_candidates(actor, period, chosen) if kind == CRITICISM else [],
            chosen_units=set(chosen["unit_ids"]),
            chosen_findings=set(chosen["finding_ids"]),
            prefixes=runtime().circulars.prefixes(str(actor.county_id)),
            error=error,
        ),
        status,
    )


@bp.get("/circulars/new")
@allow(COMMAND)
def new() -> Any:
    actor = _actor()
    _require_command(actor)
    kind = request.args.get("kind") if request.args.get("kind") in CIRCULAR_KINDS else CRITICISM
    period = period_from(request.args, runtime().today())
    suggested = runtime().scores.criticism_candidates(str(actor.county_id), period, runtime().today())
    prefixes = runtime().circulars.prefixes(str(actor.county_id))
    values: dict[str, Any] = {
        "kind": kind,
        "period": period,
        "prefix": request.args.get("prefix") or (prefixes[0] if prefixes else ""),
        **_defaults(kind, period),
        "unit_ids": list(suggested) if kind == CRITICISM else [],
        "finding_ids": [f for findings in suggested.values() for f in findings] if kind == CRITICISM else [],
    }
    return _render_form(actor, values)


def _form_values() -> dict[str, Any]:
    form: MultiDict[str, str] = request.form
    return {
        "kind": form.get("kind", ""),
        "period": form.get("period", ""),
        "prefix": (form.get("prefix") or "").strip(),
        "title": (form.get("title") or "").strip(),
        "body": (form.get("body") or "").strip(),
        "unit_ids": form.getlist("unit_ids"),
        "finding_ids": form.getlist("finding_ids"),
    }


@bp.post("/circulars/new")
@allow(COMMAND)
def create() -> Any:
    actor = _actor()
    _require_command(actor)
    values = _form_values()
    try:
        if values["kind"] not in CIRCULAR_KINDS:
            raise InvalidInput("请选择通报类型")
        periods.kind_of(values["period"])
        body = paragraphs_text(values["body"])
        result = runtime().duban.draft_circular(
            county_id=actor.county_id,
            kind=values["kind"],
            title=values["title"],
            prefix=values["prefix"],
            period=values["period"],
            body=body,
            finding_ids=_ids(values["finding_ids"]),
            unit_ids=_ids(values["unit_ids"]),
            actor=actor,
        )
    except DomainError as error:
        return _render_form(actor, values, error.message, error.status)
    runtime().wait_for(result.position)
    flash("通报草稿已保存", "success")
    return redirect(url_for("circulars.show", circular_id=str(result.id)))


@bp.get("/circulars/<circular_id>")
@signed_in
def show(circular_id: str) -> Any:
    actor = _actor()
    return _render_show(actor, _circular(circular_id, actor))


def _render_show(
    actor: Actor, row: dict[str, Any], error: str | None = None, values: Mapping[str, Any] | None = None, status: int = 200
) -> Any:
    rt = runtime()
    today = rt.today()
    chosen = values or row
    findings = rt.query.findings_by_ids(list(row["finding_ids"]), today)
    units = {u["unit_id"]: u for u in rt.query.units(str(actor.county_id))}
    document = _document_status(row)
    return (
        render_template(
            "pages/circular.html",
            circular=row,
            kinds=CIRCULAR_KINDS,
            statuses=CIRCULAR_STATUSES,
            listed_units=[units[u] for u in row["unit_ids"] if u in units],
            listed_findings=[findings[f] for f in row["finding_ids"] if f in findings],
            candidates=_candidates(actor, row["period"], chosen) if row["status"] == "draft" and row["kind"] == CRITICISM and actor.role == COMMAND else [],
            chosen_units=set(chosen.get("unit_ids", [])),
            chosen_findings=set(chosen.get("finding_ids", [])),
            values=values or row,
            can_manage=actor.role == COMMAND,
            period_label=periods.label(row["period"]) if row["period"] else "",
            document=document,
            error=error,
        ),
        status,
    )


def _document_status(row: dict[str, Any]) -> dict[str, Any] | None:
    """The issued circular's PDF, once the documents registry knows it (None before issue)."""
    if row["status"] == "draft":
        return None
    documents = getattr(runtime(), "documents", None)
    if documents is None:
        return {"rendered": False}
    found = documents.for_source(row["circular_id"])
    if found is None or not found.get("sha256"):
        return {"rendered": False, **(found or {})}
    return {"rendered": True, **found}


def _after(circular_id: str, position: int | None, message: str) -> Any:
    runtime().wait_for(position)
    flash(message, "success")
    return redirect(url_for("circulars.show", circular_id=circular_id))


@bp.post("/circulars/<circular_id>/edit")
@allow(COMMAND)
def edit(circular_id: str) -> Any:
    actor = _actor()
    row = _circular(circular_id, actor)
    _require_command(actor)
    values = {**row, **{k: v for k, v in _form_values().items() if k in ("title", "body", "unit_ids", "finding_ids")}}
    try:
        result = runtime().duban.edit_circular(
            UUID(row["circular_id"]),
            title=values["title"],
            body=paragraphs_text(values["body"]),
            finding_ids=_ids(values["finding_ids"]),
            unit_ids=_ids(values["unit_ids"]),
            actor=actor,
        )
    except DomainError as error:
        return _render_show(actor, row, error.message, values, error.status)
    return _after(row["circular_id"], result.position, "通报草稿已修改")


@bp.post("/circulars/<circular_id>/issue")
@allow(COMMAND)
def issue(circular_id: str) -> Any:
    actor = _actor()
    row = _circular(circular_id, actor)
    _require_command(actor)
    try:
        result = runtime().duban.issue_circular(UUID(row["circular_id"]), actor)
    except DomainError as error:
        return _render_show(actor, row, error.message, status=error.status)
    return _after(row["circular_id"], result.position, f"通报已印发，文号 {result.value}；正式文件正在生成")


@bp.post("/circulars/<circular_id>/revoke")
@allow(COMMAND)
def revoke(circular_id: str) -> Any:
    actor = _actor()
    row = _circular(circular_id, actor)
    _require_command(actor)
    try:
        result = runtime().duban.revoke_circular(UUID(row["circular_id"]), request.form.get("reason", ""), actor)
    except DomainError as error:
        return _render_show(actor, row, error.message, status=error.status)
    return _after(row["circular_id"], result.position, "通报已撤销")
