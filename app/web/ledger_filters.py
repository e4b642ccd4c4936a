"""The ledger's filters, read from a page's address once for the ledger page and
its Excel export, so the export is always exactly what the page shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from app.web.as_of import as_of_from
from app.web.scope import Scope
from domain.events import CATEGORIES
from domain.finding import STATUSES
from projections.ledger_query import LedgerFilter, LedgerQuery

#: Units a finding is filed against (the unit filter's choices).
ACCOUNTABLE_KINDS = ("town", "village", "department", "office", "discipline")
UNIT_FILTER_LABELS = {"zone": "战区", "town": "乡镇", "unit": "单位"}


@dataclass(frozen=True)
class LedgerChoice:
    filter: LedgerFilter
    #: The query-string values applied (links keep them); anything else typed into the URL is ignored.
    chosen: dict[str, str]
    #: The units on offer in each unit filter, as the page's select boxes list them.
    options: dict[str, list[dict[str, Any]]]
    #: For a village in the unit filter, its town's name.
    parent_names: dict[str, str]
    #: The filter in words, for the top of an export.
    described: list[str]
    as_of: date | None


def ledger_choice(args: Mapping[str, str], scope: Scope, query: LedgerQuery, today: date) -> LedgerChoice:
    as_of = as_of_from(args, today)
    all_units = query.units(scope.county_id, as_of)
    names = {u["unit_id"]: u["name"] for u in all_units}
    units = all_units if scope.unit_scope is None else [u for u in all_units if u["unit_id"] in scope.unit_scope]
    options = {
        "zone": sorted((u for u in units if u["kind"] == "zone"), key=lambda u: u["name"]),
        "town": sorted((u for u in units if u["kind"] == "town"), key=lambda u: u["name"]),
        "unit": sorted(
            (u for u in units if u["kind"] in ACCOUNTABLE_KINDS),
            key=lambda u: (ACCOUNTABLE_KINDS.index(u["kind"]), names.get(u["parent_id"] or "", ""), u["name"]),
        ),
    }
    chosen: dict[str, str] = {}
    described: list[str] = []
    for key, label in UNIT_FILTER_LABELS.items():
        value = args.get(key, "")
        if value and any(u["unit_id"] == value for u in options[key]):
            chosen[key] = value
            described.append(f"{label}：{names[value]}")
    for key, label, allowed in (("category", "问题类型", CATEGORIES), ("status", "状态", STATUSES)):
        value = args.get(key, "")
        if value in allowed:
            chosen[key] = value
            described.append(f"{label}：{allowed[value]}")
    if args.get("overdue") == "1":
        chosen["overdue"] = "1"
        described.append("仅看逾期")
    if as_of:
        chosen["as_of"] = as_of.isoformat()
    ledger_filter = LedgerFilter(
        county_id=scope.county_id,
        zone_id=chosen.get("zone"),
        town_id=chosen.get("town"),
        unit_id=chosen.get("unit"),
        category=chosen.get("category"),
        status=chosen.get("status"),
        overdue_only="overdue" in chosen,
        unit_scope=scope.unit_scope,
        cadre_id=scope.cadre_id,
        as_of=as_of,
    )
    return LedgerChoice(
        filter=ledger_filter,
        chosen=chosen,
        options=options,
        parent_names={u["unit_id"]: names.get(u["parent_id"] or "", "") for u in options["unit"]},
        described=described,
        as_of=as_of,
    )
