"""The caller's inbox (通知): the messages addressed to them (or to their unit
when they act for it), and marking one read."""

from __future__ import annotations

from typing import Any

from app.access import signed_in
from app.api import api
from app.api import schemas as s
from app.api.common import actor, plain, respond, settle, uuid_or
from app.api.pagination import PARAMS as PAGE_PARAMS
from app.api.pagination import paginate
from app.api.registry import Param
from app.identity import runtime
from domain.events import Actor
from domain.errors import WrongCounty
from domain.message import AlreadyRead, NotARecipient
from domain.service import UnknownMessage

TAG = "通知"
MESSAGE_PATH = (Param("message_id", s.UUID, "通知编号", where="path", required=True),)
#: The inbox view pages by number; the API reads a caller's whole inbox at once
#: (it is bounded by what reaches one person) and pages it by cursor.
WHOLE_INBOX = 100_000


def _who(who: Actor) -> tuple[str, str | None, str]:
    return who.user_id, (str(who.unit_id) if who.unit_id else None), who.role


def _messages(who: Actor) -> list[dict[str, Any]]:
    return list(runtime().inbox.messages_for(*_who(who), page=1, per_page=WHOLE_INBOX).rows)


@api.get("/inbox", summary="我的通知", tag=TAG, params=PAGE_PARAMS, response=s.page_of(s.MESSAGE))
@signed_in
def index() -> Any:
    runtime().fresh()
    return respond(paginate(_messages(actor()), lambda m: (m["sent_at"], m["message_id"]), descending=True,
                            render=plain))  # fmt: skip


@api.post("/inbox/<message_id>/read", summary="标记通知为已读", tag=TAG, params=MESSAGE_PATH,
          request=s.body({}), response=s.MESSAGE)  # fmt: skip
@signed_in
def mark_read(message_id: str) -> Any:
    from app.api.registry import read_body

    mid = uuid_or(message_id, UnknownMessage)
    who = actor()
    read_body(api.current())
    try:
        result = runtime().duban.mark_message_read(mid, who)
    except AlreadyRead:
        result = None  # read already: nothing to record, the answer is the same
    except (NotARecipient, WrongCounty) as error:
        raise UnknownMessage() from error  # another person's message is simply not found
    settle(result.position if result else None)
    for message in _messages(who):
        if message["message_id"] == str(mid):
            return respond(plain(message))
    raise UnknownMessage()
