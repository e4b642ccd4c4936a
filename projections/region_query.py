"""Counties ranked against each other (各县效能考评比较) for a regional office
(上级指挥部), on the same score view the towns' ranking reads.

What the figures mean (the page, the API and docs/DEPLOYMENT.md say the same):
- a county's score (县平均得分) = the mean score of its accountable units that
  take part in the scoring: its towns (乡镇, which answer for their villages)
  and its county departments (县直部门), each as the county's own ranking page
  shows it for the period at the end of the day asked about. Villages are not
  counted again (their deductions are in their towns' scores). Counties may
  adopt different base scores, so the mean is put on a 100-point scale
  (score × 100 / the county's base score) before counties are compared;
- findings (问题数) and closed (已销号), due deadlines (到期事项) and met ones
  (按期完成) are the sums over the same units: closure rate = closed / findings,
  on-time rate = met / due, exactly as for a town;
- overdue open (逾期未整改) = findings still being rectified past their deadline
  at the end of that day (the ledger's count for the whole county);
- counties rank by their score, higher first; ties share a place (1, 2, 2, 4);
  a county with no scored unit has no score and ranks last.

How they are computed: a province holds a hundred counties of some 13,000
findings a year each, so the page does not build every county's unit ranking
(``ScoreQuery.ranking``, tens of milliseconds each, twice with the previous
period). Since a county's mean is its base minus its units' deductions over
their number, only sums are needed: ``county_totals`` gets them for every
member county from a few grouped queries over the score view (each fact
counted for the town or department that answers for it, as ``_scores``
does), and the ledger gives the overdue counts in one grouped query.
``county_ranking_from_rankings`` is the definition spelled out unit by unit;
the tests hold the two equal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.rules import periods
from projections.ledger_query import LedgerFilter, LedgerQuery
from projections.scores import MET, SCORE_UNITS
from projections.scores_query import Ranking, ScoreQuery, UnitScore, _rank, _rate, base_in_force

#: The kinds of unit whose scores make a county's (villages are inside their towns').
COUNTY_SCORED_KINDS = ("town", "department")
HUNDRED = Decimal(100)


@dataclass
class CountyScore:
    county_id: str
    name: str
    base: Decimal
    rulebook_version: int | None
    units: int
    average: Decimal | None
    findings: int = 0
    closed: int = 0
    due: int = 0
    met: int = 0
    deducted: Decimal = Decimal(0)
    overdue: int = 0
    rank: int = 0
    ranked: int = 0
    previous_average: Decimal | None = None
    previous_rank: int | None = None

    @property
    def change(self) -> Decimal | None:
        if self.average is None or self.previous_average is None:
            return None
        return self.average - self.previous_average

    @property
    def rank_change(self) -> int | None:
        return None if self.previous_rank is None else self.previous_rank - self.rank

    @property
    def on_time_rate(self) -> Decimal | None:
        return _rate(self.met, self.due)

    @property
    def closure_rate(self) -> Decimal | None:
        return _rate(self.closed, self.findings)


@dataclass
class CountyRanking:
    period: str
    previous_period: str
    as_of: date
    counties: list[CountyScore]

    def county(self, county_id: str) -> CountyScore | None:
        return next((c for c in self.counties if c.county_id == county_id), None)


def _scored(ranking: Ranking) -> list[UnitScore]:
    return [s for kind in COUNTY_SCORED_KINDS for s in ranking.by_kind[kind]]


def _hundred_scale(values: list[Decimal], base: Decimal) -> Decimal | None:
    if not values or not base:
        return None
    mean = sum(values, Decimal(0)) / len(values)
    return (mean * HUNDRED / base).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def county_score(county_id: str, name: str, ranking: Ranking, overdue: int) -> CountyScore:
    scored = _scored(ranking)
    return CountyScore(
        county_id=county_id,
        name=name,
        base=ranking.base,
        rulebook_version=ranking.rulebook_version,
        units=len(scored),
        average=_hundred_scale([s.score for s in scored], ranking.base),
        findings=sum(s.findings for s in scored),
        closed=sum(s.closed for s in scored),
        due=sum(s.due for s in scored),
        met=sum(s.met for s in scored),
        deducted=sum((s.deducted for s in scored), Decimal(0)),
        overdue=overdue,
        # The previous period on the county's current base (a county that changed its base is compared on its new one).
        previous_average=_hundred_scale([s.previous_score for s in scored if s.previous_score is not None], ranking.base),
    )


def overdue_open(ledger: LedgerQuery, county_id: str, today: date, as_of: date | None) -> int:
    counts = ledger.status_counts(LedgerFilter(county_id=county_id, overdue_only=True, as_of=as_of), today)
    return sum(counts.values())


@dataclass
class CountyTotals:
    """One county's sums over its scored units (towns and departments) for a period."""

    base: Decimal
    rulebook_version: int | None
    units: int = 0
    deducted: Decimal = Decimal(0)
    findings: int = 0
    closed: int = 0
    due: int = 0
    met: int = 0
    by_points: dict[str, int] = field(default_factory=dict)

    def average(self, scale: Decimal) -> Decimal | None:
        """The units' mean score (base − deducted ÷ units) on a 100-point scale of ``scale``."""
        if not self.units or not scale:
            return None
        # The units' scores summed: the same Decimal as adding them one by one.
        total = self.base * self.units - self.deducted
        return (total / self.units * HUNDRED / scale).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _in(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


def county_totals(
    scores: ScoreQuery, county_ids: list[str], period: str, as_of: date, counts: bool = True
) -> dict[str, CountyTotals]:
    """For every county, the sums ``county_score`` makes of its ranking's towns and
    departments: a fixed number of grouped queries whatever the number of counties.
    Without ``counts``, the deductions and units alone (the score, all the previous
    period needs): the findings and deadlines are most of the rows read."""
    if not county_ids:
        return {}
    start, end = periods.bounds(period)
    first, last, day = start.isoformat(), end.isoformat(), as_of.isoformat()
    counties = _in(county_ids)
    kinds = ", ".join(f"'{k}'" for k in COUNTY_SCORED_KINDS)
    units = SCORE_UNITS.history
    # The facts are first summed per unit (a few hundred rows a county), then each unit's sums go to the
    # town or department answering for it, looked up by key as the units stood that day: no join of
    # whole tables whose size the planner must guess (a materialised list of units, estimated at a few
    # rows, once made PostgreSQL scan a county's quarter once per unit). Points are decimal text,
    # summed per distinct value in Python, exactly (SQL would sum floats on SQLite).
    statement = (
        "SELECT x.what AS what, x.county_id AS county_id, x.points AS points, SUM(x.n) AS n, SUM(x.part) AS part"
        " FROM ("
        "SELECT 'deductions' AS what, county_id, unit_id, points, COUNT(*) AS n, 0 AS part FROM {score_deductions}"
        f" WHERE county_id IN ({counties}) AND occurred_on >= ? AND occurred_on <= ? AND day <= ?"
        " AND (reversed_day IS NULL OR reversed_day > ?) GROUP BY county_id, unit_id, points"
        + (
            " UNION ALL SELECT 'findings', county_id, unit_id, NULL, COUNT(*),"
            " SUM(CASE WHEN closed_day IS NOT NULL AND closed_day <= ? THEN 1 ELSE 0 END) FROM {score_findings}"
            f" WHERE county_id IN ({counties}) AND filed_on >= ? AND filed_on <= ? AND filed_day <= ?"
            " AND (withdrawn_day IS NULL OR withdrawn_day > ?) GROUP BY county_id, unit_id"
            " UNION ALL SELECT 'deadlines', county_id, unit_id, NULL, COUNT(*),"
            " SUM(CASE WHEN outcome = ? AND (rejected_day IS NULL OR rejected_day > ?) THEN 1 ELSE 0 END)"
            f" FROM {{score_deadlines}} WHERE county_id IN ({counties}) AND deadline >= ? AND deadline <= ?"
            " AND decided_day <= ? GROUP BY county_id, unit_id"
            if counts
            else ""
        )
        # ``|| ''`` keeps SQLite on the (unit_id, day) key: with a plain county_id = ? it chose the
        # (county_id, day) index and read a county's every unit for each unit's sums.
        + f") x JOIN {{{units}}} u ON u.unit_id = x.unit_id AND u.county_id || '' = x.county_id"
        " AND u.day <= ? AND (u.until_day IS NULL OR u.until_day > ?)"
        f" LEFT JOIN {{{units}}} p ON p.unit_id = u.parent_id AND p.county_id || '' = u.county_id"
        " AND p.day <= ? AND (p.until_day IS NULL OR p.until_day > ?)"
        # The unit itself if it is scored, else a village's town (as ScoreQuery._scores' ``answering``).
        f" WHERE (u.kind IN ({kinds}) AND u.retired = 0)"
        f" OR (u.kind = 'village' AND p.kind IN ({kinds}) AND p.retired = 0)"
        " GROUP BY x.what, x.county_id, x.points"
        " UNION ALL SELECT 'units', county_id, NULL, COUNT(*), 0"
        f" FROM ({SCORE_UNITS.as_of_source()}) s WHERE county_id IN ({counties}) AND kind IN ({kinds})"
        " AND retired = 0 GROUP BY county_id"
    )
    params: list[Any] = [
        *county_ids, first, last, day, day,
        *([day, *county_ids, first, last, day, day, MET, day, *county_ids, first, last, day] if counts else []),
        day, day, day, day,
        day, day, *county_ids,
    ]  # fmt: skip
    with scores.view.reading() as rows:
        versions = rows.all(
            "SELECT county_id, version, in_force_from, base_score FROM {score_rulebooks}"
            f" WHERE county_id IN ({_in(county_ids)}) AND day <= ? ORDER BY county_id, in_force_from, version",
            (*county_ids, day),
        )
        found = rows.all(statement, params)
    by_county: dict[str, list[Any]] = defaultdict(list)
    for v in versions:
        by_county[v["county_id"]].append(v)
    totals = {c: CountyTotals(*base_in_force(by_county[c], start)) for c in county_ids}
    for r in found:
        t = totals[r["county_id"]]
        n, part = int(r["n"]), int(r["part"] or 0)
        if r["what"] == "units":
            t.units = n
        elif r["what"] == "deductions":
            t.by_points[r["points"]] = n
        elif r["what"] == "findings":
            t.findings, t.closed = n, part
        else:
            t.due, t.met = n, part
    for t in totals.values():
        # In a fixed order, so the Decimal's exponent is the one adding the units' deductions gives.
        t.deducted = sum((Decimal(p) * n for p, n in sorted(t.by_points.items())), Decimal(0))
    return totals


def _ranked(found: list[CountyScore], period: str, day: date) -> CountyRanking:
    def key(c: CountyScore) -> Decimal:
        return c.average if c.average is not None else Decimal("-Infinity")

    earlier = [CountyScore(**{**c.__dict__, "average": c.previous_average}) for c in found]
    _rank(earlier, key)
    previous = {c.county_id: c.rank for c in earlier if c.average is not None}
    _rank(found, key)
    for county in found:
        county.ranked = len(found)
        county.previous_rank = previous.get(county.county_id)
    return CountyRanking(period, periods.previous(period), day, found)


def county_ranking(
    scores: ScoreQuery,
    ledger: LedgerQuery,
    counties: Iterable[tuple[str, str]],
    period: str,
    day: date,
    as_of: date | None,
) -> CountyRanking:
    """``counties``: (county id, name) of the region's members; ``day``: the day
    the figures stand at (``as_of`` when one was asked for, else today)."""
    members = list(counties)
    ids = [county_id for county_id, _ in members]
    current = county_totals(scores, ids, period, day)
    earlier = county_totals(scores, ids, periods.previous(period), day, counts=False)
    overdue = ledger.overdue_by_county(ids, day, as_of)
    found = []
    for county_id, name in members:
        now, before = current[county_id], earlier[county_id]
        found.append(
            CountyScore(
                county_id=county_id,
                name=name,
                base=now.base,
                rulebook_version=now.rulebook_version,
                units=now.units,
                average=now.average(now.base),
                findings=now.findings,
                closed=now.closed,
                due=now.due,
                met=now.met,
                deducted=now.deducted,
                overdue=overdue.get(county_id, 0),
                # The previous period on the county's current base, as county_score does.
                previous_average=before.average(now.base),
            )
        )
    return _ranked(found, period, day)


def county_ranking_from_rankings(
    scores: ScoreQuery,
    ledger: LedgerQuery,
    counties: Iterable[tuple[str, str]],
    period: str,
    day: date,
    as_of: date | None,
) -> CountyRanking:
    """``county_ranking`` by its definition: each county's full unit ranking and its
    ledger count, read one county at a time (the reference the tests compare with)."""
    found: list[CountyScore] = []
    for county_id, name in counties:
        ranking = scores.ranking(county_id, period, day)
        found.append(county_score(county_id, name, ranking, overdue_open(ledger, county_id, day, as_of)))
    return _ranked(found, period, day)
