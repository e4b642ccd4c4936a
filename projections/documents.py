"""The documents registry (文书登记): every issued document by its verification
code, with the source it was printed from, and its PDF's sha256 once stored.

One row per document: a circular (from its draft on; shown once issued), a
finding's rectification notice (from the finding's filing on; shown once the
notice is issued), a unit notice. Kept by following the log like every view; it
can be dropped and rebuilt from the events alone. The verification page and
the download links look documents up here.

Each document also keeps the log position of the event that issued it
(``issued_position``) and, once registered, the anchor printed on it: the audit
chain's head at that position (``anchor_head``, ``anchor_position``; empty for
documents registered before anchors existed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.circular import Circular
from domain.documents import anchor_text, format_code, normalize_code, notice_document_id, verification_code
from domain.finding import NOTICE_DEADLINE_NUMBER, Finding
from domain.events import local_date
from domain.unit_notice import UnitNotice
from projections.bulk_rows import insert_rows
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Rows, SqlView

FINDING_NOTICE = "finding_notice"
UNIT_NOTICE = "unit_notice"
KIND_LABELS = {
    FINDING_NOTICE: "整改通知书",
    UNIT_NOTICE: "单位整改通知书",
    "criticism": "通报批评",
    "ranking": "考评排名通报",
}
DRAFT, ISSUED, REVOKED = "draft", "issued", "revoked"


class DocumentSchema(SqlView):
    #: 2: issued_position and the anchor (issue 7).
    schema_version = 2
    table_names = ("documents",)
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {documents} ("
        " document_id TEXT PRIMARY KEY, code TEXT NOT NULL, kind TEXT NOT NULL, source_id TEXT NOT NULL,"
        " county_id TEXT NOT NULL, unit_id TEXT, cadre_ids TEXT NOT NULL DEFAULT '[]', status TEXT NOT NULL,"
        " document_number TEXT NOT NULL DEFAULT '', title TEXT NOT NULL, issued_at TEXT, issued_on TEXT,"
        " issued_by TEXT, sha256 TEXT, size INTEGER, renderer TEXT, registered_at TEXT, revoked_at TEXT,"
        " revoked_reason TEXT, issued_position BIGINT, anchor_head TEXT, anchor_position BIGINT)",
        # Codes are 50 bits: unique in practice, not by construction; a lookup may find two.
        "CREATE INDEX IF NOT EXISTS documents_code ON {documents} (code)",
        "CREATE INDEX IF NOT EXISTS documents_source ON {documents} (source_id)",
        "CREATE INDEX IF NOT EXISTS documents_pending ON {documents} (status, sha256, issued_at)",
    )


class DocumentSQLiteView(DocumentSchema, SQLiteView):
    pass


class DocumentPostgresView(DocumentSchema, PostgresView):
    pass


class DocumentProjection(BatchProjection):
    name = "documents"
    topics = tuple(
        get_topic(cls)
        for cls in (
            Circular.Drafted, Circular.Edited, Circular.Issued, Circular.Revoked, Circular.DocumentRegistered,
            Finding.Filed, Finding.NoticeIssued, Finding.NoticeDocumentRegistered,
            UnitNotice.Issued, UnitNotice.DocumentRegistered,
        )
    )  # fmt: skip

    #: The log position of the event being applied (see ``before_apply``).
    position = 0

    # The documents made in a batch are kept in memory and inserted at its end
    # in one statement (projections/bulk_rows.py); a change to one of them is made
    # in memory, a change to an older one is an UPDATE as before. A rebuild had
    # been a statement per event.
    def start_batch(self, rows: Rows) -> None:
        self._new: dict[str, dict[str, Any]] = {}
        self._repeated: list[dict[str, Any]] = []

    def before_apply(self, event: Any, tracking: Tracking, rows: Rows) -> None:
        super().before_apply(event, tracking, rows)
        self.position = tracking.notification_id

    def before_commit(self, rows: Rows) -> None:
        made = [*self._new.values(), *self._repeated]
        insert_rows(rows, "documents", DOCUMENT_COLUMNS, [tuple(d[c] for c, _ in DOCUMENT_COLUMNS) for d in made])
        self._new, self._repeated = {}, []

    def _insert(self, **row: Any) -> None:
        document = {**DEFAULTS, **row}
        if document["document_id"] in self._new:  # inserted twice: fail in the database, as the INSERT did
            self._repeated.append(document)
        else:
            self._new[document["document_id"]] = document

    def _change(self, rows: Rows, document_id: str, **changes: Any) -> None:
        made = self._new.get(document_id)
        if made is not None:
            made.update(changes)
            return
        rows.execute(f"UPDATE {{documents}} SET {', '.join(f'{c} = ?' for c in changes)} WHERE document_id = ?",
                     (*changes.values(), document_id))  # fmt: skip

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Other events change nothing here."""

    # Circulars
    @apply.register
    def _(self, e: Circular.Drafted, rows: Rows) -> None:
        circular = e.originator_id
        self._insert(document_id=str(circular), code=verification_code(circular), kind=e.kind, source_id=str(circular),
                     county_id=str(e.county_id), status=DRAFT, title=e.title)  # fmt: skip

    @apply.register
    def _(self, e: Circular.Edited, rows: Rows) -> None:
        self._change(rows, str(e.originator_id), title=e.title)

    @apply.register
    def _(self, e: Circular.Issued, rows: Rows) -> None:
        self._issued(rows, str(e.originator_id), e, e.document_number, e.issued_on)

    @apply.register
    def _(self, e: Circular.Revoked, rows: Rows) -> None:
        self._change(rows, str(e.originator_id), status=REVOKED, revoked_at=e.timestamp.isoformat(),
                     revoked_reason=e.reason)  # fmt: skip

    @apply.register
    def _(self, e: Circular.DocumentRegistered, rows: Rows) -> None:
        self._registered(rows, str(e.originator_id), e)

    # A finding's notice
    @apply.register
    def _(self, e: Finding.Filed, rows: Rows) -> None:
        document = notice_document_id(e.originator_id, NOTICE_DEADLINE_NUMBER)
        self._insert(document_id=str(document), code=verification_code(document), kind=FINDING_NOTICE,
                     source_id=str(e.originator_id), county_id=str(e.county_id), unit_id=str(e.unit_id),
                     cadre_ids=json.dumps([str(c) for c in e.cadre_ids]), status=DRAFT,
                     title=f"“{e.check_item}”问题整改通知书")  # fmt: skip

    @apply.register
    def _(self, e: Finding.NoticeIssued, rows: Rows) -> None:
        document = notice_document_id(e.originator_id, NOTICE_DEADLINE_NUMBER)
        self._issued(rows, str(document), e, None, local_date(e.timestamp).isoformat())

    @apply.register
    def _(self, e: Finding.NoticeDocumentRegistered, rows: Rows) -> None:
        self._registered(rows, str(notice_document_id(e.originator_id, e.deadline_number)), e)

    # Unit notices
    @apply.register
    def _(self, e: UnitNotice.Issued, rows: Rows) -> None:
        notice = e.originator_id
        cadres: dict[str, None] = {}
        for finding_id in e.finding_ids:
            document_id = str(notice_document_id(finding_id, NOTICE_DEADLINE_NUMBER))
            row = self._new.get(document_id) or rows.one("SELECT cadre_ids FROM {documents} WHERE document_id = ?",
                                                         (document_id,))  # fmt: skip
            for cadre in json.loads(row["cadre_ids"]) if row else []:
                cadres[cadre] = None
        self._insert(document_id=str(notice), code=verification_code(notice), kind=UNIT_NOTICE, source_id=str(notice),
                     county_id=str(e.county_id), unit_id=str(e.unit_id), cadre_ids=json.dumps(list(cadres)),
                     status=ISSUED, title="单位整改通知书", issued_at=e.timestamp.isoformat(), issued_on=e.issued_on,
                     issued_by=str(e.actor_id), issued_position=self.position)  # fmt: skip

    @apply.register
    def _(self, e: UnitNotice.DocumentRegistered, rows: Rows) -> None:
        self._registered(rows, str(e.originator_id), e)

    # Shared steps
    def _issued(self, rows: Rows, document_id: str, e: Any, number: str | None, issued_on: str) -> None:
        changes: dict[str, Any] = {"status": ISSUED}
        if number is not None:  # else the number stays as it is
            changes["document_number"] = number
        self._change(rows, document_id, **changes, issued_at=e.timestamp.isoformat(), issued_on=issued_on,
                     issued_by=str(e.actor_id), issued_position=self.position)  # fmt: skip

    def _registered(self, rows: Rows, document_id: str, e: Any) -> None:
        head, position = e.anchor_head, e.anchor_position  # "" and 0 on events from before anchors
        self._change(rows, document_id, sha256=e.sha256, size=e.size, renderer=e.renderer,
                     registered_at=e.timestamp.isoformat(), title=e.title, document_number=e.document_number,
                     anchor_head=head or None, anchor_position=position or None)  # fmt: skip


DOCUMENT_COLUMNS = (
    ("document_id", "text"), ("code", "text"), ("kind", "text"), ("source_id", "text"), ("county_id", "text"),
    ("unit_id", "text"), ("cadre_ids", "text"), ("status", "text"), ("document_number", "text"), ("title", "text"),
    ("issued_at", "text"), ("issued_on", "text"), ("issued_by", "text"), ("sha256", "text"), ("size", "integer"),
    ("renderer", "text"), ("registered_at", "text"), ("revoked_at", "text"), ("revoked_reason", "text"),
    ("issued_position", "bigint"), ("anchor_head", "text"), ("anchor_position", "bigint"),
)  # fmt: skip
#: What a new document holds in the columns its INSERT left to the table's defaults.
DEFAULTS: dict[str, Any] = {**{c: None for c, _ in DOCUMENT_COLUMNS}, "cadre_ids": "[]", "document_number": ""}


@dataclass(frozen=True)
class DocumentRow:
    document_id: str
    code: str
    kind: str
    source_id: str
    county_id: str
    unit_id: str | None
    cadre_ids: tuple[str, ...]
    status: str
    document_number: str
    title: str
    issued_at: str | None
    issued_on: str | None
    issued_by: str | None
    sha256: str | None
    size: int | None
    renderer: str | None
    registered_at: str | None
    revoked_at: str | None
    revoked_reason: str | None
    #: The log position of the issuing event; the anchor printed on the registered PDF (None if none).
    issued_position: int | None = None
    anchor_head: str | None = None
    anchor_position: int | None = None

    @property
    def anchor(self) -> str:
        """``H@N`` as printed on the document, or "" (not registered yet, or registered before anchors)."""
        return anchor_text(self.anchor_head, self.anchor_position or 0) if self.anchor_head else ""

    @property
    def rendered(self) -> bool:
        """Its PDF is stored and registered (else it is still being printed)."""
        return bool(self.sha256)

    @property
    def display_code(self) -> str:
        return format_code(self.code)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def is_circular(self) -> bool:
        return self.kind not in (FINDING_NOTICE, UNIT_NOTICE)

    @property
    def download_path(self) -> str:
        """The download address (``app.web.documents.download``), as a path."""
        return f"/documents/{self.display_code}.pdf"

    # A mapping too, for templates and callers that read rows as dicts:
    # every field, plus ``verification_code`` (as printed), ``download_url``, ``rendered``.
    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data.update(verification_code=self.display_code, download_url=self.download_path, rendered=self.rendered,
                    kind_label=self.kind_label, anchor=self.anchor)  # fmt: skip
        return data

    def keys(self) -> list[str]:
        return list(self.as_dict())

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.as_dict().get(key, default)

    @classmethod
    def of(cls, row: Any) -> DocumentRow:
        data = dict(row)
        data["cadre_ids"] = tuple(json.loads(data["cadre_ids"] or "[]"))
        for key in ("size", "issued_position", "anchor_position"):
            data[key] = int(data[key]) if data.get(key) is not None else None
        return cls(**data)


class DocumentQuery:
    def __init__(self, view: SqlView):
        self.view = view

    def by_code(self, typed: str) -> list[DocumentRow]:
        """Issued documents with this code, as typed (any case, dashes or not); [] if none."""
        code = normalize_code(typed)
        if code is None:
            return []
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT * FROM {documents} WHERE code = ? AND status <> ? ORDER BY issued_at, document_id",
                (code, DRAFT),
            )
        return [DocumentRow.of(r) for r in found]

    def for_source(self, source_id: str) -> DocumentRow | None:
        """The issued document of a circular, a unit notice, or a finding (its
        rectification notice); None while a draft or not yet issued."""
        with self.view.reading() as rows:
            row = rows.one(
                "SELECT * FROM {documents} WHERE source_id = ? AND status <> ? ORDER BY issued_at LIMIT 1",
                (str(source_id), DRAFT),
            )
        return DocumentRow.of(row) if row else None

    def unit_notices(self, unit_id: str) -> list[DocumentRow]:
        """A unit's notices (unit notices addressed to it), newest first."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT * FROM {documents} WHERE kind = ? AND unit_id = ? ORDER BY issued_at DESC, document_id",
                (UNIT_NOTICE, str(unit_id)),
            )
        return [DocumentRow.of(r) for r in found]

    def unregistered(self, issued_before: str, limit: int = 20) -> list[DocumentRow]:
        """Issued documents still without a PDF, issued before the given instant, oldest first."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT * FROM {documents} WHERE status <> ? AND sha256 IS NULL AND issued_at < ?"
                " ORDER BY issued_at, document_id LIMIT ?",
                (DRAFT, issued_before, limit),
            )
        return [DocumentRow.of(r) for r in found]

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row, in a fixed order: what a rebuild must reproduce."""
        with self.view.reading() as rows:
            return [dict(r) for r in rows.all("SELECT * FROM {documents} ORDER BY document_id")]
