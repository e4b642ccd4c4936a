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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from domain.rules import periods
from projections.ledger_query import LedgerFilter, LedgerQuery
from projections.scores_query import Ranking, ScoreQuery, UnitScore, _rank, _rate

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
    found: list[CountyScore] = []
    for county_id, name in counties:
        ranking = scores.ranking(county_id, period, day)
        found.append(county_score(county_id, name, ranking, overdue_open(ledger, county_id, day, as_of)))

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
