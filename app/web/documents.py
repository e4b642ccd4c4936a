"""Issued documents (公文): downloading a PDF, and the public verification page
the code and the QR code printed on every page lead to.

- ``GET /documents/<code>.pdf``: the stored PDF, for those who may read the
  document (the command office, the discipline office and inspectors: all of
  their county's; a unit: every circular, and the notices of its own unit and
  the units below it; a cadre: every circular and the notices naming them).
  While it is being printed, a page says so.
- ``GET /verify``, ``GET /verify/<code>``: no sign-in. What the printed
  document itself shows (kind, number, title, date), its registered sha256,
  the anchor printed on it (历史存证 ``H@N``; for the discipline office a link
  to check it against the present history on ``/audit``), and its history
  (who did what, when). ``POST /verify/<code>`` compares an
  uploaded file with the registered one, byte for byte (by sha256).
- ``GET/POST /units/<unit_id>/notice``: the command office or an inspector
  issues a unit's rectification notice listing its open findings.

For other pages (a circular's page): ``document_for(source_id)`` gives the
document of a circular, a unit notice or a finding (its notice) — None while a
draft or not issued — and ``download_url(row)`` its download address;
``row.rendered`` says whether the PDF exists yet.
"""

from __future__ import annotations

import hashlib
from io import BytesIO
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

from flask import Blueprint, Response, flash, redirect, render_template, request, send_file, url_for

from app.access import allow, public, signed_in
from app.identity import current_actor, current_identity, runtime
from app.labels import document_details, local_time, points
from app.web.findings import _names, _who
from domain.circular import CIRCULAR_KINDS, Circular
from domain.documents import format_code, normalize_code
from domain.errors import DomainError, InvalidInput, NotPermitted
from domain.events import CADRE, CATEGORIES, COMMAND, DISCIPLINE, INSPECTOR, UNIT, Actor
from domain.finding import RECTIFYING, Finding
from domain.service import UnknownUnitNotice
from domain.unit_notice import UnitNotice
from projections.documents import DocumentQuery, DocumentRow
from projections.ledger_query import LedgerFilter
from workers.documents.storage import DocumentStore

bp = Blueprint("documents", __name__)

#: The largest file the verification page accepts (a long ranking circular is a few MB).
VERIFY_UPLOAD_LIMIT = 20 * 1024 * 1024
IDENTICAL = "与登记的原件完全一致"
DIFFERENT = "与登记的原件不一致"
ISSUERS = (COMMAND, INSPECTOR)


class UnknownDocument(DomainError):
    status = 404
    message = "找不到该核验码对应的文书，请核对后重新输入"


class DocumentFileMissing(DomainError):
    status = 503
    message = "该文书的文件暂时无法读取，请稍后再试或联系县指挥部办公室"


# What other pages call
def documents() -> DocumentQuery:
    return runtime().documents


def document_for(source_id: UUID | str) -> DocumentRow | None:
    """The issued document of a circular, a unit notice or a finding (its
    rectification notice); None while a draft or not issued yet."""
    return documents().for_source(str(source_id))


def download_url(row: DocumentRow) -> str:
    """The PDF's download address (the same as ``row.download_path``)."""
    return url_for("documents.download", code=row.display_code)


def verify_url(row: DocumentRow) -> str:
    return url_for("documents.verify", code=row.display_code)


def store() -> DocumentStore:
    return DocumentStore.from_env()


# Who may read which document
def may_read(actor: Actor, row: DocumentRow) -> bool:
    if str(actor.county_id) != row.county_id:
        return False
    if row.is_circular or actor.role not in (UNIT, CADRE):
        return True
    if actor.role == UNIT:
        return row.unit_id in runtime().query.subtree(str(actor.unit_id))
    return actor.user_id in row.cadre_ids


def _readable(actor: Actor, code: str) -> DocumentRow:
    rows = documents().by_code(code)
    own = [r for r in rows if r.county_id == str(actor.county_id)]
    if not own:
        raise UnknownDocument()
    for row in own:
        if may_read(actor, row):
            return row
    raise UnknownDocument()  # another unit's document reads as unknown, like a forged code


def _allow_large_upload() -> None:
    """The verification upload may carry a PDF of up to 20 MB (the app's limit
    is 2 MB); set before the form token is read, which reads the body."""
    if request.endpoint == "documents.verify_upload":
        request.max_content_length = VERIFY_UPLOAD_LIMIT


@bp.record_once
def _first(state: Any) -> None:
    # The CSRF check is an app-wide before_request registered earlier: go first.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _allow_large_upload)


# Download
@bp.get("/documents/<code>.pdf")
@signed_in
def download(code: str) -> Any:
    runtime().fresh()
    actor = current_actor()
    assert actor is not None
    row = _readable(actor, code)
    if not row.rendered:
        return render_template("pages/document_pending.html", row=row), 202
    files = store()
    if not files.exists(row.sha256 or ""):
        raise DocumentFileMissing()
    name = f"{row.document_number or row.kind_label}（{row.display_code}）.pdf"
    # Read whole (a few MB at most): no open file is left to the response's closing.
    response: Response = send_file(
        BytesIO(files.read(row.sha256 or "")), mimetype="application/pdf", as_attachment=True, download_name=name,
        max_age=0, conditional=False, etag=False, last_modified=None,
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# Verification (public)
CIRCULAR_EVENT_LABELS = {
    Circular.Drafted: "起草通报",
    Circular.Edited: "修改通报草稿",
    Circular.Issued: "印发",
    Circular.PointsDeducted: "扣分",
    Circular.Revoked: "撤销通报",
    Circular.DocumentRegistered: "文件已印制登记",
    UnitNotice.Issued: "下发单位整改通知书",
    UnitNotice.DocumentRegistered: "文件已印制登记",
}


def _history_label(event: Any) -> str:
    from app.labels import event_label

    return CIRCULAR_EVENT_LABELS.get(type(event)) or event_label(event)


def _public_details(event: Any, names: Mapping[str, str]) -> list[tuple[str, str]]:
    """Only what a printed document shows anyway: never a household number,
    a description or an uploaded rectification."""

    def name(identifier: Any) -> str:
        return names.get(str(identifier), "（未知）")

    e = event
    if isinstance(e, (Circular.DocumentRegistered, UnitNotice.DocumentRegistered, Finding.NoticeDocumentRegistered)):
        return document_details(e)
    if isinstance(e, Circular.Drafted):
        return [("类型", CIRCULAR_KINDS.get(e.kind, e.kind)), ("标题", e.title)]
    if isinstance(e, Circular.Edited):
        return [("标题", e.title)]
    if isinstance(e, Circular.Issued):
        return [("文号", e.document_number), ("印发日期", e.issued_on)]
    if isinstance(e, Circular.PointsDeducted):
        return [("扣分单位", name(e.unit_id)), ("扣分", f"{points(e.points)}分")]
    if isinstance(e, Circular.Revoked):
        return [("撤销理由", e.reason)]
    if isinstance(e, UnitNotice.Issued):
        return [("通知单位", name(e.unit_id)), ("所列问题", f"{len(e.finding_ids)}个")]
    if isinstance(e, Finding.Filed):
        return [("责任单位", name(e.unit_id)), ("检查事项", e.check_item),
                ("问题类型", CATEGORIES.get(e.category, e.category))]  # fmt: skip
    if isinstance(e, Finding.NoticeIssued):
        return [("整改期限", e.deadline)]
    return []


def _history(row: DocumentRow) -> list[dict[str, Any]]:
    rt = runtime()
    names = _names(row.county_id)
    return [
        {
            "time": local_time(event.timestamp),
            "who": _who(event.actor_id, event.actor_role, names),
            "label": _history_label(event),
            "details": _public_details(event, names),
        }
        for event in rt.duban.history(UUID(row.source_id))
    ]


def _render_verify(code: str, rows: list[DocumentRow], *, outcome: dict[str, Any] | None = None,
                   error: str | None = None, status: int = 200) -> Any:  # fmt: skip
    identity = current_identity()
    actor = identity.actor if identity else None
    entries = [
        {
            "row": row,
            "history": _history(row),
            "issued_on": row.issued_on,
            "download": download_url(row) if actor is not None and row.rendered and may_read(actor, row) else None,
            # The discipline office checks the printed anchor against the present history (the audit page).
            "check_anchor": f"/audit?{urlencode({'anchor': row.anchor})}"
            if actor is not None and actor.role == DISCIPLINE and row.anchor else None,
        }
        for row in rows
    ]
    return (
        render_template("pages/verify.html", code=code, entries=entries, outcome=outcome, error=error,
                        limit_mb=VERIFY_UPLOAD_LIMIT // (1024 * 1024)),
        status,
    )  # fmt: skip


@bp.get("/verify")
@public
def verify_form() -> Any:
    typed = (request.args.get("code") or "").strip()
    if typed:
        code = normalize_code(typed)
        if code is not None:
            return redirect(url_for("documents.verify", code=format_code(code)), 303)
        return render_template("pages/verify_form.html", typed=typed, error="核验码格式不正确：应为10位字母或数字，如 ABCD-EFGH-JK"), 404
    return render_template("pages/verify_form.html", typed="", error=None)


def _found(code: str) -> list[DocumentRow]:
    runtime().fresh()
    rows = documents().by_code(code)
    if not rows:
        raise UnknownDocument()
    return rows


@bp.get("/verify/<code>")
@public
def verify(code: str) -> Any:
    normal = normalize_code(code)
    if normal is not None and code != format_code(normal):
        return redirect(url_for("documents.verify", code=format_code(normal)), 301)
    return _render_verify(code, _found(code))


@bp.post("/verify/<code>")
@public
def verify_upload(code: str) -> Any:
    rows = _found(code)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render_verify(code, rows, error="请选择要核验的文件", status=422)
    digest, size = hashlib.sha256(), 0
    try:
        while chunk := upload.stream.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
    finally:
        upload.close()  # a large upload is spooled to a temporary file: never kept
    uploaded = digest.hexdigest()
    registered = [r for r in rows if r.rendered]
    if not registered:
        return _render_verify(code, rows, error="该文书的文件尚未登记（正在生成），请稍后再核验", status=409)
    match = next((r for r in registered if r.sha256 == uploaded), None)
    outcome = {
        "identical": match is not None,
        "message": IDENTICAL if match is not None else DIFFERENT,
        "sha256": uploaded,
        "size": size,
        "filename": upload.filename,
    }
    return _render_verify(code, rows, outcome=outcome)


# A unit's rectification notice (单位整改通知书)
def _require_issuer(actor: Actor) -> None:
    if actor.role not in ISSUERS:
        raise NotPermitted("单位整改通知书只能由督查员、指挥部办公室下发")


def _open_findings(actor: Actor, unit_id: str) -> list[dict[str, Any]]:
    rt = runtime()
    scope = rt.query.subtree(unit_id)
    found: list[dict[str, Any]] = []
    for status in RECTIFYING:
        page = 1
        while True:
            listing = rt.query.page(
                LedgerFilter(county_id=str(actor.county_id), unit_scope=scope, status=status), rt.today(), page, 500
            )
            found += listing.rows
            if page >= listing.pages:
                break
            page += 1
    return sorted(found, key=lambda r: (r["deadline"] or "", r["filed_at"]))


def _unit_row(actor: Actor, unit_id: str) -> dict[str, Any]:
    try:
        key = str(UUID(unit_id))
    except ValueError as error:
        raise UnknownUnitNotice("找不到该单位") from error
    for unit in runtime().query.units(str(actor.county_id)):
        if unit["unit_id"] == key:
            return unit
    raise UnknownUnitNotice("找不到该单位")


@bp.route("/units/<unit_id>/notice", methods=["GET", "POST"])
@allow(*ISSUERS)
def unit_notice(unit_id: str) -> Any:
    rt = runtime()
    fresh = rt.fresh()
    actor = current_actor()
    assert actor is not None
    _require_issuer(actor)
    unit = _unit_row(actor, unit_id)
    error, status = None, 200
    if request.method == "POST":
        try:
            notice_id = UUID(request.form.get("notice_id", ""))
        except ValueError:
            notice_id = uuid4()
        chosen = request.form.getlist("finding_ids")
        try:
            try:
                finding_ids = [UUID(f) for f in chosen]
            except ValueError as bad:
                raise InvalidInput("所列问题无效") from bad
            result = rt.duban.issue_unit_notice(UUID(unit["unit_id"]), finding_ids, actor, notice_id=notice_id)
        except DomainError as refused:
            error, status = refused.message, refused.status
        else:
            rt.wait_for(result.position)
            flash(
                "已下发单位整改通知书，正在生成文件" if result.position is not None else "该通知书已经下发过（表单被重复提交）",
                "success" if result.position is not None else "info",
            )
            return redirect(url_for("documents.unit_notice", unit_id=unit["unit_id"]), 303)
    notices = [
        {"row": r, "download": download_url(r) if r.rendered else None, "verify": verify_url(r)}
        for r in documents().unit_notices(unit["unit_id"])
    ]
    return (
        render_template(
            "pages/document_unit_notice.html", unit=unit, findings=_open_findings(actor, unit["unit_id"]),
            notices=notices, notice_id=str(uuid4()), error=error, fresh=fresh,
        ),
        status,
    )  # fmt: skip
