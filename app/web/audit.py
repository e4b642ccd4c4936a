"""历史核验: the discipline office's page on the audit chain. It shows the chain's
head and latest checkpoints, runs a full verification of the stored history or
checks an anchor printed on a document (in the background, with a progress bar),
and lists the past runs with who ran them and what they found. The command
office reads the page; only the discipline office runs checks.

The page carries no script (the security policy allows none inline): while a
run is going, it reloads itself every two seconds and shows the run's progress;
``/audit/runs/<run_id>/progress`` answers the same as JSON for anyone polling.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from flask import Blueprint, current_app, jsonify, make_response, redirect, render_template, request, url_for

from app.access import allow
from app.audit_runs import runs
from app.identity import runtime
from app.web.admin.common import acting, form_id
from domain.audit import InvalidAnchor, parse_anchor
from domain.errors import DomainError
from domain.events import COMMAND, DISCIPLINE, ROLES, SYSTEM, Actor
from domain.verification import CHECKS, GOOD, OUTCOMES
from projections.audit_verify import KINDS

bp = Blueprint("audit", __name__)


class UnknownRun(DomainError):
    status = 404
    message = "找不到该核验"


def _names(actor: Actor) -> dict[str, str]:
    names = {u["user_id"]: u["name"] for u in runtime().query.users(str(actor.county_id))}
    names[SYSTEM] = "系统（命令行）"
    return names


def _render(actor: Actor, anchor_text: str = "", error: DomainError | None = None) -> Any:
    rt = runtime()
    run_id = request.args.get("run", "")
    current = _status(run_id, actor) if run_id else None
    page = make_response(
        render_template(
            "pages/audit.html",
            head=rt.audit.head(),
            checkpoints=rt.audit.checkpoints(limit=10),
            runs=rt.verifications.listing(str(actor.county_id), limit=50),
            names=_names(actor),
            roles=ROLES,
            outcomes=OUTCOMES,
            checks=CHECKS,
            good=GOOD,
            kinds=KINDS,
            may_run=actor.role == DISCIPLINE,
            anchor=anchor_text,
            new_run_id=str(uuid4()),
            current=current,
            error=error.message if error else None,
            active="audit",
        ),
        error.status if error else 200,
    )
    if current is not None and current["state"] in ("queued", "running"):
        page.headers["Refresh"] = "2"  # the page polls while the run goes on (it carries no script)
    return page


@bp.get("/audit")
@allow(DISCIPLINE, COMMAND)
def index() -> Any:
    return _render(acting(), anchor_text=request.args.get("anchor", ""))


@bp.post("/audit/verify")
@allow(DISCIPLINE)
def verify() -> Any:
    actor = acting()
    run_id = form_id(request.form, "run_id")
    runs(current_app).start(run_id, actor, None)
    return redirect(url_for("audit.index", run=str(run_id)), 303)


@bp.post("/audit/anchor")
@allow(DISCIPLINE)
def check_anchor() -> Any:
    actor = acting()
    text = request.form.get("anchor", "")
    try:
        anchor = parse_anchor(text)
    except InvalidAnchor as error:
        return _render(actor, anchor_text=text, error=error)
    run_id = form_id(request.form, "run_id")
    runs(current_app).start(run_id, actor, anchor)
    return redirect(url_for("audit.index", run=str(run_id)), 303)


def _status(run_id: str, actor: Actor) -> dict[str, Any] | None:
    """A run of the caller's county (or the system's): recorded, or still going; else None."""
    try:
        key = str(UUID(run_id))
    except ValueError:
        return None
    recorded = runtime().verifications.run(key)
    if recorded is not None:
        if recorded["county_id"] not in (None, str(actor.county_id)):
            return None
        return {"state": "done", "position": recorded["position"], "total": recorded["position"], "percent": 100,
                "outcome": recorded["outcome"], "summary": recorded["summary"]}  # fmt: skip
    status = runs(current_app).status(key)
    if status is None or status.county_id not in (None, str(actor.county_id)):
        return None
    if status.state == "done":  # recorded, but the view has not shown it yet
        status.state = "running"
    return status.as_json()


@bp.get("/audit/runs/<run_id>/progress")
@allow(DISCIPLINE, COMMAND)
def progress(run_id: str) -> Any:
    status = _status(run_id, acting())
    if status is None:
        raise UnknownRun()
    return jsonify(status)
