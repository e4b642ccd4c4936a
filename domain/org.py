"""The organisation: units (县/战区/街镇/村/部门) and the users who belong to them.

The org chart is history too: units are registered, renamed, moved and retired
by events, and a user's roles are granted and revoked by events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import DomainError, InvalidInput, MissingField, NotPermitted
from domain.events import (
    ALLOWED_PARENT_KINDS,
    CHINA,
    COMMAND,
    REGION,
    ROLES,
    SYSTEM,
    UNIT_KINDS,
    Actor,
    DubanEvent,
)
from domain.region import Region


class UnknownUnitKind(InvalidInput):
    message = "未知的单位类型"


class ParentKindNotAllowed(InvalidInput):
    def __init__(self, kind: str, parent_kind: str | None) -> None:
        parent = UNIT_KINDS.get(parent_kind or "", "无")
        super().__init__(f"{UNIT_KINDS[kind]}不能设在{parent}之下")


class UnitAlreadyRetired(DomainError):
    message = "该单位已撤销"


class InvalidWebhook(InvalidInput):
    message = "机器人地址必须以 http:// 或 https:// 开头，签名密钥至少16位"


class InvalidEmail(InvalidInput):
    message = "电子邮箱格式不正确"


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UnknownRole(InvalidInput):
    message = "未知的角色"


class RoleAlreadyHeld(DomainError):
    message = "该用户已有此角色"


class RoleNotHeld(DomainError):
    message = "该用户没有此角色"


def _require_admin(actor: Actor) -> None:
    actor.require_role(COMMAND, SYSTEM)


class Unit(Aggregate):
    class Event(DubanEvent):
        pass

    class Registered(Event, Aggregate.Created):
        county_id: UUID
        name: str
        kind: str
        parent_id: UUID | None
        code: str

    class Renamed(Event):
        name: str

        def apply(self, unit: Unit) -> None:
            unit.name = self.name

    class Moved(Event):
        parent_id: UUID

        def apply(self, unit: Unit) -> None:
            unit.parent_id = self.parent_id

    class Retired(Event):
        reason: str

        def apply(self, unit: Unit) -> None:
            unit.retired = True

    class WebhookConfigured(Event):
        """The unit's chat-group robot (工作群机器人); an empty url removes it."""

        url: str
        secret: str

        def apply(self, unit: Unit) -> None:
            unit.webhook_url = self.url
            unit.webhook_secret = self.secret

    def __init__(self, county_id: UUID, name: str, kind: str, parent_id: UUID | None, code: str):
        self.county_id = county_id
        self.name = name
        self.kind = kind
        self.parent_id = parent_id
        self.code = code
        self.retired = False
        self.webhook_url = ""
        self.webhook_secret = ""

    @classmethod
    def register(
        cls,
        *,
        name: str,
        kind: str,
        parent: Unit | None,
        actor: Actor,
        now: datetime,
        code: str = "",
        unit_id: UUID | None = None,
    ) -> Unit:
        """Register a unit under ``parent``; a county is registered with no parent
        and its own id becomes the county id every record below it carries."""
        _require_admin(actor)
        name = name.strip()
        if not name:
            raise MissingField("单位名称")
        if kind not in UNIT_KINDS:
            raise UnknownUnitKind()
        parent_kind = parent.kind if parent else None
        allowed = ALLOWED_PARENT_KINDS[kind]
        if (parent_kind not in allowed) if allowed else parent is not None:
            raise ParentKindNotAllowed(kind, parent_kind)
        if parent is not None:
            if parent.retired:
                raise UnitAlreadyRetired("上级单位已撤销，不能在其下登记新单位")
            actor.require_county(parent.county_id)
        elif actor.role != SYSTEM:
            # A new county is a new tenant: no county's office may create one.
            raise NotPermitted("新的县只能由系统登记")
        unit_id = unit_id or uuid4()
        county_id = parent.county_id if parent else unit_id
        return cls._create(
            cls.Registered,
            id=unit_id,
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=county_id,
            name=name,
            kind=kind,
            parent_id=parent.id if parent else None,
            code=code.strip(),
        )

    def rename(self, name: str, actor: Actor, now: datetime) -> None:
        _require_admin(actor)
        actor.require_county(self.county_id)
        name = name.strip()
        if not name:
            raise MissingField("单位名称")
        if self.retired:
            raise UnitAlreadyRetired()
        self.trigger_event(self.Renamed, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, name=name)

    def move(self, new_parent: Unit, actor: Actor, now: datetime) -> None:
        _require_admin(actor)
        actor.require_county(self.county_id)
        if self.retired or new_parent.retired:
            raise UnitAlreadyRetired()
        if new_parent.county_id != self.county_id:
            raise InvalidInput("单位不能移到其他县")
        if new_parent.kind not in ALLOWED_PARENT_KINDS[self.kind]:
            raise ParentKindNotAllowed(self.kind, new_parent.kind)
        if new_parent.id == self.parent_id:
            raise InvalidInput("该单位已在所选上级单位之下")
        self.trigger_event(
            self.Moved, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, parent_id=new_parent.id
        )

    def retire(self, reason: str, actor: Actor, now: datetime) -> None:
        _require_admin(actor)
        actor.require_county(self.county_id)
        if self.retired:
            raise UnitAlreadyRetired()
        if not reason.strip():
            raise MissingField("撤销原因")
        self.trigger_event(
            self.Retired, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, reason=reason.strip()
        )

    def configure_webhook(self, url: str, secret: str, actor: Actor, now: datetime) -> None:
        _require_admin(actor)
        actor.require_county(self.county_id)
        url, secret = url.strip(), secret.strip()
        if url and (not url.startswith(("http://", "https://")) or len(secret) < 16):
            raise InvalidWebhook()
        self.trigger_event(
            self.WebhookConfigured, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, url=url,
            secret=secret if url else "",
        )  # fmt: skip


#: A sha256 digest, hex.
TOKEN_DIGEST = re.compile(r"^[0-9a-f]{64}$")
MAX_ACTIVE_TOKENS = 20


@dataclass(frozen=True)
class ApiToken:
    token_id: str
    role: str
    label: str
    digest: str
    issued_at: datetime
    revoked_at: datetime | None = None


class UnknownToken(DomainError):
    status = 404
    message = "找不到该接口密钥"


class TokenAlreadyRevoked(DomainError):
    status = 409
    message = "该接口密钥已被吊销"


class TooManyTokens(DomainError):
    status = 409
    message = f"有效的接口密钥不能超过{MAX_ACTIVE_TOKENS}个，请先吊销不用的密钥"


#: Lock-out: this many failed sign-ins within the window (and no success since)
#: lock the account for LOCK_DURATION from the last failure.
LOCK_AFTER_FAILURES = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)


class AccountLocked(DomainError):
    status = 429

    def __init__(self, until: datetime) -> None:
        self.until = until
        local = until.astimezone(CHINA)
        super().__init__(f"登录失败次数过多，账号已暂时锁定，请于{local:%m月%d日 %H:%M}（北京时间）后再试")


class NotAPasswordHash(InvalidInput):
    message = "密码必须以 argon2 散列保存"


class RegionRoleNotGrantable(InvalidInput):
    message = "上级指挥部角色只能在登记地区用户时给予，地区用户也不能兼任县内角色"


class LoginTaken(DomainError):
    status = 409
    message = "该登录名已被使用"


class User(Aggregate):
    class Event(DubanEvent):
        pass

    class Registered(Event, Aggregate.Created):
        county_id: UUID
        unit_id: UUID
        name: str
        login: str
        roles: list[str]

    class RoleGranted(Event):
        role: str

        def apply(self, user: User) -> None:
            user.roles = tuple(sorted({*user.roles, self.role}))

    class RoleRevoked(Event):
        role: str

        def apply(self, user: User) -> None:
            user.roles = tuple(r for r in user.roles if r != self.role)

    class EmailSet(Event):
        """Where email notices go; an empty address stops them."""

        email: str

        def apply(self, user: User) -> None:
            user.email = self.email

    class ApiTokenIssued(Event):
        """A key for another county system to act as this user in one role.

        Only a digest of the secret is kept: the secret is shown once, when issued."""

        token_id: str
        role: str
        label: str
        digest: str

        def apply(self, user: User) -> None:
            user.api_tokens = {
                **user.api_tokens,
                self.token_id: ApiToken(self.token_id, self.role, self.label, self.digest, self.timestamp),
            }

    class ApiTokenRevoked(Event):
        token_id: str

        def apply(self, user: User) -> None:
            token = user.api_tokens[self.token_id]
            user.api_tokens = {**user.api_tokens, self.token_id: replace(token, revoked_at=self.timestamp)}

    class PasswordSet(Event):
        """A new password, as its argon2 hash (computed outside the domain), set by
        the user or reset by the command office; every older session ends."""

        password_hash: str

        def apply(self, user: User) -> None:
            user.password_hash = self.password_hash
            user.credential_version += 1

    class SignInFailed(Event):
        """A wrong password for this login: the lock-out is counted from these."""

        def apply(self, user: User) -> None:
            user.failed_sign_ins = (*user.failed_sign_ins, self.timestamp)[-LOCK_AFTER_FAILURES:]

    class SignedIn(Event):
        role: str = ""

        def apply(self, user: User) -> None:
            user.failed_sign_ins = ()
            user.last_signed_in = self.timestamp

    def __init__(self, county_id: UUID, unit_id: UUID, name: str, login: str, roles: list[str]):
        self.county_id = county_id
        self.unit_id = unit_id
        self.name = name
        self.login = login
        self.roles = tuple(sorted(set(roles)))
        #: Registered for a region (User.register_in_region): never a county's person.
        self.registered_in_region = REGION in self.roles
        self.email = ""
        self.api_tokens: dict[str, ApiToken] = {}
        self.password_hash = ""
        #: How many times a password was set: a session remembers the one it signed in with.
        self.credential_version = 0
        #: Failed sign-ins since the last success (the latest LOCK_AFTER_FAILURES).
        self.failed_sign_ins: tuple[datetime, ...] = ()
        self.last_signed_in: datetime | None = None

    @classmethod
    def register(
        cls,
        *,
        unit: Unit,
        name: str,
        login: str,
        roles: list[str],
        actor: Actor,
        now: datetime,
        user_id: UUID | None = None,
    ) -> User:
        _require_admin(actor)
        actor.require_county(unit.county_id)
        name, login = name.strip(), login.strip()
        if not name:
            raise MissingField("姓名")
        if not login:
            raise MissingField("登录名")
        if unit.retired:
            raise UnitAlreadyRetired("所在单位已撤销，不能登记用户")
        for role in roles:
            _check_role(role)
        if REGION in roles:
            raise RegionRoleNotGrantable()
        return cls._create(
            cls.Registered,
            id=user_id or uuid4(),
            timestamp=now,
            actor_id=actor.user_id,
            actor_role=actor.role,
            county_id=unit.county_id,
            unit_id=unit.id,
            name=name,
            login=login,
            roles=sorted(set(roles)),
        )

    @classmethod
    def register_in_region(
        cls, *, region: Region, name: str, login: str, actor: Actor, now: datetime, user_id: UUID | None = None
    ) -> User:
        """A person of a regional office (上级指挥部). The stored event is a user's
        ordinary registration whose county and unit are the region itself (no
        county's office can reach it) and whose one role is REGION."""
        actor.require_role(SYSTEM)
        name, login = name.strip(), login.strip()
        if not name:
            raise MissingField("姓名")
        if not login:
            raise MissingField("登录名")
        return cls._create(
            cls.Registered, id=user_id or uuid4(), timestamp=now, actor_id=actor.user_id, actor_role=actor.role,
            county_id=region.id, unit_id=region.id, name=name, login=login, roles=[REGION],
        )  # fmt: skip

    @property
    def in_region(self) -> bool:
        """A regional office's person: registered with the REGION role (which is
        never granted later), whatever roles they still hold."""
        return getattr(self, "registered_in_region", False)  # a snapshot from before regions lacks it

    def grant_role(self, role: str, actor: Actor, now: datetime) -> None:
        _require_admin(actor)
        actor.require_county(self.county_id)
        _check_role(role)
        if role == REGION or self.in_region:
            raise RegionRoleNotGrantable()
        if role in self.roles:
            raise RoleAlreadyHeld()
        self.trigger_event(self.RoleGranted, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, role=role)

    def revoke_role(self, role: str, actor: Actor, now: datetime) -> None:
        _require_admin(actor)
        actor.require_county(self.county_id)
        if role not in self.roles:
            raise RoleNotHeld()
        self.trigger_event(self.RoleRevoked, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, role=role)

    def set_email(self, email: str, actor: Actor, now: datetime) -> None:
        if actor.user_id != str(self.id):
            _require_admin(actor)
        actor.require_county(self.county_id)
        email = email.strip()
        if email and not EMAIL.match(email):
            raise InvalidEmail()
        self.trigger_event(self.EmailSet, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, email=email)

    def issue_api_token(
        self, token_id: str, role: str, label: str, digest: str, actor: Actor, now: datetime
    ) -> None:
        """A user issues keys for themself, in a role they hold."""
        if actor.user_id != str(self.id):
            raise NotPermitted("只能为本人申请接口密钥")
        if role not in self.roles:
            raise RoleNotHeld(f"该用户没有“{ROLES.get(role, role)}”角色")
        label = label.strip()
        if not label:
            raise MissingField("密钥用途")
        if len(label) > 100:
            raise InvalidInput("“密钥用途”不能超过100个字")
        if not TOKEN_DIGEST.match(digest) or token_id in self.api_tokens:
            raise InvalidInput("接口密钥无效")
        active = [t for t in self.api_tokens.values() if t.revoked_at is None]
        if len(active) >= MAX_ACTIVE_TOKENS:
            raise TooManyTokens()
        self.trigger_event(
            self.ApiTokenIssued, timestamp=now, actor_id=actor.user_id, actor_role=actor.role,
            token_id=token_id, role=role, label=label, digest=digest,
        )  # fmt: skip

    def revoke_api_token(self, token_id: str, actor: Actor, now: datetime) -> None:
        """The user themself, or the command office of the county, revokes a key."""
        if actor.user_id != str(self.id):
            _require_admin(actor)
            actor.require_county(self.county_id)
        token = self.api_tokens.get(token_id)
        if token is None:
            raise UnknownToken()
        if token.revoked_at is not None:
            raise TokenAlreadyRevoked()
        self.trigger_event(
            self.ApiTokenRevoked, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, token_id=token_id
        )

    def set_password(self, password_hash: str, actor: Actor, now: datetime) -> None:
        """The user themself, or the command office of the county (a reset)."""
        if actor.user_id != str(self.id):
            _require_admin(actor)
            actor.require_county(self.county_id)
        if not password_hash.startswith("$argon2"):
            raise NotAPasswordHash()  # never a password in the history
        self.trigger_event(
            self.PasswordSet, timestamp=now, actor_id=actor.user_id, actor_role=actor.role,
            password_hash=password_hash,
        )  # fmt: skip

    def locked_until(self, now: datetime) -> datetime | None:
        """When the lock-out ends, if the account is locked at ``now``."""
        recent = self.failed_sign_ins[-LOCK_AFTER_FAILURES:]
        if len(recent) < LOCK_AFTER_FAILURES or recent[-1] - recent[0] > LOCK_WINDOW:
            return None
        until = recent[-1] + LOCK_DURATION
        return until if now < until else None

    def record_sign_in(self, succeeded: bool, actor: Actor, now: datetime, role: str = "") -> None:
        """A sign-in attempt, judged outside the domain (the password check).
        While locked nothing is recorded, so attempts cannot flood the history."""
        if actor.user_id != str(self.id):
            actor.require_role(SYSTEM)
        until = self.locked_until(now)
        if until is not None:
            raise AccountLocked(until)
        if succeeded:
            if role and role not in self.roles:
                raise RoleNotHeld(f"该用户没有“{ROLES.get(role, role)}”角色")
            self.trigger_event(self.SignedIn, timestamp=now, actor_id=actor.user_id, actor_role=actor.role, role=role)
        else:
            self.trigger_event(self.SignInFailed, timestamp=now, actor_id=actor.user_id, actor_role=actor.role)

    def acting_as(self, role: str) -> Actor:
        """This user, acting in one of the roles they hold."""
        if role not in self.roles:
            raise RoleNotHeld(f"该用户没有“{ROLES.get(role, role)}”角色")
        if self.in_region:
            # No county: every county's command refuses them (Actor.require_county).
            return Actor(
                user_id=str(self.id), role=role, name=self.name, roles=frozenset(self.roles), region_id=self.county_id
            )
        return Actor(
            user_id=str(self.id),
            role=role,
            county_id=self.county_id,
            unit_id=self.unit_id,
            name=self.name,
            roles=frozenset(self.roles),
        )


def _check_role(role: str) -> None:
    if role not in ROLES or role == SYSTEM:
        raise UnknownRole(f"未知的角色：{role}")


LOGIN_NAMESPACE = uuid5(NAMESPACE_URL, "https://duban.invalid/login")


def normalise_login(login: str) -> str:
    return login.strip().casefold()


def login_claim_id(login: str) -> UUID:
    """The fixed id of a login's claim: two users can never record the same one."""
    return uuid5(LOGIN_NAMESPACE, normalise_login(login))


class LoginClaim(Aggregate):
    """A login taken by a user, written with the user's registration: logins are
    unique (whatever the case) and resolve to their user without a view."""

    class Event(DubanEvent):
        pass

    class Claimed(Event, Aggregate.Created):
        login: str
        user_id: UUID

    def __init__(self, login: str, user_id: UUID):
        self.login = login
        self.user_id = user_id

    @classmethod
    def claim(cls, user: User, actor: Actor, now: datetime) -> LoginClaim:
        return cls._create(
            cls.Claimed, id=login_claim_id(user.login), timestamp=now, actor_id=actor.user_id,
            actor_role=actor.role, login=normalise_login(user.login), user_id=user.id,
        )  # fmt: skip
