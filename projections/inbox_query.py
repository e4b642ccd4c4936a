"""Reading the inbox: a person's messages, their unread count, a message's
delivery log.

A message reaches a person when it names them, or when it names their unit and
they act for that unit (the unit role or the command office): the same rule as
``Message.is_addressed_to``. Read state is per person.
"""

from __future__ import annotations

from typing import Any

from domain.events import COMMAND, UNIT
from projections.inbox import UNIT_RECIPIENT, USER_RECIPIENT
from projections.views import Page, SqlView

#: Roles that read the messages addressed to their unit.
UNIT_READERS = (UNIT, COMMAND)


InboxPage = Page


class InboxQuery:
    def __init__(self, view: SqlView):
        self.view = view

    @staticmethod
    def _addressed(user_id: str, unit_id: str | None, role: str) -> tuple[str, list[Any]]:
        """A subquery of the ids of the messages this person receives."""
        clauses = ["(recipient_kind = ? AND recipient_id = ?)"]
        params: list[Any] = [USER_RECIPIENT, str(user_id)]
        if role in UNIT_READERS and unit_id:
            clauses.append("(recipient_kind = ? AND recipient_id = ?)")
            params += [UNIT_RECIPIENT, str(unit_id)]
        return f"SELECT message_id FROM {{inbox_recipients}} WHERE {' OR '.join(clauses)}", params

    def messages_for(
        self, user_id: str, unit_id: str | None, role: str, page: int = 1, per_page: int = 50
    ) -> InboxPage:
        """This person's messages, newest first, each with ``is_read`` and ``read_at`` for them."""
        page = max(1, page)
        addressed, params = self._addressed(user_id, unit_id, role)
        with self.view.reading() as rows:
            total = rows.one(
                f"SELECT COUNT(*) AS n FROM {{inbox_messages}} m WHERE m.message_id IN ({addressed})", params
            )["n"]
            found = rows.all(
                "SELECT m.*, r.read_at AS read_at FROM {inbox_messages} m"
                " LEFT JOIN {inbox_reads} r ON r.message_id = m.message_id AND r.user_id = ?"
                f" WHERE m.message_id IN ({addressed})"
                " ORDER BY m.sent_at DESC, m.message_id LIMIT ? OFFSET ?",
                [str(user_id), *params, per_page, (page - 1) * per_page],
            )
        return InboxPage([_with_read(r) for r in found], int(total), page, per_page)

    def unread_count(self, user_id: str, unit_id: str | None, role: str) -> int:
        addressed, params = self._addressed(user_id, unit_id, role)
        with self.view.reading() as rows:
            found = rows.one(
                f"SELECT COUNT(*) AS n FROM {{inbox_messages}} m WHERE m.message_id IN ({addressed})"
                " AND NOT EXISTS (SELECT 1 FROM {inbox_reads} r WHERE r.message_id = m.message_id AND r.user_id = ?)",
                [*params, str(user_id)],
            )
        return int(found["n"])

    def message(self, message_id: str) -> dict[str, Any] | None:
        """One message with its recipients (unit and user ids) and its readers."""
        with self.view.reading() as rows:
            row = rows.one("SELECT * FROM {inbox_messages} WHERE message_id = ?", (str(message_id),))
            if row is None:
                return None
            result = dict(row)
            recipients = rows.all(
                "SELECT recipient_kind, recipient_id FROM {inbox_recipients} WHERE message_id = ?"
                " ORDER BY recipient_kind, recipient_id",
                (str(message_id),),
            )
            readers = rows.all(
                "SELECT user_id, read_at FROM {inbox_reads} WHERE message_id = ? ORDER BY read_at, user_id",
                (str(message_id),),
            )
        result["unit_ids"] = [r["recipient_id"] for r in recipients if r["recipient_kind"] == UNIT_RECIPIENT]
        result["user_ids"] = [r["recipient_id"] for r in recipients if r["recipient_kind"] == USER_RECIPIENT]
        result["read_by"] = [dict(r) for r in readers]
        return result

    def deliveries(self, message_id: str) -> list[dict[str, Any]]:
        """Every delivery attempt of one message, by channel, recipient and attempt."""
        with self.view.reading() as rows:
            found = rows.all(
                "SELECT * FROM {inbox_deliveries} WHERE message_id = ? ORDER BY channel, recipient, attempt",
                (str(message_id),),
            )
        return [{**dict(r), "succeeded": bool(r["succeeded"])} for r in found]

    def all_rows(self) -> list[dict[str, Any]]:
        """Every stored row of every table, in a fixed order: what a rebuild must reproduce."""
        keys = {
            "inbox_messages": "message_id",
            "inbox_recipients": "recipient_kind, recipient_id, message_id",
            "inbox_reads": "message_id, user_id",
            "inbox_deliveries": "message_id, channel, recipient, attempt",
        }
        return self.view.dump_tables(keys)


def _with_read(row: Any) -> dict[str, Any]:
    data = dict(row)
    data["is_read"] = data.get("read_at") is not None
    return data
