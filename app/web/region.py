"""The regional office's pages (上级指挥部): its counties ranked against each
other, and, read-only, a member county's ranking and ledger.

Only the REGION role reaches these pages, and a region's person reaches no
county page (their actor has no county, and the county pages' rules leave the
role out). A county outside the region, like a forged id, is not found (404).
Nothing here writes, and nothing of the discipline office's cases is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from flask import Blueprint, render_template, request, url_for
from markupsafe import Markup

from app.access import allow
from app.charts import Bar, bar_chart
from app.identity import current_actor, runtime
from app.web.as_of import as_of_from, period_choices, period_from
from app.web.ledger_filters import ledger_choice
from app.web.scope import Scope
from domain.errors import DomainError
from domain.events import REGION, Actor
from domain.region import Region
from domain.rules import periods
from projections.region_query import CountyRanking, county_ranking
from projections.scores_query import KIND_LABELS, RANKED_KINDS, Ranking

bp = Blueprint("region", __name__)

PER_PAGE = 50


class UnknownCounty(DomainError):
    status = 404
    message = "找不到该县（或该县不在本地区之内）"


@dataclass(frozen=True)
class Moment:
    actor: Actor
    region: Region
    today: date
    #: The day the figures stand at: the as-of day if one was asked for, else today.
    day: date
    as_of: date | None


def moment() -> Moment:
    rt = runtime()
    rt.fresh()
    actor = current_actor()
    assert actor is not None and actor.region_id is not None  # @allow(REGION) let the request through
    today = rt.today()
    as_of = as_of_from(request.args, today)
    return Moment(actor, rt.duban.region(actor.region_id), today, as_of or today, as_of)


def members(region: Region) -> list[tuple[str, str]]:
    """(county id, name) of the region's counties as they are now: the office
    reads the counties it oversees today, in the past as much as now."""
    duban = runtime().duban
    return [(str(c), duban.unit(c).name) for c in region.county_ids]


def member_county(region: Region, county_id: str) -> tuple[str, str]:
    """A county of the region, or 404 for any other id (another region's, forged, malformed)."""
    try:
        key = str(UUID(county_id))
    except (ValueError, TypeError, AttributeError) as error:
        raise UnknownCounty() from error
    if not region.includes(key):
        raise UnknownCounty()
    return key, runtime().duban.unit(UUID(key)).name


def region_ranking(m: Moment, period: str) -> CountyRanking:
    rt = runtime()
    return county_ranking(rt.scores, rt.query, members(m.region), period, m.day, m.as_of)


def _links(period: str, as_of: date | None) -> dict[str, Any]:
    return {"period": period, "as_of": as_of.isoformat() if as_of else None}


@bp.get("/region")
@allow(REGION)
def index() -> Any:
    m = moment()
    period = period_from(request.args, m.day)
    result = region_ranking(m, period)
    links = _links(period, m.as_of)
    return render_template(
        "pages/region.html",
        region=m.region,
        ranking=result,
        chart=_county_bars(result, period, links),
        period=period,
        period_label=periods.label(period),
        previous_label=periods.label(result.previous_period),
        choices=period_choices(m.day),
        links=links,
        today_iso=m.today.isoformat(),
        day=m.day,
        as_of=m.as_of,
    )


def _county_bars(result: CountyRanking, period: str, links: dict[str, Any]) -> Markup:
    scored = [c for c in result.counties if c.average is not None]
    lowest = min((c.average for c in scored), default=None)  # type: ignore[type-var]
    return bar_chart(
        [
            Bar(c.name, c.average, url_for("region.county_scores", county_id=c.county_id, **links), f"第{c.rank}名")  # type: ignore[arg-type]
            for c in scored
        ],
        title=f"各县平均得分（百分制，{periods.label(period)}）",
        min_value=min(lowest, Decimal(90)) if lowest is not None else None,
        max_value=Decimal(100),
    )


@bp.get("/region/counties/<county_id>/scores")
@allow(REGION)
def county_scores(county_id: str) -> Any:
    m = moment()
    key, name = member_county(m.region, county_id)
    period = period_from(request.args, m.day)
    kind = request.args.get("kind", "town")
    kind = kind if kind in RANKED_KINDS else "town"
    result: Ranking = runtime().scores.ranking(key, period, m.day)
    return render_template(
        "pages/region_county_scores.html",
        region=m.region,
        county_id=key,
        county_name=name,
        ranking=result,
        kind=kind,
        kinds=RANKED_KINDS,
        kind_labels=KIND_LABELS,
        scores=result.by_kind[kind],
        period=period,
        period_label=periods.label(period),
        previous_label=periods.label(result.previous_period),
        choices=period_choices(m.day),
        links=_links(period, m.as_of),
        today_iso=m.today.isoformat(),
        day=m.day,
        as_of=m.as_of,
    )


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


@bp.get("/region/counties/<county_id>/ledger")
@allow(REGION)
def county_ledger(county_id: str) -> Any:
    m = moment()
    key, name = member_county(m.region, county_id)
    rt = runtime()
    choice = ledger_choice(request.args, Scope(key), rt.query, m.today)
    page = rt.query.page(choice.filter, m.today, _page_number(request.args.get("page")), PER_PAGE)
    if page.page > page.pages:
        page = rt.query.page(choice.filter, m.today, page.pages, PER_PAGE)
    counts = rt.query.status_counts(replace(choice.filter, status=None), m.today)
    return render_template(
        "pages/region_county_ledger.html",
        region=m.region,
        county_id=key,
        county_name=name,
        page=page,
        chosen=choice.chosen,
        base={k: v for k, v in choice.chosen.items() if k != "status"},
        options=choice.options,
        parent_names=choice.parent_names,
        counts=counts,
        counts_total=sum(counts.values()),
        today=choice.as_of or m.today,
        as_of=choice.as_of,
        today_iso=m.today.isoformat(),
    )
