"""One registry of the API's operations: each route declares its summary (in
Chinese), its request and response schemas and its query parameters here, the
roles come from its ``@allow`` rule, and both the routing and the OpenAPI
document are built from the same entries, so they cannot drift apart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, request
from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.exceptions import RequestEntityTooLarge

from app.access import rule_of
from domain.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])

ID_PARAMETERS = ("finding_id", "unit_id", "user_id", "circular_id", "case_id", "message_id", "token_id")


class MalformedJson(DomainError):
    status = 400
    message = "请求体不是有效的 JSON"


class NotAnObject(DomainError):
    status = 400
    message = "请求体必须是一个 JSON 对象"


class NotJson(DomainError):
    status = 415
    message = "请求体必须是 JSON（Content-Type: application/json）"


class InvalidBody(DomainError):
    status = 422
    message = "请求内容不符合接口要求"


class BadQuery(DomainError):
    status = 400
    message = "查询参数无效"


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str
    where: str = "query"
    required: bool = False


@dataclass
class Operation:
    method: str
    rule: str
    endpoint: str
    summary: str
    tag: str
    roles: tuple[str, ...] | None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    status: int = 200
    params: tuple[Param, ...] = ()
    #: Creating requests take an Idempotency-Key.
    idempotent: bool = False
    content_type: str = "application/json"
    #: The request body's media type (multipart for uploads; those views read the body themselves).
    request_media: str = "application/json"
    validator: Any = field(default=None, repr=False)
    prefix: str = ""

    @property
    def path(self) -> str:
        """The OpenAPI path of the Flask rule: ``<finding_id>`` → ``{finding_id}``."""
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.prefix + self.rule)


class Registry:
    def __init__(self, blueprint: Blueprint):
        self.blueprint = blueprint
        self.operations: list[Operation] = []
        self.by_endpoint: dict[str, Operation] = {}

    def route(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        tag: str,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        status: int = 200,
        params: tuple[Param, ...] = (),
        idempotent: bool = False,
        endpoint: str | None = None,
        content_type: str = "application/json",
        request_media: str = "application/json",
    ) -> Callable[[F], F]:
        def decorate(view: F) -> F:
            access = rule_of(view)
            if access is None:
                raise TypeError(f"API view {view.__name__} declares no access rule (@allow/@signed_in/@public)")
            name = endpoint or f"{view.__module__.rsplit('.', 1)[-1]}_{view.__name__}"
            roles = None if access.roles is None else tuple(sorted(access.roles))
            operation = Operation(
                method=method.upper(), rule=rule, endpoint=name, summary=summary, tag=tag, roles=roles,
                request=request, response=response, status=status, params=params, idempotent=idempotent,
                content_type=content_type, prefix=self.blueprint.url_prefix or "", request_media=request_media,
                validator=Draft202012Validator(request, format_checker=FormatChecker()) if request else None,
            )  # fmt: skip
            self.operations.append(operation)
            self.by_endpoint[f"{self.blueprint.name}.{name}"] = operation
            self.blueprint.add_url_rule(rule, endpoint=name, view_func=view, methods=[method.upper()])
            return view

        return decorate

    def get(self, rule: str, **spec: Any) -> Callable[[F], F]:
        return self.route("GET", rule, **spec)

    def post(self, rule: str, **spec: Any) -> Callable[[F], F]:
        return self.route("POST", rule, **spec)

    def current(self) -> Operation:
        return self.by_endpoint[str(request.endpoint)]


# Request bodies
_TYPE_NAMES = {
    "string": "字符串", "integer": "整数", "number": "数字", "boolean": "布尔值", "array": "数组",
    "object": "对象", "null": "空值",
}  # fmt: skip


def _chinese(error: Any) -> str:
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    field_name = f"字段“{where}”" if where else "请求体"
    kind = error.validator
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return f"缺少必填字段“{missing[0] if missing else ''}”"
    if kind == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message)
        return f"{field_name}包含不允许的字段：{'、'.join(extra)}"
    if kind == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{field_name}的类型应为{'或'.join(_TYPE_NAMES.get(t, t) for t in expected)}"
    if kind == "enum":
        return f"{field_name}的取值不在允许范围内：{'、'.join(str(v) for v in error.validator_value)}"
    if kind == "format":
        return f"{field_name}的格式不正确（应为 {error.validator_value}）"
    if kind in ("minLength", "maxLength"):
        return f"{field_name}的长度应{'不少于' if kind == 'minLength' else '不超过'}{error.validator_value}个字符"
    if kind in ("minItems", "maxItems"):
        return f"{field_name}的项数应{'不少于' if kind == 'minItems' else '不超过'}{error.validator_value}项"
    if kind in ("minimum", "maximum"):
        return f"{field_name}应{'不小于' if kind == 'minimum' else '不大于'}{error.validator_value}"
    if kind == "uniqueItems":
        return f"{field_name}中有重复的项"
    if kind == "pattern":
        return f"{field_name}的格式不正确"
    return f"{field_name}不符合要求"


def _check_text(value: Any, where: str = "") -> None:
    """No NUL and no lone surrogates: neither can be stored as text on every backend."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidBody(f"字段“{where}”不能包含空字符")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise InvalidBody(f"字段“{where}”包含无效的字符") from error
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, f"{where}.{key}".lstrip("."))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{where}[{index}]")


def read_body(operation: Operation) -> dict[str, Any]:
    """The request's JSON object, checked against the operation's published schema."""
    if operation.request is None:
        return {}
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise
    if not raw.strip() and not operation.request.get("required"):
        return {}  # a command that needs no fields may come without a body
    if not request.is_json:
        raise NotJson()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MalformedJson() from error
    if not isinstance(data, dict):
        raise NotAnObject()
    _check_text(data)
    errors = sorted(operation.validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.validator))
    if errors:
        raise InvalidBody(_chinese(errors[0]))
    return data
