"""The OpenAPI 3.1 document, built from the registry the routes are made from."""

from __future__ import annotations

from typing import Any

from app.access import public
from app.api import api
from app.api import schemas as s
from app.api.common import respond
from app.api.consistency import ANNOUNCED_BY, HEADER as POSITION, PARAMETER as POSITION_PARAMETER, RESPONSE_HEADER
from app.api.idempotency import HEADER
from domain.events import ROLES

ERRORS = {
    400: "请求无效（JSON 格式错误、查询参数或分页游标无效）",
    401: "未提供或提供了无效的接口密钥",
    403: "当前角色无权进行此操作",
    404: "找不到，或不在调用者的可见范围内",
    405: "该地址不支持此请求方式",
    409: "操作冲突（状态已变化，请重新读取后再试）",
    413: "请求体过大",
    415: "请求体不是 JSON",
    422: "内容不符合要求，或业务规则不允许",
    503: "数据视图尚未更新到请求头 Duban-Position 所给的位置，请按 Retry-After 稍后重试",
}


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in api.operations:
        # Reads that need a key take Duban-Position (read-your-writes; app/api/consistency.py).
        waits = op.method == "GET" and op.roles is not None
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "成功",
                "content": {op.content_type: {"schema": op.response or {"type": "object"}}},
            }
        }
        if op.idempotent:
            responses["200"] = {
                "description": f"以相同的 {HEADER} 重试：返回最初创建的资源（响应头 Idempotent-Replayed: true）",
                "content": {"application/json": {"schema": op.response or {"type": "object"}}},
            }
        for status, description in ERRORS.items():
            if status in (401, 403) and op.roles is None:
                continue
            if status in (413, 415) and op.request is None:
                continue
            if status == 503 and not waits:
                continue
            responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
        operation: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [
                {"name": p.name, "in": p.where, "required": p.required or p.where == "path", "description": p.description,
                 "schema": p.schema}
                for p in op.params
            ] + ([POSITION_PARAMETER] if waits else []),  # fmt: skip
            "responses": responses,
        }
        if op.endpoint in ANNOUNCED_BY:
            for status in (str(op.status), "200"):
                if status in responses:
                    responses[status]["headers"] = {POSITION: RESPONSE_HEADER}
        if op.roles is None:
            operation["security"] = []
        else:
            operation["description"] = "可调用的角色：" + "、".join(ROLES[r] for r in op.roles)
            operation["x-roles"] = list(op.roles)
        if op.request is not None:
            operation["requestBody"] = {
                "required": bool(op.request.get("required")),
                "content": {op.request_media: {"schema": op.request}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "督办 Duban 接口",
            "version": "1.0.0",
            "description": "县级督查整改系统的 JSON 接口。认证：Authorization: Bearer <接口密钥>；"
            "错误：application/problem+json；列表按游标分页（limit、cursor）。",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "dbn.<用户>.<密钥编号>.<密钥>"}},
            "schemas": {"Problem": s.PROBLEM},
            "responses": {
                f"Problem{status}": {
                    "description": description,
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
                for status, description in ERRORS.items()
            },
        },
        "security": [{"bearer": []}],
    }


@api.get("/openapi.json", summary="本接口的 OpenAPI 3.1 描述", tag="接口描述", response={"type": "object"})
@public
def openapi() -> Any:
    return respond(document())
