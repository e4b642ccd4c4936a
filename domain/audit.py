"""The audit chain's arithmetic (审计哈希链): pure functions, no storage.

Every stored event, in the order of the notification log, is hashed as it is
stored: its topic, originator id, version and state bytes (encrypted and
compressed as they lie in the store, so the chain can be checked without the
key). That is the event's **digest**; it leaves the position out, so an event
moved to another position is still recognised as itself. The chain then links
each digest to the one before and to its position::

    digest(e)  = sha256(len|topic, len|originator, len|version, len|state)
    chain(0)   = GENESIS
    chain(e_n) = sha256(chain(e_{n-1}) ‖ position(e_n) as 8 bytes ‖ digest(e_n))

So changing, removing, inserting or reordering any event changes the chain
from that position on. An **anchor** ``H@N`` is the chain head H after the
last event at or before position N; printed on a document, it lets anyone with
the paper check later that nothing up to N was rewritten.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from uuid import UUID

from domain.errors import InvalidInput

GENESIS = hashlib.sha256(b"duban audit chain v1").digest()

#: A checkpoint (the chain head) is kept after the first event of every block of this many positions.
CHECKPOINT_EVERY = 1000

#: The shortest head prefix accepted when an anchor is typed back from paper (64 bits).
MIN_ANCHOR_HEX = 16

_ANCHOR = re.compile(r"^([0-9a-f]+)@(\d+)$")
_SPACES = re.compile(r"[\s\u3000]+")


class InvalidAnchor(InvalidInput):
    message = "存证格式不正确：应为“链头@序号”，链头为至少16位十六进制数字，例如 3f9a…c2@12345"


def _framed(part: bytes) -> bytes:
    return len(part).to_bytes(8, "big") + part


def event_digest(topic: str, originator_id: UUID | str, originator_version: int, state: bytes) -> bytes:
    """The digest of one stored event, without its position."""
    h = hashlib.sha256()
    for part in (topic.encode(), str(originator_id).encode(), str(originator_version).encode(), bytes(state)):
        h.update(_framed(part))
    return h.digest()


def link(previous: bytes, position: int, digest: bytes) -> bytes:
    """The chain after the event at ``position`` whose digest is ``digest``."""
    return hashlib.sha256(previous + position.to_bytes(8, "big") + digest).digest()


def is_checkpoint(previous_position: int, position: int) -> bool:
    """True if the event at ``position`` is the first of its block of positions."""
    return position // CHECKPOINT_EVERY != previous_position // CHECKPOINT_EVERY


@dataclass(frozen=True)
class Anchor:
    """A chain head at a position, as printed on a document (存证)."""

    head: str  # hex, possibly a prefix when typed back from paper
    position: int

    def __str__(self) -> str:
        return format_anchor(self.head, self.position)

    def matches(self, head: str) -> bool:
        return head.lower().startswith(self.head.lower())


def format_anchor(head: str | bytes, position: int) -> str:
    text = head.hex() if isinstance(head, bytes) else head
    return f"{text}@{position}"


def parse_anchor(text: str) -> Anchor:
    """``H@N`` as typed (any case, spaces anywhere, a full-width ＠) → an Anchor."""
    cleaned = _SPACES.sub("", (text or "").replace("＠", "@")).lower()
    match = _ANCHOR.match(cleaned)
    if not match:
        raise InvalidAnchor()
    head, position = match.group(1), int(match.group(2))
    if not MIN_ANCHOR_HEX <= len(head) <= 64 or position < 1:
        raise InvalidAnchor()
    return Anchor(head, position)
