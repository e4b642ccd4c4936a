"""The JSON schemas the API validates request bodies against and publishes in
its OpenAPI document (JSON Schema 2020-12, as OpenAPI 3.1 uses)."""

from __future__ import annotations

from typing import Any

from domain.attachments import MAX_ATTACHMENTS
from domain.circular import CIRCULAR_KINDS
from domain.events import CATEGORIES, COUNTY_ROLES, SEVERITIES, SOURCES, UNIT_KINDS

UUID: dict[str, Any] = {"type": "string", "format": "uuid"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
NULLABLE_TEXT: dict[str, Any] = {"type": ["string", "null"]}
PEOPLE_ROLES = sorted(COUNTY_ROLES)  # what a county's office grants (never the regional role)


def text(max_length: int = 2000, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    return schema


def ids(max_items: int = 500) -> dict[str, Any]:
    return {"type": "array", "items": UUID, "maxItems": max_items}


def body(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A request body: exactly these fields, no others."""
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def resource(properties: dict[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """A response object: these fields at least (more may be added later)."""
    return {"type": "object", "properties": properties, "required": list(required)}


def page_of(item: dict[str, Any]) -> dict[str, Any]:
    return resource(
        {"items": {"type": "array", "items": item}, "next_cursor": {"type": ["string", "null"]}},
        ("items", "next_cursor"),
    )


PROBLEM = resource(
    {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    ("type", "title", "status", "detail", "instance"),
)

# Evidence: how a JSON body names files uploaded before (POST /evidence); the
# media type and size, if sent, are read again from the stored file.
ATTACHMENT_REFERENCE = {
    "type": "object",
    "properties": {
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "media_type": {"type": "string", "maxLength": 100},
        "size": {"type": "integer"},
    },
    "required": ["sha256", "name"],
    "additionalProperties": False,
}
ATTACHMENTS = {"type": "array", "items": ATTACHMENT_REFERENCE, "maxItems": MAX_ATTACHMENTS}

# Findings
FINDING = resource(
    {
        "finding_id": UUID,
        "county_id": UUID,
        "unit_id": UUID,
        "unit_name": NULLABLE_TEXT,
        "category": {"type": "string"},
        "severity": {"type": "string"},
        "source": {"type": "string"},
        "check_item": {"type": "string"},
        "description": {"type": "string"},
        "status": {"type": "string"},
        "deadline": NULLABLE_TEXT,
        "cadre_ids": {"type": "array", "items": {"type": "string"}},
        "filed_at": {"type": "string"},
        "days_overdue": {"type": "integer"},
        "is_overdue": {"type": "boolean"},
    },
    ("finding_id", "county_id", "unit_id", "status"),
)
EVENT = resource(
    {
        "type": {"type": "string"},
        "version": {"type": "integer"},
        "timestamp": {"type": "string"},
        "actor_id": {"type": "string"},
        "actor_role": {"type": "string"},
        "data": {"type": "object"},
    },
    ("type", "version", "timestamp", "actor_id", "actor_role", "data"),
)
FINDING_WITH_HISTORY = {
    **FINDING,
    "properties": {**FINDING["properties"], "history": {"type": "array", "items": EVENT}},
    "required": [*FINDING["required"], "history"],
}
FILE_FINDING = body(
    {
        "unit_id": UUID,
        "category": {"enum": sorted(CATEGORIES)},
        "source": {"enum": sorted(SOURCES)},
        "severity": {"enum": sorted(SEVERITIES)},
        "check_item": text(200),
        "description": text(4000),
        "household_no": text(40),
        "cadre_ids": ids(50),
        "inspection_id": UUID,
        "attachments": ATTACHMENTS,
    },
    ("unit_id", "category", "source", "severity", "check_item", "description"),
)

# Organisation
UNIT = resource(
    {
        "unit_id": UUID,
        "county_id": UUID,
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "parent_id": {"type": ["string", "null"]},
        "code": {"type": "string"},
        "retired": {"type": "boolean"},
    },
    ("unit_id", "county_id", "name", "kind", "parent_id", "retired"),
)
REGISTER_UNIT = body(
    {"name": text(100), "kind": {"enum": sorted(UNIT_KINDS)}, "parent_id": UUID, "code": text(40)},
    ("name", "kind", "parent_id"),
)
RENAME_UNIT = body({"name": text(100)}, ("name",))
MOVE_UNIT = body({"parent_id": UUID}, ("parent_id",))
REASON = body({"reason": text(2000)})
USER = resource(
    {
        "user_id": UUID,
        "county_id": UUID,
        "unit_id": UUID,
        "name": {"type": "string"},
        "login": {"type": "string"},
        "roles": {"type": "array", "items": {"type": "string"}},
    },
    ("user_id", "county_id", "unit_id", "name", "login", "roles"),
)
REGISTER_USER = body(
    {
        "unit_id": UUID,
        "name": text(100),
        "login": text(100),
        "roles": {"type": "array", "items": {"enum": PEOPLE_ROLES}, "minItems": 1, "uniqueItems": True},
    },
    ("unit_id", "name", "login", "roles"),
)
ROLE = body({"role": {"enum": PEOPLE_ROLES}}, ("role",))

# Rulebook
WHOLE = {"type": "integer", "minimum": 0, "maximum": 10000}
POINTS = {"type": ["string", "number"], "maxLength": 20, "minimum": 0, "maximum": 10000}
RULES = {
    "type": "object",
    "properties": {
        "deadline_working_days": {
            "type": "object",
            "properties": {s: WHOLE for s in sorted(SEVERITIES)},
            "additionalProperties": False,
        },
        "reminder_days_before": {"type": "array", "items": WHOLE, "maxItems": 10},
        "overdue_points": POINTS,
        "inadequate_points": POINTS,
        "repeat_window_days": WHOLE,
        "repeat_multiplier": WHOLE,
        "circular_points": POINTS,
        "escalate_after_rejections": WHOLE,
        "escalate_after_days_overdue": WHOLE,
        "base_score": POINTS,
        "period": {"enum": ["quarter", "month", "year"]},
    },
    "additionalProperties": False,
}
RULEBOOK = resource(
    {
        "county_id": UUID,
        "in_force": {"type": "integer"},
        "versions": {
            "type": "array",
            "items": resource(
                {"version": {"type": "integer"}, "in_force_from": {"type": "string"}, "rules": {"type": "object"}},
                ("version", "in_force_from", "rules"),
            ),
        },
    },
    ("county_id", "versions"),
)
ADOPT_RULES = body({"in_force_from": DATE, "rules": RULES}, ("in_force_from", "rules"))

# Circulars
CIRCULAR = resource(
    {
        "circular_id": UUID,
        "county_id": UUID,
        "kind": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "string"},
        "unit_ids": {"type": "array"},
        "finding_ids": {"type": "array"},
    },
    ("circular_id", "county_id", "kind", "title", "status"),
)
DRAFT_CIRCULAR = body(
    {
        "kind": {"enum": sorted(CIRCULAR_KINDS)},
        "title": text(200),
        "prefix": text(40),
        "period": text(20),
        "body": text(20000),
        "finding_ids": ids(),
        "unit_ids": ids(),
    },
    ("kind", "title", "prefix", "period", "body"),
)
EDIT_CIRCULAR = body(
    {"title": text(200), "body": text(20000), "finding_ids": ids(), "unit_ids": ids()},
    ("title", "body"),
)

# Documents, scores, inbox
DOCUMENT = resource(
    {
        "document_id": {"type": "string"},
        "kind": {"type": "string"},
        "source_id": {"type": "string"},
        "status": {"type": "string"},
        "document_number": {"type": "string"},
        "title": {"type": "string"},
        "verification_code": {"type": "string"},
        "rendered": {"type": "boolean"},
        # 历史存证 "H@N" printed on the document ("" before it is registered, or if registered before anchors).
        "anchor": {"type": "string"},
        "issued_position": {"type": ["integer", "null"]},
    },
    ("document_id", "kind", "source_id", "status", "verification_code", "rendered"),
)
UNIT_SCORE = resource(
    {
        "unit_id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string"},
        "score": {"type": "string"},
        "rank": {"type": "integer"},
    },
    ("unit_id", "name", "kind", "score", "rank"),
)
DASHBOARD = resource(
    {"period": {"type": "string"}, "groups": {"type": "array"}, "totals": {"type": "object"}},
    ("period", "groups", "totals"),
)
SCORE_REPORT = resource(
    {"period": {"type": "string"}, "score": UNIT_SCORE, "deductions": {"type": "array"}, "trend": {"type": "array"}},
    ("period", "score", "deductions", "trend"),
)
MESSAGE = resource(
    {
        "message_id": UUID,
        "title": {"type": "string"},
        "body": {"type": "string"},
        "purpose": {"type": "string"},
        "sent_at": {"type": "string"},
        "is_read": {"type": "boolean"},
    },
    ("message_id", "title", "is_read"),
)
