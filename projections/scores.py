"""The efficiency-score view (效能考评): the facts scores, rates and rankings are
computed from, each with the day it was recorded, so every figure can also be
computed as it stood at the end of any past day.

- ``score_units``: the organisation (with end-of-day copies: names and parents
  change).
- ``score_rulebooks``: every rulebook version, with its base score.
- ``score_deductions``: every deduction (from findings and circulars) with its
  rule, rulebook version, points and reason, and its reversal if any.
- ``score_findings``: when each finding was filed, closed (销号) or withdrawn.
- ``score_deadlines``: every deadline that came due, met (rectification
  submitted by it and not rejected) or missed: the on-time rate (按期整改率)
  is met / due.

Rows hold facts, never running totals: the query side (``scores_query``) adds
them up for a period and a day, so a rebuild gives the same rows and a past day
needs no other table.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.circular import Circular
from domain.events import local_date
from domain.finding import Finding
from domain.org import Unit
from domain.rulebook import Rulebook
from domain.rules.rulebook import DEFAULT_RULES
from projections.days import DayHistory, DayStamped, HistoryTable, days_table_schema
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import Rows, SqlView

FINDING_SOURCE = "finding"
CIRCULAR_SOURCE = "circular"
MET = "met"
MISSED = "missed"

SCORE_UNITS = HistoryTable(
    "score_units",
    "unit_id",
    (
        ("unit_id", "TEXT NOT NULL"), ("county_id", "TEXT NOT NULL"), ("name", "TEXT NOT NULL"),
        ("kind", "TEXT NOT NULL"), ("parent_id", "TEXT"), ("retired", "INTEGER NOT NULL DEFAULT 0"),
    ),
)  # fmt: skip


class ScoreSchema(SqlView):
    table_names = (
        "score_units", "score_units_days", "score_rulebooks", "score_deductions", "score_findings",
        "score_deadlines", "score_days",
    )  # fmt: skip
    schema_statements = (
        *SCORE_UNITS.schema(),
        "CREATE TABLE IF NOT EXISTS {score_rulebooks} ("
        " county_id TEXT NOT NULL, rulebook_id TEXT NOT NULL, version INTEGER NOT NULL, in_force_from TEXT NOT NULL,"
        " base_score TEXT NOT NULL, period_kind TEXT NOT NULL, day TEXT NOT NULL,"
        " PRIMARY KEY (county_id, version))",
        "CREATE TABLE IF NOT EXISTS {score_deductions} ("
        " county_id TEXT NOT NULL, source TEXT NOT NULL, source_id TEXT NOT NULL, number INTEGER NOT NULL,"
        " unit_id TEXT NOT NULL, points TEXT NOT NULL, rule_id TEXT NOT NULL, rulebook_version INTEGER NOT NULL,"
        " period TEXT NOT NULL, reason TEXT NOT NULL, occurred_on TEXT NOT NULL, day TEXT NOT NULL,"
        " reversed_day TEXT, reversal_reason TEXT, PRIMARY KEY (source_id, number))",
        "CREATE INDEX IF NOT EXISTS score_deductions_county ON {score_deductions} (county_id, occurred_on)",
        "CREATE INDEX IF NOT EXISTS score_deductions_unit ON {score_deductions} (unit_id, occurred_on)",
        "CREATE TABLE IF NOT EXISTS {score_findings} ("
        " finding_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, unit_id TEXT NOT NULL, category TEXT NOT NULL,"
        " filed_on TEXT NOT NULL, filed_day TEXT NOT NULL, deadline TEXT, deadline_number INTEGER NOT NULL,"
        " closed_day TEXT, withdrawn_day TEXT)",
        "CREATE INDEX IF NOT EXISTS score_findings_county ON {score_findings} (county_id, filed_on)",
        "CREATE TABLE IF NOT EXISTS {score_deadlines} ("
        " finding_id TEXT NOT NULL, deadline_number INTEGER NOT NULL, county_id TEXT NOT NULL,"
        " unit_id TEXT NOT NULL, deadline TEXT NOT NULL, outcome TEXT NOT NULL, decided_day TEXT NOT NULL,"
        " rejected_day TEXT, PRIMARY KEY (finding_id, deadline_number))",
        "CREATE INDEX IF NOT EXISTS score_deadlines_county ON {score_deadlines} (county_id, deadline)",
        days_table_schema("score_days"),
    )


class ScoreSQLiteView(ScoreSchema, SQLiteView):
    pass


class ScorePostgresView(ScoreSchema, PostgresView):
    pass


class ScoreProjection(DayStamped):
    name = "scores"
    days_table = "score_days"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Unit.Registered, Unit.Renamed, Unit.Moved, Unit.Retired,
            Rulebook.FirstAdopted, Rulebook.Adopted,
            Finding.Filed, Finding.NoticeIssued, Finding.ExtensionGranted, Finding.RectificationRejected,
            Finding.RectificationSubmitted, Finding.RectificationAccepted, Finding.DeadlineMissed,
            Finding.PointsDeducted, Finding.DeductionReversed, Finding.Withdrawn,
            Circular.PointsDeducted,
        )
    )  # fmt: skip

    def __init__(self, view: SqlView):
        super().__init__(view)
        self._units = DayHistory(SCORE_UNITS)

    def start_batch(self, rows: Rows) -> None:
        super().start_batch(rows)
        self._units.reset()

    def before_commit(self, rows: Rows) -> None:
        self._units.flush(rows)
        super().before_commit(rows)

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Events of no interest to scores change nothing."""

    # The organisation
    @apply.register
    def _(self, e: Unit.Registered, rows: Rows) -> None:
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute(
            "INSERT INTO {score_units} (unit_id, county_id, name, kind, parent_id, retired) VALUES (?, ?, ?, ?, ?, 0)",
            (str(e.originator_id), str(e.county_id), e.name, e.kind, None if e.parent_id is None else str(e.parent_id)),
        )

    @apply.register
    def _(self, e: Unit.Renamed, rows: Rows) -> None:
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute("UPDATE {score_units} SET name = ? WHERE unit_id = ?", (e.name, str(e.originator_id)))

    @apply.register
    def _(self, e: Unit.Moved, rows: Rows) -> None:
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute(
            "UPDATE {score_units} SET parent_id = ? WHERE unit_id = ?", (str(e.parent_id), str(e.originator_id))
        )

    @apply.register
    def _(self, e: Unit.Retired, rows: Rows) -> None:
        self._units.touching(rows, str(e.originator_id), self.day)
        rows.execute("UPDATE {score_units} SET retired = 1 WHERE unit_id = ?", (str(e.originator_id),))

    # The rulebook
    @apply.register
    def _(self, e: Rulebook.Adopted, rows: Rows) -> None:
        rules = {**DEFAULT_RULES.to_dict(), **e.rules}
        county_id = getattr(e, "county_id", None)
        if county_id is None:
            # Only the first version names its county; later ones belong to the same rulebook.
            first = rows.one(
                "SELECT county_id FROM {score_rulebooks} WHERE rulebook_id = ? LIMIT 1", (str(e.originator_id),)
            )
            county_id = first["county_id"] if first else ""
        rows.execute(
            "INSERT INTO {score_rulebooks} (county_id, rulebook_id, version, in_force_from, base_score, period_kind,"
            " day) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                str(county_id), str(e.originator_id), e.version, e.in_force_from, str(rules["base_score"]),
                str(rules["period"]), self.day,
            ),
        )  # fmt: skip

    # Findings
    @apply.register
    def _(self, e: Finding.Filed, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {score_findings} (finding_id, county_id, unit_id, category, filed_on, filed_day,"
            " deadline_number) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (str(e.originator_id), str(e.county_id), str(e.unit_id), e.category, e.filed_on, self.day),
        )

    def _new_deadline(self, e: Any, rows: Rows) -> None:
        # Numbered as the Finding numbers them: each notice, extension and rejection sets the next.
        rows.execute(
            "UPDATE {score_findings} SET deadline = ?, deadline_number = deadline_number + 1 WHERE finding_id = ?",
            (e.deadline, str(e.originator_id)),
        )

    @apply.register
    def _(self, e: Finding.NoticeIssued, rows: Rows) -> None:
        self._new_deadline(e, rows)

    @apply.register
    def _(self, e: Finding.ExtensionGranted, rows: Rows) -> None:
        self._new_deadline(e, rows)

    @apply.register
    def _(self, e: Finding.RectificationRejected, rows: Rows) -> None:
        # A rectification found inadequate did not meet its deadline after all.
        rows.execute(
            "UPDATE {score_deadlines} SET rejected_day = ? WHERE finding_id = ? AND outcome = ? AND deadline_number ="
            " (SELECT deadline_number FROM {score_findings} WHERE finding_id = ?)",
            (self.day, str(e.originator_id), MET, str(e.originator_id)),
        )
        self._new_deadline(e, rows)

    # Each statement below reads what it needs inside the database (INSERT ... SELECT):
    # on PostgreSQL a batch then goes in one round trip instead of one per event.
    @apply.register
    def _(self, e: Finding.RectificationSubmitted, rows: Rows) -> None:
        # Met if submitted by the current deadline (a deadline is decided once).
        rows.execute(
            "INSERT INTO {score_deadlines} (finding_id, deadline_number, county_id, unit_id, deadline, outcome,"
            " decided_day) SELECT finding_id, deadline_number, county_id, unit_id, deadline, ?, ?"
            " FROM {score_findings} WHERE finding_id = ? AND deadline IS NOT NULL AND deadline >= ?"
            " ON CONFLICT (finding_id, deadline_number) DO NOTHING",
            (MET, self.day, str(e.originator_id), local_date(e.timestamp).isoformat()),
        )

    @apply.register
    def _(self, e: Finding.DeadlineMissed, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {score_deadlines} (finding_id, deadline_number, county_id, unit_id, deadline, outcome,"
            " decided_day) SELECT finding_id, ?, county_id, unit_id, ?, ?, ?"
            " FROM {score_findings} WHERE finding_id = ?"
            " ON CONFLICT (finding_id, deadline_number) DO NOTHING",
            (e.deadline_number, e.deadline, MISSED, self.day, str(e.originator_id)),
        )

    @apply.register
    def _(self, e: Finding.RectificationAccepted, rows: Rows) -> None:
        rows.execute("UPDATE {score_findings} SET closed_day = ? WHERE finding_id = ?", (self.day, str(e.originator_id)))

    @apply.register
    def _(self, e: Finding.Withdrawn, rows: Rows) -> None:
        rows.execute(
            "UPDATE {score_findings} SET withdrawn_day = ? WHERE finding_id = ?", (self.day, str(e.originator_id))
        )

    # Deductions
    @apply.register
    def _(self, e: Finding.PointsDeducted, rows: Rows) -> None:
        self._deducted(rows, e, FINDING_SOURCE, "SELECT county_id FROM {score_findings} WHERE finding_id = ?", e.originator_id)

    @apply.register
    def _(self, e: Circular.PointsDeducted, rows: Rows) -> None:
        self._deducted(rows, e, CIRCULAR_SOURCE, "SELECT county_id FROM {score_units} WHERE unit_id = ?", e.unit_id)

    def _deducted(self, rows: Rows, e: Any, source: str, county_of: str, key: Any) -> None:
        rows.execute(
            "INSERT INTO {score_deductions} (county_id, source, source_id, number, unit_id, points, rule_id,"
            " rulebook_version, period, reason, occurred_on, day)"
            f" SELECT COALESCE(({county_of}), ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?",
            (
                str(key), source, str(e.originator_id), e.deduction_number, str(e.unit_id), str(e.points),
                e.rule_id, e.rulebook_version, e.period, e.reason, local_date(e.timestamp).isoformat(), self.day,
            ),
        )  # fmt: skip

    @apply.register
    def _(self, e: Finding.DeductionReversed, rows: Rows) -> None:
        rows.execute(
            "UPDATE {score_deductions} SET reversed_day = ?, reversal_reason = ? WHERE source_id = ? AND number = ?",
            (self.day, e.reason, str(e.originator_id), e.deduction_number),
        )
