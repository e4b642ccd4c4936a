"""The ledger rows the command office's work lists need: findings waiting for
an extension decision, findings due for escalation, findings escalated. They
read the ledger view's tables (the same rows the ledger page shows)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.rules.deductions import days_overdue
from domain.rules.escalation import escalation_reason
from domain.rules.rulebook import Rules
from projections.ledger_query import LedgerQuery

RECTIFYING = ("open", "acknowledged")
_SELECT = (
    "SELECT f.*, u.name AS unit_name, u.kind AS unit_kind, t.name AS town_name FROM {ledger_findings} f"
    " LEFT JOIN {ledger_units} u ON u.unit_id = f.unit_id"
    " LEFT JOIN {ledger_units} t ON t.unit_id = f.town_id"
)


def _rows(query: LedgerQuery, where: str, params: list[Any], order: str, today: date) -> list[dict[str, Any]]:
    with query.view.reading() as rows:
        found = rows.all(f"{_SELECT} WHERE {where} ORDER BY {order}", params)
    result = []
    for row in found:
        data = dict(row)
        deadline = date.fromisoformat(data["deadline"]) if data.get("deadline") else None
        data["days_overdue"] = days_overdue(deadline, today) if data["status"] in RECTIFYING else 0
        result.append(data)
    return result


def pending_extensions(query: LedgerQuery, county_id: str, today: date) -> list[dict[str, Any]]:
    return _rows(
        query,
        "f.county_id = ? AND f.pending_extension IS NOT NULL AND f.status NOT IN ('closed', 'withdrawn')",
        [county_id],
        "f.deadline, f.filed_at, f.finding_id",
        today,
    )


def escalation_due(query: LedgerQuery, county_id: str, today: date, rules: Rules) -> list[dict[str, Any]]:
    """Findings meeting an escalation rule and not escalated yet, each with the
    rule met (``reason``): the rows ``Finding.escalation_due`` would name."""
    latest_deadline = today - timedelta(days=rules.escalate_after_days_overdue)
    candidates = _rows(
        query,
        "f.county_id = ? AND f.escalated = 0 AND f.status NOT IN ('closed', 'withdrawn')"
        " AND (f.rejections >= ? OR (f.status IN ('open', 'acknowledged') AND f.deadline <= ?))",
        [county_id, rules.escalate_after_rejections, latest_deadline.isoformat()],
        "f.deadline, f.filed_at, f.finding_id",
        today,
    )
    due = []
    for row in candidates:
        reason = escalation_reason(row["rejections"], row["days_overdue"], rules)
        if reason:
            due.append({**row, "reason": reason})
    return due


def escalated(query: LedgerQuery, county_id: str, today: date) -> list[dict[str, Any]]:
    return _rows(query, "f.county_id = ? AND f.escalated = 1", [county_id], "f.updated_at DESC, f.finding_id", today)
