"""Downloading an evidence file, and the links the finding page shows.

``GET /findings/<finding_id>/evidence/<sha256>`` answers the file only when the
caller may see the finding (its own unit and the units below, a cadre it names,
the county's inspectors, command office and discipline office) and the file is
attached to that finding. Anything else, a forged or malformed id or hash
included, is not found (404): the answer never tells that a file or finding
exists elsewhere.

The file goes out as the type its content was checked to be, shown in the
browser (``inline``) but unable to run anything there: ``nosniff`` and a
``sandbox`` content security policy.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

from flask import Blueprint, Response, url_for

from app.access import signed_in
from app.evidence.store import DamagedEvidence, EvidenceStore
from app.identity import current_actor, runtime
from domain.attachments import MEDIA_TYPE_LABELS, SHA256_HEX
from domain.errors import DomainError

bp = Blueprint("evidence", __name__)


class EvidenceNotFound(DomainError):
    status = 404
    message = "找不到该证据材料"


class EvidenceUnreadable(DomainError):
    status = 503
    message = "该证据材料的文件暂时无法读取，请稍后再试或联系县指挥部办公室"


def store() -> EvidenceStore:
    return EvidenceStore.from_env()


def attachments_of(event: Any) -> list[dict[str, Any]]:
    """An event's attachment records (none for events that carry no files)."""
    return list(getattr(event, "attachments", None) or ())


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f}MB"
    return f"{max(1, round(size / 1024))}KB"


def links(finding_id: UUID | str, event: Any) -> list[dict[str, Any]]:
    """What the finding page lists for one event's files."""
    return [
        {
            "name": a["name"],
            "url": url_for("evidence.download", finding_id=str(finding_id), sha256=a["sha256"]),
            "kind": MEDIA_TYPE_LABELS.get(a["media_type"], a["media_type"]),
            "size": size_text(a["size"]),
            "sha256": a["sha256"],
        }
        for a in attachments_of(event)
    ]


def _attached(finding_id: UUID, sha256: str) -> dict[str, Any]:
    """The file's record on a finding the caller may see; else not found."""
    from app.web.findings import visible_row
    from app.web.scope import parse_id

    actor = current_actor()
    assert actor is not None
    try:
        fid = parse_id(str(finding_id))
        visible_row(fid, actor)
        history = runtime().duban.history(fid)
    except DomainError as error:
        raise EvidenceNotFound() from error
    for event in history:
        for record in attachments_of(event):
            if record["sha256"] == sha256:
                return record
    raise EvidenceNotFound()


@bp.get("/findings/<finding_id>/evidence/<sha256>")
@signed_in
def download(finding_id: str, sha256: str) -> Any:
    if not SHA256_HEX.match(sha256):
        raise EvidenceNotFound()
    record = _attached(finding_id, sha256)  # type: ignore[arg-type]
    try:
        data = store().read(sha256)
    except (OSError, DamagedEvidence) as error:
        raise EvidenceUnreadable() from error
    response = Response(data, mimetype=record["media_type"])
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(record['name'], safe='')}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Shown, never run: no script, no form, no plugin, its own origin.
    response.headers["Content-Security-Policy"] = "sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
