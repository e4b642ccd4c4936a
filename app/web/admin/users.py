"""用户管理: the county's users by unit with their roles, registering a user,
and on a user's page granting and revoking roles and setting the email notices
go to. Passwords are the sign-in pages' business; this page links there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from app.access import allow
from app.identity import runtime
from app.web.admin import bp
from app.web.admin.common import (
    acting, already_recorded, county_unit, county_user, field_of, finish, form_id, sorted_units, text, unit_label,
)  # fmt: skip
from app.web.admin.history import described
from domain.errors import ConcurrentChange, DomainError, InvalidInput, UnknownUnit
from domain.events import COMMAND, COUNTY_ROLES, ROLES, SYSTEM, Actor
from domain.org import InvalidEmail, RoleAlreadyHeld, RoleNotHeld, UnitAlreadyRetired, UnknownRole

#: The roles a county office grants (the system role is the software's own).
#: A county's office grants its own people's roles; the regional role is the system's to give.
GRANTABLE = {k: v for k, v in ROLES.items() if k in COUNTY_ROLES}

#: The registering form's fields, and those of a user's page.
FIELDS = {"unit_id": "所在单位", "name": "姓名", "login": "登录名", "roles": "角色"}
BY_TYPE = {UnknownRole: "roles", UnknownUnit: "unit_id", UnitAlreadyRetired: "unit_id"}
USER_FIELDS = {"role": "角色", "email": "电子邮箱"}
USER_BY_TYPE = {UnknownRole: "role", RoleAlreadyHeld: "role", RoleNotHeld: "role", InvalidEmail: "email"}
#: Where a reset-password link points when the sign-in pages provide one.
RESET_PASSWORD_ENDPOINT = "auth.reset_password"


def _groups(actor: Actor) -> list[dict[str, Any]]:
    """The county's users grouped by unit, units in tree order."""
    rt = runtime()
    units = rt.query.units(str(actor.county_id))
    names = {u["unit_id"]: u["name"] for u in units}
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for user in rt.query.users(str(actor.county_id)):
        user["role_list"] = [r for r in user["roles"].split(",") if r and r != SYSTEM]
        by_unit.setdefault(user["unit_id"], []).append(user)
    return [
        {"unit": u, "label": unit_label(u, names), "users": sorted(by_unit[u["unit_id"]], key=lambda x: x["name"])}
        for u in sorted_units(units)
        if u["unit_id"] in by_unit
    ]


def _unit_choices(actor: Actor) -> list[dict[str, str]]:
    units = runtime().query.units(str(actor.county_id))
    names = {u["unit_id"]: u["name"] for u in units}
    return [
        {"unit_id": u["unit_id"], "label": unit_label(u, names)} for u in sorted_units(units) if not u["retired"]
    ]


def _render_index(actor: Actor, values: MultiDict[str, str], error: DomainError | None = None) -> Any:
    return (
        render_template(
            "pages/admin_users.html",
            groups=_groups(actor),
            units=_unit_choices(actor),
            roles=GRANTABLE,
            values=values,
            chosen_roles=values.getlist("roles"),
            error=error.message if error else None,
            error_field=field_of(error, FIELDS, BY_TYPE) if error else None,
            active="users",
        ),
        error.status if error else 200,
    )


@bp.get("/users")
@allow(COMMAND)
def users() -> Any:
    values = MultiDict({"new_user_id": str(uuid4()), "unit_id": request.args.get("unit_id", "")})
    return _render_index(acting(), values)


@bp.post("/users")
@allow(COMMAND)
def register_user() -> Any:
    actor = acting()
    form = request.form
    new_id = form_id(form, "new_user_id")
    values = MultiDict(form)
    values.setlist("new_user_id", [str(new_id)])
    try:
        if not text(form, "unit_id"):
            raise InvalidInput("请选择“所在单位”")
        unit = county_unit(text(form, "unit_id"), actor)
        roles = [r for r in form.getlist("roles") if r]
        if not roles:
            raise InvalidInput("请至少选择一个“角色”")
        recorded = runtime().duban.register_user(
            unit_id=unit.id, name=text(form, "name"), login=text(form, "login"), roles=roles, actor=actor, user_id=new_id
        )
    except ConcurrentChange as error:
        if not already_recorded(lambda: county_user(str(new_id), actor)):
            return _render_index(actor, values, error)
        flash("该用户已经登记过（表单被重复提交），未再次登记", "info")
        return redirect(url_for("admin.user", user_id=str(new_id)), 303)
    except DomainError as error:
        return _render_index(actor, values, error)
    return finish(recorded.position, f"已登记用户：{text(form, 'name')}", url_for("admin.user", user_id=str(recorded.id)))


def render_user(
    user_id: str, *, failed: str | None = None, error: DomainError | None = None, values: Mapping[str, str] | None = None
) -> Any:
    actor = acting()
    rt = runtime()
    user = county_user(user_id, actor)
    county = str(actor.county_id)
    names = {u["unit_id"]: u["name"] for u in rt.query.units(county)}
    names.update({u["user_id"]: u["name"] for u in rt.query.users(county)})
    reset_url = None
    if RESET_PASSWORD_ENDPOINT in current_app.view_functions:
        reset_url = url_for(RESET_PASSWORD_ENDPOINT, user_id=str(user.id))
    return (
        render_template(
            "pages/admin_user.html",
            user=user,
            unit_name=names.get(str(user.unit_id), "（未知）"),
            grantable={k: v for k, v in GRANTABLE.items() if k not in user.roles},
            history=described(rt.duban.history(user.id), names),
            reset_url=reset_url,
            failed=failed,
            values=values or {},
            error=error.message if error else None,
            error_field=field_of(error, USER_FIELDS, USER_BY_TYPE) if error else None,
            active="users",
        ),
        error.status if error else 200,
    )


@bp.get("/users/<user_id>")
@allow(COMMAND)
def user(user_id: str) -> Any:
    return render_user(user_id)


def _change(user_id: str, action: str, run: Any, message: Any) -> Any:
    actor = acting()
    user = county_user(user_id, actor)
    form = request.form
    try:
        recorded = run(runtime().duban, user.id, actor, form)
    except DomainError as error:
        return render_user(user_id, failed=action, error=error, values=form)
    return finish(recorded.position, message(form), url_for("admin.user", user_id=str(user.id)))


def _role(form: Mapping[str, str]) -> str:
    role = text(form, "role")
    if not role:
        raise InvalidInput("请选择“角色”")
    return role


@bp.post("/users/<user_id>/grant")
@allow(COMMAND)
def grant_role(user_id: str) -> Any:
    return _change(
        user_id, "grant", lambda d, u, a, f: d.grant_role(u, _role(f), a),
        lambda f: f"已授予角色：{GRANTABLE.get(text(f, 'role'), text(f, 'role'))}",
    )  # fmt: skip


@bp.post("/users/<user_id>/revoke")
@allow(COMMAND)
def revoke_role(user_id: str) -> Any:
    return _change(
        user_id, "revoke", lambda d, u, a, f: d.revoke_role(u, _role(f), a),
        lambda f: f"已收回角色：{GRANTABLE.get(text(f, 'role'), text(f, 'role'))}",
    )  # fmt: skip


@bp.post("/users/<user_id>/email")
@allow(COMMAND)
def set_email(user_id: str) -> Any:
    return _change(
        user_id, "email", lambda d, u, a, f: d.set_email(u, text(f, "email"), a),
        lambda f: f"已设置电子邮箱：{text(f, 'email')}" if text(f, "email") else "已清除电子邮箱，不再发送邮件通知",
    )  # fmt: skip
