"""Who is acting: the demo identity switcher (切换身份).

Sign-in proper comes with a later version. Until then a person picks a user and
one of that user's roles; the pair is kept in the signed session and resolved
through the domain on every request (``duban.actor``), so a revoked role stops
working at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from app.access import public

from domain.errors import DomainError, InvalidInput
from domain.events import ROLES, SYSTEM, Actor

bp = Blueprint("identity", __name__)


#: How the switcher orders units.
KIND_ORDER = ("county", "office", "discipline", "zone", "town", "village", "department")


@dataclass(frozen=True)
class Identity:
    actor: Actor
    unit_name: str
    unit_kind: str

    @property
    def name(self) -> str:
        return self.actor.name

    @property
    def role(self) -> str:
        return self.actor.role

    @property
    def role_label(self) -> str:
        return ROLES.get(self.actor.role, self.actor.role)


def runtime() -> Any:
    return current_app.extensions["duban"]


def _forget() -> None:
    session.pop("user_id", None)
    session.pop("role", None)


def current_identity() -> Identity | None:
    if "duban_identity" in g:
        return cast("Identity | None", g.duban_identity)
    identity = None
    user_id, role = session.get("user_id"), session.get("role")
    if user_id and role:
        try:
            duban = runtime().duban
            actor = duban.actor(UUID(str(user_id)), str(role))
            unit = duban.unit(actor.unit_id)
            identity = Identity(actor, unit.name, unit.kind)
        except (ValueError, DomainError):
            _forget()  # the user or the role is gone: choose again
    g.duban_identity = identity
    return identity


def current_actor() -> Actor | None:
    identity = current_identity()
    return identity.actor if identity else None


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _grouped_users() -> list[dict[str, Any]]:
    query = runtime().query
    units = {u["unit_id"]: u for u in query.units()}
    groups: dict[str, dict[str, Any]] = {}
    for user in query.users():
        unit = units.get(user["unit_id"], {"name": user.get("unit_name") or "", "kind": ""})
        group = groups.setdefault(
            user["unit_id"], {"unit_id": user["unit_id"], "name": unit["name"], "kind": unit["kind"], "users": []}
        )
        roles = [r for r in user["roles"].split(",") if r and r != SYSTEM]
        group["users"].append({"user_id": user["user_id"], "name": user["name"], "roles": roles})

    def order(group: dict[str, Any]) -> tuple[int, str]:
        kind = group["kind"]
        return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), group["name"])

    return sorted(groups.values(), key=order)


def _render(error: str | None = None, status: int = 200) -> Any:
    return (
        render_template(
            "pages/identity.html",
            groups=_grouped_users(),
            next=safe_next(request.values.get("next")),
            error=error,
        ),
        status,
    )


@bp.get("/identity")
@public
def choose() -> Any:
    runtime().catch_up()
    return _render()


@bp.post("/identity")
@public
def switch() -> Any:
    try:
        try:
            user_id = UUID(request.form.get("user_id", ""))
        except ValueError as error:
            raise InvalidInput("请选择一个用户") from error
        role = request.form.get("role", "")
        if role not in ROLES or role == SYSTEM:
            raise InvalidInput("请选择一个角色")
        duban = runtime().duban
        actor = duban.actor(user_id, role)
        unit = duban.unit(actor.unit_id)
    except DomainError as error:
        return _render(error.message, error.status)
    session.clear()  # a new identity starts a new session (and a new form token)
    session["user_id"] = str(user_id)
    session["role"] = role
    flash(f"已切换身份：{actor.name}（{unit.name}·{ROLES[role]}）", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("ledger.index"), 303)


@bp.post("/identity/clear")
@public
def clear() -> Any:
    session.clear()
    flash("已退出当前身份", "success")
    return redirect(url_for("identity.choose"), 303)
