"""Scores, rates and rankings (效能考评 / 集中评比), computed from the score
view's facts for one period as they stood at the end of one day.

What the figures mean (the pages and exports say the same):
- score (得分) = the base score of the rulebook version in force on the
  period's first day, minus every deduction dated in the period that had been
  recorded and not reversed by the end of the day asked about;
- a town (乡镇) answers for its villages: its score, rates and counts include
  the deductions and findings of the villages under it; a village, a
  department answer for their own;
- on-time rate (按期整改率) = deadlines met / deadlines decided, over the
  deadlines falling in the period (a deadline is met when the rectification
  was submitted by it and not rejected, missed when the system recorded it
  missed; a rectification rejected as inadequate did not meet it);
- closure rate (销号率) = findings closed / findings filed in the period, not
  counting withdrawn ones;
- rankings are within a kind (towns, villages, departments), ties share a
  place (1, 2, 2, 4); zones (战区) are compared by their towns' average.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.rules import periods
from domain.rules.rulebook import DEFAULT_RULES
from domain.rules.deductions import INADEQUATE, OVERDUE
from projections.scores import CIRCULAR_SOURCE, FINDING_SOURCE, MET, SCORE_UNITS
from projections.views import SqlView

RANKED_KINDS = ("town", "village", "department")
KIND_LABELS = {"town": "乡镇（街道）", "village": "村（社区）", "department": "县直部门", "zone": "战区"}
TREND_PERIODS = 6


@dataclass
class UnitScore:
    unit_id: str
    name: str
    kind: str
    parent_id: str | None
    parent_name: str
    base: Decimal
    deducted: Decimal = Decimal(0)
    deductions: int = 0
    findings: int = 0
    closed: int = 0
    due: int = 0
    met: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    rank: int = 0
    ranked: int = 0
    previous_score: Decimal | None = None
    previous_rank: int | None = None

    @property
    def score(self) -> Decimal:
        return self.base - self.deducted

    @property
    def change(self) -> Decimal | None:
        return None if self.previous_score is None else self.score - self.previous_score

    @property
    def rank_change(self) -> int | None:
        """Places gained since the previous period (positive: moved up)."""
        return None if self.previous_rank is None else self.previous_rank - self.rank

    @property
    def on_time_rate(self) -> Decimal | None:
        return _rate(self.met, self.due)

    @property
    def closure_rate(self) -> Decimal | None:
        return _rate(self.closed, self.findings)


@dataclass
class ZoneScore:
    unit_id: str
    name: str
    towns: int
    average: Decimal | None
    rank: int = 0
    previous_average: Decimal | None = None

    @property
    def change(self) -> Decimal | None:
        if self.average is None or self.previous_average is None:
            return None
        return self.average - self.previous_average


@dataclass
class Ranking:
    county_id: str
    period: str
    previous_period: str
    as_of: date
    base: Decimal
    rulebook_version: int | None
    by_kind: dict[str, list[UnitScore]]
    zones: list[ZoneScore]

    def unit(self, unit_id: str) -> UnitScore | None:
        for scores in self.by_kind.values():
            for score in scores:
                if score.unit_id == unit_id:
                    return score
        return None


@dataclass
class Deduction:
    source: str
    source_id: str
    number: int
    unit_id: str
    unit_name: str
    points: Decimal
    rule_id: str
    rulebook_version: int
    period: str
    reason: str
    occurred_on: str
    reversed_day: str | None
    reversal_reason: str | None

    @property
    def counts(self) -> bool:
        return self.reversed_day is None

    @property
    def is_circular(self) -> bool:
        return self.source == CIRCULAR_SOURCE


@dataclass
class UnitReport:
    """One unit's score for a period, explained deduction by deduction, and its trend."""

    score: UnitScore
    ranking: Ranking
    deductions: list[Deduction]
    trend: list[tuple[str, Decimal | None, Decimal | None]]  # (period, its score, its kind's average)


def _rate(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _average(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _rank(items: list[Any], key: Any) -> None:
    """Competition ranking on ``key`` (higher is better): 1, 2, 2, 4."""
    ordered = sorted(items, key=lambda i: (-key(i), i.name))
    items[:] = ordered
    for position, item in enumerate(ordered, start=1):
        if position > 1 and key(ordered[position - 2]) == key(item):
            item.rank = ordered[position - 2].rank
        else:
            item.rank = position


def base_in_force(versions: list[Any], start: date) -> tuple[Decimal, int | None]:
    """The base score and version of the rulebook in force on a period's first
    day, from a county's versions recorded by the day asked about (ordered by
    in_force_from, version); the first one if none was yet, the default if none."""
    if not versions:
        return DEFAULT_RULES.base_score, None
    in_force = [v for v in versions if v["in_force_from"] <= start.isoformat()] or versions[:1]
    chosen = in_force[-1]
    return Decimal(chosen["base_score"]), int(chosen["version"])


class ScoreQuery:
    def __init__(self, view: SqlView):
        self.view = view

    # The organisation as it stood
    def units(self, county_id: str, as_of: date) -> dict[str, dict[str, Any]]:
        day = as_of.isoformat()
        with self.view.reading() as rows:
            found = rows.all(
                f"SELECT * FROM ({SCORE_UNITS.as_of_source()}) u WHERE county_id = ?", (day, day, county_id)
            )
        return {r["unit_id"]: dict(r) for r in found}

    def county_of(self, unit_id: str) -> str | None:
        with self.view.reading() as rows:
            row = rows.one("SELECT county_id FROM {score_units} WHERE unit_id = ?", (unit_id,))
        return row["county_id"] if row else None

    def recorded_through(self, day: date) -> int:
        with self.view.reading() as rows:
            row = rows.one("SELECT MAX(last_position) AS p FROM {score_days} WHERE day <= ?", (day.isoformat(),))
        return int(row["p"] or 0) if row else 0

    def _base(self, county_id: str, period: str, as_of: date) -> tuple[Decimal, int | None]:
        start, _ = periods.bounds(period)
        with self.view.reading() as rows:
            versions = rows.all(
                "SELECT version, in_force_from, base_score FROM {score_rulebooks}"
                " WHERE county_id = ? AND day <= ? ORDER BY in_force_from, version",
                (county_id, as_of.isoformat()),
            )
        return base_in_force(versions, start)

    # Scores
    def _scores(
        self, county_id: str, period: str, as_of: date, units: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, UnitScore], Decimal, int | None]:
        start, end = (d.isoformat() for d in periods.bounds(period))
        day = as_of.isoformat()
        base, version = self._base(county_id, period, as_of)
        scores = {
            unit_id: UnitScore(
                unit_id=unit_id,
                name=u["name"],
                kind=u["kind"],
                parent_id=u["parent_id"],
                parent_name=units.get(u["parent_id"] or "", {}).get("name", ""),
                base=base,
            )
            for unit_id, u in units.items()
            if u["kind"] in RANKED_KINDS and not u["retired"]
        }

        def answering(unit_id: str) -> list[UnitScore]:
            """The unit itself and, for a village, the town that answers for it."""
            found = [scores[unit_id]] if unit_id in scores else []
            parent = units.get(unit_id, {}).get("parent_id")
            if units.get(unit_id, {}).get("kind") == "village" and parent in scores:
                found.append(scores[parent])
            return found

        with self.view.reading() as rows:
            for r in rows.all(
                "SELECT unit_id, points FROM {score_deductions} WHERE county_id = ? AND occurred_on >= ?"
                " AND occurred_on <= ? AND day <= ? AND (reversed_day IS NULL OR reversed_day > ?)",
                (county_id, start, end, day, day),
            ):
                for score in answering(r["unit_id"]):
                    score.deducted += Decimal(r["points"])
                    score.deductions += 1
            for r in rows.all(
                "SELECT unit_id, category, COUNT(*) AS n,"
                " SUM(CASE WHEN closed_day IS NOT NULL AND closed_day <= ? THEN 1 ELSE 0 END) AS closed"
                " FROM {score_findings} WHERE county_id = ? AND filed_on >= ? AND filed_on <= ? AND filed_day <= ?"
                " AND (withdrawn_day IS NULL OR withdrawn_day > ?) GROUP BY unit_id, category",
                (day, county_id, start, end, day, day),
            ):
                for score in answering(r["unit_id"]):
                    score.findings += int(r["n"])
                    score.closed += int(r["closed"] or 0)
                    score.by_category[r["category"]] = score.by_category.get(r["category"], 0) + int(r["n"])
            for r in rows.all(
                "SELECT unit_id, COUNT(*) AS due,"
                " SUM(CASE WHEN outcome = ? AND (rejected_day IS NULL OR rejected_day > ?) THEN 1 ELSE 0 END) AS met"
                " FROM {score_deadlines} WHERE county_id = ? AND deadline >= ? AND deadline <= ? AND decided_day <= ?"
                " GROUP BY unit_id",
                (MET, day, county_id, start, end, day),
            ):
                for score in answering(r["unit_id"]):
                    score.due += int(r["due"])
                    score.met += int(r["met"] or 0)
        return scores, base, version

    def _scores_once(
        self, county_id: str, period: str, as_of: date, units: dict[str, dict[str, Any]], memo: dict[str, Any] | None
    ) -> tuple[dict[str, UnitScore], Decimal, int | None]:
        """``_scores``, computed once per period for one page (``memo``)."""
        if memo is None:
            return self._scores(county_id, period, as_of, units)
        if period not in memo:
            memo[period] = self._scores(county_id, period, as_of, units)
        return memo[period]  # type: ignore[no-any-return]

    def ranking_and_trend(
        self, county_id: str, period: str, as_of: date, count: int = TREND_PERIODS
    ) -> tuple[Ranking, tuple[list[str], dict[str, list[Decimal | None]]]]:
        """``ranking`` and ``averages_trend`` for one page: the organisation read once and
        each period's scores once (the trend's periods include the ranking's two)."""
        units = self.units(county_id, as_of)
        memo: dict[str, Any] = {}
        ranking = self.ranking(county_id, period, as_of, units=units, memo=memo)
        return ranking, self.averages_trend(county_id, period, as_of, count, units=units, memo=memo)

    def ranking(
        self,
        county_id: str,
        period: str,
        as_of: date,
        units: dict[str, dict[str, Any]] | None = None,
        memo: dict[str, Any] | None = None,
    ) -> Ranking:
        units = self.units(county_id, as_of) if units is None else units
        current, base, version = self._scores_once(county_id, period, as_of, units, memo)
        previous_period = periods.previous(period)
        earlier, _, _ = self._scores_once(county_id, previous_period, as_of, units, memo)
        by_kind: dict[str, list[UnitScore]] = {kind: [] for kind in RANKED_KINDS}
        for score in current.values():
            by_kind[score.kind].append(score)
        for kind, scores in by_kind.items():
            before = [earlier[s.unit_id] for s in scores]
            _rank(before, lambda s: s.score)
            _rank(scores, lambda s: s.score)
            for score in scores:
                score.ranked = len(scores)
                score.previous_score = earlier[score.unit_id].score
                score.previous_rank = earlier[score.unit_id].rank
        return Ranking(
            county_id=county_id,
            period=period,
            previous_period=previous_period,
            as_of=as_of,
            base=base,
            rulebook_version=version,
            by_kind=by_kind,
            zones=self._zones(units, by_kind["town"], earlier),
        )

    @staticmethod
    def _zones(
        units: dict[str, dict[str, Any]], towns: list[UnitScore], earlier: dict[str, UnitScore]
    ) -> list[ZoneScore]:
        members: dict[str, list[UnitScore]] = defaultdict(list)
        for town in towns:
            if town.parent_id:
                members[town.parent_id].append(town)
        zones = [
            ZoneScore(
                unit_id=unit_id,
                name=u["name"],
                towns=len(members[unit_id]),
                average=_average([t.score for t in members[unit_id]]),
                previous_average=_average([earlier[t.unit_id].score for t in members[unit_id]]),
            )
            for unit_id, u in units.items()
            if u["kind"] == "zone" and not u["retired"]
        ]
        _rank(zones, lambda z: z.average if z.average is not None else Decimal("-Infinity"))
        return zones

    def unit_report(self, unit_id: str, period: str, as_of: date) -> UnitReport | None:
        county_id = self.county_of(unit_id)
        if county_id is None:
            return None
        ranking = self.ranking(county_id, period, as_of)
        score = ranking.unit(unit_id)
        if score is None:
            return None
        return UnitReport(
            score=score,
            ranking=ranking,
            deductions=self.deductions(county_id, unit_id, period, as_of),
            trend=self.trend(county_id, unit_id, period, as_of),
        )

    def deductions(self, county_id: str, unit_id: str, period: str, as_of: date) -> list[Deduction]:
        """Every deduction a unit answers for in a period, reversed ones too (they explain the history)."""
        units = self.units(county_id, as_of)
        answered = [unit_id] + [
            u for u, row in units.items() if row["parent_id"] == unit_id and row["kind"] == "village"
        ] if units.get(unit_id, {}).get("kind") == "town" else [unit_id]  # fmt: skip
        start, end = (d.isoformat() for d in periods.bounds(period))
        day = as_of.isoformat()
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT * FROM {score_deductions} WHERE county_id = ? AND occurred_on >= ? AND occurred_on <= ?"
                f" AND day <= ? AND unit_id IN ({', '.join('?' for _ in answered)})"
                " ORDER BY occurred_on, day, source_id, number",
                (county_id, start, end, day, *answered),
            )
        return [
            Deduction(
                source=r["source"],
                source_id=r["source_id"],
                number=int(r["number"]),
                unit_id=r["unit_id"],
                unit_name=units.get(r["unit_id"], {}).get("name", ""),
                points=Decimal(r["points"]),
                rule_id=r["rule_id"],
                rulebook_version=int(r["rulebook_version"]),
                period=r["period"],
                reason=r["reason"],
                occurred_on=r["occurred_on"],
                # A reversal recorded after the day asked about had not happened yet.
                reversed_day=r["reversed_day"] if r["reversed_day"] and r["reversed_day"] <= day else None,
                reversal_reason=r["reversal_reason"] if r["reversed_day"] and r["reversed_day"] <= day else None,
            )
            for r in found
        ]

    def trend(
        self, county_id: str, unit_id: str, period: str, as_of: date, count: int = TREND_PERIODS
    ) -> list[tuple[str, Decimal | None, Decimal | None]]:
        """The unit's score and its kind's average over the periods up to ``period``."""
        units = self.units(county_id, as_of)
        kind = units.get(unit_id, {}).get("kind")
        points: list[tuple[str, Decimal | None, Decimal | None]] = []
        for each in periods.recent(period, count):
            if periods.bounds(each)[0] > as_of:
                points.append((each, None, None))
                continue
            scores, _, _ = self._scores(county_id, each, as_of, units)
            own = scores.get(unit_id)
            peers = [s.score for s in scores.values() if s.kind == kind]
            points.append((each, own.score if own else None, _average(peers)))
        return points

    def averages_trend(
        self,
        county_id: str,
        period: str,
        as_of: date,
        count: int = TREND_PERIODS,
        units: dict[str, dict[str, Any]] | None = None,
        memo: dict[str, Any] | None = None,
    ) -> tuple[list[str], dict[str, list[Decimal | None]]]:
        """Over the recent periods: each zone's towns' average, and each kind's
        county-wide average (the lines of the ranking page's trend chart)."""
        units = self.units(county_id, as_of) if units is None else units
        zones = sorted(
            ((u["name"], unit_id) for unit_id, u in units.items() if u["kind"] == "zone" and not u["retired"])
        )
        recent = periods.recent(period, count)
        series: dict[str, list[Decimal | None]] = {name: [] for name, _ in zones}
        series.update({f"全县{KIND_LABELS[kind]}平均": [] for kind in RANKED_KINDS})
        for each in recent:
            started = periods.bounds(each)[0] <= as_of
            scores = self._scores_once(county_id, each, as_of, units, memo)[0] if started else {}
            for name, zone_id in zones:
                towns = [s.score for s in scores.values() if s.kind == "town" and s.parent_id == zone_id]
                series[name].append(_average(towns))
            for kind in RANKED_KINDS:
                series[f"全县{KIND_LABELS[kind]}平均"].append(_average([s.score for s in scores.values() if s.kind == kind]))
        return recent, {name: values for name, values in series.items() if any(v is not None for v in values)}

    def criticism_candidates(self, county_id: str, period: str, as_of: date) -> dict[str, dict[str, Decimal]]:
        """The suggested list of a circular of criticism: every unit with a deduction for an
        overdue or inadequate rectification in the period that stands (not reversed) by
        ``as_of``, with the findings concerned and their points: {unit id: {finding id: points}}."""
        start, end = (d.isoformat() for d in periods.bounds(period))
        day = as_of.isoformat()
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT unit_id, source_id, points FROM {score_deductions} WHERE county_id = ? AND source = ?"
                " AND rule_id IN (?, ?) AND occurred_on >= ? AND occurred_on <= ? AND day <= ?"
                " AND (reversed_day IS NULL OR reversed_day > ?) ORDER BY unit_id, occurred_on, source_id",
                (county_id, FINDING_SOURCE, OVERDUE, INADEQUATE, start, end, day, day),
            )
        candidates: dict[str, dict[str, Decimal]] = {}
        for r in found:
            findings = candidates.setdefault(r["unit_id"], {})
            findings[r["source_id"]] = findings.get(r["source_id"], Decimal(0)) + Decimal(r["points"])
        return candidates

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row of every table, in a fixed order: what a rebuild must reproduce."""
        keys = {
            "score_units": "unit_id",
            "score_units_days": "unit_id, day",
            "score_rulebooks": "county_id, version",
            "score_deductions": "source_id, number",
            "score_findings": "finding_id",
            "score_deadlines": "finding_id, deadline_number",
            "score_days": "day",
        }
        return self.view.dump_tables(keys)
