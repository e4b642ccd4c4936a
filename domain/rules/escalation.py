"""When a refusal to rectify is proposed for escalation to discipline (移交纪检)."""

from __future__ import annotations

from domain.rules.rulebook import Rules


def escalation_reason(rejections: int, days_overdue: int, rules: Rules) -> str | None:
    """The rule that is met, in Chinese, or None when escalation is not yet due."""
    if rejections >= rules.escalate_after_rejections:
        return f"整改{rejections}次被退回（规则：{rules.escalate_after_rejections}次）"
    if days_overdue >= rules.escalate_after_days_overdue:
        return f"逾期{days_overdue}天未整改（规则：{rules.escalate_after_days_overdue}天）"
    return None
