"""Discipline cases (纪检案件): the discipline office opens them and records
their hearings, sanctions and conclusion; the command office reads them."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from app.access import allow
from app.api import api, idempotency
from app.api import schemas as s
from app.api.common import actor, plain, respond, settle, uuid_or
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import paginate
from app.api.registry import Param, read_body
from app.identity import runtime
from domain.case import SANCTIONS, Case
from domain.errors import UnknownUnit
from domain.events import COMMAND, DISCIPLINE, Actor
from domain.service import UnknownCase, UnknownFinding

TAG = "纪检案件"
CASE_PATH = (Param("case_id", s.UUID, "案件编号", where="path", required=True),)
CASE = s.resource(
    {"case_id": s.UUID, "county_id": s.UUID, "status": {"type": "string"}, "summary": {"type": "string"},
     "finding_ids": {"type": "array"}, "sanctions": {"type": "array"}},
    ("case_id", "county_id", "summary", "finding_ids", "sanctions"),
)  # fmt: skip
OPEN_CASE = s.body(
    {"summary": s.text(4000), "finding_ids": s.ids(200), "subject_unit_id": s.UUID}, ("summary",)
)
LINK = s.body({"finding_ids": s.ids(200)}, ("finding_ids",))
HEARING = s.body({"held_on": s.DATE, "participants": s.text(500), "note": s.text(4000)}, ("held_on",))
SANCTION = s.body(
    {"sanction": {"enum": sorted(SANCTIONS)}, "subject": s.text(200), "note": s.text(4000)}, ("sanction",)
)
CLOSE = s.body({"conclusion": s.text(4000)})


def visible_case(case_id: Any, who: Actor) -> dict[str, Any]:
    key = str(uuid_or(case_id, UnknownCase))
    row = runtime().cases.case(key)
    if row is None or row["county_id"] != str(who.county_id):
        raise UnknownCase()
    return plain(row)


def _ids(values: list[str]) -> list[UUID]:
    return [uuid_or(v, UnknownFinding) for v in values]


@api.get("/cases", summary="纪检案件列表", tag=TAG, params=PAGE_PARAMS, response=s.page_of(CASE))
@allow(DISCIPLINE, COMMAND)
def index() -> Any:
    runtime().fresh()
    rows = runtime().cases.listing(str(actor().county_id))
    return respond(paginate(rows, lambda r: (r["opened_at"], r["case_id"]), descending=True, render=plain))


@api.get("/cases/<case_id>", summary="案件详情", tag=TAG, params=CASE_PATH, response=CASE)
@allow(DISCIPLINE, COMMAND)
def show(case_id: str) -> Any:
    runtime().fresh()
    return respond(visible_case(case_id, actor()))


@api.post("/cases", summary="立案", tag=TAG, request=OPEN_CASE, response=CASE, status=201,
          params=(idempotency.PARAM,), idempotent=True)  # fmt: skip
@allow(DISCIPLINE)
def open_case() -> Any:
    payload = read_body(api.current())
    who = actor()
    duban = runtime().duban
    findings = _ids(payload.get("finding_ids", []))
    subject = payload.get("subject_unit_id")
    subject_id = uuid_or(subject, UnknownUnit) if subject else None
    new_id = idempotency.key_id(who, "cases.open")

    def same(case: Case) -> bool:
        return (
            idempotency.same_text(case.summary, payload["summary"])
            and case.subject_unit_id == subject_id
            and idempotency.same_ids(case.finding_ids[: len(findings)], findings)
        )

    def create(case_id: UUID | None) -> Any:
        return duban.open_case(
            county_id=who.county_id, summary=payload["summary"], actor=who, finding_ids=findings,
            subject_unit_id=subject_id, case_id=case_id,
        )  # fmt: skip

    return idempotency.created_or_replayed(
        new_id, duban.case, same, create, lambda case_id: visible_case(case_id, who)
    )


def _command(case_id: str, run: Any) -> Any:
    runtime().fresh()
    who = actor()
    row = visible_case(case_id, who)
    payload = read_body(api.current())
    result = run(runtime().duban, UUID(row["case_id"]), who, payload)
    settle(result.position)
    return respond(visible_case(row["case_id"], who))


@api.post("/cases/<case_id>/link-findings", summary="案件关联问题", tag=TAG, request=LINK, response=CASE,
          params=CASE_PATH)  # fmt: skip
@allow(DISCIPLINE)
def link_findings(case_id: str) -> Any:
    return _command(case_id, lambda d, c, a, b: d.link_case_findings(c, _ids(b["finding_ids"]), a))


@api.post("/cases/<case_id>/hearing", summary="记录谈话（听证）", tag=TAG, request=HEARING, response=CASE,
          params=CASE_PATH)  # fmt: skip
@allow(DISCIPLINE)
def hearing(case_id: str) -> Any:
    return _command(
        case_id,
        lambda d, c, a, b: d.record_hearing(
            c, date.fromisoformat(b["held_on"]), b.get("participants", ""), b.get("note", ""), a
        ),
    )


@api.post("/cases/<case_id>/sanction", summary="记录处理结果", tag=TAG, request=SANCTION, response=CASE,
          params=CASE_PATH)  # fmt: skip
@allow(DISCIPLINE)
def sanction(case_id: str) -> Any:
    return _command(
        case_id, lambda d, c, a, b: d.record_sanction(c, b["sanction"], b.get("subject", ""), b.get("note", ""), a)
    )


@api.post("/cases/<case_id>/close", summary="结案", tag=TAG, request=CLOSE, response=CASE, params=CASE_PATH)
@allow(DISCIPLINE)
def close(case_id: str) -> Any:
    return _command(case_id, lambda d, c, a, b: d.close_case(c, b.get("conclusion", ""), a))
