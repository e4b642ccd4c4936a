"""A person's API keys (接口密钥): the list, issuing one for a role they hold
(its plaintext shown once, on the page that answers the form), and revoking.

Only the key's digest is stored (app/tokens.py), so a lost plaintext cannot be
shown again: the user revokes the key and issues a new one.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.access import anyone_signed_in
from app.identity import current_actor, runtime
from app.labels import local_time
from app.tokens import IssuedToken, issue_token
from domain.errors import DomainError
from domain.events import ROLES, SYSTEM, Actor
from domain.org import UnknownToken

bp = Blueprint("api_keys", __name__)


def _actor() -> Actor:
    actor = current_actor()
    assert actor is not None
    return actor


def _render(
    actor: Actor,
    *,
    issued: IssuedToken | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    user = runtime().duban.user(UUID(actor.user_id))
    keys = sorted(user.api_tokens.values(), key=lambda t: (t.revoked_at is not None, t.issued_at), reverse=False)
    rows = [
        {
            "token_id": t.token_id,
            "label": t.label,
            "role": ROLES.get(t.role, t.role),
            "issued": local_time(t.issued_at),
            "revoked": local_time(t.revoked_at) if t.revoked_at else None,
        }
        for t in keys
    ]
    roles = [(r, ROLES[r]) for r in user.roles if r != SYSTEM and r in ROLES]
    return (
        render_template(
            "pages/api_keys.html",
            keys=rows,
            roles=roles,
            issued=issued,
            values=values or {"role": actor.role},
            errors=errors or {},
        ),
        status,
    )


@bp.get("/account/tokens")
@anyone_signed_in
def index() -> Any:
    return _render(_actor())


@bp.post("/account/tokens")
@anyone_signed_in
def issue() -> Any:
    actor = _actor()
    values = {"label": (request.form.get("label") or "").strip(), "role": request.form.get("role", "")}
    errors: dict[str, str] = {}
    if values["role"] not in ROLES or values["role"] == SYSTEM:
        errors["role"] = "请选择密钥代表的角色"
    if not values["label"]:
        errors["label"] = "请填写密钥用途，例如“市级平台对接”"
    if errors:
        return _render(actor, values=values, errors=errors, status=422)
    try:
        issued = issue_token(runtime().duban, UUID(actor.user_id), values["role"], values["label"], actor)
    except DomainError as error:
        field = "label" if "用途" in error.message else "role"
        return _render(actor, values=values, errors={field: error.message}, status=error.status)
    # The plaintext is on this answer only: never in a redirect, a flash or the store.
    return _render(actor, issued=issued, values={"role": values["role"]}, status=201)


@bp.post("/account/tokens/<token_id>/revoke")
@anyone_signed_in
def revoke(token_id: str) -> Any:
    actor = _actor()
    user = runtime().duban.user(UUID(actor.user_id))
    if token_id not in user.api_tokens:
        raise UnknownToken()  # another person's key id is simply not found here
    runtime().duban.revoke_api_token(UUID(actor.user_id), token_id, actor)
    flash("已吊销该接口密钥，使用它的系统将无法再调用接口", "success")
    return redirect(url_for("api_keys.index"), 303)
