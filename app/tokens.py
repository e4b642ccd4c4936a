"""API keys (接口密钥): another county system acts as one user, in one role.

A key reads ``dbn.<user id>.<token id>.<secret>``. The user's history keeps only
the sha256 of the secret, so the store never holds a usable key; the user id in
the key lets a request load just that user's history to check it. A revoked key,
or a key whose role has since been revoked, stops working at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID, uuid4

from domain.errors import DomainError
from domain.events import Actor
from domain.service import Duban

PREFIX = "dbn"


@dataclass(frozen=True)
class IssuedToken:
    token_id: str
    #: Shown once; never stored.
    plaintext: str


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(duban: Duban, user_id: UUID, role: str, label: str, actor: Actor) -> IssuedToken:
    token_id = uuid4().hex
    secret = secrets.token_urlsafe(32)
    duban.issue_api_token(user_id, token_id, role, label, digest_of(secret), actor)
    return IssuedToken(token_id, f"{PREFIX}.{user_id.hex}.{token_id}.{secret}")


def actor_for_token(duban: Duban, plaintext: str) -> Actor | None:
    """The actor a key stands for, or None for anything that is not a live key."""
    parts = plaintext.strip().split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    _, user_hex, token_id, secret = parts
    try:
        user = duban.user(UUID(hex=user_hex))
    except (ValueError, DomainError):
        return None
    token = user.api_tokens.get(token_id)
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.digest, digest_of(secret)):
        return None
    try:
        return user.acting_as(token.role)
    except DomainError:  # the role was revoked after the key was issued
        return None


def actor_for_authorization(duban: Duban, header: str | None) -> Actor | None:
    """From an ``Authorization: Bearer <key>`` header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return actor_for_token(duban, value)
