"""Who may call each route (访问规则).

Every view declares its rule with ``@allow(...)`` or ``@public``. A view without
a rule is refused (deny by default), and ``tests/web/test_route_access.py`` walks
every route with every role, so a route added later without a rule fails there.

The rule says which roles may reach the view at all; which rows a role then sees
(its own unit and the units below it, the findings naming a cadre) is the view's
scoping, checked on the server through ``app.web.scope``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Flask, current_app, flash, redirect, request, url_for

from domain.errors import DomainError
from domain.events import CADRE, COMMAND, DISCIPLINE, INSPECTOR, REGION, ROLES, UNIT

F = TypeVar("F", bound=Callable[..., Any])

#: The roles a county's people sign in with.
COUNTY_PEOPLE = (INSPECTOR, UNIT, CADRE, COMMAND, DISCIPLINE)
#: The roles people sign in with (the system role is the software's own): a
#: county's, and the regional office's (上级指挥部), which reads across the
#: counties of its region on its own pages only.
PEOPLE = (*COUNTY_PEOPLE, REGION)
#: Roles that read the whole county.
COUNTY_READERS = (INSPECTOR, COMMAND, DISCIPLINE)
#: Roles that file findings and verify rectifications.
FILERS = (INSPECTOR, COMMAND)

RULE_ATTRIBUTE = "duban_access_rule"


@dataclass(frozen=True)
class Rule:
    #: None: anyone, signed in or not.
    roles: frozenset[str] | None

    @property
    def is_public(self) -> bool:
        return self.roles is None

    def admits(self, role: str | None) -> bool:
        return self.roles is None or (role is not None and role in self.roles)


class SignInRequired(DomainError):
    status = 401
    message = "请先登录"


class RoleNotAllowed(DomainError):
    status = 403
    message = "您当前的角色无权进行此操作"

    @classmethod
    def naming(cls, roles: tuple[str, ...]) -> RoleNotAllowed:
        return cls(f"此操作只能由{'、'.join(ROLES[r] for r in roles)}执行")


class NoAccessRule(DomainError):
    status = 403
    message = "该页面尚未配置访问规则，暂不开放"


def rule_of(view: Callable[..., Any]) -> Rule | None:
    return cast("Rule | None", getattr(view, RULE_ATTRIBUTE, None))


def public(view: F) -> F:
    """Open to anyone: the sign-in page, the public document check, health."""
    setattr(view, RULE_ATTRIBUTE, Rule(None))
    return view


def allow(*roles: str) -> Callable[[F], F]:
    """Only a signed-in person acting in one of these roles."""
    unknown = set(roles) - set(PEOPLE)
    if not roles or unknown:
        raise ValueError(f"allow() needs roles from {PEOPLE}, got {roles}")

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from app.identity import current_identity

            identity = current_identity()
            if identity is None:
                return _ask_to_sign_in()
            if identity.role not in roles:
                raise RoleNotAllowed.naming(roles)
            return view(*args, **kwargs)

        setattr(wrapped, RULE_ATTRIBUTE, Rule(frozenset(roles)))
        return cast(F, wrapped)

    return decorate


#: Any signed-in person of a county, whatever the role: the county's pages.
signed_in = allow(*COUNTY_PEOPLE)
#: Anyone signed in, a regional office's person too: their own account's pages.
anyone_signed_in = allow(*PEOPLE)


def _ask_to_sign_in() -> Any:
    if request.path.startswith("/api/"):
        raise SignInRequired()
    flash("请先登录", "error")
    target = None
    if request.method in ("GET", "HEAD"):  # a form post is not replayed after signing in
        query = request.query_string.decode()
        target = request.path + (f"?{query}" if query else "")
    return redirect(url_for(current_app.config["SIGN_IN_ENDPOINT"], next=target), 303)


def init_access(app: Flask) -> None:
    """Refuse any route whose view declares no rule."""
    app.config.setdefault("SIGN_IN_ENDPOINT", "auth.sign_in")

    @app.before_request
    def require_a_rule() -> None:
        if request.endpoint is None:  # no such route: the 404 handler answers
            return
        view = current_app.view_functions.get(request.endpoint)
        if view is not None and rule_of(view) is None:
            raise NoAccessRule()
