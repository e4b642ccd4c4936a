"""Join sections laid out in parallel into one PDF, and put the page furniture on.

Every section was laid out by WeasyPrint as its own document, its first page a
right-hand (odd) page, without page numbers. Here the pages are put in order;
page *n* gets, as a form XObject, page *n* of a furniture render (the page
number "— n —" on the outer side, the verification code, the QR code on page
1: the same CSS margin boxes as a one-piece render), and a section page that
lands on a page of the other parity is shifted sideways by the difference
between the binding and the outer margins, so the 28 mm binding margin is on
the left of odd pages and on the right of even ones. Nothing is parsed or
rewritten in the sections' content streams: they are wrapped in ``q … Q``.
Output is deterministic: fixed identifier, fixed dates, no clock.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    ByteStringObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NumberObject,
)

from workers.documents.model import OfficialDocument

MM = 72 / 25.4
#: A right-hand page's text block starts at 28 mm, a left-hand page's at 26 mm.
SHIFT_PT = (28.0 - 26.0) * MM
FURNITURE = NameObject("/DubanFurniture")


def _stream(writer: PdfWriter, data: bytes):  # type: ignore[no-untyped-def]
    stream = DecodedStreamObject()
    stream.set_data(data)
    return writer._add_object(stream)


def join_sections(
    document: OfficialDocument,
    parts: list[bytes],
    identifier: bytes,
    furniture: Callable[[int], bytes],
) -> bytes:
    readers = [PdfReader(io.BytesIO(part)) for part in parts]
    total = sum(len(reader.pages) for reader in readers)
    furniture_reader = PdfReader(io.BytesIO(furniture(total)))
    if len(furniture_reader.pages) != total:
        raise RuntimeError(f"furniture has {len(furniture_reader.pages)} pages for {total}")
    writer = PdfWriter()
    number = 0
    for reader in readers:
        for local, page in enumerate(reader.pages):
            added = writer.add_page(page)
            stamp = furniture_reader.pages[number]
            form = DecodedStreamObject()
            form.set_data(stamp.get_contents().get_data() if stamp.get_contents() is not None else b"")
            form[NameObject("/Type")] = NameObject("/XObject")
            form[NameObject("/Subtype")] = NameObject("/Form")
            form[NameObject("/BBox")] = ArrayObject([NumberObject(0), NumberObject(0), stamp.mediabox[2], stamp.mediabox[3]])
            form[NameObject("/Resources")] = stamp["/Resources"].clone(writer)
            form_ref = writer._add_object(form)
            # Local page ``local`` of a section has the parity of its index; page ``number`` the true one.
            local_right, right = local % 2 == 0, number % 2 == 0
            shift = 0.0 if local_right == right else (SHIFT_PT if right else -SHIFT_PT)
            resources = DictionaryObject(added["/Resources"].get_object())
            xobjects = DictionaryObject(resources.get("/XObject", DictionaryObject()).get_object())
            xobjects[FURNITURE] = form_ref
            resources[NameObject("/XObject")] = xobjects
            added[NameObject("/Resources")] = resources
            contents = added.get("/Contents")
            original = list(contents.get_object()) if isinstance(contents.get_object(), ArrayObject) else [contents]
            before = _stream(writer, b"q 1 0 0 1 %.4f 0 cm\n" % shift)
            after = _stream(writer, b"\nQ q /DubanFurniture Do Q\n")
            added[NameObject("/Contents")] = ArrayObject([before, *original, after])
            number += 1
    signed = f"D:{document.signed_on:%Y%m%d}000000+08'00"  # as WeasyPrint writes it
    writer.add_metadata({
        "/Title": document.title, "/Author": document.signatory, "/Creator": "Duban",
        "/Producer": f"WeasyPrint {__import__('weasyprint').__version__} + pypdf",
        "/CreationDate": signed, "/ModDate": signed,
    })  # fmt: skip
    writer._ID = ArrayObject([ByteStringObject(identifier), ByteStringObject(identifier)])
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


__all__ = ["join_sections"]
