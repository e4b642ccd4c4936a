"""Signing in and out, passwords, and the role a signed-in person acts in.

The session (a signed cookie) holds the user id, the role and the credential
version the person signed in with; ``app.identity.current_identity`` resolves
them through the domain on every request, so a changed password or a revoked
role ends the session at once.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)


def init_auth(app: Flask) -> None:
    from app.auth import views  # noqa: F401 - registers the routes on bp
    from app.auth.cli import set_password_command

    app.register_blueprint(bp)
    app.cli.add_command(set_password_command)
