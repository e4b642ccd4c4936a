"""Efficiency scores and rankings (效能考评 / 集中评比), one unit's score explained,
and the command office's dashboard; each also as it stood at the end of a past
day (``?as_of=``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from flask import Blueprint, render_template, request, url_for
from markupsafe import Markup

from app.charts import Bar, Series, Stack, bar_chart, line_chart, stacked_bar_chart
from app.access import allow, signed_in
from app.identity import current_actor, runtime
from app.web.as_of import as_of_from, period_choices, period_from
from domain.errors import DomainError, NotPermitted
from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, UNIT, Actor
from domain.rules import periods
from projections.scores_query import KIND_LABELS, RANKED_KINDS, Ranking, UnitReport, UnitScore

bp = Blueprint("scores", __name__)

#: Who sees the dashboard: the people who run and oversee the supervision.
DASHBOARD_ROLES = (COMMAND, DISCIPLINE, INSPECTOR)


class UnknownScoredUnit(DomainError):
    status = 404
    message = "找不到该单位的考评结果（只有乡镇、村和县直部门参加考评）"


class DashboardNotPermitted(NotPermitted):
    message = "只有指挥部、督查组和纪检监察机关可以查看工作总览"


def _moment() -> tuple[Actor, date, date | None]:
    """The actor, the day the figures stand at, and the as-of day if one was asked for."""
    rt = runtime()
    rt.fresh()
    actor = current_actor()
    assert actor is not None
    today = rt.today()
    as_of = as_of_from(request.args, today)
    return actor, as_of or today, as_of


def _kind_from(args: Any) -> str:
    kind = args.get("kind", "town")
    return kind if kind in RANKED_KINDS else "town"


@bp.get("/scores")
@signed_in
def ranking() -> Any:
    actor, day, as_of = _moment()
    period = period_from(request.args, day)
    kind = _kind_from(request.args)
    # One call: the trend's periods include the ranking's two, each computed once.
    result, (trend_periods, trend) = runtime().scores.ranking_and_trend(str(actor.county_id), period, day)
    links = {"period": period, "as_of": as_of.isoformat() if as_of else None}
    return render_template(
        "pages/scores.html",
        bar_svg=_ranking_bars(result.by_kind[kind], KIND_LABELS[kind], period, links, _own_unit(actor, result)),
        zone_svg=_zone_bars(result),
        trend_svg=_averages_trend(trend_periods, trend),
        today_iso=runtime().today().isoformat(),
        ranking=result,
        kind=kind,
        kinds=RANKED_KINDS,
        kind_labels=KIND_LABELS,
        scores=result.by_kind[kind],
        period=period,
        period_label=periods.label(period),
        previous_label=periods.label(result.previous_period),
        choices=period_choices(day),
        day=day,
        as_of=as_of,
    )


def _ranking_bars(
    scores: list[UnitScore], label: str, period: str, links: dict[str, Any], own: str | None
) -> Markup:
    lowest = min((s.score for s in scores), default=None)
    return bar_chart(
        [
            Bar(s.name, s.score, url_for("scores.unit", unit_id=s.unit_id, **links), f"第{s.rank}名")
            for s in scores
        ],
        title=f"{label}得分排名（{periods.label(period)}）",
        min_value=min(lowest, Decimal(90)) if lowest is not None else None,
        max_value=max((s.base for s in scores), default=None),
        highlight=own,
    )


def _zone_bars(ranking: Ranking) -> Markup:
    towns = [t.score for t in ranking.by_kind["town"]]
    zones = [z for z in ranking.zones if z.average is not None]
    average = (sum(towns, Decimal(0)) / len(towns)) if towns else None
    return bar_chart(
        [Bar(z.name, z.average, None, f"{z.towns}个乡镇") for z in zones],  # type: ignore[arg-type]
        title="各战区乡镇平均分",
        min_value=min([*(z.average for z in zones), Decimal(90)]),  # type: ignore[type-var]
        reference=("全县乡镇平均", average.quantize(Decimal("0.01"))) if average is not None else None,
    )


def _averages_trend(trend_periods: list[str], trend: dict[str, list[Decimal | None]]) -> Markup:
    return line_chart(
        [Series(name, values) for name, values in trend.items()],
        title="各战区及全县平均得分走势",
        periods=[periods.label(p) for p in trend_periods],
    )


def _unit_trend(report: UnitReport) -> Markup:
    kind = KIND_LABELS.get(report.score.kind, "")
    return line_chart(
        [
            Series(report.score.name, [own for _, own, _ in report.trend]),
            Series(f"{kind}平均", [average for _, _, average in report.trend]),
        ],
        title=f"{report.score.name}得分走势",
        periods=[periods.label(p) for p, _, _ in report.trend],
    )


def _own_unit(actor: Actor, ranking: Ranking) -> str | None:
    """A unit's or cadre's own unit, drawn in the accent colour among the bars."""
    if actor.role not in (UNIT, CADRE):
        return None
    own = ranking.unit(str(actor.unit_id))
    return own.name if own else None


def require_unit_visible(actor: Actor, unit_id: str) -> None:
    """A unit user sees its own unit and those below; a cadre their own unit;
    the inspectors, the command office and the discipline office every unit."""
    county = runtime().scores.county_of(unit_id)
    # Out of scope reads as unknown (404), so a forged id learns nothing.
    if county is None or county != str(actor.county_id):
        raise UnknownScoredUnit()
    if actor.role in (UNIT, CADRE) and unit_id not in runtime().query.subtree(str(actor.unit_id)):
        raise UnknownScoredUnit()
    if actor.role == CADRE and unit_id != str(actor.unit_id):
        raise UnknownScoredUnit()


@bp.get("/scores/units/<unit_id>")
@signed_in
def unit(unit_id: str) -> Any:
    actor, day, as_of = _moment()
    try:
        unit_id = str(UUID(unit_id))
    except ValueError as error:
        raise UnknownScoredUnit() from error
    require_unit_visible(actor, unit_id)
    period = period_from(request.args, day)
    report = runtime().scores.unit_report(unit_id, period, day)
    if report is None:
        raise UnknownScoredUnit()
    return render_template(
        "pages/score_unit.html",
        trend_svg=_unit_trend(report),
        today_iso=runtime().today().isoformat(),
        report=report,
        score=report.score,
        period=period,
        period_label=periods.label(period),
        choices=period_choices(day),
        kind_label=KIND_LABELS.get(report.score.kind, report.score.kind),
        day=day,
        as_of=as_of,
    )


@bp.get("/dashboard")
@allow(INSPECTOR, COMMAND, DISCIPLINE)
def dashboard() -> Any:
    actor, day, as_of = _moment()
    if actor.role not in DASHBOARD_ROLES:
        raise DashboardNotPermitted()
    period = period_from(request.args, day)
    start, end = periods.bounds(period)
    groups = runtime().query.dashboard(str(actor.county_id), day, start, min(end, day), as_of)
    totals = {key: sum(g[key] for g in groups) for key in ("awaiting", "rectifying", "overdue", "submitted", "closed")}
    return render_template(
        "pages/dashboard.html",
        status_svg=_status_bars(groups, as_of),
        today_iso=runtime().today().isoformat(),
        groups=groups,
        totals=totals,
        period=period,
        period_label=periods.label(period),
        choices=period_choices(day),
        day=day,
        as_of=as_of,
    )


def _status_bars(groups: list[dict[str, Any]], as_of: date | None) -> Markup:
    """Per town: overdue, rectifying in time, waiting for verification, closed this period (no overlaps)."""
    stacks = [
        Stack(
            g["town_name"] or "县直部门",
            [g["overdue"], g["rectifying"] - g["overdue"], g["submitted"], g["closed"]],
            url_for("ledger.index", town=g["town_id"], as_of=as_of.isoformat() if as_of else None)
            if g["town_id"]
            else None,
        )
        for g in groups
    ]
    return stacked_bar_chart(
        stacks, title="各街镇问题办理情况", segments=["逾期", "整改中（未逾期）", "待验收", "本期销号"],
        colors=["#a4161a", "#0b5cad", "#9a6700", "#1a7f37"],
    )  # fmt: skip


@bp.get("/scores.xlsx")
@signed_in
def export() -> Any:
    """The score table of one kind of unit for a period, as the ranking page shows it."""
    from app.excel.workbook import DATE, DECIMAL, INTEGER, PERCENT, TEXT, Column, table_workbook
    from app.web.excel import _xlsx

    actor, day, as_of = _moment()
    period = period_from(request.args, day)
    kind = _kind_from(request.args)
    result = runtime().scores.ranking(str(actor.county_id), period, day)
    columns = [
        Column("名次", "rank", 7, INTEGER),
        Column("单位", "name", 20, TEXT),
        *([Column("所属街镇", "parent_name", 14, TEXT)] if kind == "village" else []),
        Column("基础分", "base", 9, DECIMAL, "0.0"),
        Column("扣分", "deducted", 9, DECIMAL, "0.0"),
        Column("得分", "score", 9, DECIMAL, "0.0"),
        Column("上期得分", "previous_score", 10, DECIMAL, "0.0"),
        Column("较上期", "change", 9, DECIMAL, "+0.0;-0.0;0.0"),
        Column("上期名次", "previous_rank", 9, INTEGER),
        Column("按期整改率", "on_time_rate", 11, PERCENT),
        Column("到期事项", "due", 9, INTEGER),
        Column("按期完成", "met", 9, INTEGER),
        Column("销号率", "closure_rate", 9, PERCENT),
        Column("本期问题", "findings", 9, INTEGER),
        Column("已销号", "closed", 9, INTEGER),
        Column("数据截至", "as_of", 12, DATE),
    ]
    rows = [
        {
            **{key: getattr(s, key) for key in ("rank", "name", "parent_name", "base", "deducted", "previous_rank")},
            **{key: getattr(s, key) for key in ("score", "previous_score", "change", "on_time_rate", "due", "met")},
            **{key: getattr(s, key) for key in ("closure_rate", "findings", "closed")},
            "as_of": day,
        }
        for s in result.by_kind[kind]
    ]
    rulebook = f"第 {result.rulebook_version} 版" if result.rulebook_version else "默认规则"
    preamble = [
        ("考评周期", periods.label(period)),
        ("参评单位", KIND_LABELS[kind]),
        ("数据截至", f"{day.isoformat()} 日终" if as_of else f"{day.isoformat()}（当前）"),
        ("考评规则", f"{rulebook}，基础分 {result.base}"),
        ("说明", "乡镇得分含所辖村的扣分；按期整改率 = 按期完成 / 到期事项；销号率 = 已销号 / 本期问题（不含已撤销的问题）"),
    ]
    data = table_workbook(f"{KIND_LABELS[kind]}效能考评得分（{periods.label(period)}）", preamble, columns, rows)
    return _xlsx(data, f"效能考评-{KIND_LABELS[kind]}-{period}-{day.isoformat()}.xlsx")
