"""API keys: issued by the user for a role they hold, checked against a stored
digest only, and dead as soon as they or their role are revoked."""

from __future__ import annotations

import hashlib

import pytest

from app.tokens import actor_for_authorization, actor_for_token, issue_token
from domain.errors import DomainError
from domain.org import TokenAlreadyRevoked, TooManyTokens, UnknownToken


def _issue(county, user, role="inspector", label="市级平台对接"):
    return issue_token(county.duban, user, role, label, county.actor(user, role))


def test_a_key_acts_as_its_user_in_its_role(county):
    issued = _issue(county, county.command, role="command")
    actor = actor_for_authorization(county.duban, f"Bearer {issued.plaintext}")
    assert actor is not None
    assert (actor.user_id, actor.role) == (str(county.command), "command")


def test_the_store_keeps_only_a_digest_of_the_secret(county):
    issued = _issue(county, county.inspector)
    secret = issued.plaintext.rsplit(".", 1)[1]
    recorder = county.duban.recorder
    stored = recorder.select_notifications(start=None, limit=1_000_000)
    assert all(secret.encode() not in n.state for n in stored)
    events = [county.duban.mapper.to_domain_event(n) for n in stored]
    (issued_event,) = [e for e in events if type(e).__name__ == "ApiTokenIssued"]
    assert issued_event.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(issued_event)


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic abc", "Bearer dbn.x.y.z", "Bearer dbn.0.0.0.0", "Bearer nonsense"],
)
def test_anything_but_a_live_key_is_nobody(county, header):
    _issue(county, county.inspector)
    assert actor_for_authorization(county.duban, header) is None


def test_a_wrong_secret_or_another_users_id_is_nobody(county):
    issued = _issue(county, county.inspector)
    prefix, user_hex, token_id, secret = issued.plaintext.split(".")
    assert actor_for_token(county.duban, f"{prefix}.{user_hex}.{token_id}.{secret}x") is None
    assert actor_for_token(county.duban, f"{prefix}.{county.unit_a1.hex}.{token_id}.{secret}") is None


def test_a_revoked_key_stops_working(county):
    issued = _issue(county, county.inspector)
    county.duban.revoke_api_token(county.inspector, issued.token_id, county.actor(county.inspector, "inspector"))
    assert actor_for_token(county.duban, issued.plaintext) is None
    with pytest.raises(TokenAlreadyRevoked):
        county.duban.revoke_api_token(county.inspector, issued.token_id, county.actor(county.command, "command"))


def test_a_key_dies_with_its_role(county):
    issued = _issue(county, county.command, role="inspector")
    county.duban.revoke_role(county.command, "inspector", county.actor(county.command, "command"))
    assert actor_for_token(county.duban, issued.plaintext) is None


def test_only_the_user_issues_and_only_they_or_the_command_office_revoke(county):
    before = county.duban.position()
    with pytest.raises(DomainError, match="只能为本人申请接口密钥"):
        issue_token(county.duban, county.unit_a1, "unit", "x", county.actor(county.command, "command"))
    with pytest.raises(DomainError, match="没有“指挥部办公室”角色"):
        _issue(county, county.inspector, role="command")
    with pytest.raises(DomainError, match="密钥用途"):
        _issue(county, county.inspector, label="  ")
    assert county.duban.position() == before

    issued = _issue(county, county.unit_a1, role="unit")
    with pytest.raises(DomainError):
        county.duban.revoke_api_token(county.unit_a1, issued.token_id, county.actor(county.unit_b, "unit"))
    with pytest.raises(UnknownToken):
        county.duban.revoke_api_token(county.unit_a1, "no-such-token", county.actor(county.unit_a1, "unit"))
    county.duban.revoke_api_token(county.unit_a1, issued.token_id, county.actor(county.command, "command"))
    assert actor_for_token(county.duban, issued.plaintext) is None


def test_active_keys_are_limited(county):
    for number in range(20):
        _issue(county, county.inspector, label=f"key {number}")
    with pytest.raises(TooManyTokens):
        _issue(county, county.inspector, label="one more")
