"""The live problem ledger (问题台账): filters, pages and status counts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, render_template, request

from app.access import signed_in
from app.identity import current_actor, runtime
from app.web.ledger_filters import ledger_choice
from app.web.scope import scope_for

bp = Blueprint("ledger", __name__)

PER_PAGE = 50


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


@bp.get("/")
@signed_in
def index() -> Any:
    rt = runtime()
    fresh = rt.fresh()
    actor = current_actor()
    assert actor is not None
    today = rt.today()
    choice = ledger_choice(request.args, scope_for(actor, rt.query), rt.query, today)
    ledger_filter, chosen, as_of = choice.filter, choice.chosen, choice.as_of
    page = rt.query.page(ledger_filter, today, _page_number(request.args.get("page")), PER_PAGE)
    if page.page > page.pages:
        page = rt.query.page(ledger_filter, today, page.pages, PER_PAGE)
    counts = rt.query.status_counts(replace(ledger_filter, status=None), today)
    return render_template(
        "pages/ledger.html",
        page=page,
        chosen=chosen,
        base={k: v for k, v in chosen.items() if k != "status"},
        options=choice.options,
        parent_names=choice.parent_names,
        counts=counts,
        counts_total=sum(counts.values()),
        today=as_of or today,
        as_of=as_of,
        live_args={k: v for k, v in chosen.items() if k != "as_of"},
        today_iso=today.isoformat(),
        fresh=fresh,
    )
