"""The live problem ledger (问题台账): filters, pages and status counts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, render_template, request

from app.identity import current_actor, identity_required, runtime
from app.web.as_of import as_of_from
from app.web.scope import scope_for
from domain.events import CATEGORIES
from domain.finding import STATUSES
from projections.ledger_query import LedgerFilter

bp = Blueprint("ledger", __name__)

PER_PAGE = 50
#: Units a finding is filed against (the unit filter's choices).
ACCOUNTABLE_KINDS = ("town", "village", "department", "office", "discipline")


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


@bp.get("/")
@identity_required
def index() -> Any:
    rt = runtime()
    fresh = rt.fresh()
    actor = current_actor()
    assert actor is not None
    today = rt.today()
    as_of = as_of_from(request.args, today)
    scope = scope_for(actor, rt.query)

    all_units = rt.query.units(scope.county_id, as_of)
    units = list(all_units)
    if scope.unit_scope is not None:
        units = [u for u in units if u["unit_id"] in scope.unit_scope]
    names = {u["unit_id"]: u["name"] for u in all_units}
    options = {
        "zone": sorted((u for u in units if u["kind"] == "zone"), key=lambda u: u["name"]),
        "town": sorted((u for u in units if u["kind"] == "town"), key=lambda u: u["name"]),
        "unit": sorted(
            (u for u in units if u["kind"] in ACCOUNTABLE_KINDS),
            key=lambda u: (ACCOUNTABLE_KINDS.index(u["kind"]), names.get(u["parent_id"] or "", ""), u["name"]),
        ),
    }
    parent_names = {u["unit_id"]: names.get(u["parent_id"] or "", "") for u in options["unit"]}

    # Only choices on offer are applied; anything else typed into the URL is ignored.
    chosen: dict[str, str] = {}
    for key in ("zone", "town", "unit"):
        value = request.args.get(key, "")
        if value and any(u["unit_id"] == value for u in options[key]):
            chosen[key] = value
    for key, allowed in (("category", CATEGORIES), ("status", STATUSES)):
        value = request.args.get(key, "")
        if value in allowed:
            chosen[key] = value
    if request.args.get("overdue") == "1":
        chosen["overdue"] = "1"
    if as_of:
        chosen["as_of"] = as_of.isoformat()

    ledger_filter = LedgerFilter(
        county_id=scope.county_id,
        zone_id=chosen.get("zone"),
        town_id=chosen.get("town"),
        unit_id=chosen.get("unit"),
        category=chosen.get("category"),
        status=chosen.get("status"),
        overdue_only="overdue" in chosen,
        unit_scope=scope.unit_scope,
        cadre_id=scope.cadre_id,
        as_of=as_of,
    )
    page = rt.query.page(ledger_filter, today, _page_number(request.args.get("page")), PER_PAGE)
    if page.page > page.pages:
        page = rt.query.page(ledger_filter, today, page.pages, PER_PAGE)
    counts = rt.query.status_counts(replace(ledger_filter, status=None), today)
    return render_template(
        "pages/ledger.html",
        page=page,
        chosen=chosen,
        base={k: v for k, v in chosen.items() if k != "status"},
        options=options,
        parent_names=parent_names,
        counts=counts,
        counts_total=sum(counts.values()),
        today=as_of or today,
        as_of=as_of,
        live_args={k: v for k, v in chosen.items() if k != "as_of"},
        today_iso=today.isoformat(),
        fresh=fresh,
    )
