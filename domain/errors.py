"""The base of every domain error.

Each aggregate module declares its own errors beside it; they all derive from
DomainError so the web layer can turn any of them into a 4xx answer whose
message a clerk understands (the message is Simplified Chinese on purpose).
"""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused; nothing was recorded."""

    #: HTTP status the web layer answers with.
    status = 409
    #: The default Chinese message shown to users.
    message = "操作未能执行"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or type(self).message
        super().__init__(self.message)


class NotPermitted(DomainError):
    status = 403
    message = "您的角色无权执行此操作"


class NotYourUnit(DomainError):
    status = 403
    message = "该事项不属于您所在单位，无权操作"


class InvalidInput(DomainError):
    status = 422
    message = "提交的内容不完整或格式不正确"


class ReasonRequired(InvalidInput):
    message = "必须填写理由"


class MissingField(InvalidInput):
    def __init__(self, field_label: str) -> None:
        super().__init__(f"请填写“{field_label}”")


class UnknownUnit(DomainError):
    status = 404
    message = "找不到该单位"


class UnknownUser(DomainError):
    status = 404
    message = "找不到该用户"


class WrongCounty(DomainError):
    status = 403
    message = "不能跨县操作其他县的数据"


class ConcurrentChange(DomainError):
    """Someone else saved the same record first; the caller may retry."""

    status = 409
    message = "该事项刚被他人修改，请刷新后重试"
