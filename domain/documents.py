"""What every printed document (公文) shares, as pure functions and one guard.

A document is identified by a stable id: the circular's id, the unit notice's
id, or for a finding's rectification notice an id derived from the finding and
its deadline number. Its **verification code** (核验码) is derived from that id
alone, so the code printed on paper never depends on the PDF's bytes:
10 characters of Crockford base32 of sha256(id), shown as ``XXXX-XXXX-XX``.
Crockford's alphabet has no I, L, O or U; reading a code back accepts lower
case, missing dashes and spaces, and O/I/L typed for 0/1/1.

Once a document's PDF is stored its sha256 is registered, once: registering
the same hash again changes nothing, a different hash is refused (a document
is never re-rendered in place).

A document is also **anchored** (存证): its registration records the audit
chain's head at the position of the event that issued it (``H@N``, see
``domain/audit.py``), and the same anchor is printed on the paper. A document
registered before anchors existed has none (head ``""``, position 0).
"""

from __future__ import annotations

import hashlib
import re
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.audit import format_anchor
from domain.errors import DomainError, InvalidInput

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.·—]+")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class DocumentAlreadyRegistered(DomainError):
    message = "该文书已登记了另一份文件：文书一经印发，不得重新生成替换"


class InvalidDocumentHash(InvalidInput):
    message = "文件摘要格式不正确"


class InvalidDocumentAnchor(InvalidInput):
    message = "文书存证格式不正确：链头应为64位十六进制数字，序号应为正整数"


class DocumentNotIssued(DomainError):
    message = "该文书尚未印发，不能登记文件"


def verification_code(document_id: UUID | str) -> str:
    """The 10-character code of a document, without dashes (what is stored)."""
    digest = hashlib.sha256(str(document_id).encode()).digest()
    number = int.from_bytes(digest, "big") >> (256 - 5 * CODE_LENGTH)
    return "".join(CROCKFORD[(number >> (5 * (CODE_LENGTH - 1 - i))) & 31] for i in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """``ABCDEFGHJK`` → ``ABCD-EFGH-JK`` (as printed)."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalize_code(text: str) -> str | None:
    """A code as typed (any case, with or without dashes or spaces) → the stored
    form, or None when it cannot be a code."""
    cleaned = _SEPARATORS.sub("", (text or "").strip()).upper().translate(_LOOKALIKES)
    if len(cleaned) != CODE_LENGTH or any(c not in CROCKFORD for c in cleaned):
        return None
    return cleaned


def notice_document_id(finding_id: UUID, deadline_number: int) -> UUID:
    """The id of a finding's rectification notice for one deadline number."""
    return uuid5(NAMESPACE_URL, f"duban:notice-document:{finding_id}:{deadline_number}")


def check_hash(sha256: str, size: int) -> str:
    value = (sha256 or "").strip().lower()
    if not SHA256_HEX.match(value) or size <= 0:
        raise InvalidDocumentHash()
    return value


def already_registered(registered: str | None, sha256: str) -> bool:
    """True if this very file is registered already (nothing to record);
    refuses a different file for a document that has one."""
    if registered is None:
        return False
    if registered != sha256:
        raise DocumentAlreadyRegistered()
    return True


def check_anchor(head: str, position: int) -> tuple[str, int]:
    """A document's anchor as registered: a full chain head (64 hex digits) and
    a position >= 1, or no anchor at all (``""``, 0)."""
    value = (head or "").strip().lower()
    if not value and position == 0:
        return "", 0
    if not SHA256_HEX.match(value) or isinstance(position, bool) or not isinstance(position, int) or position < 1:
        raise InvalidDocumentAnchor()
    return value, position


def anchor_text(head: str, position: int) -> str:
    """``H@N`` as printed, or ``""`` for a document without an anchor."""
    return format_anchor(head, position) if head else ""
