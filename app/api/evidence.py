"""Evidence files (证据材料) through the API: upload first (multipart, the same
checks as the pages: JPEG, PNG or PDF by content, size-limited, no path in the
name), then name the returned records in ``attachments`` when filing a finding
or submitting a rectification.

A record sent back in a JSON body is never trusted as sent: the file must be in
the evidence store already, and its media type and size are read from the
stored bytes, so a client cannot describe a file as something it is not."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import request

from app.access import allow
from app.api import api
from app.api import schemas as s
from app.api.common import actor, respond
from app.body_limits import body_limit
from app.evidence import uploads
from app.evidence import web as evidence_web
from app.evidence.content import sniff
from domain.attachments import MAX_ATTACHMENTS, check_attachments, clean_name
from domain.errors import DomainError, InvalidInput
from domain.events import COMMAND, INSPECTOR, UNIT

TAG = "证据材料"
UPLOADERS = (INSPECTOR, COMMAND, UNIT)

ATTACHMENT = s.resource(
    {
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "name": {"type": "string"},
        "media_type": {"enum": ["image/jpeg", "image/png", "application/pdf"]},
        "size": {"type": "integer"},
    },
    ("sha256", "name", "media_type", "size"),
)
ATTACHMENTS = s.ATTACHMENTS
UPLOAD = {
    "type": "object",
    "properties": {uploads.FIELD: {"type": "array", "items": {"type": "string", "contentMediaType": "application/octet-stream"},
                                   "minItems": 1, "maxItems": MAX_ATTACHMENTS}},
    "required": [uploads.FIELD],
}  # fmt: skip


class EvidenceNotUploaded(InvalidInput):
    message = "所列证据材料尚未上传，请先通过 POST /api/v1/evidence 上传文件"


class NoEvidenceSent(InvalidInput):
    message = f"请在表单字段“{uploads.FIELD}”中上传证据材料文件（JPEG、PNG 或 PDF）"


class NotMultipart(DomainError):
    status = 415
    message = "上传证据材料请使用 multipart/form-data"


def resolved(references: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records of files already in the store, described by their stored bytes."""
    store = evidence_web.store()
    records = []
    for reference in references:
        sha256 = reference["sha256"]
        if not store.exists(sha256):
            raise EvidenceNotUploaded()
        data = store.read(sha256)
        media_type = sniff(data)
        if media_type is None:
            raise EvidenceNotUploaded()
        records.append({"sha256": sha256, "name": clean_name(reference["name"]), "media_type": media_type,
                        "size": len(data)})  # fmt: skip
    return check_attachments(records)


@api.post("/evidence", summary="上传证据材料（照片或 PDF），返回其记录", tag=TAG, request=UPLOAD,
          request_media="multipart/form-data", status=201,
          response=s.resource({"attachments": {"type": "array", "items": ATTACHMENT}}, ("attachments",)))  # fmt: skip
@allow(*UPLOADERS)
@body_limit(uploads.MAX_REQUEST_BYTES, uploads.TOO_LARGE_MESSAGE)
def upload() -> Any:
    actor()  # the role was checked by @allow: only those who attach evidence fill the store
    if request.mimetype != "multipart/form-data":
        raise NotMultipart()
    files = request.files.getlist(uploads.FIELD)
    if not uploads.chosen(files):
        raise NoEvidenceSent()
    return respond({"attachments": uploads.receive(files, evidence_web.store())}, 201)
