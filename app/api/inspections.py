"""Inspections (督查批次): planning a round and completing it. Findings name
their round with ``inspection_id`` when filed."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from app.access import allow
from app.api import api, idempotency
from app.api import schemas as s
from app.api.common import actor, replayed, respond, settle, uuid_or
from app.api.registry import read_body
from app.identity import runtime
from domain.errors import UnknownUser
from domain.events import COMMAND, INSPECTOR, SOURCES
from domain.inspection import Inspection
from domain.service import UnknownInspection

TAG = "督查批次"
INSPECTION = s.resource(
    {"inspection_id": s.UUID, "county_id": s.UUID, "title": {"type": "string"}, "source": {"type": "string"},
     "inspector_ids": {"type": "array"}, "starts_on": {"type": "string"}, "ends_on": {"type": "string"},
     "completed": {"type": "boolean"}},
    ("inspection_id", "county_id", "title", "completed"),
)  # fmt: skip
PLAN = s.body(
    {"title": s.text(200), "source": {"enum": sorted(SOURCES)}, "inspector_ids": s.ids(100), "starts_on": s.DATE,
     "ends_on": s.DATE},
    ("title", "source", "inspector_ids", "starts_on", "ends_on"),
)  # fmt: skip
COMPLETE = s.body({"inspection_id": s.UUID, "summary": s.text(4000)}, ("inspection_id",))


def inspection_out(inspection: Inspection) -> dict[str, Any]:
    return {
        "inspection_id": str(inspection.id),
        "county_id": str(inspection.county_id),
        "title": inspection.title,
        "source": inspection.source,
        "inspector_ids": [str(i) for i in inspection.inspector_ids],
        "starts_on": str(inspection.starts_on),
        "ends_on": str(inspection.ends_on),
        "completed": bool(inspection.completed),
    }


@api.post("/inspections", summary="安排督查批次", tag=TAG, request=PLAN, response=INSPECTION, status=201,
          params=(idempotency.PARAM,), idempotent=True)  # fmt: skip
@allow(INSPECTOR, COMMAND)
def plan() -> Any:
    payload = read_body(api.current())
    who = actor()
    duban = runtime().duban
    inspectors = [uuid_or(i, UnknownUser) for i in payload["inspector_ids"]]
    starts_on, ends_on = date.fromisoformat(payload["starts_on"]), date.fromisoformat(payload["ends_on"])
    new_id = idempotency.key_id(who, "inspections.plan")

    def same(inspection: Inspection) -> bool:
        return (
            idempotency.same_text(inspection.title, payload["title"])
            and inspection.source == payload["source"]
            and idempotency.same_ids(inspection.inspector_ids, inspectors)
            and str(inspection.starts_on) == str(starts_on)
            and str(inspection.ends_on) == str(ends_on)
        )

    def create(inspection_id: UUID | None) -> Any:
        return duban.plan_inspection(
            county_id=who.county_id, title=payload["title"], source=payload["source"], inspector_ids=inspectors,
            starts_on=starts_on, ends_on=ends_on, actor=who, inspection_id=inspection_id,
        )  # fmt: skip

    inspection_id, result, again = idempotency.create_once(new_id, duban.inspection, same, create)
    inspection = duban.inspection(inspection_id)
    if inspection.county_id != who.county_id:
        raise UnknownInspection()
    if again:
        return replayed(inspection_out(inspection))
    return respond(inspection_out(inspection), 201)


@api.post("/inspections/complete", summary="督查批次完成", tag=TAG, request=COMPLETE, response=INSPECTION)
@allow(INSPECTOR, COMMAND)
def complete() -> Any:
    payload = read_body(api.current())
    who = actor()
    duban = runtime().duban
    inspection = duban.inspection(uuid_or(payload["inspection_id"], UnknownInspection))
    if inspection.county_id != who.county_id:
        raise UnknownInspection()
    result = duban.complete_inspection(inspection.id, payload.get("summary", ""), who)
    settle(result.position)
    return respond(inspection_out(duban.inspection(inspection.id)))
