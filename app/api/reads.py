"""Read models that are not one resource's: the command office's dashboard,
score rankings and one unit's score explained, and the documents (公文)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import request

from app.access import signed_in, allow
from app.api import api
from app.api import schemas as s
from app.api.common import actor, plain, respond
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import paginate
from app.api.registry import BadQuery, Param
from app.identity import runtime
from app.web.as_of import as_of_from, period_from
from app.web.scores import DASHBOARD_ROLES, UnknownScoredUnit, require_unit_visible
from domain.errors import DomainError
from domain.rules import periods
from projections.documents import DocumentRow
from projections.scores_query import RANKED_KINDS, UnitScore

TAG = "考评与总览"
AS_OF = Param("as_of", s.DATE, "查看该日结束时的情况")
PERIOD = Param("period", {"type": "string", "maxLength": 20}, "考评周期，如 2026Q4、2026-10、2026")


class NoDocumentYet(DomainError):
    status = 404
    message = "该事项尚无已印发的公文"


def document_out(row: DocumentRow) -> dict[str, Any]:
    return plain(row.as_dict())


def _moment() -> tuple[Any, Any, Any]:
    rt = runtime()
    rt.fresh()
    today = rt.today()
    as_of = as_of_from(request.args, today)
    return actor(), as_of or today, as_of


def _period(day: Any) -> str:
    try:
        return period_from(request.args, day)
    except DomainError:
        raise
    except (ValueError, TypeError) as error:
        raise BadQuery("考评周期无效") from error


@api.get("/dashboard", summary="工作总览：各战区、乡镇的问题办理情况", tag=TAG, params=(PERIOD, AS_OF),
         response=s.DASHBOARD)  # fmt: skip
@allow(*DASHBOARD_ROLES)
def dashboard() -> Any:
    who, day, as_of = _moment()
    period = _period(day)
    start, end = periods.bounds(period)
    groups = runtime().query.dashboard(str(who.county_id), day, start, min(end, day), as_of)
    totals = {key: sum(g[key] for g in groups) for key in ("awaiting", "rectifying", "overdue", "submitted", "closed")}
    return respond({"period": period, "day": day, "groups": groups, "totals": totals})


def score_out(score: UnitScore) -> dict[str, Any]:
    data = plain(score)
    data.update(
        score=str(score.score),
        change=plain(score.change),
        rank_change=score.rank_change,
        on_time_rate=plain(score.on_time_rate),
        closure_rate=plain(score.closure_rate),
    )
    return data


@api.get("/scores", summary="效能考评排名", tag=TAG,
         params=(PERIOD, Param("kind", {"enum": list(RANKED_KINDS)}, "参评单位类别（默认乡镇）"), AS_OF, *PAGE_PARAMS),
         response=s.page_of(s.UNIT_SCORE))  # fmt: skip
@signed_in
def ranking() -> Any:
    who, day, _ = _moment()
    period = _period(day)
    kind = request.args.get("kind") or "town"
    if kind not in RANKED_KINDS:
        raise BadQuery("参评单位类别无效")
    result = runtime().scores.ranking(str(who.county_id), period, day)
    return respond(paginate(result.by_kind[kind], lambda u: (f"{u.rank:06d}", u.unit_id), render=score_out))


@api.get("/scores/units/<unit_id>", summary="单位考评得分及扣分明细", tag=TAG,
         params=(Param("unit_id", s.UUID, "单位编号", where="path", required=True), PERIOD, AS_OF),
         response=s.SCORE_REPORT)  # fmt: skip
@signed_in
def unit_report(unit_id: str) -> Any:
    who, day, _ = _moment()
    try:
        key = str(UUID(unit_id))
    except ValueError as error:
        raise UnknownScoredUnit() from error
    require_unit_visible(who, key)
    period = _period(day)
    report = runtime().scores.unit_report(key, period, day)
    if report is None:
        raise UnknownScoredUnit()
    return respond(
        {
            "period": period,
            "day": day,
            "score": score_out(report.score),
            "deductions": [{**plain(d), "counts": d.counts} for d in report.deductions],
            "trend": [{"period": p, "score": plain(own), "average": plain(avg)} for p, own, avg in report.trend],
        }
    )
