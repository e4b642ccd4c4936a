"""Evidence files (证据材料) as the events record them: a small record per file,
never the file itself.

An attachment is ``{"sha256", "name", "media_type", "size"}``: the file's
content hash (where the bytes are kept is the evidence store's business), the
name it was uploaded under, one of the accepted media types, and its size in
bytes. The inspector's evidence rides on ``Finding.Filed``, the unit's on
``Finding.RectificationSubmitted``.

The rules here are shared by the domain (which refuses an event with a bad
record) and by the upload code (which refuses a bad file before storing it), so
both say the same thing in the same words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from domain.errors import InvalidInput

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"

#: Accepted media types and the file name endings that may carry each.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    JPEG: (".jpg", ".jpeg"),
    PNG: (".png",),
    PDF: (".pdf",),
}
MEDIA_TYPE_LABELS = {JPEG: "JPEG照片", PNG: "PNG图片", PDF: "PDF文件"}

MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
#: Longer names are shortened (keeping the ending); a name is a label, not an identity.
MAX_NAME_LENGTH = 120

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: Controls and the invisible format characters (right-to-left override makes
#: ``photo\u202egnp.exe`` read as ``photoexe.png``).
_REFUSED_CATEGORIES = ("Cc", "Cf")
KEYS = ("sha256", "name", "media_type", "size")


class TooManyAttachments(InvalidInput):
    message = f"每次最多上传{MAX_ATTACHMENTS}个证据材料文件"


class UnknownMediaType(InvalidInput):
    message = "证据材料只能是JPEG、PNG照片或PDF文件"


class InvalidAttachmentHash(InvalidInput):
    message = "证据材料的文件摘要（SHA-256）格式不正确"


class EmptyAttachment(InvalidInput):
    message = "证据材料文件是空的，请重新选择"


class AttachmentTooLarge(InvalidInput):
    status = 413
    message = f"证据材料每个文件不能超过{MAX_ATTACHMENT_BYTES // 1024 // 1024}MB"


class InvalidAttachmentName(InvalidInput):
    message = "证据材料的文件名不能包含路径（/、\\、..）或控制字符，请改名后重新选择"


class ExtensionDoesNotMatch(InvalidInput):
    message = "证据材料的文件扩展名与文件类型不符（只接受 .jpg、.jpeg、.png、.pdf）"


class MalformedAttachment(InvalidInput):
    message = "证据材料的记录不完整"


def clean_name(name: str) -> str:
    """The name as it will be shown: surrounding spaces removed, Unicode in its
    composed form, a very long name shortened. A name that is or hides a path,
    or carries control characters, is refused (never silently cleaned: the
    uploader should see that the file was not taken)."""
    if not isinstance(name, str):
        raise InvalidAttachmentName()
    name = unicodedata.normalize("NFC", name.strip())
    if not name or name in (".", ".."):
        raise InvalidAttachmentName("证据材料缺少文件名")
    if "/" in name or "\\" in name or ".." in name:
        raise InvalidAttachmentName()
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in name):
        raise InvalidAttachmentName()
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ending = name.rpartition(".")
        if dot and len(ending) <= 10:
            name = stem[: MAX_NAME_LENGTH - len(ending) - 1] + "." + ending
        else:
            name = name[:MAX_NAME_LENGTH]
    return name


def media_type_for_name(name: str) -> str | None:
    """The media type a file name's ending claims, if it is one we accept."""
    lowered = name.lower()
    for media_type, endings in EXTENSIONS.items():
        if lowered.endswith(endings):
            return media_type
    return None


def check_attachment(record: Mapping[str, Any]) -> dict[str, Any]:
    """One record, checked and in its stored shape (exactly the four keys)."""
    if not isinstance(record, Mapping) or any(key not in record for key in KEYS):
        raise MalformedAttachment()
    sha256 = record["sha256"]
    if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
        raise InvalidAttachmentHash()
    media_type = record["media_type"]
    if media_type not in EXTENSIONS:
        raise UnknownMediaType()
    size = record["size"]
    if not isinstance(size, int) or isinstance(size, bool):
        raise MalformedAttachment("证据材料的文件大小不正确")
    if size <= 0:
        raise EmptyAttachment()
    if size > MAX_ATTACHMENT_BYTES:
        raise AttachmentTooLarge()
    name = clean_name(record["name"])
    if media_type_for_name(name) != media_type:
        raise ExtensionDoesNotMatch()
    return {"sha256": sha256, "name": name, "media_type": media_type, "size": size}


def check_attachments(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records of one event: each checked, at most ``MAX_ATTACHMENTS``; the
    same content twice is one piece of evidence (the first name is kept)."""
    records = list(records)
    if len(records) > MAX_ATTACHMENTS:
        raise TooManyAttachments()
    checked: dict[str, dict[str, Any]] = {}
    for record in records:
        attachment = check_attachment(record)
        checked.setdefault(attachment["sha256"], attachment)
    return list(checked.values())
