"""Users (用户): listing and reading within the caller's scope, and the command
office's registering and granting or revoking roles."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from app.access import allow, signed_in
from app.api import api, idempotency
from app.api import schemas as s
from app.api.common import actor, respond, settle, uuid_or
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import paginate
from app.api.registry import Param, read_body
from app.api.units import visible_ids, visible_unit
from app.identity import runtime
from domain.errors import UnknownUser
from domain.events import CADRE, COMMAND, SYSTEM, Actor
from domain.org import User

TAG = "用户"
USER_PATH = (Param("user_id", s.UUID, "用户编号", where="path", required=True),)


def user_out(user: User) -> dict[str, Any]:
    return {
        "user_id": str(user.id),
        "county_id": str(user.county_id),
        "unit_id": str(user.unit_id),
        "name": user.name,
        "login": user.login,
        "roles": [r for r in user.roles if r != SYSTEM],
    }


def _may_see(who: Actor, county_id: str, unit_id: str, user_id: str) -> bool:
    if county_id != str(who.county_id):
        return False
    if who.role == CADRE:
        return user_id == who.user_id
    scope = visible_ids(who)
    return scope is None or unit_id in scope


def visible_user(user_id: Any, who: Actor) -> User:
    user = runtime().duban.user(uuid_or(user_id, UnknownUser))
    if not _may_see(who, str(user.county_id), str(user.unit_id), str(user.id)):
        raise UnknownUser()
    return user


@api.get("/users", summary="用户列表", tag=TAG, params=PAGE_PARAMS, response=s.page_of(s.USER))
@signed_in
def index() -> Any:
    rt = runtime()
    rt.fresh()
    who = actor()
    rows = [
        r for r in rt.query.users(str(who.county_id)) if _may_see(who, r["county_id"], r["unit_id"], r["user_id"])
    ]

    def render(r: dict[str, Any]) -> dict[str, Any]:
        roles = [x for x in r["roles"].split(",") if x and x != SYSTEM]
        return {**{k: r[k] for k in ("user_id", "county_id", "unit_id", "name", "login")}, "roles": roles,
                "unit_name": r.get("unit_name")}  # fmt: skip

    return respond(paginate(rows, lambda r: (r["user_id"],), render=render))


@api.get("/users/<user_id>", summary="用户详情", tag=TAG, params=USER_PATH, response=s.USER)
@signed_in
def show(user_id: str) -> Any:
    return respond(user_out(visible_user(user_id, actor())))


@api.post("/users", summary="登记用户", tag=TAG, request=s.REGISTER_USER, response=s.USER, status=201,
          params=(idempotency.PARAM,), idempotent=True)  # fmt: skip
@allow(COMMAND)
def register() -> Any:
    payload = read_body(api.current())
    who = actor()
    duban = runtime().duban
    unit = visible_unit(payload["unit_id"], who)
    new_id = idempotency.key_id(who, "users.register")

    def same(user: User) -> bool:
        return (
            user.unit_id == unit.id
            and idempotency.same_text(user.name, payload["name"])
            and idempotency.same_text(user.login, payload["login"])
            and sorted(user.roles) == sorted(set(payload["roles"]))
        )

    def create(user_id: UUID | None) -> Any:
        return duban.register_user(
            unit_id=unit.id, name=payload["name"], login=payload["login"], roles=list(payload["roles"]),
            actor=who, user_id=user_id,
        )  # fmt: skip

    return idempotency.created_or_replayed(
        new_id, duban.user, same, create, lambda user_id: user_out(duban.user(user_id))
    )


def _role_change(user_id: str, grant: bool) -> Any:
    who = actor()
    user = visible_user(user_id, who)
    payload = read_body(api.current())
    duban = runtime().duban
    change = duban.grant_role if grant else duban.revoke_role
    result = change(user.id, payload["role"], who)
    settle(result.position)
    return respond(user_out(duban.user(user.id)))


@api.post("/users/<user_id>/grant-role", summary="授予角色", tag=TAG, request=s.ROLE, response=s.USER,
          params=USER_PATH)  # fmt: skip
@allow(COMMAND)
def grant_role(user_id: str) -> Any:
    return _role_change(user_id, True)


@api.post("/users/<user_id>/revoke-role", summary="收回角色", tag=TAG, request=s.ROLE, response=s.USER,
          params=USER_PATH)  # fmt: skip
@allow(COMMAND)
def revoke_role(user_id: str) -> Any:
    return _role_change(user_id, False)


@api.post("/users/<user_id>/email", summary="设置用户的电子邮箱（接收通知）", tag=TAG,
          request=s.body({"email": s.text(200)}, ("email",)), response=s.USER, params=USER_PATH)  # fmt: skip
@signed_in
def set_email(user_id: str) -> Any:
    who = actor()
    user = visible_user(user_id, who)
    payload = read_body(api.current())
    result = runtime().duban.set_email(user.id, payload["email"], who)  # the user themself, or the command office
    settle(result.position)
    return respond(user_out(runtime().duban.user(user.id)))
