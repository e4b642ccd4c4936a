"""The values of one rulebook version (效能考评规则), as data.

The command office changes them by adopting a new version; nothing here is a
constant the code relies on except DEFAULT_RULES, the starting point DOMAIN.md
gives.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidInput
from domain.events import SEVERITIES

PERIOD_KINDS = ("quarter", "month", "year")


class InvalidRules(InvalidInput):
    message = "考评规则的取值不正确"


@dataclass(frozen=True)
class Rules:
    deadline_working_days: dict[str, int] = field(
        default_factory=lambda: {"general": 10, "serious": 5, "grave": 3}
    )
    reminder_days_before: tuple[int, ...] = (3, 1)
    overdue_points: Decimal = Decimal("0.5")
    inadequate_points: Decimal = Decimal("0.5")
    repeat_window_days: int = 90
    repeat_multiplier: int = 2
    circular_points: Decimal = Decimal("2")
    escalate_after_rejections: int = 2
    escalate_after_days_overdue: int = 30
    base_score: Decimal = Decimal("100")
    period: str = "quarter"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form, the one stored in RulebookAdopted."""
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Decimal):
                data[key] = str(value)
        data["reminder_days_before"] = list(self.reminder_days_before)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rules:
        """Build and check rules; unknown keys are refused rather than ignored."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidRules(f"未知的规则项：{'、'.join(sorted(unknown))}")
        merged = {**DEFAULT_RULES.to_dict(), **data}
        try:
            rules = cls(
                deadline_working_days={
                    str(k): _whole(v) for k, v in dict(merged["deadline_working_days"]).items()
                },
                reminder_days_before=tuple(
                    sorted({_whole(d) for d in merged["reminder_days_before"]}, reverse=True)
                ),
                overdue_points=Decimal(str(merged["overdue_points"])),
                inadequate_points=Decimal(str(merged["inadequate_points"])),
                repeat_window_days=_whole(merged["repeat_window_days"]),
                repeat_multiplier=_whole(merged["repeat_multiplier"]),
                circular_points=Decimal(str(merged["circular_points"])),
                escalate_after_rejections=_whole(merged["escalate_after_rejections"]),
                escalate_after_days_overdue=_whole(merged["escalate_after_days_overdue"]),
                base_score=Decimal(str(merged["base_score"])),
                period=str(merged["period"]),
            )
        except (TypeError, ValueError, InvalidOperation, AttributeError) as error:
            raise InvalidRules() from error
        rules.check()
        return rules

    def check(self) -> None:
        counts = (
            *self.deadline_working_days.values(),
            *self.reminder_days_before,
            self.repeat_window_days,
            self.repeat_multiplier,
            self.escalate_after_rejections,
            self.escalate_after_days_overdue,
        )
        if not all(type(n) is int for n in counts):
            raise InvalidRules("天数和次数必须是整数")
        if set(self.deadline_working_days) != set(SEVERITIES):
            raise InvalidRules("必须为一般、较重、严重三个等级分别规定整改期限")
        if any(days < 1 for days in self.deadline_working_days.values()):
            raise InvalidRules("整改期限至少为1个工作日")
        if any(day < 0 for day in self.reminder_days_before):
            raise InvalidRules("提醒天数不能为负数")
        points = (self.overdue_points, self.inadequate_points, self.circular_points)
        if not all(_is_finite_number(p) for p in (*points, self.base_score)):
            raise InvalidRules("扣分值和基础分必须是有效的数字")
        if any(p < 0 for p in points) or self.base_score <= 0:
            raise InvalidRules("扣分值不能为负数，基础分必须大于0")
        if self.repeat_window_days < 0 or self.repeat_multiplier < 1:
            raise InvalidRules("重复问题的时间窗口和倍数不正确")
        if self.escalate_after_rejections < 1 or self.escalate_after_days_overdue < 1:
            raise InvalidRules("移交纪检的条件不正确")
        if self.period not in PERIOD_KINDS:
            raise InvalidRules("考评周期只能是季度、月或年")


def _whole(value: Any) -> int:
    """A count (days, times): refused, not truncated, when it is not a whole number."""
    if isinstance(value, bool):
        raise TypeError("a count is not a yes/no value")
    if isinstance(value, (float, Decimal)) and not (math.isfinite(value) and value == int(value)):
        raise ValueError("a count must be a whole number")
    return int(value)


def _is_finite_number(value: Any) -> bool:
    """NaN and infinities are not points (and NaN would break every comparison)."""
    try:
        return Decimal(value).is_finite()
    except (TypeError, ValueError, InvalidOperation):
        return False


DEFAULT_RULES = Rules()


@dataclass(frozen=True)
class RulebookVersion:
    """A version of the rules and the day from which it is in force."""

    version: int
    in_force_from: str  # ISO date, Asia/Shanghai calendar
    rules: Rules
