"""The problem ledger (问题台账) as a workbook: its columns and how a ledger row
fills them. The web route decides which rows; this module only lays them out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.excel.workbook import DATE, DECIMAL, INTEGER, Column, table_workbook
from domain.events import CATEGORIES, SEVERITIES
from domain.finding import STATUSES

TITLE = "问题台账"

COLUMNS = (
    Column("序号", "number", 6, INTEGER),
    Column("问题编号", "finding_id", 38),
    Column("战区", "zone_name", 10),
    Column("乡镇", "town_name", 14),
    Column("责任单位", "unit_name", 18),
    Column("问题类别", "category", 12),
    Column("检查项目", "check_item", 22, wrap=True),
    Column("问题描述", "description", 50, wrap=True),
    Column("严重程度", "severity", 10),
    Column("户号", "household_masked", 22),
    Column("登记日期", "filed_on", 12, DATE),
    Column("整改期限", "deadline", 12, DATE),
    Column("状态", "status", 10),
    Column("逾期天数", "days_overdue", 10, INTEGER),
    Column("扣分", "points", 8, DECIMAL),
    Column("是否重复", "is_repeat", 10),
)


def export_row(number: int, row: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger row (LedgerQuery's dict) as the export shows it: codes as their
    Chinese labels; dates and numbers left typed for the writer."""
    return {
        "number": number,
        "finding_id": row["finding_id"],
        "zone_name": row.get("zone_name") or "",
        "town_name": row.get("town_name") or "",
        "unit_name": row.get("unit_name") or "",
        "category": CATEGORIES.get(row["category"], row["category"]),
        "check_item": row["check_item"],
        "description": row["description"],
        "severity": SEVERITIES.get(row["severity"], row["severity"]),
        "household_masked": row.get("household_masked") or "",
        "filed_on": row.get("filed_on"),
        "deadline": row.get("deadline"),
        "status": STATUSES.get(row["status"], row["status"]),
        "days_overdue": row.get("days_overdue") or 0,
        "points": row.get("points") or "0",
        "is_repeat": "是" if row.get("is_repeat") else "否",
    }


def ledger_workbook(preamble: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The .xlsx of these ledger rows, numbered in the order given."""
    return table_workbook(TITLE, preamble, COLUMNS, (export_row(n, r) for n, r in enumerate(rows, start=1)))
