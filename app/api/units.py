"""Units (单位): listing and reading within the caller's scope, and the command
office's registering, renaming, moving and retiring."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.access import allow, signed_in
from app.api import api, idempotency
from app.api import schemas as s
from app.api.common import actor, replayed, respond, settle, uuid_or
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import paginate
from app.api.reads import document_out
from app.api.registry import Param, read_body
from app.identity import runtime
from domain.events import CADRE, COMMAND, INSPECTOR, UNIT, Actor
from domain.errors import UnknownUnit
from domain.org import Unit

TAG = "单位"
UNIT_PATH = (Param("unit_id", s.UUID, "单位编号", where="path", required=True),)


def visible_ids(who: Actor) -> tuple[str, ...] | None:
    """The units a caller may read (None: the whole county)."""
    if who.role == UNIT:
        return runtime().query.subtree(str(who.unit_id))
    if who.role == CADRE:
        return (str(who.unit_id),)
    return None


def unit_out(unit: Unit) -> dict[str, Any]:
    return {
        "unit_id": str(unit.id),
        "county_id": str(unit.county_id),
        "name": unit.name,
        "kind": unit.kind,
        "parent_id": str(unit.parent_id) if unit.parent_id else None,
        "code": unit.code,
        "retired": bool(unit.retired),
    }


def visible_unit(unit_id: Any, who: Actor) -> Unit:
    """A unit the caller may see; anything else (another county's, above the
    caller's own, forged) is not found."""
    unit = runtime().duban.unit(uuid_or(unit_id, UnknownUnit))
    if unit.county_id != who.county_id:
        raise UnknownUnit()
    scope = visible_ids(who)
    if scope is not None and str(unit.id) not in scope:
        raise UnknownUnit()
    return unit


@api.get("/units", summary="单位列表", tag=TAG, params=PAGE_PARAMS, response=s.page_of(s.UNIT))
@signed_in
def index() -> Any:
    rt = runtime()
    rt.fresh()
    who = actor()
    scope = visible_ids(who)
    rows = [r for r in rt.query.units(str(who.county_id)) if scope is None or r["unit_id"] in scope]
    render = lambda r: {**{k: r.get(k) for k in ("unit_id", "county_id", "name", "kind", "parent_id", "code")},
                        "retired": bool(r.get("retired"))}  # fmt: skip  # noqa: E731
    return respond(paginate(rows, lambda r: (r["unit_id"],), render=render))


@api.get("/units/<unit_id>", summary="单位详情", tag=TAG, params=UNIT_PATH, response=s.UNIT)
@signed_in
def show(unit_id: str) -> Any:
    return respond(unit_out(visible_unit(unit_id, actor())))


@api.get("/units/<unit_id>/documents", summary="单位整改通知书（公文）列表", tag=TAG,
         params=(*UNIT_PATH, *PAGE_PARAMS), response=s.page_of(s.DOCUMENT))  # fmt: skip
@signed_in
def documents(unit_id: str) -> Any:
    runtime().fresh()
    unit = visible_unit(unit_id, actor())
    rows = runtime().documents.unit_notices(str(unit.id))
    return respond(paginate(rows, lambda r: (r.document_id,), render=document_out))


@api.post("/units", summary="登记单位", tag=TAG, request=s.REGISTER_UNIT, response=s.UNIT, status=201,
          params=(idempotency.PARAM,), idempotent=True)  # fmt: skip
@allow(COMMAND)
def register() -> Any:
    payload = read_body(api.current())
    who = actor()
    duban = runtime().duban
    parent = visible_unit(payload["parent_id"], who)
    new_id = idempotency.key_id(who, "units.register")

    def same(unit: Unit) -> bool:
        return (
            idempotency.same_text(unit.name, payload["name"])
            and unit.kind == payload["kind"]
            and unit.parent_id == parent.id
            and idempotency.same_text(unit.code, payload.get("code"))
        )

    def create(unit_id: UUID | None) -> Any:
        return duban.register_unit(
            name=payload["name"], kind=payload["kind"], parent_id=parent.id, actor=who,
            code=payload.get("code", ""), unit_id=unit_id,
        )  # fmt: skip

    return idempotency.created_or_replayed(
        new_id, duban.unit, same, create, lambda unit_id: unit_out(duban.unit(unit_id))
    )


def _command(unit_id: str, run: Any) -> Any:
    who = actor()
    unit = visible_unit(unit_id, who)
    payload = read_body(api.current())
    result = run(runtime().duban, unit.id, who, payload)
    settle(result.position)
    return respond(unit_out(runtime().duban.unit(unit.id)))


@api.post("/units/<unit_id>/rename", summary="单位更名", tag=TAG, request=s.RENAME_UNIT, response=s.UNIT,
          params=UNIT_PATH)  # fmt: skip
@allow(COMMAND)
def rename(unit_id: str) -> Any:
    return _command(unit_id, lambda d, u, a, b: d.rename_unit(u, b["name"], a))


@api.post("/units/<unit_id>/move", summary="调整单位隶属关系", tag=TAG, request=s.MOVE_UNIT, response=s.UNIT,
          params=UNIT_PATH)  # fmt: skip
@allow(COMMAND)
def move(unit_id: str) -> Any:
    def run(d: Any, u: UUID, a: Actor, b: dict[str, Any]) -> Any:
        return d.move_unit(u, visible_unit(b["parent_id"], a).id, a)

    return _command(unit_id, run)


@api.post("/units/<unit_id>/retire", summary="撤销单位", tag=TAG, request=s.REASON, response=s.UNIT,
          params=UNIT_PATH)  # fmt: skip
@allow(COMMAND)
def retire(unit_id: str) -> Any:
    return _command(unit_id, lambda d, u, a, b: d.retire_unit(u, b.get("reason", ""), a))


@api.post("/units/<unit_id>/webhook", summary="设置单位的消息推送机器人", tag=TAG,
          request=s.body({"url": s.text(500), "secret": s.text(200)}, ("url", "secret")), response=s.UNIT,
          params=UNIT_PATH)  # fmt: skip
@allow(COMMAND)
def webhook(unit_id: str) -> Any:
    return _command(unit_id, lambda d, u, a, b: d.configure_webhook(u, b["url"], b["secret"], a))


UNIT_NOTICE = s.resource(
    {"notice_id": s.UUID, "unit_id": s.UUID, "finding_ids": {"type": "array"}, "issued_on": {"type": "string"}},
    ("notice_id", "unit_id", "finding_ids"),
)


@api.post("/units/<unit_id>/notices", summary="下发单位整改通知书（列明该单位在整改期内的问题）", tag=TAG,
          request=s.body({"finding_ids": {**s.ids(500), "minItems": 1}}, ("finding_ids",)), response=UNIT_NOTICE,
          status=201, params=(*UNIT_PATH, idempotency.PARAM), idempotent=True)  # fmt: skip
@allow(INSPECTOR, COMMAND)
def issue_notice(unit_id: str) -> Any:
    from domain.service import UnknownFinding
    from domain.unit_notice import UnitNotice

    who = actor()
    unit = visible_unit(unit_id, who)
    payload = read_body(api.current())
    duban = runtime().duban
    findings = [uuid_or(f, UnknownFinding) for f in payload["finding_ids"]]
    new_id = idempotency.key_id(who, "units.issue_notice")

    def out(notice: UnitNotice) -> dict[str, Any]:
        return {"notice_id": str(notice.id), "unit_id": str(notice.unit_id),
                "finding_ids": [str(f) for f in notice.finding_ids], "issued_on": str(notice.issued_on)}  # fmt: skip

    def same(notice: UnitNotice) -> bool:
        return notice.unit_id == unit.id and idempotency.same_ids(notice.finding_ids, findings)

    def create(notice_id: UUID | None) -> Any:
        return duban.issue_unit_notice(unit.id, findings, who, notice_id=notice_id)

    notice_id, result, again = idempotency.create_once(new_id, duban.unit_notice, same, create)
    notice = duban.unit_notice(notice_id)
    if again:
        return replayed(out(notice))
    settle(result.position)
    return respond(out(notice), 201)
