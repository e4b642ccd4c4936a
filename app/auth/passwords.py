"""Passwords: argon2id hashes (argon2-cffi); the domain only ever sees the hash."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.errors import InvalidInput

MIN_LENGTH = 8
#: Longer input is refused before hashing: no one types this much, and hashing it costs.
MAX_LENGTH = 256

_hasher = PasswordHasher()


class PasswordTooShort(InvalidInput):
    message = f"密码至少需要{MIN_LENGTH}个字符"


class PasswordTooLong(InvalidInput):
    message = f"密码不能超过{MAX_LENGTH}个字符"


def check_new_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise PasswordTooShort()
    if len(password) > MAX_LENGTH:
        raise PasswordTooLong()


def hash_password(password: str) -> str:
    check_new_password(password)
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("no one has this password")


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches. Without a hash (unknown login, no password set)
    a dummy hash is checked so the answer takes as long as a real check."""
    if len(password) > MAX_LENGTH:
        password = password[:MAX_LENGTH] + "\0"  # still a full-cost check, never a match
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
