"""Is an uploaded file an .xlsx we are willing to open?

openpyxl trusts the zip it is given: a small upload can declare gigabytes of
XML (a zip bomb), carry macros, or be something else entirely. Everything here
is decided from the zip's central directory and bounded reads, before openpyxl
sees a byte. Python's zipfile never inflates an entry past the size the
directory declares for it, so capping the declared sizes caps what openpyxl can
be made to read.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass

MAX_FILE_BYTES = 5 * 1024 * 1024
#: Real workbooks of MAX_ROWS findings inflate to a few megabytes; these leave ample room.
MAX_UNCOMPRESSED_BYTES = 40 * 1024 * 1024
MAX_ENTRY_BYTES = 25 * 1024 * 1024
MAX_ENTRIES = 500

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old .xls (and encrypted .xlsx)
MACRO_PARTS = re.compile(r"(^|/)(vbaProject\.bin|vbaData\.xml)$|^xl/(macrosheets|activeX)/", re.IGNORECASE)
#: A formula element in a worksheet's XML, whichever cell or sheet it is in.
FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
#: Entities are how XML bombs grow; no part of a genuine workbook declares any.
DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    """Why the whole file is refused (shown to the user as is)."""

    message: str


def _looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    if b"\x00" in head:
        return False
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            head.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def check_container(data: bytes, filename: str = "") -> Refusal | None:
    """None if ``data`` may be handed to openpyxl, else why not."""
    name = filename.lower()
    if len(data) > MAX_FILE_BYTES:
        return Refusal(f"文件过大（{len(data) / 1024 / 1024:.1f}MB），导入文件不能超过{MAX_FILE_BYTES // 1024 // 1024}MB")
    if not data:
        return Refusal("文件是空的，请选择填写好的Excel文件")
    if name.endswith((".xlsm", ".xltm", ".xlam")):
        return Refusal("不接受含宏的Excel文件（.xlsm），请另存为“Excel 工作簿（.xlsx）”后再导入")
    if data.startswith(OLE_MAGIC):
        return Refusal("这是旧版Excel（.xls）或加密的文件，请去掉密码并另存为“Excel 工作簿（.xlsx）”后再导入")
    if not data.startswith(ZIP_MAGIC):
        if name.endswith((".csv", ".txt")) or _looks_like_text(data):
            return Refusal("这是文本（CSV）文件，不是Excel工作簿，请用导入模板填写并保存为.xlsx后再导入")
        return Refusal("文件不是Excel工作簿（.xlsx），无法读取")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return Refusal("文件已损坏或不是Excel工作簿（.xlsx），无法读取")
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            return Refusal("文件结构异常（内部文件过多），无法导入")
        names = {e.filename for e in entries}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            return Refusal("压缩文件不是Excel工作簿（.xlsx），无法导入")
        if any(MACRO_PARTS.search(n) for n in names):
            return Refusal("文件含有宏或控件，为安全起见不予导入，请另存为“Excel 工作簿（.xlsx）”后再导入")
        if sum(e.file_size for e in entries) > MAX_UNCOMPRESSED_BYTES or any(
            e.file_size > MAX_ENTRY_BYTES for e in entries
        ):
            return Refusal("文件解压后过大，疑似异常文件，不予导入")
        if any(e.flag_bits & 0x1 for e in entries):
            return Refusal("文件已加密，请去掉密码后再导入")
        try:
            content_types = archive.read("[Content_Types].xml")
            if b"macroEnabled" in content_types:
                return Refusal("文件含有宏，为安全起见不予导入，请另存为“Excel 工作簿（.xlsx）”后再导入")
            for entry in entries:
                if entry.filename.lower().endswith((".xml", ".rels")) and DOCTYPE.search(archive.read(entry)):
                    return Refusal("文件结构异常（含有XML实体声明），不予导入")
        except (zipfile.BadZipFile, zlib.error, OSError, ValueError, RuntimeError, EOFError, NotImplementedError):
            return Refusal("文件已损坏，无法读取")
    return None


def sheets_with_formulas(data: bytes) -> list[str]:
    """The worksheet parts that hold a formula anywhere (call after check_container
    passed): the cell-by-cell scan only reads the columns an import uses."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            e.filename
            for e in archive.infolist()
            if e.filename.startswith("xl/worksheets/") and e.filename.endswith(".xml") and FORMULA.search(archive.read(e))
        ]
