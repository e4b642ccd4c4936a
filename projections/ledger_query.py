"""Reading the ledger: filters, pages and the names the pages show."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.rules.deductions import days_overdue
from projections.ledger import FINDING_HISTORY, UNIT_HISTORY
from projections.views import Page, SqlView

RECTIFYING = ("open", "acknowledged")


@dataclass(frozen=True)
class LedgerFilter:
    county_id: str | None = None
    zone_id: str | None = None
    town_id: str | None = None
    unit_id: str | None = None
    category: str | None = None
    status: str | None = None
    overdue_only: bool = False
    #: Restrict to the findings whose accountable unit is one of these (scoping).
    unit_scope: tuple[str, ...] | None = None
    #: Restrict to the findings naming this responsible cadre.
    cadre_id: str | None = None
    #: Read the ledger as it stood at the end of this day rather than now.
    as_of: date | None = None


LedgerPage = Page


class LedgerQuery:
    def __init__(self, view: SqlView):
        self.view = view

    @staticmethod
    def _sources(f: LedgerFilter, statement: str) -> tuple[str, list[Any]]:
        """Point ``{F}`` (findings) and ``{U}`` (units) in a statement at the live
        tables, or at their end-of-day copies when the filter asks for a past day."""
        if f.as_of is None:
            return statement.replace("{F}", "{ledger_findings}").replace("{U}", "{ledger_units}"), []
        day = f.as_of.isoformat()
        prefix = (
            f"WITH as_of_findings AS ({FINDING_HISTORY.as_of_source()}),"
            f" as_of_units AS ({UNIT_HISTORY.as_of_source()}) "
        )
        return prefix + statement.replace("{F}", "as_of_findings").replace("{U}", "as_of_units"), [day] * 4

    def _where(self, f: LedgerFilter, today: date) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("county_id", f.county_id),
            ("zone_id", f.zone_id),
            ("town_id", f.town_id),
            ("category", f.category),
            ("status", f.status),
        ):
            if value:
                clauses.append(f"f.{column} = ?")
                params.append(value)
        if f.unit_id:
            # A unit's ledger includes the units directly below it (a town's villages).
            clauses.append("(f.unit_id = ? OR f.unit_id IN (SELECT unit_id FROM {U} WHERE parent_id = ?))")
            params += [f.unit_id, f.unit_id]
        if f.unit_scope is not None:
            if not f.unit_scope:
                clauses.append("1 = 0")
            else:
                clauses.append(f"f.unit_id IN ({', '.join('?' for _ in f.unit_scope)})")
                params += list(f.unit_scope)
        if f.cadre_id:
            clauses.append("f.finding_id IN (SELECT finding_id FROM {ledger_finding_cadres} WHERE user_id = ?)")
            params.append(f.cadre_id)
        if f.overdue_only:
            clauses.append("f.status IN ('open', 'acknowledged') AND f.deadline < ?")
            params.append(today.isoformat())
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def page(self, f: LedgerFilter, today: date, page: int = 1, per_page: int = 50) -> LedgerPage:
        """One page of the filtered ledger; with ``f.as_of``, as it stood at the
        end of that day (and ``today`` is that day, for the days overdue)."""
        page = max(1, page)
        today = f.as_of or today
        where, params = self._where(f, today)
        count, count_params = self._sources(f, f"SELECT COUNT(*) AS n FROM {{F}} f{where}")
        listing, listing_params = self._sources(f, self._listing(where) + " LIMIT ? OFFSET ?")
        with self.view.reading() as rows:
            total = rows.one(count, [*count_params, *params])["n"]
            found = rows.all(listing, [*listing_params, *params, per_page, (page - 1) * per_page])
        return LedgerPage([self._row(r, today) for r in found], int(total), page, per_page)

    def finding_ids(self, f: LedgerFilter, today: date) -> list[str]:
        """The ids of every finding the filter keeps, in one query (no page, no count):
        what the overdue sweep works through, tens of thousands in a province."""
        today = f.as_of or today
        where, params = self._where(f, today)
        statement, source_params = self._sources(f, f"SELECT f.finding_id FROM {{F}} f{where} ORDER BY f.finding_id")
        with self.view.reading() as rows:
            return [r["finding_id"] for r in rows.all(statement, [*source_params, *params])]

    def after(self, f: LedgerFilter, today: date, limit: int, key: tuple[str, str] | None) -> list[dict[str, Any]]:
        """Up to ``limit`` rows after ``key`` (the last row's filed_at and finding_id),
        in the pages' order: a keyset page, so findings filed meanwhile never shift it."""
        today = f.as_of or today
        where, params = self._where(f, today)
        if key is not None:
            where += (" AND " if where else " WHERE ") + "(f.filed_at < ? OR (f.filed_at = ? AND f.finding_id > ?))"
            params = [*params, key[0], key[0], key[1]]
        listing, listing_params = self._sources(f, self._listing(where) + " LIMIT ?")
        with self.view.reading() as rows:
            found = rows.all(listing, [*listing_params, *params, limit])
        return [self._row(r, today) for r in found]

    @staticmethod
    def _listing(where: str) -> str:
        return (
            "SELECT f.*, u.name AS unit_name, u.kind AS unit_kind, z.name AS zone_name, t.name AS town_name"
            " FROM {F} f"
            " LEFT JOIN {U} u ON u.unit_id = f.unit_id"
            " LEFT JOIN {U} z ON z.unit_id = f.zone_id"
            " LEFT JOIN {U} t ON t.unit_id = f.town_id"
            f"{where} ORDER BY f.filed_at DESC, f.finding_id"
        )

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row of every table, in a fixed order: what a rebuild must reproduce."""
        keys = {
            "ledger_units": "unit_id",
            "ledger_users": "user_id",
            "ledger_findings": "finding_id",
            "ledger_deductions": "finding_id, number",
            "ledger_finding_cadres": "user_id, finding_id",
            "ledger_units_days": "unit_id, day",
            "ledger_findings_days": "finding_id, day",
            "ledger_days": "day",
        }
        return self.view.dump_tables(keys)

    def finding(self, finding_id: str, today: date) -> dict[str, Any] | None:
        with self.view.reading() as rows:
            row = rows.one(
                "SELECT f.*, u.name AS unit_name, u.kind AS unit_kind, z.name AS zone_name, t.name AS town_name"
                " FROM {ledger_findings} f"
                " LEFT JOIN {ledger_units} u ON u.unit_id = f.unit_id"
                " LEFT JOIN {ledger_units} z ON z.unit_id = f.zone_id"
                " LEFT JOIN {ledger_units} t ON t.unit_id = f.town_id"
                " WHERE f.finding_id = ?",
                (finding_id,),
            )
            if row is None:
                return None
            result = self._row(row, today)
            result["deductions"] = [
                dict(d)
                for d in rows.all(
                    "SELECT * FROM {ledger_deductions} WHERE finding_id = ? ORDER BY number", (finding_id,)
                )
            ]
            cadres = json.loads(row["cadre_ids"])
            result["cadres"] = [
                dict(c)
                for c in rows.all(
                    "SELECT user_id, name FROM {ledger_users} WHERE user_id IN ("
                    + ", ".join("?" for _ in cadres) + ") ORDER BY name",
                    cadres,
                )
            ] if cadres else []  # fmt: skip
        return result

    @staticmethod
    def _row(row: Any, today: date) -> dict[str, Any]:
        data = dict(row)
        deadline = date.fromisoformat(data["deadline"]) if data.get("deadline") else None
        rectifying = data["status"] in RECTIFYING
        data["days_overdue"] = days_overdue(deadline, today) if rectifying else 0
        data["is_overdue"] = data["days_overdue"] > 0
        return data

    def findings_by_ids(self, finding_ids: list[str], today: date) -> dict[str, dict[str, Any]]:
        """Ledger rows (with unit names) for these findings, by id; unknown ids are left out."""
        if not finding_ids:
            return {}
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT f.*, u.name AS unit_name, t.name AS town_name FROM {ledger_findings} f"
                " LEFT JOIN {ledger_units} u ON u.unit_id = f.unit_id"
                " LEFT JOIN {ledger_units} t ON t.unit_id = f.town_id"
                f" WHERE f.finding_id IN ({', '.join('?' for _ in finding_ids)})",
                list(finding_ids),
            )
        return {r["finding_id"]: self._row(r, today) for r in found}

    def units(self, county_id: str | None = None, as_of: date | None = None) -> list[dict[str, Any]]:
        where, params = (" WHERE county_id = ?", [county_id]) if county_id else ("", [])
        statement, source_params = self._sources(
            LedgerFilter(as_of=as_of), f"SELECT * FROM {{U}} u{where} ORDER BY kind, name"
        )
        with self.view.reading() as rows:
            return [dict(r) for r in rows.all(statement, [*source_params, *params])]

    def recorded_through(self, day: date) -> int:
        """The log position the ledger had reached when ``day`` ended (0: nothing yet)."""
        with self.view.reading() as rows:
            row = rows.one("SELECT MAX(last_position) AS p FROM {ledger_days} WHERE day <= ?", (day.isoformat(),))
        return int(row["p"] or 0) if row else 0

    def users(self, county_id: str | None = None) -> list[dict[str, Any]]:
        where, params = (" WHERE u.county_id = ?", [county_id]) if county_id else ("", [])
        with self.view.reading() as rows:
            return [
                dict(r)
                for r in rows.all(
                    "SELECT u.*, n.name AS unit_name FROM {ledger_users} u"
                    " LEFT JOIN {ledger_units} n ON n.unit_id = u.unit_id"
                    f"{where} ORDER BY n.kind, n.name, u.name",
                    params,
                )
            ]

    def subtree(self, unit_id: str) -> tuple[str, ...]:
        """A unit and every unit below it: what a unit user may see."""
        with self.view.reading() as rows:
            found = rows.all(
                "WITH RECURSIVE below(unit_id) AS ("
                " SELECT unit_id FROM {ledger_units} WHERE unit_id = ?"
                " UNION SELECT u.unit_id FROM {ledger_units} u JOIN below b ON u.parent_id = b.unit_id"
                ") SELECT unit_id FROM below",
                (unit_id,),
            )
        return tuple(r["unit_id"] for r in found)

    def findings_naming(self, user_id: str, county_id: str | None = None) -> tuple[str, ...]:
        """The findings that name this responsible cadre."""
        county, params = (" AND f.county_id = ?", [user_id, county_id]) if county_id else ("", [user_id])
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT c.finding_id FROM {ledger_finding_cadres} c"
                " JOIN {ledger_findings} f ON f.finding_id = c.finding_id"
                f" WHERE c.user_id = ?{county} ORDER BY c.finding_id",
                params,
            )
        return tuple(r["finding_id"] for r in found)

    def status_counts(self, f: LedgerFilter, today: date) -> dict[str, int]:
        where, params = self._where(f, f.as_of or today)
        statement, source_params = self._sources(
            f, f"SELECT f.status AS status, COUNT(*) AS n FROM {{F}} f{where} GROUP BY f.status"
        )
        with self.view.reading() as rows:
            found = rows.all(statement, [*source_params, *params])
        return {r["status"]: int(r["n"]) for r in found}

    def overdue_by_county(self, county_ids: list[str], today: date, as_of: date | None = None) -> dict[str, int]:
        """Per county, the findings still being rectified past their deadline (what
        ``status_counts`` with ``overdue_only`` sums to for one county), for many
        counties in one grouped query; a county with none is left out."""
        if not county_ids:
            return {}
        f = LedgerFilter(as_of=as_of)
        statement, params = self._sources(
            f,
            "SELECT f.county_id AS county_id, COUNT(*) AS n FROM {F} f"
            f" WHERE f.county_id IN ({', '.join('?' for _ in county_ids)})"
            " AND f.status IN ('open', 'acknowledged') AND f.deadline < ? GROUP BY f.county_id",
        )
        with self.view.reading() as rows:
            found = rows.all(statement, [*params, *county_ids, (as_of or today).isoformat()])
        return {r["county_id"]: int(r["n"]) for r in found}

    def dashboard(
        self, county_id: str, today: date, period_start: date, period_end: date, as_of: date | None = None
    ) -> list[dict[str, Any]]:
        """Per zone and town (findings against departments form their own group):
        awaiting a notice, being rectified, overdue, waiting for verification,
        and closed (销号) between ``period_start`` and ``period_end``."""
        statement, params = self._sources(
            LedgerFilter(as_of=as_of),
            "SELECT f.zone_id, f.town_id, z.name AS zone_name, t.name AS town_name,"
            " SUM(CASE WHEN f.status = 'filed' THEN 1 ELSE 0 END) AS awaiting,"
            " SUM(CASE WHEN f.status IN ('open', 'acknowledged') THEN 1 ELSE 0 END) AS rectifying,"
            " SUM(CASE WHEN f.status IN ('open', 'acknowledged') AND f.deadline < ? THEN 1 ELSE 0 END) AS overdue,"
            " SUM(CASE WHEN f.status = 'submitted' THEN 1 ELSE 0 END) AS submitted,"
            " SUM(CASE WHEN f.status = 'closed' AND f.closed_on >= ? AND f.closed_on <= ? THEN 1 ELSE 0 END)"
            " AS closed"
            " FROM {F} f LEFT JOIN {U} z ON z.unit_id = f.zone_id LEFT JOIN {U} t ON t.unit_id = f.town_id"
            " WHERE f.county_id = ? GROUP BY f.zone_id, f.town_id, z.name, t.name",
        )
        with self.view.reading() as rows:
            found = rows.all(
                statement,
                [*params, today.isoformat(), period_start.isoformat(), period_end.isoformat(), county_id],
            )
        groups = [
            {
                **dict(r),
                **{k: int(r[k] or 0) for k in ("awaiting", "rectifying", "overdue", "submitted", "closed")},
            }
            for r in found
        ]
        # Zones in name order, towns within them; findings against departments last.
        return sorted(groups, key=lambda g: (g["zone_id"] is None, g["zone_name"] or "", g["town_name"] or ""))
