"""延期审批: every finding of the county with an extension request waiting,
with the grant (an optional other date, a note) and deny (a reason) forms
inline; they call the same service commands as the finding's own page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from flask import render_template, request, url_for

from app.access import allow
from app.identity import runtime
from app.web.admin import bp
from app.web.admin.common import acting, county_finding, field_of, finish, text
from app.web.admin.ledger_reads import pending_extensions
from app.web.findings import form_date
from domain.errors import DomainError, ReasonRequired
from domain.events import COMMAND, Actor
from domain.finding import ExtensionNotLater, Finding

FIELDS = {"until": "批准延期至", "note": "审批意见", "reason": "不予延期的理由"}
BY_TYPE = {ExtensionNotLater: "until", ReasonRequired: "reason"}


def _request_of(finding_id: str) -> dict[str, str]:
    """The waiting request's date and reason (the latest request in the finding's history)."""
    duban = runtime().duban
    for event in reversed(duban.history(UUID(finding_id))):
        if isinstance(event, Finding.ExtensionRequested):
            return {"until": event.requested_deadline, "reason": event.reason}
    return {"until": "", "reason": ""}


def _render(
    actor: Actor,
    *,
    failed: tuple[str, str] | None = None,
    error: DomainError | None = None,
    values: Mapping[str, str] | None = None,
) -> Any:
    rt = runtime()
    rows = pending_extensions(rt.query, str(actor.county_id), rt.today())
    for row in rows:
        row["request"] = _request_of(row["finding_id"])
    return (
        render_template(
            "pages/admin_extensions.html",
            rows=rows,
            failed_finding=failed[0] if failed else None,
            failed=failed[1] if failed else None,
            values=values or {},
            error=error.message if error else None,
            error_field=field_of(error, FIELDS, BY_TYPE) if error else None,
            active="extensions",
        ),
        error.status if error else 200,
    )


@bp.get("/extensions")
@allow(COMMAND)
def extensions() -> Any:
    return _render(acting())


def _decide(finding_id: str, action: str, run: Any, message: str) -> Any:
    actor = acting()
    fid = county_finding(finding_id, actor)
    try:
        recorded = run(runtime().duban, fid, actor, request.form)
    except DomainError as error:
        return _render(actor, failed=(str(fid), action), error=error, values=request.form)
    return finish(recorded.position, message, url_for("admin.extensions"))


@bp.post("/extensions/<finding_id>/grant")
@allow(COMMAND)
def grant_extension(finding_id: str) -> Any:
    return _decide(
        finding_id, "grant",
        lambda d, f, a, form: d.grant_extension(
            f, a, until=form_date(form, "until", "批准延期至", required=False), note=text(form, "note")
        ),
        "已批准延期",
    )  # fmt: skip


@bp.post("/extensions/<finding_id>/deny")
@allow(COMMAND)
def deny_extension(finding_id: str) -> Any:
    return _decide(
        finding_id, "deny", lambda d, f, a, form: d.deny_extension(f, text(form, "reason"), a), "已决定不予延期"
    )
