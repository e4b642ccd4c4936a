"""Passwords and sign-in attempts are user events: a hash (never a password), and the
lock-out derived from the failures since the last success."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import NotPermitted, WrongCounty
from domain.events import COMMAND, SYSTEM_ACTOR, UNIT
from domain.org import (
    AccountLocked,
    LOCK_DURATION,
    LoginClaim,
    NotAPasswordHash,
    RoleNotHeld,
    User,
    login_claim_id,
)
from tests.domain.helpers import T0, assert_event, at, emitted, refused

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"


@pytest.fixture
def user(world):
    user = User.register(unit=world.village, name="李队长", login="Li", roles=[UNIT], actor=SYSTEM_ACTOR, now=T0)
    emitted(user)
    return user


def test_the_user_sets_their_own_password_and_the_version_counts(world, user):
    me = user.acting_as(UNIT)
    assert user.credential_version == 0 and user.password_hash == ""
    user.set_password(HASH, me, at(hours=1))
    [event] = emitted(user)
    assert_event(event, User.PasswordSet, actor=me, now=at(hours=1), aggregate=user, password_hash=HASH)
    assert user.credential_version == 1 and user.password_hash == HASH
    user.set_password(HASH, world.command, at(hours=2))  # a reset by the command office
    assert emitted(user)[0].actor_role == COMMAND
    assert user.credential_version == 2


def test_only_a_hash_is_accepted_and_only_from_the_user_or_the_county_office(world, user):
    refused(user, NotAPasswordHash, user.set_password, "secret-password", user.acting_as(UNIT), at())
    refused(user, NotPermitted, user.set_password, HASH, world.inspector, at())
    refused(user, NotPermitted, user.set_password, HASH, world.town_unit, at())
    refused(user, WrongCounty, user.set_password, HASH, world.foreign_command, at())


def fail(user, times, start, step=timedelta(seconds=10)):
    for n in range(times):
        user.record_sign_in(False, SYSTEM_ACTOR, start + n * step)
    return start + (times - 1) * step


def test_five_failures_within_fifteen_minutes_lock_for_fifteen_minutes(user):
    last = fail(user, 4, at())
    assert user.locked_until(last) is None
    last = fail(user, 1, last + timedelta(minutes=1))
    assert [type(e) for e in emitted(user)] == [User.SignInFailed] * 5
    until = last + LOCK_DURATION
    assert user.locked_until(last) == until
    error = refused(user, AccountLocked, user.record_sign_in, False, SYSTEM_ACTOR, last + timedelta(minutes=5))
    assert "账号已暂时锁定" in error.message and "北京时间" in error.message
    # a right password is refused too while locked, and nothing is recorded
    refused(user, AccountLocked, user.record_sign_in, True, user.acting_as(UNIT), until - timedelta(seconds=1))
    assert user.locked_until(until) is None
    user.record_sign_in(True, user.acting_as(UNIT), until, UNIT)
    [signed_in] = emitted(user)
    assert isinstance(signed_in, User.SignedIn) and signed_in.role == UNIT
    assert user.failed_sign_ins == () and user.last_signed_in == until


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(user):
    last = fail(user, 5, at(), step=timedelta(minutes=4))
    assert user.locked_until(last) is None


def test_a_success_starts_the_count_again(user):
    last = fail(user, 4, at())
    user.record_sign_in(True, user.acting_as(UNIT), last + timedelta(seconds=1))
    last = fail(user, 4, last + timedelta(seconds=2))
    assert user.locked_until(last) is None


def test_attempts_are_recorded_by_the_system_or_the_user_only(world, user):
    refused(user, NotPermitted, user.record_sign_in, False, world.command, at())
    refused(user, RoleNotHeld, user.record_sign_in, True, user.acting_as(UNIT), at(), COMMAND)


def test_a_login_claim_has_a_fixed_id_whatever_the_case(user):
    claim = LoginClaim.claim(user, SYSTEM_ACTOR, T0)
    assert claim.id == login_claim_id(" li ") == login_claim_id("LI")
    assert claim.user_id == user.id and claim.login == "li"
