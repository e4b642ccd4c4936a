"""The demo logins shown on the sign-in page: only in the embedded mode, only when
the store holds the demo county (``make run``)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from domain.errors import DomainError
from domain.events import REGION, ROLES

#: The order of the hint's table.
HINT_ROLES = ("inspector", "unit", "cadre", "command", "discipline")


def demo_logins() -> dict[str, Any] | None:
    runtime = current_app.extensions["duban"]
    if not runtime.embedded or not current_app.config.get("DUBAN_DEMO_HINT", True):
        return None
    from app.demo import COUNTY_NAME, DEMO_PASSWORD, REGION_LOGIN, REGION_NAME, demo_id

    county_id = demo_id(f"unit:{COUNTY_NAME}")
    try:
        runtime.duban.unit(county_id)
    except DomainError:
        return None
    runtime.catch_up()
    query = runtime.query
    kinds = {u["unit_id"]: u["kind"] for u in query.units(str(county_id))}
    users = query.users(str(county_id))
    rows = []
    for role in HINT_ROLES:
        holders = [u for u in users if role in (u["roles"] or "").split(",")]
        # a village team leader is the commonest unit user
        holders.sort(key=lambda u: (kinds.get(u["unit_id"]) != "village", u["login"]))
        if holders:
            first = holders[0]
            rows.append({"role": ROLES[role], "login": first["login"], "name": first["name"],
                         "unit": first.get("unit_name") or "", "count": len(holders)})  # fmt: skip
    try:  # the city's office above the county (上级指挥部), if the demo has it
        office = runtime.duban.user(demo_id(f"user:{REGION_LOGIN}"))
    except DomainError:
        office = None
    if office is not None:
        rows.append({"role": ROLES[REGION], "login": office.login, "name": office.name, "unit": REGION_NAME,
                     "count": 1})  # fmt: skip
    return {"password": DEMO_PASSWORD, "rows": rows}
