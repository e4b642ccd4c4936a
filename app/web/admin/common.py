"""What the administration pages share: the acting person, finding records of
the caller's county only, turning a refusal into a message next to its field,
and finishing a command (wait for the views, flash, 303)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID, uuid4

from flask import flash, redirect

from app.identity import current_actor, runtime
from domain.errors import DomainError, UnknownUnit, UnknownUser
from domain.events import Actor
from domain.org import Unit, User
from domain.service import UnknownFinding

#: How the unit tree and the pickers order unit kinds.
KIND_ORDER = ("county", "office", "discipline", "department", "zone", "town", "village")


def acting() -> Actor:
    """The signed-in person (the route's rule has admitted them), after the views caught up."""
    runtime().fresh()
    actor = current_actor()
    assert actor is not None
    return actor


def _parse(value: str, missing: type[DomainError]) -> UUID:
    try:
        return UUID(str(value))
    except (ValueError, TypeError, AttributeError) as error:
        raise missing() from error


def county_unit(unit_id: str, actor: Actor) -> Unit:
    """A unit of the caller's county; any other id is not found (404)."""
    unit = runtime().duban.unit(_parse(unit_id, UnknownUnit))
    if unit.county_id != actor.county_id:
        raise UnknownUnit()
    return unit


def county_user(user_id: str, actor: Actor) -> User:
    user = runtime().duban.user(_parse(user_id, UnknownUser))
    if user.county_id != actor.county_id:
        raise UnknownUser()
    return user


def county_finding(finding_id: str, actor: Actor) -> UUID:
    """A finding of the caller's county, by id; any other id is not found (404)."""
    fid = _parse(finding_id, UnknownFinding)
    if runtime().duban.finding(fid).county_id != actor.county_id:
        raise UnknownFinding()
    return fid


def field_of(error: DomainError, labels: Mapping[str, str], by_type: Mapping[type, str] | None = None) -> str | None:
    """Which form field a refusal is about: by the error's type, else the field
    whose Chinese label the message quotes (“单位名称”); None: the whole form."""
    for kind, field in (by_type or {}).items():
        if isinstance(error, kind):
            return field
    for field, label in labels.items():
        if f"“{label}”" in error.message:
            return field
    return None


def finish(position: int | None, message: str, target: str) -> Any:
    """After a command: wait for the views to show it, say so, and go to ``target`` (303)."""
    caught_up = runtime().wait_for(position)
    flash(message, "success")
    if not caught_up:
        flash("数据正在更新，如未显示最新状态请稍后刷新", "info")
    return redirect(target, 303)


def form_id(form: Mapping[str, str], key: str) -> UUID:
    """The id a creating form carries (made when the form was shown), so a form
    sent twice records once; a missing or forged one is replaced."""
    try:
        return UUID(text(form, key))
    except ValueError:
        return uuid4()


def already_recorded(load: Callable[[], Any]) -> bool:
    """After a ConcurrentChange on creating: whether the record is there (and the caller's)."""
    try:
        load()
    except DomainError:
        return False
    return True


def text(form: Mapping[str, str], key: str) -> str:
    return (form.get(key) or "").strip()


def unit_label(unit: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """高庙山村（银州街道）: a village names its town, since village names repeat."""
    parent = names.get(unit.get("parent_id") or "")
    return f"{unit['name']}（{parent}）" if unit["kind"] == "village" and parent else unit["name"]


def sorted_units(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = {u["unit_id"]: u["name"] for u in units}
    return sorted(
        units,
        key=lambda u: (
            KIND_ORDER.index(u["kind"]) if u["kind"] in KIND_ORDER else len(KIND_ORDER),
            names.get(u["parent_id"] or "", ""),
            u["name"],
        ),
    )
