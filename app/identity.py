"""Who is acting: the signed-in person and the role they act in.

The sign-in pages (app/auth) put the user id, the role and the credential version
in the signed session; every request resolves them through the domain
(``duban.user``), so a changed password or a revoked role stops working at once.
An API request (under /api/) never reads the cookie session: the API resolves its
token and sets ``g.duban_identity`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from flask import current_app, g, has_request_context, request, session

from domain.errors import DomainError
from domain.events import REGION, ROLES, Actor


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


def _from_session() -> Identity | None:
    user_id, role = session.get("user_id"), session.get("role")
    if not user_id or not role:
        return None
    try:
        duban = runtime().duban
        user = duban.user(UUID(str(user_id)))
        if session.get("credential") != user.credential_version:
            raise ValueError("the password changed since this session signed in")
        actor = user.acting_as(str(role))
        identity = identity_of(actor)
    except (ValueError, DomainError):
        session.clear()  # the user, the role or the password changed: sign in again
        return None
    return identity


def identity_of(actor: Actor) -> Identity:
    """The actor with the name of what they belong to: their unit, or for a
    regional office's person their region (上级指挥部)."""
    duban = runtime().duban
    if actor.region_id is not None:
        region = duban.region(actor.region_id)
        return Identity(actor, f"{region.name}（{region.level_label}）", "region")
    unit = duban.unit(actor.unit_id)
    return Identity(actor, unit.name, unit.kind)


def home_for(role: str | None) -> str:
    """Where a person lands after signing in: the ledger, or the regional office's county ranking."""
    from flask import url_for

    return url_for("region.index") if role == REGION else url_for("ledger.index")


def current_identity() -> Identity | None:
    if "duban_identity" in g:
        return cast("Identity | None", g.duban_identity)
    api = not has_request_context() or request.path.startswith("/api/")
    identity = None if api else _from_session()
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
