"""An aggregate's events as the administration pages list them: when, who (in
which role), what, and the details in Chinese. Secrets (a robot's signing key)
are never shown."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.labels import actor_name, local_time
from domain.events import ROLES, SYSTEM, UNIT_KINDS
from domain.org import Unit, User

Details = Callable[[Any, Mapping[str, str]], list[tuple[str, str]]]


def _roles(codes: Any) -> str:
    return "、".join(ROLES.get(r, r) for r in codes) or "—"


#: Unit and user events: their Chinese name and what they say.
DESCRIPTIONS: dict[type, tuple[str, Details]] = {
    Unit.Registered: (
        "登记单位",
        lambda e, n: [("名称", e.name), ("类型", UNIT_KINDS.get(e.kind, e.kind))]
        + ([("上级单位", n.get(str(e.parent_id), "（未知）"))] if e.parent_id else [])
        + ([("单位代码", e.code)] if e.code else []),
    ),
    Unit.Renamed: ("单位更名", lambda e, n: [("新名称", e.name)]),
    Unit.Moved: ("调整上级单位", lambda e, n: [("新的上级单位", n.get(str(e.parent_id), "（未知）"))]),
    Unit.Retired: ("撤销单位", lambda e, n: [("撤销原因", e.reason)]),
    Unit.WebhookConfigured: (
        "配置工作群机器人",
        lambda e, n: [("机器人地址", e.url or "（已移除）")],
    ),
    User.Registered: (
        "登记用户",
        lambda e, n: [("姓名", e.name), ("登录名", e.login), ("所在单位", n.get(str(e.unit_id), "（未知）")), ("角色", _roles(e.roles))],
    ),
    User.RoleGranted: ("授予角色", lambda e, n: [("角色", ROLES.get(e.role, e.role))]),
    User.RoleRevoked: ("收回角色", lambda e, n: [("角色", ROLES.get(e.role, e.role))]),
    User.EmailSet: ("设置电子邮箱", lambda e, n: [("电子邮箱", e.email or "（已清除）")]),
    # The password's hash and a key's digest are secrets too: never shown.
    User.PasswordSet: ("设置密码", lambda e, n: []),
    User.SignInFailed: ("登录失败（密码错误）", lambda e, n: []),
    User.SignedIn: ("登录", lambda e, n: [("角色", ROLES.get(e.role, e.role))] if e.role else []),
    User.ApiTokenIssued: (
        "签发接口密钥",
        lambda e, n: [("密钥编号", e.token_id), ("角色", ROLES.get(e.role, e.role)), ("用途", e.label)],
    ),
    User.ApiTokenRevoked: ("吊销接口密钥", lambda e, n: [("密钥编号", e.token_id)]),
}


def who(actor_id: str, role: str, names: Mapping[str, str]) -> str:
    name = actor_name(actor_id, names)
    if role == SYSTEM or actor_id == SYSTEM:
        return name
    return f"{name}（{ROLES.get(role, role)}）"


def described(events: list[Any], names: Mapping[str, str], more: Mapping[type, tuple[str, Details]] | None = None) -> list[dict[str, Any]]:
    """Events oldest first, each as time, who, label and details."""
    known = {**DESCRIPTIONS, **(more or {})}
    listed = []
    for event in events:
        label, details = known.get(type(event), (type(event).__name__, lambda e, n: []))
        listed.append(
            {
                "time": local_time(event.timestamp),
                "who": who(event.actor_id, event.actor_role, names),
                "label": label,
                "details": details(event, names),
            }
        )
    return listed
