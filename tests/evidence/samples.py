"""Small real evidence files, made in the test: a photo as JPEG and as PNG, and a
one-page PDF; and files that only pretend to be one."""

from __future__ import annotations

import io

from PIL import Image


def jpeg(shade: int = 120) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), (shade, 90, 60)).save(out, "JPEG", quality=80)
    return out.getvalue()


def png(shade: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (5, 5), (10, shade, 30)).save(out, "PNG")
    return out.getvalue()


def pdf(text: str = "rectified") -> bytes:
    """A valid one-page PDF with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 20 40 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


SCRIPT = b"#!/bin/sh\nrm -rf ~\n"
HTML = b"<html><script>alert(1)</script></html>"
#: A Windows executable's start (MZ), as a renamed .exe would have it.
EXECUTABLE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
