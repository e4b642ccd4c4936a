"""What a file is, judged by its content: the magic bytes at its start.

Only the three kinds of evidence are recognised; anything else (a script, an
executable, HTML) is unknown, whatever its name says.
"""

from __future__ import annotations

from domain.attachments import JPEG, PDF, PNG

#: Leading bytes of each accepted kind.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"%PDF-", PDF),
)
#: How many bytes ``sniff`` needs to see.
HEAD_BYTES = max(len(magic) for magic, _ in SIGNATURES)


def sniff(data: bytes) -> str | None:
    """The media type the bytes are, or None when they are none of ours."""
    for magic, media_type in SIGNATURES:
        if data.startswith(magic):
            return media_type
    return None
