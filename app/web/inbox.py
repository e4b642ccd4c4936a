"""The in-app inbox (通知): the messages addressed to the current identity (to
them, or to their unit when they act for it), marking one read, and the unread
count in the header of every page.

Marking read goes through ``Duban.mark_message_read``; the domain decides who
may (a recipient, in their county) and refuses anyone else (403). After the save
the request waits for the inbox view, so the page it redirects to already shows
the message read and the lower count.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from app.access import signed_in
from app.identity import current_actor, runtime, safe_next
from domain.errors import WrongCounty
from domain.events import Actor
from domain.message import PURPOSES, AlreadyRead
from domain.service import UnknownMessage

bp = Blueprint("inbox", __name__)
log = logging.getLogger("duban.web")

PER_PAGE = 50


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def parse_message_id(value: str) -> UUID:
    """A message id from a URL; anything malformed is simply not found (404)."""
    try:
        return UUID(value)
    except (ValueError, TypeError, AttributeError) as error:
        raise UnknownMessage() from error


def _who(actor: Actor) -> tuple[str, str | None, str]:
    return actor.user_id, (str(actor.unit_id) if actor.unit_id else None), actor.role


@bp.app_template_filter("purpose")
def purpose_label(code: str | None) -> str:
    if not code:
        return "—"
    return PURPOSES.get(str(code), str(code))


@bp.app_context_processor
def unread_in_header() -> dict[str, Any]:
    def inbox_unread() -> int | None:
        """The current identity's unread count, once per request; None when
        there is no identity or the inbox view cannot be read (the header must
        never break a page, not even an error page)."""
        if "duban_inbox_unread" not in g:
            count = None
            actor = current_actor()
            if actor is not None:
                try:
                    count = runtime().inbox.unread_count(*_who(actor))
                except Exception:  # noqa: BLE001 - the header count is a convenience
                    log.exception("inbox unread count unavailable")
            g.duban_inbox_unread = count
        return g.duban_inbox_unread  # type: ignore[no-any-return]

    return {"inbox_unread": inbox_unread}


@bp.get("/inbox")
@signed_in
def index() -> Any:
    rt = runtime()
    fresh = rt.fresh()
    actor = current_actor()
    assert actor is not None
    number = _page_number(request.args.get("page"))
    page = rt.inbox.messages_for(*_who(actor), page=number, per_page=PER_PAGE)
    if page.page > page.pages:
        page = rt.inbox.messages_for(*_who(actor), page=page.pages, per_page=PER_PAGE)
    unread = rt.inbox.unread_count(*_who(actor))
    return render_template("pages/inbox.html", page=page, unread=unread, fresh=fresh)


@bp.post("/inbox/<message_id>/read")
@signed_in
def mark_read(message_id: str) -> Any:
    mid = parse_message_id(message_id)
    actor = current_actor()
    assert actor is not None
    rt = runtime()
    back = safe_next(request.form.get("next")) or url_for("inbox.index")
    try:
        result = rt.duban.mark_message_read(mid, actor)
    except AlreadyRead:
        # Read already (another tab, a double click): nothing to do.
        return redirect(back, 303)
    except WrongCounty as error:
        raise UnknownMessage() from error  # another county's message is simply not found (tenancy)
    # Any other refusal (not a recipient in this county, no such message) is a 4xx page.
    if not rt.wait_for(result.position):
        flash("通知列表正在更新，如未显示最新状态请稍后刷新", "info")
    return redirect(back, 303)
