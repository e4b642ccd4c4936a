"""A form's evidence files → checked, stored attachment records.

Every file is checked before any is stored: its name (a path or control
characters are refused, not cleaned), its size, and its content (JPEG, PNG or
PDF by its first bytes, and the name's ending must say the same). Then each is
stored by its content hash and described by a record the domain checks again
(domain/attachments.py). Storing comes before the command: the bytes are
harmless where they are, and an event never names a file that failed to store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from werkzeug.datastructures import FileStorage

from app.evidence.content import sniff
from app.evidence.store import EvidenceStore
from domain.attachments import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MEDIA_TYPE_LABELS,
    AttachmentTooLarge,
    EmptyAttachment,
    ExtensionDoesNotMatch,
    InvalidAttachmentName,
    TooManyAttachments,
    UnknownMediaType,
    check_attachments,
    clean_name,
    media_type_for_name,
)
from domain.errors import DomainError

#: The file input's name on every form that takes evidence.
FIELD = "attachments"
#: The largest request a form with evidence may send (the files and the form's text).
MAX_REQUEST_BYTES = 30 * 1024 * 1024
MEGABYTES = 1024 * 1024
TOO_LARGE_MESSAGE = (
    f"上传的内容过大：证据材料每个文件不能超过{MAX_ATTACHMENT_BYTES // MEGABYTES}MB，"
    f"每次合计不能超过{MAX_REQUEST_BYTES // MEGABYTES}MB。本次提交未登记任何内容，请返回上一页，减少或压缩文件后重新提交。"
)
#: A browser never refills a file input: said whenever a form with files is shown again.
CHOOSE_AGAIN = "出于安全原因，浏览器不会保留已选择的文件，请重新选择证据材料。"


class EvidenceNotStored(DomainError):
    status = 503
    message = "证据材料未能保存，本次提交未登记任何内容，请稍后重试"


def chosen(files: Iterable[FileStorage]) -> list[FileStorage]:
    """The files actually chosen (an empty file input still sends one nameless part)."""
    return [f for f in files if f.filename]


def _sent_name(upload: FileStorage) -> str:
    """The file name as sent. The header parser reads a backslash as an escape
    and drops it (``a\\b.png`` arrives as ``ab.png``), so the raw header is
    looked at too: a backslash there is refused like one in the name."""
    if "\\" in upload.headers.get("Content-Disposition", ""):
        raise InvalidAttachmentName()
    return upload.filename or ""


def _read(upload: FileStorage, name: str) -> bytes:
    try:
        data = upload.stream.read(MAX_ATTACHMENT_BYTES + 1)
    finally:
        upload.close()  # a large part is spooled to a temporary file: never kept
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLarge(f"“{name}”超过{MAX_ATTACHMENT_BYTES // MEGABYTES}MB，证据材料每个文件不能超过{MAX_ATTACHMENT_BYTES // MEGABYTES}MB")
    if not data:
        raise EmptyAttachment(f"“{name}”是空文件，请重新选择")
    return data


def _media_type(data: bytes, name: str) -> str:
    actual = sniff(data)
    if actual is None:
        raise UnknownMediaType(f"“{name}”不是JPEG、PNG照片或PDF文件（按文件内容判断），不能作为证据材料")
    if media_type_for_name(name) != actual:
        raise ExtensionDoesNotMatch(
            f"“{name}”的扩展名与文件内容不符（文件内容是{MEDIA_TYPE_LABELS[actual]}），请核对后重新选择"
        )
    return actual


def receive(files: Iterable[FileStorage], store: EvidenceStore) -> list[dict[str, Any]]:
    """Check every chosen file, then store them all; their attachment records.

    Raises a DomainError (Chinese message) and stores nothing when any file is
    refused; its ``field`` is ``FIELD``, so a form shows it beside the file input.
    """
    try:
        return _receive(files, store)
    except DomainError as error:
        error.field = FIELD  # type: ignore[attr-defined]
        raise


def _receive(files: Iterable[FileStorage], store: EvidenceStore) -> list[dict[str, Any]]:
    uploads = chosen(files)
    if len(uploads) > MAX_ATTACHMENTS:
        for upload in uploads:
            upload.close()
        raise TooManyAttachments(f"每次最多上传{MAX_ATTACHMENTS}个证据材料文件，本次选择了{len(uploads)}个")
    accepted: list[tuple[str, str, bytes]] = []
    try:
        for upload in uploads:
            name = clean_name(_sent_name(upload))
            data = _read(upload, name)
            accepted.append((name, _media_type(data, name), data))
    finally:
        for upload in uploads:
            upload.close()
    records = []
    for name, media_type, data in accepted:
        try:
            sha256 = store.put(data)
        except OSError as error:
            raise EvidenceNotStored() from error
        records.append({"sha256": sha256, "name": name, "media_type": media_type, "size": len(data)})
    return check_attachments(records)
