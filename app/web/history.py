"""履历: the full history of a finding, a unit, a person or a circular, for the
discipline office and the command office; and the audit bundle (审计材料包),
the same history as a PDF with each event's digest checked against the store.

Every showing of a full history page and every export of a bundle is itself
recorded (``Duban.record_history_viewed`` / ``record_history_exported``), and
the discipline office alone reads who looked (``/history/access``).

A subject of another county, or an id that names nothing, is not found (404),
and nothing is recorded. Bad filters (a malformed date, a period that ends
before it starts) answer 400 in Chinese, and nothing is recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from uuid import UUID

from eventsourcing.persistence import MapperDeserialisationError
from flask import Blueprint, Response, render_template, request, url_for

from app.access import allow
from app.history_text import describe
from app.identity import current_actor, runtime
from app.labels import actor_name, local_time
from domain.audit import event_digest
from domain.case import Case
from domain.circular import Circular
from domain.errors import DomainError, InvalidInput, UnknownUnit, UnknownUser
from domain.events import CHINA, COMMAND, DISCIPLINE, ROLES, SYSTEM, Actor, local_date
from domain.history_access import SUBJECT_KINDS
from domain.service import UnknownCircular, UnknownFinding

bp = Blueprint("history", __name__)

PER_PAGE = 50
#: Events per audit bundle at most: past this the office narrows the period.
BUNDLE_LIMIT = 1000
#: Digest checks: the event as stored now still hashes to the digest the chain recorded.
SAME, CHANGED, UNCHAINED = "一致", "不一致", "未入链"


class InvalidFilter(InvalidInput):
    message = "筛选条件有误"


class BundleTooLarge(InvalidInput):
    message = "所选范围内的记录过多，请缩小时间范围或按操作人筛选后再导出"


# The subjects
@dataclass(frozen=True)
class Subject:
    kind: str  # finding, unit, person, circular
    id: UUID
    name: str
    #: Where the subject's own page is, for the roles that may open it (None: no link).
    home: str | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return SUBJECT_KINDS[self.kind]

    @property
    def title(self) -> str:
        return f"{self.kind_label}履历：{self.name}"


def _parse(value: str, missing: type[DomainError]) -> UUID:
    try:
        return UUID(str(value))
    except (ValueError, TypeError, AttributeError) as error:
        raise missing() from error


def _names(county_id: str) -> dict[str, str]:
    query = runtime().query
    names = {u["unit_id"]: u["name"] for u in query.units(county_id)}
    names.update({u["user_id"]: u["name"] for u in query.users(county_id)})
    return names


#: Shown when the subject's own events no longer decode (someone edited the store).
DAMAGED = ("注意", "该对象的事件在事件库中已无法读取（可能已被改动），对象信息取自登记时的索引")


def _load(load: Callable[[], Any], fallback: Callable[[], dict[str, Any] | None], missing: type[DomainError]) -> tuple[Any, bool]:
    """The aggregate, or, if its stored events no longer decode, what the read
    views recorded of it (the history of a damaged record is exactly what the
    office needs to see); True in the second case."""
    try:
        return load(), False
    except MapperDeserialisationError:
        row = fallback()
        if row is None:
            raise missing() from None
        return row, True


def _in_county(found: Any, actor: Actor, missing: type[DomainError]) -> None:
    county = found["county_id"] if isinstance(found, dict) else found.county_id
    if str(county) != str(actor.county_id):
        raise missing()


def _field(found: Any, name: str) -> Any:
    return found.get(name) if isinstance(found, dict) else getattr(found, name, None)


def _finding(value: str, actor: Actor) -> Subject:
    rt = runtime()
    key = _parse(value, UnknownFinding)
    found, damaged = _load(lambda: rt.duban.finding(key), lambda: rt.query.finding(str(key), rt.today()), UnknownFinding)
    _in_county(found, actor, UnknownFinding)
    unit = _names(str(actor.county_id)).get(str(_field(found, "unit_id")), "（未知单位）")
    check_item = _field(found, "check_item")
    facts = [("责任单位", unit), ("检查事项", check_item), ("登记日期", str(_field(found, "filed_on") or "—"))]
    return Subject("finding", key, f"{unit}：{check_item}", url_for("findings.show", finding_id=str(key)),
                   [*facts, *([DAMAGED] if damaged else [])])  # fmt: skip


def _unit(value: str, actor: Actor) -> Subject:
    from domain.events import UNIT_KINDS

    rt = runtime()
    key = _parse(value, UnknownUnit)
    found, damaged = _load(
        lambda: rt.duban.unit(key),
        lambda: next((u for u in rt.query.units(str(actor.county_id)) if u["unit_id"] == str(key)), None),
        UnknownUnit,
    )
    _in_county(found, actor, UnknownUnit)
    kind = _field(found, "kind")
    return Subject("unit", key, _field(found, "name"), url_for("admin.unit", unit_id=str(key)),
                   [("单位类型", UNIT_KINDS.get(kind, kind)), *([DAMAGED] if damaged else [])])  # fmt: skip


def _person(value: str, actor: Actor) -> Subject:
    rt = runtime()
    key = _parse(value, UnknownUser)
    found, damaged = _load(
        lambda: rt.duban.user(key),
        lambda: next((u for u in rt.query.users(str(actor.county_id)) if u["user_id"] == str(key)), None),
        UnknownUser,
    )
    _in_county(found, actor, UnknownUser)
    unit = _names(str(actor.county_id)).get(str(_field(found, "unit_id")), "（未知单位）")
    home = url_for("admin.user", user_id=str(key)) if actor.role == COMMAND else None
    facts = [("所在单位", unit)]
    if not damaged:
        facts.append(("角色", "、".join(ROLES.get(r, r) for r in found.roles) or "—"))
    return Subject("person", key, _field(found, "name"), home, [*facts, *([DAMAGED] if damaged else [])])


def _circular(value: str, actor: Actor) -> Subject:
    rt = runtime()
    key = _parse(value, UnknownCircular)
    found, damaged = _load(lambda: rt.duban.circular(key), lambda: rt.circulars.circular(str(key)), UnknownCircular)
    _in_county(found, actor, UnknownCircular)
    number = _field(found, "document_number") or "（草稿，未编号）"
    return Subject("circular", key, _field(found, "title"), url_for("circulars.show", circular_id=str(key)),
                   [("文号", number), *([DAMAGED] if damaged else [])])  # fmt: skip


LOADERS: dict[str, Callable[[str, Actor], Subject]] = {
    "finding": _finding, "unit": _unit, "person": _person, "circular": _circular,
}  # fmt: skip
#: The page's URL variable for each kind (tests/web/test_route_access.py knows these names).
VARIABLES = {"finding": "finding_id", "unit": "unit_id", "person": "user_id", "circular": "circular_id"}


def subject_url(kind: str, subject_id: str, **filters: Any) -> str:
    return url_for(f"history.{kind}", **{VARIABLES[kind]: subject_id}, **{k: v for k, v in filters.items() if v})


def bundle_url(kind: str, subject_id: str, **filters: Any) -> str:
    return url_for(f"history.{kind}_bundle", **{VARIABLES[kind]: subject_id},
                   **{k: v for k, v in filters.items() if v})  # fmt: skip


# The filters
@dataclass(frozen=True)
class Filters:
    since: date | None = None
    until: date | None = None
    actor_id: str = ""

    @property
    def start(self) -> datetime | None:
        """The first instant of ``since`` in Beijing."""
        return datetime.combine(self.since, time.min, tzinfo=CHINA) if self.since else None

    @property
    def end(self) -> datetime | None:
        """The first instant after ``until`` in Beijing (exclusive)."""
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=CHINA) if self.until else None

    def as_args(self) -> dict[str, str]:
        return {
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
            "actor": self.actor_id,
        }

    def describe(self, names: Mapping[str, str]) -> str:
        parts = []
        if self.since or self.until:
            parts.append(f"期间 {self.since.isoformat() if self.since else '最早'} 至 {self.until.isoformat() if self.until else '今'}")
        if self.actor_id:
            parts.append(f"操作人 {actor_name(self.actor_id, names)}")
        return "；".join(parts) or "全部记录（未筛选）"


def _date(args: Mapping[str, str], key: str, label: str) -> date | None:
    value = (args.get(key) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidFilter(f"“{label}”日期格式不正确，应为 年-月-日，例如 2026-03-01") from error


def read_filters(args: Mapping[str, str]) -> Filters:
    since, until = _date(args, "from", "起始日期"), _date(args, "to", "截止日期")
    if since and until and until < since:
        raise InvalidFilter("截止日期不能早于起始日期")
    actor = (args.get("actor") or "").strip()
    if actor and actor != SYSTEM:
        try:
            actor = str(UUID(actor))
        except ValueError as error:
            raise InvalidFilter("操作人选择有误") from error
    return Filters(since, until, actor)


def _page_number(args: Mapping[str, str]) -> int:
    try:
        return max(1, int(args.get("page") or 1))
    except ValueError as error:
        raise InvalidFilter("页码有误") from error


# Reading events from the store
def stored_at(positions: list[int]) -> dict[int, Any]:
    """The stored notification (as stored: encrypted, compressed) at each position,
    read from the event store in runs of nearby positions."""
    recorder = runtime().duban.recorder
    found: dict[int, Any] = {}
    ordered = sorted(set(positions))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] - ordered[i] < 500:
            j += 1
        first, last = ordered[i], ordered[j]
        for n in recorder.select_notifications(start=first, limit=last - first + 1, stop=last):
            found[int(n.id)] = n
        i = j + 1
    return found


def _decoded(notification: Any) -> Any | None:
    try:
        return runtime().duban.mapper.to_domain_event(notification)
    except Exception:  # noqa: BLE001 - a damaged event is shown as damaged, not a 500
        return None


def _finding_names(events: list[Any], county_id: str) -> dict[str, str]:
    """Names for the findings a case lists (its events name them by id)."""
    ids = sorted({str(f) for e in events if isinstance(e, (Case.Opened, Case.FindingsLinked)) for f in e.finding_ids})
    if not ids:
        return {}
    rt = runtime()
    return {fid: f"{row['unit_name'] or ''}：{row['check_item']}" for fid, row in rt.query.findings_by_ids(ids, rt.today()).items()}


def entries(rows: list[dict[str, Any]], names: dict[str, str], county_id: str) -> list[dict[str, Any]]:
    """Each row as the pages and the bundle show it: position, time, actor and
    role, the event's name and details, its recorded digest, and whether the
    event as stored now still hashes to that digest."""
    rt = runtime()
    positions = [int(r["position"]) for r in rows]
    stored = stored_at(positions)
    digests = rt.audit.digests(positions)
    decoded = {p: _decoded(n) for p, n in stored.items()}
    names = {**names, **_finding_names([e for e in decoded.values() if e is not None], county_id)}
    listed = []
    for row in rows:
        position = int(row["position"])
        notification = stored.get(position)
        event = decoded.get(position)
        same_event = (
            notification is not None
            and str(notification.originator_id) == row["originator_id"]
            and int(notification.originator_version) == int(row["originator_version"])
        )
        recorded = digests.get(position)
        now = (
            event_digest(notification.topic, notification.originator_id, notification.originator_version,
                         notification.state).hex()
            if notification is not None else None
        )  # fmt: skip
        if recorded is None:
            check = UNCHAINED
        else:
            check = SAME if same_event and now == recorded else CHANGED
        if event is not None and same_event:
            label, details = describe(event, names)
        elif notification is None:
            label, details = "（该事件已不在事件库中）", []
        else:
            label, details = "（无法读取：事件库中的内容已被改动）", []
        role = row["actor_role"]
        listed.append(
            {
                "position": position,
                "time": local_time(row["recorded_at"]),
                "actor": actor_name(row["actor_id"], names),
                "role": ROLES.get(role, role) if role else "—",
                "label": label,
                "details": details,
                "digest": recorded or "",
                "stored_digest": now or "",
                "check": check,
            }
        )
    return listed


def _actor_choices(kind: str, subject: Subject, names: Mapping[str, str]) -> list[tuple[str, str]]:
    actors = runtime().history.actors(kind, str(subject.id))
    return sorted(((a, actor_name(a, names)) for a in actors), key=lambda pair: (pair[0] == SYSTEM, pair[1]))


# The pages
def _acting() -> Actor:
    runtime().fresh()
    actor = current_actor()
    assert actor is not None
    return actor


def show(kind: str, value: str) -> Any:
    actor = _acting()
    subject = LOADERS[kind](value, actor)
    filters = read_filters(request.args)
    number = _page_number(request.args)
    rt = runtime()
    names = _names(str(actor.county_id))
    page = rt.history.page(kind, str(subject.id), since=filters.start, before=filters.end,
                           actor_id=filters.actor_id or None, page=number, per_page=PER_PAGE)  # fmt: skip
    listed = entries(page.rows, names, str(actor.county_id))
    args = filters.as_args()
    rt.duban.record_history_viewed(
        county_id=actor.county_id, subject_kind=kind, subject_id=subject.id, subject_name=subject.name,
        filters={**args, "page": str(page.page)}, actor=actor,
    )  # fmt: skip
    return render_template(
        "pages/history.html",
        subject=subject,
        entries=listed,
        page=page,
        filters=filters,
        args=args,
        actors=_actor_choices(kind, subject, names),
        page_url=lambda n: subject_url(kind, str(subject.id), **args, page=n if n > 1 else None),
        bundle=bundle_url(kind, str(subject.id), **args),
        bundle_limit=BUNDLE_LIMIT,
        head=rt.audit.head(),
        active="history",
    )


def bundle(kind: str, value: str) -> Any:
    from app.audit_bundle import render_bundle

    actor = _acting()
    subject = LOADERS[kind](value, actor)
    filters = read_filters(request.args)
    rt = runtime()
    names = _names(str(actor.county_id))
    total = rt.history.count(kind, str(subject.id), since=filters.start, before=filters.end,
                             actor_id=filters.actor_id or None)  # fmt: skip
    if total > BUNDLE_LIMIT:
        raise BundleTooLarge(
            f"所选范围内共有{total}条记录，超过审计材料包每份{BUNDLE_LIMIT}条的上限，请缩小时间范围或按操作人筛选后再导出"
        )
    rows = rt.history.rows(kind, str(subject.id), since=filters.start, before=filters.end,
                           actor_id=filters.actor_id or None, limit=BUNDLE_LIMIT)  # fmt: skip
    listed = entries(rows, names, str(actor.county_id))
    exported_at = rt.clock()
    pdf = render_bundle(
        subject=subject,
        filters=filters.describe(names),
        entries=listed,
        exported_by=f"{actor_name(actor.user_id, names)}（{ROLES.get(actor.role, actor.role)}）",
        exported_at=exported_at,
        head=rt.audit.head(),
        verification=latest_verification(str(actor.county_id)),
    )
    sha256 = hashlib.sha256(pdf).hexdigest()
    rt.duban.record_history_exported(
        county_id=actor.county_id, subject_kind=kind, subject_id=subject.id, subject_name=subject.name,
        filters=filters.as_args(), events=len(listed), sha256=sha256, actor=actor,
    )  # fmt: skip
    name = f"审计材料包-{subject.kind_label}-{local_date(exported_at).isoformat()}.pdf"
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"attachment; filename=\"audit-bundle.pdf\"; filename*=UTF-8''{quote(name)}"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Bundle-SHA256"] = sha256
    return response


def latest_verification(county_id: str) -> dict[str, Any] | None:
    """The latest full verification run this county's office may see (its own
    and ``verify-history`` on the command line), or None if there was none."""
    return runtime().verifications.latest(county_id, check="full")


# One route per kind, so each names its variable as the rest of the app does.
@bp.get("/history/findings/<finding_id>")
@allow(DISCIPLINE, COMMAND)
def finding(finding_id: str) -> Any:
    return show("finding", finding_id)


@bp.get("/history/units/<unit_id>")
@allow(DISCIPLINE, COMMAND)
def unit(unit_id: str) -> Any:
    return show("unit", unit_id)


@bp.get("/history/people/<user_id>")
@allow(DISCIPLINE, COMMAND)
def person(user_id: str) -> Any:
    return show("person", user_id)


@bp.get("/history/circulars/<circular_id>")
@allow(DISCIPLINE, COMMAND)
def circular(circular_id: str) -> Any:
    return show("circular", circular_id)


@bp.get("/history/findings/<finding_id>/bundle.pdf")
@allow(DISCIPLINE, COMMAND)
def finding_bundle(finding_id: str) -> Any:
    return bundle("finding", finding_id)


@bp.get("/history/units/<unit_id>/bundle.pdf")
@allow(DISCIPLINE, COMMAND)
def unit_bundle(unit_id: str) -> Any:
    return bundle("unit", unit_id)


@bp.get("/history/people/<user_id>/bundle.pdf")
@allow(DISCIPLINE, COMMAND)
def person_bundle(user_id: str) -> Any:
    return bundle("person", user_id)


@bp.get("/history/circulars/<circular_id>/bundle.pdf")
@allow(DISCIPLINE, COMMAND)
def circular_bundle(circular_id: str) -> Any:
    return bundle("circular", circular_id)


# Who looked (the discipline office only)
ACTIONS = {"viewed": "查看履历", "exported": "导出审计材料包"}


@bp.get("/history/access")
@allow(DISCIPLINE)
def access() -> Any:
    actor = _acting()
    rt = runtime()
    filters = read_filters(request.args)
    number = _page_number(request.args)
    names = _names(str(actor.county_id))
    page = rt.history_access.page(str(actor.county_id), actor_id=filters.actor_id or None, since=filters.start,
                                  before=filters.end, page=number, per_page=PER_PAGE)  # fmt: skip
    args = filters.as_args()
    rows = [
        {
            **row,
            "time": local_time(row["recorded_at"]),
            "who": actor_name(row["actor_id"], names),
            "role": ROLES.get(row["actor_role"], row["actor_role"]),
            "action_label": ACTIONS.get(row["action"], row["action"]),
            "kind_label": SUBJECT_KINDS.get(row["subject_kind"], row["subject_kind"]),
            "link": subject_url(row["subject_kind"], row["subject_id"],
                                **{k: v for k, v in row["filters"].items() if k in ("from", "to", "actor")}),
            "filters_text": _access_filters(row["filters"], names),
        }
        for row in page.rows
    ]  # fmt: skip
    people = sorted(((a, actor_name(a, names)) for a in rt.history_access.actors(str(actor.county_id))),
                    key=lambda pair: pair[1])  # fmt: skip
    return render_template(
        "pages/history_access.html",
        rows=rows,
        page=page,
        args=args,
        filters=filters,
        people=people,
        page_url=lambda n: url_for("history.access", **{k: v for k, v in args.items() if v}, **({"page": n} if n > 1 else {})),
        active="history_access",
    )


def _access_filters(filters: Mapping[str, str], names: Mapping[str, str]) -> str:
    parts = []
    if filters.get("from") or filters.get("to"):
        parts.append(f"{filters.get('from') or '最早'} 至 {filters.get('to') or '今'}")
    if filters.get("actor"):
        parts.append(f"操作人 {actor_name(filters['actor'], names)}")
    if filters.get("page") and filters.get("page") != "1":
        parts.append(f"第{filters['page']}页")
    return "；".join(parts) or "—"
