"""移交纪检: the county's findings that meet an escalation rule of the rulebook
in force (rejected too often, or overdue too long) with a form to hand each to
the discipline office, and the findings already escalated (with their cases)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import render_template, request, url_for

from app.access import allow
from app.identity import runtime
from app.web.admin import bp
from app.web.admin.common import acting, county_finding, field_of, finish, text
from app.web.admin.ledger_reads import escalated, escalation_due
from domain.errors import DomainError, ReasonRequired
from domain.events import COMMAND, Actor
from domain.rulebook import NoRulebookInForce

FIELDS = {"reason": "移交理由"}
BY_TYPE = {ReasonRequired: "reason"}


def _render(
    actor: Actor, *, failed: str | None = None, error: DomainError | None = None, values: Mapping[str, str] | None = None
) -> Any:
    rt = runtime()
    today, county = rt.today(), str(actor.county_id)
    try:
        rules = rt.duban.rules_in_force(actor.county_id, today).rules
    except NoRulebookInForce:
        rules = None
    due = escalation_due(rt.query, county, today, rules) if rules else []
    done = escalated(rt.query, county, today)
    cases = rt.cases.cases_of_findings([row["finding_id"] for row in done])
    return (
        render_template(
            "pages/admin_escalations.html",
            due=due,
            escalated=done,
            cases=cases,
            rules=rules,
            failed=failed,
            values=values or {},
            error=error.message if error else None,
            error_field=field_of(error, FIELDS, BY_TYPE) if error else None,
            active="escalations",
        ),
        error.status if error else 200,
    )


@bp.get("/escalations")
@allow(COMMAND)
def escalations() -> Any:
    return _render(acting())


@bp.post("/escalations/<finding_id>")
@allow(COMMAND)
def escalate(finding_id: str) -> Any:
    actor = acting()
    fid = county_finding(finding_id, actor)
    try:
        recorded = runtime().duban.escalate(fid, text(request.form, "reason"), actor)
    except DomainError as error:
        return _render(actor, failed=str(fid), error=error, values=request.form)
    return finish(recorded.position, "已移交纪检监察机关", url_for("admin.escalations"))
