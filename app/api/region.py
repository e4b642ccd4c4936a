"""The regional office's API (上级指挥部): its region, its counties ranked
against each other, and, read-only, a member county's unit ranking and ledger.
The same rules as its pages (app/web/region.py): the REGION role only, a county
outside the region is not found (404), nothing writes."""

from __future__ import annotations

from typing import Any

from flask import request

from app.access import allow
from app.api import api
from app.api import schemas as s
from app.api.common import plain, respond
from app.api.findings import LEDGER_PARAMS, finding_out, ledger_filter, ledger_rows
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import cursor_arg, encode, limit_arg, paginate
from app.api.reads import AS_OF, PERIOD, _period, score_out
from app.api.registry import BadQuery, Param
from app.identity import runtime
from app.web.region import member_county, members, moment, region_ranking
from app.web.scope import Scope
from domain.events import REGION
from projections.region_query import CountyScore
from projections.scores_query import RANKED_KINDS

TAG = "上级指挥部"
COUNTY_PATH = Param("county_id", s.UUID, "县编号（本地区内的县）", where="path", required=True)

REGION_OUT = s.resource(
    {
        "region_id": s.UUID,
        "name": {"type": "string"},
        "level": {"enum": ["city", "province"]},
        "counties": {"type": "array", "items": s.resource({"county_id": s.UUID, "name": {"type": "string"}},
                                                          ("county_id", "name"))},
    },
    ("region_id", "name", "level", "counties"),
)  # fmt: skip
COUNTY_SCORE = s.resource(
    {
        "county_id": s.UUID,
        "name": {"type": "string"},
        "rank": {"type": "integer"},
        "average": {"type": ["string", "null"]},
        "findings": {"type": "integer"},
        "closed": {"type": "integer"},
        "closure_rate": {"type": ["string", "null"]},
        "on_time_rate": {"type": ["string", "null"]},
        "overdue": {"type": "integer"},
    },
    ("county_id", "name", "rank", "average", "findings", "closed", "overdue"),
)
COUNTY_RANKING = s.resource(
    {"period": {"type": "string"}, "day": s.DATE, "counties": {"type": "array", "items": COUNTY_SCORE}},
    ("period", "day", "counties"),
)


def county_out(c: CountyScore) -> dict[str, Any]:
    data = plain(c)
    data.update(
        change=plain(c.change), rank_change=c.rank_change, on_time_rate=plain(c.on_time_rate),
        closure_rate=plain(c.closure_rate),
    )  # fmt: skip
    return data


@api.get("/region", summary="本地区（上级指挥部）及其所辖各县", tag=TAG, response=REGION_OUT)
@allow(REGION)
def show() -> Any:
    m = moment()
    return respond(
        {
            "region_id": m.region.id,
            "name": m.region.name,
            "level": m.region.level,
            "counties": [{"county_id": c, "name": n} for c, n in members(m.region)],
        }
    )


@api.get("/region/counties", summary="各县效能考评比较（按县平均得分排名）", tag=TAG, params=(PERIOD, AS_OF),
         response=COUNTY_RANKING)  # fmt: skip
@allow(REGION)
def ranking() -> Any:
    m = moment()
    period = _period(m.day)
    result = region_ranking(m, period)
    return respond({"period": period, "day": m.day, "counties": [county_out(c) for c in result.counties]})


@api.get("/region/counties/<county_id>/scores", summary="本地区某县的单位考评排名（只读）", tag=TAG,
         params=(COUNTY_PATH, PERIOD, Param("kind", {"enum": list(RANKED_KINDS)}, "参评单位类别（默认乡镇）"), AS_OF,
                 *PAGE_PARAMS),
         response=s.page_of(s.UNIT_SCORE))  # fmt: skip
@allow(REGION)
def county_scores(county_id: str) -> Any:
    m = moment()
    key, _ = member_county(m.region, county_id)
    period = _period(m.day)
    kind = request.args.get("kind") or "town"
    if kind not in RANKED_KINDS:
        raise BadQuery("参评单位类别无效")
    result = runtime().scores.ranking(key, period, m.day)
    return respond(paginate(result.by_kind[kind], lambda u: (f"{u.rank:06d}", u.unit_id), render=score_out))


@api.get("/region/counties/<county_id>/findings", summary="本地区某县的问题台账（只读，按登记时间倒序）", tag=TAG,
         params=(COUNTY_PATH, *LEDGER_PARAMS), response=s.page_of(s.FINDING))  # fmt: skip
@allow(REGION)
def county_findings(county_id: str) -> Any:
    m = moment()
    key, _ = member_county(m.region, county_id)
    f = ledger_filter(None, m.today, Scope(key))
    limit, after = limit_arg(), cursor_arg()
    rows = ledger_rows(f, m.today, limit + 1, after)
    page, more = rows[:limit], len(rows) > limit
    return respond(
        {
            "items": [finding_out(r) for r in page],
            "next_cursor": encode([page[-1]["filed_at"], page[-1]["finding_id"]]) if more else None,
        }
    )
