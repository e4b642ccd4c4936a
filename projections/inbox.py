"""The in-app inbox (站内信): every message per receiving unit and per receiving
user, who has read it, and the log of delivery attempts on every channel.

Kept by following the event log like the ledger, with its own tables and its
own tracking position; it can be dropped and rebuilt from the events alone.
Every row carries the county it belongs to.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.utils import get_topic

from domain.message import Message
from projections.postgres import PostgresView
from projections.sqlite import SQLiteView
from projections.views import BatchProjection, Rows, SqlView

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


class InboxProjection(BatchProjection):
    """Turns message events into inbox rows."""

    name = "inbox"
    topics = tuple(get_topic(cls) for cls in (Message.Sent, Message.DeliveryAttempted, Message.Read))

    @singledispatchmethod
    def apply(self, event: Any, rows: Rows) -> None:
        """Events of no interest to the inbox change nothing."""

    @apply.register
    def _(self, e: Message.Sent, rows: Rows) -> None:
        message, county = str(e.originator_id), str(e.county_id)
        rows.execute(
            "INSERT INTO {inbox_messages} (message_id, county_id, purpose, finding_id, title, body, sent_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (message, county, e.purpose, _str(e.finding_id), e.title, e.body, e.timestamp.isoformat()),
        )
        recipients = [(UNIT_RECIPIENT, str(u)) for u in e.unit_ids] + [(USER_RECIPIENT, str(u)) for u in e.user_ids]
        for kind, recipient_id in dict.fromkeys(recipients):
            rows.execute(
                "INSERT INTO {inbox_recipients} (message_id, county_id, recipient_kind, recipient_id)"
                " VALUES (?, ?, ?, ?)",
                (message, county, kind, recipient_id),
            )

    # Neither event names the county: it is the message's.
    @apply.register
    def _(self, e: Message.DeliveryAttempted, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {inbox_deliveries} (message_id, county_id, channel, recipient, attempt, succeeded, detail, at)"
            " SELECT message_id, county_id, ?, ?, ?, ?, ?, ? FROM {inbox_messages} WHERE message_id = ?",
            (
                e.channel, e.recipient, e.attempt, 1 if e.succeeded else 0, e.detail, e.timestamp.isoformat(),
                str(e.originator_id),
            ),
        )  # fmt: skip

    @apply.register
    def _(self, e: Message.Read, rows: Rows) -> None:
        rows.execute(
            "INSERT INTO {inbox_reads} (message_id, user_id, county_id, read_at)"
            " SELECT message_id, ?, county_id, ? FROM {inbox_messages} WHERE message_id = ?",
            (str(e.user_id), e.timestamp.isoformat(), str(e.originator_id)),
        )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
