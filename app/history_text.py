"""Any event of the log in Chinese: its name and what it says (the change it
made), for the full history pages and the audit bundle.

One describer over the ones the pages already have: a finding's events
(``app.labels.event_label``/``event_details``), units and users
(``app.web.admin.history.DESCRIPTIONS``), cases (``app.web.cases``), circulars
and unit notices (``app.web.documents.CIRCULAR_EVENT_LABELS``); plus the few
kinds no page listed before (inspections, messages, the rulebook). Secrets
(password hashes, key digests, a robot's signing key) and household numbers
(masked) are never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.labels import document_details, event_details, label, points
from domain.circular import CIRCULAR_KINDS, Circular
from domain.events import ROLES, SOURCES
from domain.finding import Finding
from domain.inspection import Inspection
from domain.message import CHANNELS, PURPOSES, Message
from domain.rulebook import Rulebook
from domain.unit_notice import UnitNotice
from domain.verification import CHECKS, OUTCOMES, Verification

Details = list[tuple[str, str]]


def _name(names: Mapping[str, str], identifier: Any) -> str:
    return names.get(str(identifier), "（未知）")


def _list(names: Mapping[str, str], ids: Any, unknown: str = "（未知）") -> str:
    return "、".join(names.get(str(i), unknown) for i in ids) or "—"


def _circular_details(e: Any, names: Mapping[str, str]) -> Details:
    if isinstance(e, Circular.DocumentRegistered):
        return document_details(e)
    if isinstance(e, Circular.Drafted):
        return [
            ("类型", CIRCULAR_KINDS.get(e.kind, e.kind)), ("标题", e.title), ("考评周期", e.period or "—"),
            ("通报单位", _list(names, e.unit_ids)), ("涉及问题", f"{len(e.finding_ids)}个"),
        ]  # fmt: skip
    if isinstance(e, Circular.Edited):
        return [("标题", e.title), ("通报单位", _list(names, e.unit_ids)), ("涉及问题", f"{len(e.finding_ids)}个")]
    if isinstance(e, Circular.Issued):
        return [
            ("文号", e.document_number), ("印发日期", e.issued_on), ("通报单位", _list(names, e.unit_ids)),
            ("涉及问题", f"{len(e.finding_ids)}个"),
        ]  # fmt: skip
    if isinstance(e, Circular.PointsDeducted):
        return [("扣分单位", _name(names, e.unit_id)), ("扣分", f"{points(e.points)}分"), ("考评周期", e.period),
                ("原因", e.reason)]  # fmt: skip
    if isinstance(e, Circular.Revoked):
        return [("撤销理由", e.reason)]
    if isinstance(e, UnitNotice.Issued):
        return [("通知单位", _name(names, e.unit_id)), ("印发日期", e.issued_on), ("所列问题", f"{len(e.finding_ids)}个")]
    if isinstance(e, UnitNotice.DocumentRegistered):
        return document_details(e)
    return []


#: Events no page described before: name and details.
OTHER: dict[type, tuple[str, Any]] = {
    Inspection.Planned: (
        "制定督查计划",
        lambda e, n: [("督查名称", e.title), ("问题来源", label(SOURCES, e.source)),
                      ("督查员", _list(n, e.inspector_ids)), ("起止日期", f"{e.starts_on} 至 {e.ends_on}")],
    ),  # fmt: skip
    Inspection.Completed: ("完成督查", lambda e, n: [("督查小结", e.summary)] if e.summary else []),
    Message.Sent: (
        "发送通知",
        lambda e, n: [("用途", PURPOSES.get(e.purpose, e.purpose)), ("标题", e.title)]
        + ([("通知单位", _list(n, e.unit_ids))] if e.unit_ids else [])
        + ([("通知人员", _list(n, e.user_ids))] if e.user_ids else []),
    ),
    Message.DeliveryAttempted: (
        "投递通知",
        lambda e, n: [("渠道", CHANNELS.get(e.channel, e.channel)), ("第几次", str(e.attempt)),
                      ("结果", "成功" if e.succeeded else f"失败（{e.detail}）" if e.detail else "失败")],
    ),  # fmt: skip
    Message.Read: ("阅读通知", lambda e, n: []),
    Rulebook.Adopted: ("通过考评规则", lambda e, n: [("版本", f"第{e.version}版"), ("施行日期", e.in_force_from)]),
    Rulebook.FirstAdopted: ("通过考评规则", lambda e, n: [("版本", f"第{e.version}版"), ("施行日期", e.in_force_from)]),
    Verification.HistoryVerified: (
        "核验历史",
        lambda e, n: [("核验方式", CHECKS.get(e.check, e.check)), ("结果", OUTCOMES.get(e.outcome, e.outcome))]
        + ([("存证", e.anchor)] if e.anchor else []) + ([("说明", e.summary)] if e.summary else []),
    ),
    Rulebook.HolidayArrangementRecorded: (
        "登记节假日安排",
        lambda e, n: [("年度", str(e.year)), ("放假", f"{len(e.days_off)}天"), ("调休上班", f"{len(e.make_up_workdays)}天")],
    ),
}


def describe(event: Any, names: Mapping[str, str]) -> tuple[str, Details]:
    """The event's Chinese name and its details as (label, value) pairs.
    ``names`` maps unit, user and finding ids to names."""
    from app.web.admin.history import DESCRIPTIONS
    from app.web.cases import _case_events
    from app.web.documents import CIRCULAR_EVENT_LABELS

    kind = type(event)
    if isinstance(event, Finding.Event):
        from app.labels import event_label

        return event_label(event), event_details(event, names)
    if kind in DESCRIPTIONS:
        title, details = DESCRIPTIONS[kind]
        return title, details(event, names)
    if kind in CIRCULAR_EVENT_LABELS:
        return CIRCULAR_EVENT_LABELS[kind], _circular_details(event, names)
    cases = _case_events({})
    if kind in cases:
        title, details = cases[kind]
        return title, details(event, names)
    if kind in OTHER:
        title, details = OTHER[kind]
        return title, details(event, names)
    return kind.__qualname__, []


def who(actor_id: str, role: str, names: Mapping[str, str]) -> tuple[str, str]:
    """The actor's name and the role they acted in, in Chinese."""
    from app.labels import actor_name

    return actor_name(actor_id, names), ROLES.get(role, role) if role else "—"
