"""Findings: the ledger (filtered, by cursor), one finding with its history,
filing one, and every step of its life as ``POST /findings/<id>/<action>``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from flask import request

from app.access import allow, signed_in
from app.api import api, idempotency
from app.api import schemas as s
from app.api.evidence import resolved
from app.api.common import actor, plain, replayed, respond, settle, uuid_or
from app.api.consistency import ANNOUNCED_BY, position_header
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import cursor_arg, encode, limit_arg
from app.api.registry import BadQuery, Param
from app.identity import runtime
from app.web.as_of import as_of_from
from app.web.findings import ACTIONS as PAGE_ACTIONS
from app.web.findings import visible_row
from app.web.scope import Scope, scope_for
from domain.errors import NotYourUnit, UnknownUnit, WrongCounty
from domain.events import CATEGORIES, COMMAND, INSPECTOR, Actor
from domain.finding import STATUSES, Finding, mask_household_number
from domain.service import Duban, Recorded, UnknownFinding
from projections.ledger_query import LedgerFilter

TAG = "问题"
FINDING_PATH = (Param("finding_id", s.UUID, "问题编号", where="path", required=True),)


# Reading
def visible(finding_id: Any, who: Actor) -> dict[str, Any]:
    """The finding's ledger row; outside the caller's scope it is simply not found."""
    fid = uuid_or(finding_id, UnknownFinding)
    try:
        return visible_row(fid, who)
    except (WrongCounty, NotYourUnit) as error:
        raise UnknownFinding() from error


def finding_out(row: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(row)
    for key in ("cadre_ids", "pending_extension"):
        value = data.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            try:
                data[key] = json.loads(value)
            except ValueError:
                pass
    for key in ("is_repeat", "escalated"):
        if key in data:
            data[key] = bool(data[key])
    return plain(data)


def event_out(event: Any) -> dict[str, Any]:
    skip = {"originator_id", "originator_version", "timestamp", "actor_id", "actor_role"}
    return {
        "type": type(event).__name__,
        "version": event.originator_version,
        "timestamp": event.timestamp.isoformat(),
        "actor_id": str(event.actor_id),
        "actor_role": str(event.actor_role),
        "data": plain({k: v for k, v in vars(event).items() if k not in skip}),
    }


def finding_now(
    finding_id: UUID, who: Actor, position: int | None = None, views: Iterable[str] | None = None
) -> dict[str, Any]:
    settle(position, views)
    return finding_out(visible(finding_id, who))


def filed_out(finding: Finding, duban: Duban, unit: Any = None) -> dict[str, Any]:
    """A finding just filed, as its ledger row will read (``GET /findings/{id}``
    without the history), made from the aggregate itself: the answer needs no
    view, so the filing need not wait for the projector. The ledger projection
    (``projections/ledger.py``, ``Finding.Filed``) is the model; a test holds the
    two equal. ``unit``: the finding's unit, if the caller has it already."""
    path = _units_of(finding.unit_path, duban, unit)
    unit = path[0]
    zone = next((u for u in path if u.kind == "zone"), None)
    town = next((u for u in path if u.kind == "town"), None)
    filed_at = finding.created_on.isoformat()
    cadres = [{"user_id": str(c), "name": duban.user(c).name} for c in dict.fromkeys(finding.cadre_ids)]
    return finding_out(
        {
            "finding_id": str(finding.id), "county_id": str(finding.county_id),
            "inspection_id": str(finding.inspection_id) if finding.inspection_id else None,
            "unit_id": str(finding.unit_id), "zone_id": str(zone.id) if zone else None,
            "town_id": str(town.id) if town else None, "category": finding.category, "severity": finding.severity,
            "source": finding.source, "check_item": finding.check_item, "description": finding.description,
            "household_masked": mask_household_number(finding.household_no),
            "cadre_ids": [str(c) for c in finding.cadre_ids], "is_repeat": finding.repeat_of is not None,
            "filed_on": finding.filed_on, "filed_at": filed_at, "status": finding.status, "deadline": None,
            "deadline_basis": None, "missed_count": 0, "rejections": 0, "points": "0", "pending_extension": None,
            "escalated": False, "closed_on": None, "updated_at": filed_at, "version": finding.version,
            "unit_name": unit.name, "unit_kind": unit.kind, "zone_name": zone.name if zone else None,
            "town_name": town.name if town else None, "days_overdue": 0, "is_overdue": False, "deductions": [],
            "cadres": sorted(cadres, key=lambda c: c["name"]),
        }
    )  # fmt: skip


@dataclass(frozen=True)
class _UnitName:
    id: str
    name: str
    kind: str


def _units_of(unit_ids: Iterable[UUID], duban: Duban, known: Any = None) -> list[Any]:
    """The units of a finding's path (names and kinds), in its order: from the ledger
    view in one query, since a unit's kind never changes and names rarely do (an
    aggregate read each costs a round trip and a rebuild); a unit the view does not
    have yet is read from the store."""
    ids = [str(u) for u in unit_ids]
    wanted = [u for u in ids if known is None or str(known.id) != u]
    found: dict[str, Any] = {str(known.id): known} if known is not None else {}
    if wanted:
        with runtime().query.view.reading() as rows:
            for r in rows.all(
                f"SELECT unit_id, name, kind FROM {{ledger_units}} WHERE unit_id IN ({', '.join('?' for _ in wanted)})",
                wanted,
            ):
                found[r["unit_id"]] = _UnitName(r["unit_id"], r["name"], r["kind"])
    return [found[u] if u in found else duban.unit(UUID(u)) for u in ids]


LEDGER_PARAMS = (
    Param("status", {"enum": sorted(STATUSES)}, "状态"),
    Param("category", {"enum": sorted(CATEGORIES)}, "问题类型"),
    Param("unit_id", s.UUID, "责任单位（含其下级单位）"),
    Param("zone_id", s.UUID, "战区"),
    Param("town_id", s.UUID, "乡镇"),
    Param("overdue", {"type": "boolean"}, "仅看逾期"),
    Param("as_of", s.DATE, "查看该日结束时的台账"),
    *PAGE_PARAMS,
)


def _uuid_arg(name: str) -> str | None:
    value = request.args.get(name)
    if not value:
        return None
    try:
        return str(UUID(value))
    except ValueError as error:
        raise BadQuery(f"查询参数 {name} 不是有效的编号") from error


def _choice_arg(name: str, allowed: Mapping[str, str]) -> str | None:
    value = request.args.get(name)
    if not value:
        return None
    if value not in allowed:
        raise BadQuery(f"查询参数 {name} 的取值无效")
    return value


def _bool_arg(name: str) -> bool:
    value = (request.args.get(name) or "").lower()
    if value in ("", "false", "0"):
        return False
    if value in ("true", "1"):
        return True
    raise BadQuery(f"查询参数 {name} 应为 true 或 false")


def ledger_filter(who: Actor | None, today: date, scope: Scope | None = None) -> LedgerFilter:
    """The ledger query's filter from the address, within the caller's scope
    (or a given one: the regional office reading one member county)."""
    scope = scope or scope_for(who, runtime().query)  # type: ignore[arg-type]
    return LedgerFilter(
        county_id=scope.county_id,
        zone_id=_uuid_arg("zone_id"),
        town_id=_uuid_arg("town_id"),
        unit_id=_uuid_arg("unit_id"),
        category=_choice_arg("category", CATEGORIES),
        status=_choice_arg("status", STATUSES),
        overdue_only=_bool_arg("overdue"),
        unit_scope=scope.unit_scope,
        cadre_id=scope.cadre_id,
        as_of=as_of_from(request.args, today),
    )


def ledger_rows(f: LedgerFilter, today: date, limit: int, after: list[str] | None) -> list[dict[str, Any]]:
    """Up to ``limit`` rows after the cursor, newest filed first (ties by id): a
    keyset page, so findings filed meanwhile never shift the pages."""
    if after is not None and len(after) != 2:
        raise BadQuery("分页游标无效，请使用上一页返回的 next_cursor")
    return runtime().query.after(f, today, limit, (after[0], after[1]) if after is not None else None)


@api.get("/findings", summary="问题台账（可筛选，按登记时间倒序）", tag=TAG, params=LEDGER_PARAMS,
         response=s.page_of(s.FINDING))  # fmt: skip
@signed_in
def ledger() -> Any:
    rt = runtime()
    rt.fresh()
    who = actor()
    f = ledger_filter(who, rt.today())
    limit, after = limit_arg(), cursor_arg()
    rows = ledger_rows(f, rt.today(), limit + 1, after)
    page, more = rows[:limit], len(rows) > limit
    return respond(
        {
            "items": [finding_out(r) for r in page],
            "next_cursor": encode([page[-1]["filed_at"], page[-1]["finding_id"]]) if more else None,
        }
    )


@api.get("/findings/<finding_id>", summary="问题详情及其全部历史", tag=TAG, params=FINDING_PATH,
         response=s.FINDING_WITH_HISTORY)  # fmt: skip
@signed_in
def show(finding_id: str) -> Any:
    runtime().fresh()
    who = actor()
    row = visible(finding_id, who)
    history = [event_out(e) for e in runtime().duban.history(UUID(row["finding_id"]))]
    return respond({**finding_out(row), "history": history})


@api.get("/findings/<finding_id>/document", summary="问题的整改通知书（公文）", tag=TAG, params=FINDING_PATH,
         response=s.DOCUMENT)  # fmt: skip
@signed_in
def notice_document(finding_id: str) -> Any:
    from app.api.reads import document_out, NoDocumentYet

    runtime().fresh()
    row = visible(finding_id, actor())
    document = runtime().documents.for_source(row["finding_id"])
    if document is None:
        raise NoDocumentYet()
    return respond(document_out(document))


# Filing
def _same_filing(payload: dict[str, Any]) -> Callable[[Finding], bool]:
    def same(finding: Finding) -> bool:
        return (
            str(finding.unit_id) == str(UUID(payload["unit_id"]))
            and finding.category == payload["category"]
            and finding.source == payload["source"]
            and finding.severity == payload["severity"]
            and idempotency.same_text(finding.check_item, payload["check_item"])
            and idempotency.same_text(finding.description, payload["description"])
            and idempotency.same_text(finding.household_no, payload.get("household_no"))
            and idempotency.same_ids(finding.cadre_ids, payload.get("cadre_ids"))
            and str(finding.inspection_id or "") == str(payload.get("inspection_id") or "")
        )

    return same




@api.post("/findings", summary="登记问题", tag=TAG, request=s.FILE_FINDING, response=s.FINDING, status=201,
          params=(idempotency.PARAM,), idempotent=True)  # fmt: skip
@allow(INSPECTOR, COMMAND)
def file() -> Any:
    from app.api.registry import read_body

    payload = read_body(api.current())
    who = actor()
    duban = runtime().duban
    unit = duban.unit(uuid_or(payload["unit_id"], UnknownUnit))
    if unit.county_id != who.county_id:
        raise UnknownUnit()
    inspection = payload.get("inspection_id")
    new_id = idempotency.key_id(who, "findings.file")
    attachments = resolved(payload.get("attachments", []))

    def create(finding_id: UUID | None) -> Recorded:
        return duban.file_finding(
            unit_id=unit.id,
            category=payload["category"],
            source=payload["source"],
            severity=payload["severity"],
            check_item=payload["check_item"],
            description=payload["description"],
            household_no=payload.get("household_no", ""),
            cadre_ids=[UUID(c) for c in payload.get("cadre_ids", [])],
            inspection_id=UUID(inspection) if inspection else None,
            actor=who,
            finding_id=finding_id,
            attachments=attachments,
        )

    finding_id, result, again = idempotency.create_once(new_id, duban.finding, _same_filing(payload), create)
    # Answered from the aggregate, not the views: a read that must see it sends Duban-Position back.
    finding = duban.finding(finding_id)
    if again:
        # The first request's position is not kept; the log's head now is at or after it.
        answer = replayed(filed_out(finding, duban, unit))
        answer.headers.update(position_header(duban.position()))
        return answer
    return respond(filed_out(finding, duban, unit), 201, position_header(result.position))


ANNOUNCED_BY.add("findings_file")


# The steps of a finding's life
@dataclass(frozen=True)
class Step:
    slug: str
    summary: str
    #: The page's action whose roles apply (app/web/findings.py ACTIONS).
    page_action: str
    schema: dict[str, Any]
    run: Callable[[Duban, UUID, Actor, dict[str, Any]], Recorded]


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


STEPS = (
    Step("issue-notice", "下发整改通知", "issue-notice", s.body({}), lambda d, f, a, b: d.issue_notice(f, a)),
    Step("acknowledge", "签收整改通知", "acknowledge", s.body({}), lambda d, f, a, b: d.acknowledge_notice(f, a)),
    Step(
        "request-extension", "申请延期", "request-extension",
        s.body({"until": s.DATE, "reason": s.text()}, ("until",)),
        lambda d, f, a, b: d.request_extension(f, _date(b["until"]), b.get("reason", ""), a),  # type: ignore[arg-type]
    ),
    Step(
        "grant-extension", "批准延期", "grant-extension", s.body({"until": s.DATE, "note": s.text()}),
        lambda d, f, a, b: d.grant_extension(f, a, until=_date(b.get("until")), note=b.get("note", "")),
    ),
    Step(
        "deny-extension", "不予延期", "deny-extension", s.REASON,
        lambda d, f, a, b: d.deny_extension(f, b.get("reason", ""), a),
    ),
    Step(
        "submit-rectification", "提交整改材料", "submit",
        s.body({"description": s.text(4000), "evidence": {"type": "array", "items": s.text(500), "maxItems": 50},
                "attachments": s.ATTACHMENTS}, ("description",)),
        lambda d, f, a, b: d.submit_rectification(
            f, b["description"], a, evidence=b.get("evidence", []), attachments=resolved(b.get("attachments", []))
        ),
    ),
    Step(
        "accept", "验收通过（销号）", "accept", s.body({"note": s.text()}),
        lambda d, f, a, b: d.accept_rectification(f, a, note=b.get("note", "")),
    ),
    Step(
        "reject", "退回整改（不到位）", "reject", s.REASON,
        lambda d, f, a, b: d.reject_rectification(f, b.get("reason", ""), a),
    ),
    Step("record-missed", "记录逾期并扣分", "record-missed", s.body({}), lambda d, f, a, b: d.record_missed_deadline(f, a)),
    Step(
        "reverse-deduction", "撤销扣分（申诉）", "reverse-deduction",
        s.body({"deduction_number": {"type": "integer", "minimum": 1, "maximum": 1000}, "reason": s.text()},
               ("deduction_number",)),
        lambda d, f, a, b: d.reverse_deduction(f, b["deduction_number"], b.get("reason", ""), a),
    ),
    Step("escalate", "移交纪检监察机关", "escalate", s.REASON, lambda d, f, a, b: d.escalate(f, b.get("reason", ""), a)),
    Step(
        "withdraw", "撤销问题", "withdraw", s.REASON,
        lambda d, f, a, b: d.withdraw_finding(f, b.get("reason", ""), a),
    ),
)  # fmt: skip


def _step_view(step: Step) -> Callable[..., Any]:
    def view(finding_id: str) -> Any:
        from app.api.registry import read_body

        who = actor()
        runtime().fresh()
        row = visible(finding_id, who)  # out of scope: 404 before the body is even read
        payload = read_body(api.current())
        fid = UUID(row["finding_id"])
        result = step.run(runtime().duban, fid, who, payload)
        data = finding_now(fid, who, result.position)
        if step.slug in ("issue-notice", "reject") and result.value is not None:
            data["new_deadline"] = result.value.due.isoformat()
        return respond(data, headers=position_header(result.position))

    view.__name__ = "step_" + step.slug.replace("-", "_")
    view.__qualname__ = view.__name__
    return view


for _step in STEPS:
    ANNOUNCED_BY.add("findings_step_" + _step.slug.replace("-", "_"))
    _roles = PAGE_ACTIONS[_step.page_action].roles
    api.post(
        f"/findings/<finding_id>/{_step.slug}", summary=_step.summary, tag=TAG, request=_step.schema,
        response=s.FINDING, params=FINDING_PATH,
    )(allow(*_roles)(_step_view(_step)))  # fmt: skip

