"""The command office's administration pages (管理): units, users, the
rulebook, extension requests and escalations to discipline. One module per
page group; each route is the command office's and sees its own county only
(an id from another county, or a forged one, is simply not found).

Every step is one service command; a refused one re-shows the page with what
was typed and the reason next to the field, and records nothing.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The page groups register their routes on ``bp`` when imported.
from app.web.admin import escalations, extensions, rulebook, units, users  # noqa: E402,F401
