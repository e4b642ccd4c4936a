"""单位管理: the county's unit tree (zones > towns > villages, departments,
offices), registering a unit, and on a unit's page renaming, moving and
retiring it. The discipline office reads a unit's page (its users and its
whole history) but changes nothing here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid4

from flask import flash, redirect, render_template, request, url_for

from app.access import allow
from app.identity import runtime
from app.web.admin import bp
from app.web.admin.common import (
    acting, already_recorded, county_unit, field_of, finish, form_id, sorted_units, text, unit_label,
)
from app.web.admin.history import described
from domain.errors import ConcurrentChange, DomainError, InvalidInput, UnknownUnit
from domain.events import ALLOWED_PARENT_KINDS, COMMAND, DISCIPLINE, UNIT_KINDS, Actor
from domain.org import ParentKindNotAllowed, UnitAlreadyRetired, UnknownUnitKind

#: The kinds a county office registers (a county itself is the system's to register).
REGISTRABLE_KINDS = {k: v for k, v in UNIT_KINDS.items() if k != "county"}
#: Which ledger filter shows a unit's findings.
LEDGER_FILTER = {"zone": "zone", "town": "town", "village": "unit", "department": "unit"}

FIELDS = {"name": "单位名称", "kind": "单位类型", "parent_id": "上级单位", "code": "单位代码", "reason": "撤销原因"}
BY_TYPE = {UnknownUnitKind: "kind", ParentKindNotAllowed: "parent_id", UnknownUnit: "parent_id"}


def _tree(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nested units from the county down, each with its ``children``."""
    ordered = sorted_units(units)
    nodes = {u["unit_id"]: {**u, "children": []} for u in ordered}
    roots = []
    for unit in ordered:
        parent = nodes.get(unit["parent_id"] or "")
        (parent["children"] if parent else roots).append(nodes[unit["unit_id"]])
    return roots


def _parent_choices(units: list[dict[str, Any]], kinds: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    names = {u["unit_id"]: u["name"] for u in units}
    return [
        {"unit_id": u["unit_id"], "label": f"{unit_label(u, names)}（{UNIT_KINDS.get(u['kind'], u['kind'])}）", "kind": u["kind"]}
        for u in sorted_units(units)
        if not u["retired"] and u["kind"] != "village" and (kinds is None or u["kind"] in kinds)
    ]


def _render_index(actor: Actor, values: Mapping[str, str] | None = None, error: DomainError | None = None) -> Any:
    units = runtime().query.units(str(actor.county_id))
    return (
        render_template(
            "pages/admin_units.html",
            tree=_tree(units),
            parents=_parent_choices(units),
            kinds=REGISTRABLE_KINDS,
            allowed_parents={k: [UNIT_KINDS[p] for p in v] for k, v in ALLOWED_PARENT_KINDS.items()},
            values=values or {},
            error=error.message if error else None,
            error_field=field_of(error, FIELDS, BY_TYPE) if error else None,
            active="units",
        ),
        error.status if error else 200,
    )


@bp.get("/units")
@allow(COMMAND)
def units() -> Any:
    return _render_index(acting(), {"new_unit_id": str(uuid4())})


@bp.post("/units")
@allow(COMMAND)
def register_unit() -> Any:
    actor = acting()
    form = request.form
    new_id = form_id(form, "new_unit_id")
    values = {**form, "new_unit_id": str(new_id)}
    try:
        parent_id = _chosen_unit(text(form, "parent_id"), actor)
        recorded = runtime().duban.register_unit(
            name=text(form, "name"), kind=text(form, "kind"), parent_id=parent_id, actor=actor, code=text(form, "code"),
            unit_id=new_id,
        )  # fmt: skip
    except ConcurrentChange as error:
        if not already_recorded(lambda: county_unit(str(new_id), actor)):
            return _render_index(actor, values, error)
        flash("该单位已经登记过（表单被重复提交），未再次登记", "info")
        return redirect(url_for("admin.unit", unit_id=str(new_id)), 303)
    except DomainError as error:
        return _render_index(actor, values, error)
    return finish(recorded.position, f"已登记单位：{text(form, 'name')}", url_for("admin.unit", unit_id=str(recorded.id)))


def _chosen_unit(value: str, actor: Actor) -> UUID:
    """The parent picked in a form: one of the county's units."""
    if not value:
        raise InvalidInput("请选择“上级单位”")
    return county_unit(value, actor).id


def render_unit(
    unit_id: str,
    *,
    failed: str | None = None,
    error: DomainError | None = None,
    values: Mapping[str, str] | None = None,
) -> Any:
    actor = acting()
    rt = runtime()
    unit = county_unit(unit_id, actor)
    county = str(actor.county_id)
    units = rt.query.units(county)
    users = [u for u in rt.query.users(county) if u["unit_id"] == str(unit.id)]
    names = {u["unit_id"]: u["name"] for u in units}
    names.update({u["user_id"]: u["name"] for u in rt.query.users(county)})
    subtree = set(rt.query.subtree(str(unit.id)))
    children = sorted_units([u for u in units if u["parent_id"] == str(unit.id)])
    move_to = [
        p for p in _parent_choices(units, ALLOWED_PARENT_KINDS[unit.kind])
        if p["unit_id"] != (str(unit.parent_id) if unit.parent_id else None) and p["unit_id"] not in subtree
    ]  # fmt: skip
    ledger_key = LEDGER_FILTER.get(unit.kind)
    return (
        render_template(
            "pages/admin_unit.html",
            unit=unit,
            parent_name=names.get(str(unit.parent_id)) if unit.parent_id else None,
            children=children,
            users=users,
            history=described(rt.duban.history(unit.id), names),
            move_to=move_to,
            ledger_url=url_for("ledger.index", **{ledger_key: str(unit.id)}) if ledger_key else None,
            may_change=actor.role == COMMAND,
            failed=failed,
            values=values or {},
            error=error.message if error else None,
            error_field=field_of(error, FIELDS, {**BY_TYPE, UnitAlreadyRetired: "form"}) if error else None,
            active="units",
        ),
        error.status if error else 200,
    )


@bp.get("/units/<unit_id>")
@allow(COMMAND, DISCIPLINE)
def unit(unit_id: str) -> Any:
    return render_unit(unit_id)


def _change(unit_id: str, action: str, run: Any, message: str) -> Any:
    actor = acting()
    unit = county_unit(unit_id, actor)
    try:
        recorded = run(runtime().duban, unit.id, actor, request.form)
    except DomainError as error:
        return render_unit(unit_id, failed=action, error=error, values=request.form)
    return finish(recorded.position, message, url_for("admin.unit", unit_id=str(unit.id)))


@bp.post("/units/<unit_id>/rename")
@allow(COMMAND)
def rename_unit(unit_id: str) -> Any:
    return _change(
        unit_id, "rename", lambda d, u, a, f: d.rename_unit(u, text(f, "name"), a), f"已更名为：{text(request.form, 'name')}"
    )


@bp.post("/units/<unit_id>/move")
@allow(COMMAND)
def move_unit(unit_id: str) -> Any:
    def move(d: Any, u: UUID, a: Actor, f: Mapping[str, str]) -> Any:
        return d.move_unit(u, _chosen_unit(text(f, "parent_id"), a), a)

    return _change(unit_id, "move", move, "已调整上级单位")


@bp.post("/units/<unit_id>/retire")
@allow(COMMAND)
def retire_unit(unit_id: str) -> Any:
    return _change(unit_id, "retire", lambda d, u, a, f: d.retire_unit(u, text(f, "reason"), a), "已撤销该单位（历史记录保留）")
