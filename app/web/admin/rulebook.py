"""考评规则: the rulebook versions (each in force from a date) with all their
values, the form that adopts a new version (prefilled from the version in
force today), and the State Council's holiday arrangements (调休) the working-
day deadlines are counted on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import render_template, request, url_for

from app.access import allow
from app.identity import runtime
from app.web.admin import bp
from app.web.admin.common import acting, field_of, finish, text
from domain.errors import DomainError, InvalidInput, MissingField
from domain.events import COMMAND, Actor
from domain.rulebook import BackdatedRulebook, InvalidHolidayArrangement, NoRulebookInForce
from domain.rules.rulebook import PERIOD_KINDS, Rules

PERIODS = {"quarter": "季度", "month": "月", "year": "年"}
assert set(PERIODS) == set(PERIOD_KINDS)


@dataclass(frozen=True)
class RuleField:
    name: str
    label: str
    #: "count" (a whole number), "points" (a number), "days" (whole numbers, comma separated), "period".
    kind: str
    #: What the rule's check says when this value is wrong (to put its message next to the field).
    message_words: tuple[str, ...] = ()


RULE_FIELDS = (
    RuleField("deadline_general", "一般问题整改期限（工作日）", "count", ("整改期限",)),
    RuleField("deadline_serious", "较重问题整改期限（工作日）", "count"),
    RuleField("deadline_grave", "严重问题整改期限（工作日）", "count"),
    RuleField("reminder_days_before", "到期前几天提醒（逗号分隔）", "days", ("提醒",)),
    RuleField("overdue_points", "逾期未整改扣分", "points", ("扣分值",)),
    RuleField("inadequate_points", "整改不到位扣分", "points"),
    RuleField("repeat_window_days", "重复问题认定期限（天）", "count", ("重复问题",)),
    RuleField("repeat_multiplier", "重复问题扣分倍数", "count"),
    RuleField("circular_points", "通报批评扣分", "points"),
    RuleField("escalate_after_rejections", "整改被退回几次移交纪检", "count", ("移交纪检",)),
    RuleField("escalate_after_days_overdue", "逾期几天移交纪检", "count"),
    RuleField("base_score", "考评基础分", "points", ("基础分",)),
    RuleField("period", "考评周期", "period", ("考评周期",)),
)
SEVERITY_FIELDS = {"deadline_general": "general", "deadline_serious": "serious", "deadline_grave": "grave"}
LABELS = {f.name: f.label for f in RULE_FIELDS} | {
    "in_force_from": "生效日期", "year": "年度", "days_off": "放假日期", "make_up_workdays": "调休上班日期",
}  # fmt: skip


class FieldError(InvalidInput):
    """A value that cannot be read, named by its field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def form_values(rules: Rules) -> dict[str, str]:
    """A version's values as the form shows them."""
    data = rules.to_dict()
    values = {name: str(data["deadline_working_days"][severity]) for name, severity in SEVERITY_FIELDS.items()}
    values["reminder_days_before"] = ",".join(str(d) for d in data["reminder_days_before"])
    for f in RULE_FIELDS:
        if f.name not in values:
            values[f.name] = str(data[f.name])
    return values


def _count(form: Mapping[str, str], f: RuleField) -> int:
    value = text(form, f.name)
    if not value:
        raise FieldError(f.name, f"请填写“{f.label}”")
    if not re.fullmatch(r"-?\d+", value):
        raise FieldError(f.name, f"“{f.label}”必须是整数")
    return int(value)


def rules_from(form: Mapping[str, str]) -> Rules:
    data: dict[str, Any] = {"deadline_working_days": {}}
    for f in RULE_FIELDS:
        value = text(form, f.name)
        if f.kind == "count":
            number = _count(form, f)
            if f.name in SEVERITY_FIELDS:
                data["deadline_working_days"][SEVERITY_FIELDS[f.name]] = number
            else:
                data[f.name] = number
        elif f.kind == "points":
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise FieldError(f.name, f"“{f.label}”必须是数字，如 0.5") from None
            if not number.is_finite():
                raise FieldError(f.name, f"“{f.label}”必须是数字，如 0.5")
            data[f.name] = str(number)
        elif f.kind == "days":
            parts = [p for p in re.split(r"[,，、\s]+", value) if p]
            if not all(re.fullmatch(r"\d+", p) for p in parts):
                raise FieldError(f.name, f"“{f.label}”必须是用逗号分隔的整数，如 3,1")
            data[f.name] = [int(p) for p in parts]
        elif f.kind == "period":
            if value not in PERIODS:
                raise FieldError(f.name, f"请选择“{f.label}”")
            data[f.name] = value
    return Rules.from_dict(data)


def _date(form: Mapping[str, str], key: str) -> date:
    value = text(form, key)
    if not value:
        raise FieldError(key, f"请填写“{LABELS[key]}”")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FieldError(key, f"“{LABELS[key]}”不是有效日期，请按 2026-10-09 的格式填写") from None


def _dates(form: Mapping[str, str], key: str) -> list[date]:
    found = []
    for part in (p for p in re.split(r"[,，、\s]+", text(form, key)) if p):
        try:
            found.append(date.fromisoformat(part))
        except ValueError:
            raise FieldError(key, f"“{LABELS[key]}”中的 {part} 不是有效日期，请按 2026-10-01 的格式每行填写一个") from None
    return found


def _error_field(error: DomainError) -> str | None:
    if isinstance(error, FieldError):
        return error.field
    if isinstance(error, BackdatedRulebook):
        return "in_force_from"
    if isinstance(error, InvalidHolidayArrangement):
        return "days_off"
    for f in RULE_FIELDS:
        if any(word in error.message for word in f.message_words):
            return f.name
    return field_of(error, LABELS)


def _render(
    actor: Actor, *, failed: str | None = None, error: DomainError | None = None, values: Mapping[str, str] | None = None
) -> Any:
    rt = runtime()
    today = rt.today()
    try:
        rulebook = rt.duban.rulebook(actor.county_id)
    except NoRulebookInForce:
        rulebook = None
    versions, in_force, defaults = [], None, {}
    if rulebook is not None:
        try:
            in_force = rulebook.in_force_on(today)
        except NoRulebookInForce:
            in_force = None
        for version in sorted(rulebook.versions, key=lambda v: v.version, reverse=True):
            versions.append(
                {
                    "version": version.version,
                    "in_force_from": version.in_force_from,
                    "values": form_values(version.rules),
                    "state": "in_force" if in_force and version.version == in_force.version
                    else ("future" if date.fromisoformat(version.in_force_from) > today else "past"),
                }
            )
        defaults = form_values(in_force.rules if in_force else rulebook.versions[-1].rules)
        defaults["in_force_from"] = today.isoformat()
    arrangements = (
        [
            {"year": year, "days_off": sorted(a.days_off), "make_up_workdays": sorted(a.make_up_workdays)}
            for year, a in sorted(rulebook.holiday_arrangements.items(), reverse=True)
        ]
        if rulebook is not None
        else []
    )
    adopt_values = dict(values) if failed == "adopt" and values is not None else defaults
    holiday_values = dict(values) if failed == "holidays" and values is not None else {"year": str(today.year)}
    return (
        render_template(
            "pages/admin_rulebook.html",
            has_rulebook=rulebook is not None,
            versions=versions,
            fields=RULE_FIELDS,
            periods=PERIODS,
            adopt_values=adopt_values,
            holiday_values=holiday_values,
            arrangements=arrangements,
            failed=failed,
            error=error.message if error else None,
            error_field=_error_field(error) if error else None,
            active="rulebook",
        ),
        error.status if error else 200,
    )


@bp.get("/rulebook")
@allow(COMMAND)
def rulebook() -> Any:
    return _render(acting())


@bp.post("/rulebook")
@allow(COMMAND)
def adopt_rules() -> Any:
    actor = acting()
    form = request.form
    try:
        rules = rules_from(form)
        in_force_from = _date(form, "in_force_from")
        recorded = runtime().duban.adopt_rules(actor.county_id, rules, in_force_from, actor)
    except DomainError as error:
        return _render(actor, failed="adopt", error=error, values=form)
    return finish(
        recorded.position,
        f"已发布第{recorded.value}版考评规则，自{in_force_from.isoformat()}起施行",
        url_for("admin.rulebook"),
    )


@bp.post("/rulebook/holidays")
@allow(COMMAND)
def record_holidays() -> Any:
    actor = acting()
    form = request.form
    try:
        year_text = text(form, "year")
        if not re.fullmatch(r"\d{4}", year_text):
            raise FieldError("year", "“年度”必须是四位数字，如 2027")
        days_off, workdays = _dates(form, "days_off"), _dates(form, "make_up_workdays")
        if not days_off and not workdays:
            raise MissingField(LABELS["days_off"])
        recorded = runtime().duban.record_holiday_arrangement(actor.county_id, int(year_text), days_off, workdays, actor)
    except DomainError as error:
        return _render(actor, failed="holidays", error=error, values=form)
    return finish(recorded.position, f"已登记{year_text}年放假调休安排", url_for("admin.rulebook"))
