"""Reading an inspection team's spreadsheet (the import template, filled in).

``read_import(data, filename, directory)`` checks the whole file before anything
is recorded and returns either the inspection's header and one ImportRow per
finding, or every problem found, row by row (行号, 列, 问题). The vocabularies
(categories, severities, sources) and the household-number format are the
domain's own; the service checks each row again when it files it.

The layout is found by its labels, not fixed cells, so a team may add rows
above the table or reorder its columns: the header area holds "label | value"
pairs (督查批次名称, 问题来源, 开始日期, 结束日期), and the table starts at the row
whose cells include 责任单位 and 问题描述.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from app.excel.container import check_container, sheets_with_formulas
from domain.check_items import normalise_check_item
from domain.events import CADRE, CATEGORIES, SEVERITIES, SOURCES
from domain.finding import HOUSEHOLD_NUMBER, InvalidHouseholdNumber
from domain.service import NotACadre, RetiredUnitCannotBeAccountable, ImportRow

#: Findings one file may hold; a round with more is split into several files.
MAX_ROWS = 1000
#: Columns read from each row; the table has seven, a team may add a few notes.
MAX_COLUMNS = 30
#: The table's header row must appear within this many rows from the top.
HEADER_SEARCH_ROWS = 50
DATA_SHEET = "督查问题"

#: Header-area labels (first one is the template's), by the field they fill.
HEADER_LABELS: dict[str, tuple[str, ...]] = {
    "title": ("督查批次名称", "督查批次", "督查名称"),
    "source": ("问题来源",),
    "starts_on": ("开始日期",),
    "ends_on": ("结束日期",),
}
#: Table columns (first label is the template's), by the field they fill.
COLUMN_LABELS: dict[str, tuple[str, ...]] = {
    "unit": ("责任单位",),
    "category": ("问题类别", "问题类型"),
    "check_item": ("检查项目", "检查事项"),
    "description": ("问题描述",),
    "severity": ("严重程度", "问题等级"),
    "household_no": ("户号", "户编号"),
    "cadres": ("帮扶责任人",),
}
REQUIRED_COLUMNS = ("unit", "category", "check_item", "description", "severity")
#: How the village form "乡镇/村" separates the town from the village.
PATH_SEPARATORS = re.compile(r"\s*[/／\\]\s*")
NAME_SEPARATORS = re.compile(r"[、,，;；\s]+")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")


def header_label(field_name: str) -> str:
    return HEADER_LABELS[field_name][0]


def column_label(field_name: str) -> str:
    return COLUMN_LABELS[field_name][0]


@dataclass(frozen=True)
class Problem:
    """One reason the file is refused. ``row`` is the spreadsheet's row number
    (None: the file as a whole); ``column`` the column's or field's label."""

    row: int | None
    column: str
    message: str


@dataclass(frozen=True)
class InspectionHeader:
    title: str
    source: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class ImportFile:
    digest: str
    header: InspectionHeader | None
    rows: tuple[ImportRow, ...]
    problems: tuple[Problem, ...]
    #: The file itself could not be read (not a workbook, too large, macros):
    #: a bad request, as opposed to a readable file with bad rows.
    unreadable: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


# Who and what the names in a file may mean
@dataclass(frozen=True)
class UnitEntry:
    unit_id: str
    name: str
    parent_name: str
    retired: bool


@dataclass
class Directory:
    """The county's accountable units and responsible cadres, by the names a
    team writes (from the ledger view's units and users)."""

    units: list[UnitEntry] = field(default_factory=list)
    cadres: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def from_view(
        cls, units: Iterable[Mapping[str, Any]], users: Iterable[Mapping[str, Any]], kinds: Sequence[str]
    ) -> Directory:
        units = list(units)
        names = {u["unit_id"]: u["name"] for u in units}
        return cls(
            units=[
                UnitEntry(u["unit_id"], u["name"], names.get(u["parent_id"] or "", ""), bool(u["retired"]))
                for u in units
                if u["kind"] in kinds
            ],
            cadres=[
                {"user_id": u["user_id"], "name": u["name"], "login": u["login"]}
                for u in users
                if CADRE in str(u["roles"]).split(",")
            ],
        )

    def unit(self, text: str) -> UUID:
        """The unit a cell names: "名称", or "乡镇/村" when a village's name is not
        unique. Raises LookupError with the message to show."""
        parts = [p for p in PATH_SEPARATORS.split(text.strip()) if p]
        if len(parts) == 2:
            found = [u for u in self.units if u.name == parts[1] and u.parent_name == parts[0]]
            # A department's own name may hold a slash ("文化和旅游局/体育局").
            found = found or [u for u in self.units if u.name == text.strip()]
        elif len(parts) == 1:
            found = [u for u in self.units if u.name == parts[0]]
        else:
            raise LookupError("单位名称格式不正确，应填写单位名称，或“乡镇/村”")
        if not found:
            raise LookupError(f"找不到责任单位“{text.strip()}”，请填写系统中登记的单位名称")
        current = [u for u in found if not u.retired]
        if not current:
            raise LookupError(RetiredUnitCannotBeAccountable.message)
        if len(current) > 1:
            choices = "、".join(f"{u.parent_name}/{u.name}" for u in current)
            raise LookupError(f"有多个单位名为“{text.strip()}”，请写成“乡镇/村”的形式：{choices}")
        return UUID(current[0].unit_id)

    def unit_labels(self) -> list[str]:
        """Each current unit as a team should write it: its name, or "乡镇/村"
        when another current unit has the same name."""
        current = [u for u in self.units if not u.retired]
        counts: dict[str, int] = {}
        for u in current:
            counts[u.name] = counts.get(u.name, 0) + 1
        labels = [u.name if counts[u.name] == 1 or not u.parent_name else f"{u.parent_name}/{u.name}" for u in current]
        return sorted(labels)

    def cadre_labels(self) -> list[str]:
        return sorted(f"{c['name']}（{c['login']}）" for c in self.cadres)

    def cadre_ids(self, text: str) -> tuple[UUID, ...]:
        """Cadres named by name or login, separated by 、 or a comma."""
        ids: list[UUID] = []
        for token in (t for t in NAME_SEPARATORS.split(text.strip()) if t):
            by_login = [c for c in self.cadres if c["login"] == token]
            found = by_login or [c for c in self.cadres if c["name"] == token]
            if not found:
                raise LookupError(f"找不到帮扶责任人“{token}”（{NotACadre.message}）")
            if len(found) > 1:
                raise LookupError(f"帮扶责任人“{token}”有重名，请改填其登录名")
            ids.append(UUID(found[0]["user_id"]))
        return tuple(dict.fromkeys(ids))


# Cells
def _normalise_label(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return re.sub(r"[\s*＊:：]", "", value)


def _field_for(label: str, labels: Mapping[str, tuple[str, ...]]) -> str | None:
    for name, aliases in labels.items():
        if label in aliases:
            return name
    return None


class CellError(ValueError):
    pass


#: Stands in for a formula cell: reported once as a formula, not again as empty or malformed.
FORMULA = object()


def cell_text(value: Any) -> str:
    """A cell as text: numbers without a spurious ".0", dates as ISO dates."""
    if value is None:
        return ""
    if isinstance(value, bool):
        raise CellError("应填写文字")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    # A description may keep its line breaks; a one-line value loses the stray
    # spaces copy and paste leaves in it.
    return text if "\n" in text else " ".join(text.split())


def cell_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        for pattern in DATE_FORMATS:
            try:
                return datetime.strptime(text, pattern).date()
            except ValueError:
                continue
    raise CellError("日期格式不正确，请填写如 2026-10-09 的日期")


def choice(value: Any, vocabulary: Mapping[str, str], what: str) -> str:
    """A Chinese label (or its code) from one of the domain's vocabularies."""
    text = cell_text(value)
    by_label = {label: code for code, label in vocabulary.items()}
    if text in by_label:
        return by_label[text]
    if text in vocabulary:
        return text
    raise CellError(f"未知的{what}“{text}”，应为：{'、'.join(vocabulary.values())}")


# The file
def read_import(data: bytes, filename: str, directory: Directory) -> ImportFile:
    digest = hashlib.sha256(data).hexdigest()
    refusal = check_container(data, filename)
    if refusal is not None:
        return ImportFile(digest, None, (), (Problem(None, "文件", refusal.message),), unreadable=True)
    try:
        with warnings.catch_warnings():
            # Files from other programs make openpyxl warn (unsupported extensions);
            # none of it matters to reading cell values.
            warnings.simplefilter("ignore")
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception:  # noqa: BLE001 — any failure to parse is a damaged upload, not a bug here
        return ImportFile(digest, None, (), (Problem(None, "文件", "文件已损坏或不是有效的Excel工作簿，无法读取"),), unreadable=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read_workbook(workbook, digest, data, directory)
    except Exception:  # noqa: BLE001 — damaged sheet XML surfaces only while rows are read
        return ImportFile(digest, None, (), (Problem(None, "文件", "文件已损坏，无法读取其中的表格"),), unreadable=True)
    finally:
        workbook.close()


def _read_workbook(workbook: Any, digest: str, data: bytes, directory: Directory) -> ImportFile:
    sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
    ws = workbook[DATA_SHEET] if DATA_SHEET in workbook.sheetnames else (sheets[0] if sheets else None)
    if ws is None:
        return ImportFile(digest, None, (), (Problem(None, "文件", "文件中没有工作表"),))
    ws.reset_dimensions()  # a forged <dimension> must not make openpyxl pad a million rows

    problems: list[Problem] = []
    rows: list[tuple[int, tuple[Any, ...]]] = []
    formula_found = False
    header_row: int | None = None
    data_rows = 0
    for number, cells in enumerate(ws.iter_rows(max_col=MAX_COLUMNS), start=1):
        if header_row is None and number > HEADER_SEARCH_ROWS:
            break
        values = []
        for index, cell in enumerate(cells, start=1):
            value = getattr(cell, "value", None)
            if getattr(cell, "data_type", None) == "f" or (isinstance(value, str) and value.lstrip().startswith("=")):
                formula_found = True
                problems.append(
                    Problem(number, get_column_letter(index), "单元格含有公式，请复制后“选择性粘贴为数值”再导入")
                )
                value = FORMULA
            values.append(value)
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if header_row is None:
            labels = {_normalise_label(v) for v in values}
            if column_label("unit") in labels and column_label("description") in labels:
                header_row = number
        elif (data_rows := data_rows + 1) > MAX_ROWS:
            return ImportFile(
                digest, None, (), (Problem(number, "", f"问题超过{MAX_ROWS}行，请拆分为多个文件分别导入"),)
            )
        rows.append((number, tuple(values)))
    if not formula_found and sheets_with_formulas(data):
        problems.append(Problem(None, "文件", "文件中含有公式（在其他工作表或表格以外的区域），请粘贴为数值后再导入"))
    if header_row is None:
        problems.append(
            Problem(None, "文件", "找不到问题表的表头（应有“责任单位”“问题描述”等列），请使用导入模板填写")
        )
        return ImportFile(digest, None, (), tuple(problems))

    header, header_problems = _read_header([r for r in rows if r[0] < header_row])
    problems += header_problems
    columns, column_problems = _read_columns(dict(rows)[header_row], header_row)
    problems += column_problems
    found: list[ImportRow] = []
    if not column_problems:
        found, row_problems = _read_rows([r for r in rows if r[0] > header_row], columns, directory)
        problems += row_problems
        if not found and not row_problems:
            problems.append(Problem(None, "文件", "表格中没有填写任何问题"))
    order = sorted(problems, key=lambda p: (p.row is not None, p.row or 0))
    return ImportFile(digest, header if not problems else None, tuple(found) if not problems else (), tuple(order))


def _read_header(rows: list[tuple[int, tuple[Any, ...]]]) -> tuple[InspectionHeader | None, list[Problem]]:
    cells: dict[str, tuple[int, Any]] = {}
    for number, values in rows:
        for index, value in enumerate(values):
            name = _field_for(_normalise_label(value), HEADER_LABELS)
            if name is None or name in cells:
                continue
            following = [v for v in values[index + 1 :] if v is FORMULA or (v is not None and cell_text(v) != "")]
            cells[name] = (number, following[0] if following else None)
    problems: list[Problem] = []
    parsed: dict[str, Any] = {}
    for name in HEADER_LABELS:
        number, value = cells.get(name, (None, None))
        label = header_label(name)
        if number is None:
            problems.append(Problem(None, label, f"缺少“{label}”，请在表格上方填写"))
            continue
        if value is FORMULA:
            continue
        if value is None:
            problems.append(Problem(number, label, f"请填写“{label}”"))
            continue
        try:
            if name == "title":
                parsed[name] = cell_text(value)
            elif name == "source":
                parsed[name] = choice(value, SOURCES, "问题来源")
            else:
                parsed[name] = cell_date(value)
        except CellError as error:
            problems.append(Problem(number, label, str(error)))
    if "starts_on" in parsed and "ends_on" in parsed and parsed["ends_on"] < parsed["starts_on"]:
        problems.append(Problem(cells["ends_on"][0], header_label("ends_on"), "结束日期不能早于开始日期"))
    if problems:
        return None, problems
    return InspectionHeader(**parsed), []


def _read_columns(values: tuple[Any, ...], number: int) -> tuple[dict[str, int], list[Problem]]:
    columns: dict[str, int] = {}
    problems: list[Problem] = []
    for index, value in enumerate(values):
        name = _field_for(_normalise_label(value), COLUMN_LABELS)
        if name is None:
            continue
        if name in columns:
            problems.append(Problem(number, get_column_letter(index + 1), f"“{column_label(name)}”列出现了两次"))
        columns[name] = index
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            problems.append(Problem(number, column_label(name), f"表头缺少“{column_label(name)}”列"))
    return columns, problems


def _read_rows(
    rows: list[tuple[int, tuple[Any, ...]]], columns: dict[str, int], directory: Directory
) -> tuple[list[ImportRow], list[Problem]]:
    found: list[ImportRow] = []
    problems: list[Problem] = []
    seen: dict[tuple[Any, ...], int] = {}
    for number, values in rows:
        def value(name: str) -> Any:
            index = columns.get(name)
            return values[index] if index is not None and index < len(values) else None

        row_problems: list[Problem] = []
        parsed: dict[str, Any] = {}

        def take(name: str, read: Any) -> None:
            label = column_label(name)
            raw = value(name)
            if raw is FORMULA:
                row_problems.append(Problem(number, label, ""))  # reported already, with its cell
                return
            if name in REQUIRED_COLUMNS and (raw is None or cell_text(raw) == ""):
                row_problems.append(Problem(number, label, f"请填写“{label}”"))
                return
            try:
                parsed[name] = read(raw)
            except (CellError, LookupError) as error:
                row_problems.append(Problem(number, label, str(error)))

        take("unit", lambda v: directory.unit(cell_text(v)))
        take("category", lambda v: choice(v, CATEGORIES, "问题类别"))
        take("check_item", cell_text)
        take("description", cell_text)
        take("severity", lambda v: choice(v, SEVERITIES, "严重程度"))
        take("household_no", _household_number)
        take("cadres", lambda v: directory.cadre_ids(cell_text(v)) if v is not None else ())
        if row_problems:
            problems += [p for p in row_problems if p.message]
            continue
        key = (
            parsed["unit"], parsed["category"], normalise_check_item(parsed["check_item"]),
            " ".join(parsed["description"].split()), parsed["household_no"],
        )  # fmt: skip
        if key in seen:
            problems.append(Problem(number, "", f"与第{seen[key]}行重复（同一单位、类别、检查项目、问题描述和户号）"))
            continue
        seen[key] = number
        found.append(
            ImportRow(
                row=number,
                unit_id=parsed["unit"],
                category=parsed["category"],
                severity=parsed["severity"],
                check_item=parsed["check_item"],
                description=parsed["description"],
                household_no=parsed["household_no"],
                cadre_ids=parsed["cadres"],
            )
        )
    return found, problems


def _household_number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # Excel keeps 15 significant digits: an 18-digit number typed into a
        # number cell has already lost its last digits.
        raise CellError("户号须以文本格式填写（长数字在Excel中会被改写），请将该列设为“文本”后重新录入")
    text = cell_text(value)
    if text and not HOUSEHOLD_NUMBER.match(text):
        raise CellError(InvalidHouseholdNumber.message)
    return text
