"""The in-app inbox (站内信): every message per receiving unit and per receiving
user, who has read it, and the log of delivery attempts on every channel.

Kept by following the event log like the ledger, with its own tables and its
own tracking position; it can be dropped and rebuilt from the events alone.
Every row carries the county it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.message import Message
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, BufferedTable, Rows, SqlView

#: How a recipient is named in ``inbox_recipients.recipient_kind``.
UNIT_RECIPIENT = "unit"
USER_RECIPIENT = "user"


class InboxSchema(SqlView):
    table_names = ("inbox_messages", "inbox_recipients", "inbox_reads", "inbox_deliveries")
    schema_statements = (
        "CREATE TABLE IF NOT EXISTS {inbox_messages} ("
        " message_id TEXT PRIMARY KEY, county_id TEXT NOT NULL, purpose TEXT NOT NULL, finding_id TEXT,"
        " title TEXT NOT NULL, body TEXT NOT NULL, sent_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS inbox_messages_sent ON {inbox_messages} (sent_at)",
        # Who a message is addressed to: a unit (its unit users and command office) or a user.
        "CREATE TABLE IF NOT EXISTS {inbox_recipients} ("
        " message_id TEXT NOT NULL, county_id TEXT NOT NULL, recipient_kind TEXT NOT NULL,"
        " recipient_id TEXT NOT NULL, PRIMARY KEY (recipient_kind, recipient_id, message_id))",
        "CREATE INDEX IF NOT EXISTS inbox_recipients_message ON {inbox_recipients} (message_id)",
        "CREATE TABLE IF NOT EXISTS {inbox_reads} ("
        " message_id TEXT NOT NULL, user_id TEXT NOT NULL, county_id TEXT NOT NULL, read_at TEXT NOT NULL,"
        " PRIMARY KEY (message_id, user_id))",
        "CREATE INDEX IF NOT EXISTS inbox_reads_user ON {inbox_reads} (user_id)",
        "CREATE TABLE IF NOT EXISTS {inbox_deliveries} ("
        " message_id TEXT NOT NULL, county_id TEXT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL,"
        " attempt INTEGER NOT NULL, succeeded INTEGER NOT NULL, detail TEXT NOT NULL, at TEXT NOT NULL,"
        " PRIMARY KEY (message_id, channel, recipient, attempt))",
    )


class InboxSQLiteView(InboxSchema, SQLiteView):
    pass


class InboxPostgresView(InboxSchema, PostgresView):
    pass


MESSAGE_COLUMNS = ("message_id", "county_id", "purpose", "finding_id", "title", "body", "sent_at")


class InboxProjection(BatchProjection):
    """Turns message events into inbox rows, written once per batch (``BufferedTable``)."""

    name = "inbox"
    topics = tuple(get_topic(cls) for cls in (Message.Sent, Message.DeliveryAttempted, Message.Read))

    def __init__(self, view: SqlView):
        super().__init__(view)
        self._messages = BufferedTable("inbox_messages", ("message_id",), MESSAGE_COLUMNS)
        self._recipients = BufferedTable(
            "inbox_recipients", ("recipient_kind", "recipient_id", "message_id"),
            ("message_id", "county_id", "recipient_kind", "recipient_id"),
        )  # fmt: skip
        self._deliveries = BufferedTable(
            "inbox_deliveries", ("message_id", "channel", "recipient", "attempt"),
            ("message_id", "county_id", "channel", "recipient", "attempt", "succeeded", "detail", "at"),
        )  # fmt: skip
        self._reads = BufferedTable(
            "inbox_reads", ("message_id", "user_id"), ("message_id", "user_id", "county_id", "read_at")
        )
        self._tables = (self._messages, self._recipients, self._deliveries, self._reads)

    def start_batch(self, rows: Rows) -> None:
        super().start_batch(rows)
        for table in self._tables:
            table.reset()

    def prefetch(self, events: Sequence[Any], rows: Rows) -> None:
        # Neither a delivery nor a reading names the county: it is the message's.
        self._messages.load(rows, [str(e.originator_id) for e in events if not isinstance(e, Message.Sent)])

    def before_commit(self, rows: Rows) -> None:
        for table in self._tables:
            table.flush(rows)
        super().before_commit(rows)

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Events of no interest to the inbox change nothing."""

    @apply.register
    def _(self, e: Message.Sent, rows: Rows) -> None:
        message, county = str(e.originator_id), str(e.county_id)
        self._messages.add({
            "message_id": message, "county_id": county, "purpose": e.purpose, "finding_id": _str(e.finding_id),
            "title": e.title, "body": e.body, "sent_at": e.timestamp.isoformat(),
        })  # fmt: skip
        recipients = [(UNIT_RECIPIENT, str(u)) for u in e.unit_ids] + [(USER_RECIPIENT, str(u)) for u in e.user_ids]
        for kind, recipient_id in dict.fromkeys(recipients):
            self._recipients.add(
                {"message_id": message, "county_id": county, "recipient_kind": kind, "recipient_id": recipient_id}
            )

    # An event of a message not in the view adds nothing (as INSERT ... SELECT from it did).
    @apply.register
    def _(self, e: Message.DeliveryAttempted, rows: Rows) -> None:
        message = self._messages.get(str(e.originator_id))
        if message is not None:
            self._deliveries.add({
                "message_id": message["message_id"], "county_id": message["county_id"], "channel": e.channel,
                "recipient": e.recipient, "attempt": e.attempt, "succeeded": 1 if e.succeeded else 0,
                "detail": e.detail, "at": e.timestamp.isoformat(),
            })  # fmt: skip

    @apply.register
    def _(self, e: Message.Read, rows: Rows) -> None:
        message = self._messages.get(str(e.originator_id))
        if message is not None:
            self._reads.add({
                "message_id": message["message_id"], "user_id": str(e.user_id), "county_id": message["county_id"],
                "read_at": e.timestamp.isoformat(),
            })  # fmt: skip


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
