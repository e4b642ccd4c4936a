"""Which mode runs, and where the data lives."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from app.access import public
from app.identity import runtime

bp = Blueprint("about", __name__)


@bp.get("/about")
@public
def index() -> Any:
    rt = runtime()
    return render_template("pages/about.html", store_lines=rt.describe_store(), position=rt.duban.position(),
                           ledger_position=rt.follower.position)
