"""Chinese labels for codes and events, and the Jinja filters that show them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask

from domain.events import CATEGORIES, CHINA, ROLES, SEVERITIES, SOURCES, SYSTEM, UNIT_KINDS
from domain.finding import STATUSES, Finding, mask_household_number
from domain.rules.deductions import RULE_LABELS
from domain.rules.working_days import BASIS_LABELS

#: Every event class of a finding, as a clerk names it.
EVENT_LABELS: dict[type, str] = {
    Finding.Filed: "登记问题",
    Finding.NoticeIssued: "下发整改通知",
    Finding.NoticeAcknowledged: "签收通知",
    Finding.ExtensionRequested: "申请延期",
    Finding.ExtensionGranted: "批准延期",
    Finding.ExtensionDenied: "不予延期",
    Finding.RectificationSubmitted: "提交整改",
    Finding.RectificationAccepted: "验收通过（销号）",
    Finding.RectificationRejected: "退回整改（不到位）",
    Finding.DeadlineMissed: "逾期",
    Finding.PointsDeducted: "扣分",
    Finding.DeductionReversed: "撤销扣分（申诉）",
    Finding.EscalatedToDiscipline: "移交纪检",
    Finding.Withdrawn: "撤销问题",
    Finding.NoticeDocumentRegistered: "整改通知书已印制登记",
}


#: The read models, as the CLI and the about page name them.
VIEW_LABELS = {"ledger": "问题台账", "inbox": "通知", "scores": "效能考评", "circulars": "通报", "documents": "文书登记", "cases": "纪检案件", "audit": "审计哈希链", "history": "履历索引", "history_access": "履历查阅记录", "verifications": "历史核验记录"}


def label(mapping: Mapping[str, str], code: Any) -> str:
    if code is None or code == "":
        return "—"
    return mapping.get(str(code), str(code))


def local_time(instant: datetime | str | None) -> str:
    """A UTC instant as Beijing time, e.g. 2026-10-09 10:00."""
    if instant is None or instant == "":
        return "—"
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant)
    return instant.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def day(value: date | str | None) -> str:
    if value is None or value == "":
        return "—"
    return value.isoformat() if isinstance(value, date) else str(value)


def points(value: Any) -> str:
    """0.5, 1, 2 — no trailing zeros; 0 shows as a dash."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    if number == 0:
        return "—"
    text = format(number.normalize(), "f")
    return text


def score(value: Any) -> str:
    """A score with one decimal place: 100.0, 97.5; none shows as a dash."""
    if value is None:
        return "—"
    return f"{Decimal(str(value)):.1f}"


def average(value: Any) -> str:
    """An average of scores with two decimal places: 99.25."""
    if value is None:
        return "—"
    return f"{Decimal(str(value)):.2f}"


def signed(value: Any) -> str:
    """A change in score: +0.5, -1.0, 0.0; none (no earlier figure) as a dash."""
    if value is None:
        return "—"
    number = Decimal(str(value))
    return f"{number:+.1f}" if number else "0.0"


def places(value: int | None) -> str:
    """Places gained (positive) or lost since the previous period."""
    if value is None:
        return "—"
    if value > 0:
        return f"↑{value}"
    if value < 0:
        return f"↓{-value}"
    return "持平"


def percent(value: Any) -> str:
    """A rate as a percentage with one decimal place; none (nothing due) as a dash."""
    if value is None:
        return "—"
    return f"{Decimal(str(value)) * 100:.1f}%"


def shorten(text: str | None, length: int = 30) -> str:
    text = (text or "").strip()
    return text if len(text) <= length else text[: length - 1] + "…"


def event_label(event: Any) -> str:
    return EVENT_LABELS.get(type(event), type(event).__name__)


def event_details(event: Any, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """What an event says, as (label, value) pairs in Chinese. ``names`` maps unit
    and user ids to names. The household number is only ever shown masked."""

    def name(identifier: Any) -> str:
        return names.get(str(identifier), "（未知）")

    e = event
    if isinstance(e, Finding.Filed):
        details = [
            ("问题类型", label(CATEGORIES, e.category)),
            ("问题来源", label(SOURCES, e.source)),
            ("问题等级", label(SEVERITIES, e.severity)),
            ("责任单位", name(e.unit_id)),
            ("检查事项", e.check_item),
            ("问题描述", e.description),
        ]
        if e.household_no:
            details.append(("户编号", mask_household_number(e.household_no)))
        if e.cadre_ids:
            details.append(("帮扶责任人", "、".join(name(c) for c in e.cadre_ids)))
        if e.repeat_of:
            details.append(("重复发生", "同一单位同一检查事项在考评规则规定期限内再次发生"))
        return details
    if isinstance(e, Finding.NoticeIssued):
        return [
            ("整改期限", e.deadline),
            ("期限依据", f"{e.working_days}个工作日，{label(BASIS_LABELS, e.deadline_basis)}"),
            ("通知对象", "、".join(name(r) for r in e.recipients)),
        ]
    if isinstance(e, Finding.ExtensionRequested):
        return [("申请延期至", e.requested_deadline), ("理由", e.reason)]
    if isinstance(e, Finding.ExtensionGranted):
        return [("新的整改期限", e.deadline)] + ([("说明", e.note)] if e.note else [])
    if isinstance(e, Finding.ExtensionDenied):
        return [("理由", e.reason)]
    if isinstance(e, Finding.RectificationSubmitted):
        details = [("整改情况", e.description)]
        if e.evidence:
            details.append(("佐证材料", "；".join(e.evidence)))
        return details
    if isinstance(e, Finding.RectificationAccepted):
        return [("验收意见", e.note)] if e.note else []
    if isinstance(e, Finding.RectificationRejected):
        return [
            ("不到位原因", e.reason),
            ("新的整改期限", e.deadline),
            ("期限依据", f"{e.working_days}个工作日，{label(BASIS_LABELS, e.deadline_basis)}"),
        ]
    if isinstance(e, Finding.DeadlineMissed):
        return [("逾期的整改期限", e.deadline), ("第几次期限", str(e.deadline_number))]
    if isinstance(e, Finding.PointsDeducted):
        return [
            ("扣分", f"{points(e.points)}分"),
            ("扣分单位", name(e.unit_id)),
            ("依据规则", label(RULE_LABELS, e.rule_id)),
            ("规则版本", f"第{e.rulebook_version}版"),
            ("考评周期", e.period),
            ("原因", e.reason),
        ]
    if isinstance(e, Finding.DeductionReversed):
        return [("撤销的扣分", f"第{e.deduction_number}笔"), ("申诉理由", e.reason)]
    if isinstance(e, Finding.EscalatedToDiscipline):
        return [("理由", e.reason)] + ([("符合移交规则", e.rule_met)] if e.rule_met else [])
    if isinstance(e, Finding.Withdrawn):
        return [("撤销原因", e.reason)]
    if isinstance(e, Finding.NoticeDocumentRegistered):
        return document_details(e)
    return []


def document_details(e: Any) -> list[tuple[str, str]]:
    """A registered document (any kind): what the printed copy shows, and its hash."""
    from domain.documents import format_code

    details = [("核验码", format_code(e.verification_code))]
    if e.document_number:
        details.append(("文号", e.document_number))
    details += [("标题", e.title), ("文件SHA-256", e.sha256), ("文件大小", f"{e.size}字节")]
    if getattr(e, "anchor_head", ""):  # registrations from before anchors have none
        details.append(("历史存证", f"{e.anchor_head}@{e.anchor_position}"))
    return details


def actor_name(actor_id: str, names: Mapping[str, str]) -> str:
    if actor_id == "system":
        return "系统"
    return names.get(actor_id, "（未知用户）")


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(
        category=lambda code: label(CATEGORIES, code),
        source=lambda code: label(SOURCES, code),
        severity=lambda code: label(SEVERITIES, code),
        status=lambda code: label(STATUSES, code),
        role=lambda code: label(ROLES, code),
        unit_kind=lambda code: label(UNIT_KINDS, code),
        basis=lambda code: label(BASIS_LABELS, code),
        rule=lambda code: label(RULE_LABELS, code),
        local_time=local_time,
        day=day,
        points=points,
        score=score,
        average=average,
        signed=signed,
        places=places,
        percent=percent,
        shorten=shorten,
    )
    app.jinja_env.globals.update(
        CATEGORIES=CATEGORIES,
        SOURCES=SOURCES,
        SEVERITIES=SEVERITIES,
        STATUSES=STATUSES,
        ROLES={k: v for k, v in ROLES.items() if k != SYSTEM},
        UNIT_KINDS=UNIT_KINDS,
    )
