"""Circulars (通报): reading them (drafts only for the command and discipline
offices, as on the pages), and the command office's drafting, editing, issuing
and revoking."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.access import allow, signed_in
from app.api import api, idempotency
from app.api import schemas as s
from app.api.common import actor, plain, respond, settle, uuid_or
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import paginate
from app.api.reads import NoDocumentYet, document_out
from app.api.registry import Param, read_body
from app.identity import runtime
from app.web.circulars import DRAFT_READERS, paragraphs_text
from domain.circular import Circular
from domain.events import COMMAND, Actor
from domain.rules import periods
from domain.service import UnknownCircular, UnknownFinding

TAG = "通报"
CIRCULAR_PATH = (Param("circular_id", s.UUID, "通报编号", where="path", required=True),)


def visible_circular(circular_id: Any, who: Actor) -> dict[str, Any]:
    key = str(uuid_or(circular_id, UnknownCircular))
    row = runtime().circulars.circular(key)
    if row is None or row["county_id"] != str(who.county_id):
        raise UnknownCircular()
    if row["status"] == "draft" and who.role not in DRAFT_READERS:
        raise UnknownCircular()
    return plain(row)


def _ids(values: list[str]) -> list[UUID]:
    return [uuid_or(v, UnknownFinding) for v in values]


@api.get("/circulars", summary="通报列表", tag=TAG, params=PAGE_PARAMS, response=s.page_of(s.CIRCULAR))
@signed_in
def index() -> Any:
    runtime().fresh()
    who = actor()
    rows = runtime().circulars.listing(str(who.county_id), include_drafts=who.role in DRAFT_READERS)
    return respond(paginate(rows, lambda r: (r["drafted_at"], r["circular_id"]), descending=True, render=plain))


@api.get("/circulars/<circular_id>", summary="通报详情", tag=TAG, params=CIRCULAR_PATH, response=s.CIRCULAR)
@signed_in
def show(circular_id: str) -> Any:
    runtime().fresh()
    return respond(visible_circular(circular_id, actor()))


@api.get("/circulars/<circular_id>/document", summary="通报的公文（印发后）", tag=TAG, params=CIRCULAR_PATH,
         response=s.DOCUMENT)  # fmt: skip
@signed_in
def document(circular_id: str) -> Any:
    runtime().fresh()
    row = visible_circular(circular_id, actor())
    found = runtime().documents.for_source(row["circular_id"])
    if found is None:
        raise NoDocumentYet()
    return respond(document_out(found))


@api.post("/circulars", summary="起草通报", tag=TAG, request=s.DRAFT_CIRCULAR, response=s.CIRCULAR, status=201,
          params=(idempotency.PARAM,), idempotent=True)  # fmt: skip
@allow(COMMAND)
def draft() -> Any:
    payload = read_body(api.current())
    who = actor()
    duban = runtime().duban
    periods.kind_of(payload["period"])
    body = paragraphs_text(payload["body"])
    findings, units = _ids(payload.get("finding_ids", [])), _ids(payload.get("unit_ids", []))
    new_id = idempotency.key_id(who, "circulars.draft")

    def same(circular: Circular) -> bool:
        return (
            circular.kind == payload["kind"]
            and idempotency.same_text(circular.title, payload["title"])
            and idempotency.same_text(circular.prefix, payload["prefix"])
            and circular.period == payload["period"]
            and idempotency.same_text(getattr(circular, "body", body), body)
        )

    def create(circular_id: UUID | None) -> Any:
        return duban.draft_circular(
            county_id=who.county_id, kind=payload["kind"], title=payload["title"], prefix=payload["prefix"],
            period=payload["period"], body=body, finding_ids=findings, unit_ids=units, actor=who,
            circular_id=circular_id,
        )  # fmt: skip

    return idempotency.created_or_replayed(
        new_id, duban.circular, same, create, lambda circular_id: visible_circular(circular_id, who)
    )


def _command(circular_id: str, run: Any) -> Any:
    runtime().fresh()
    who = actor()
    row = visible_circular(circular_id, who)
    payload = read_body(api.current())
    result = run(runtime().duban, UUID(row["circular_id"]), who, payload)
    settle(result.position)
    return respond(visible_circular(row["circular_id"], who))


@api.post("/circulars/<circular_id>/edit", summary="修改通报草稿", tag=TAG, request=s.EDIT_CIRCULAR,
          response=s.CIRCULAR, params=CIRCULAR_PATH)  # fmt: skip
@allow(COMMAND)
def edit(circular_id: str) -> Any:
    return _command(
        circular_id,
        lambda d, c, a, b: d.edit_circular(
            c, title=b["title"], body=paragraphs_text(b["body"]), finding_ids=_ids(b.get("finding_ids", [])),
            unit_ids=_ids(b.get("unit_ids", [])), actor=a,
        ),
    )  # fmt: skip


@api.post("/circulars/<circular_id>/issue", summary="印发通报（取得文号并扣分）", tag=TAG, request=s.body({}),
          response=s.CIRCULAR, params=CIRCULAR_PATH)  # fmt: skip
@allow(COMMAND)
def issue(circular_id: str) -> Any:
    return _command(circular_id, lambda d, c, a, b: d.issue_circular(c, a))


@api.post("/circulars/<circular_id>/revoke", summary="撤销通报", tag=TAG, request=s.REASON, response=s.CIRCULAR,
          params=CIRCULAR_PATH)  # fmt: skip
@allow(COMMAND)
def revoke(circular_id: str) -> Any:
    return _command(circular_id, lambda d, c, a, b: d.revoke_circular(c, b.get("reason", ""), a))
