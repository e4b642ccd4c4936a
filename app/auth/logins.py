"""From a login typed at the sign-in form to the user who holds it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import DomainError
from domain.org import normalise_login


def user_id_for_login(runtime: Any, login: str) -> UUID | None:
    """The user holding ``login`` (any case), or None.

    Logins are claimed in the event store when a user is registered. Users
    registered before claims existed are found in the ledger's users view (after it
    has caught up), and only if exactly one user there has that login."""
    login = normalise_login(login)
    if not login:
        return None
    duban = runtime.duban
    found = duban.user_id_for_login(login)
    if found is not None:
        return found
    runtime.catch_up()
    matches = [u["user_id"] for u in runtime.query.users() if normalise_login(u["login"] or "") == login]
    if len(matches) != 1:
        return None
    try:
        user = duban.user(UUID(str(matches[0])))
    except DomainError:  # a stale view row: no such user
        return None
    return user.id if normalise_login(user.login) == login else None
