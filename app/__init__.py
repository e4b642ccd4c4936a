"""The Duban web application: ``create_app(test_config)``.

Configuration (defaults from the environment, see docs/CONFIGURATION.md):

- ``DUBAN_STORE_ENV``: event-store environment overrides (dict) passed to
  ``open_application`` and ``ledger_projection``; None reads os.environ and the
  embedded defaults.
- ``DUBAN_CLOCK``: a callable returning an aware UTC datetime.
- ``DUBAN_EMBEDDED_POLICIES``: run the policies and their jobs inside this
  process (default: whenever the embedded projector runs).
- ``DUBAN_EMBEDDED_PROJECTOR``: run the ledger follower inside this process
  (default: yes, unless ``DUBAN_MODE=services``).
- ``SECRET_KEY``: ``DUBAN_SECRET_KEY``, else a random key kept in ``var/secret.key``.
- ``PROJECTION_WAIT_SECONDS``: how long a command waits for the ledger view (2.0).
- ``SESSION_COOKIE_SECURE``: ``DUBAN_SECURE_COOKIES=1`` (serve over https then).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from app.runtime import Runtime

REPO_ROOT = Path(__file__).resolve().parent.parent


def _secret_key() -> str:
    from_env = os.environ.get("DUBAN_SECRET_KEY")
    if from_env:
        return from_env
    from projections.storage import read_or_create_secret, var_dir

    return read_or_create_secret(var_dir() / "secret.key", lambda: secrets.token_hex(32))


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    from domain.service import system_clock

    app = Flask(
        __name__,
        template_folder=str(REPO_ROOT / "templates"),
        static_folder=None,
    )
    app.config.from_mapping(
        DUBAN_STORE_ENV=None,
        DUBAN_CLOCK=system_clock,
        DUBAN_EMBEDDED_PROJECTOR=os.environ.get("DUBAN_MODE", "embedded") != "services",
        DUBAN_EMBEDDED_POLICIES=None,
        PROJECTION_WAIT_SECONDS=2.0,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure only when served over https: the embedded mode runs on http://127.0.0.1.
        SESSION_COOKIE_SECURE=os.environ.get("DUBAN_SECURE_COOKIES") == "1",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        SIGN_IN_ENDPOINT="auth.sign_in",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()

    runtime = Runtime(
        store_env=app.config["DUBAN_STORE_ENV"],
        clock=app.config["DUBAN_CLOCK"],
        embedded=bool(app.config["DUBAN_EMBEDDED_PROJECTOR"]),
        wait_seconds=float(app.config["PROJECTION_WAIT_SECONDS"]),
        # Policies and jobs run in-process whenever the projector does, unless told otherwise.
        policies=bool(
            app.config["DUBAN_EMBEDDED_PROJECTOR"]
            if app.config["DUBAN_EMBEDDED_POLICIES"] is None
            else app.config["DUBAN_EMBEDDED_POLICIES"]
        ),
    )
    app.extensions["duban"] = runtime

    from app.access import init_access
    from app.body_limits import init_body_limits
    from app.cli import register_commands
    from app.csrf import init_csrf
    from app.errors import register_error_handlers
    from app.identity import current_identity
    from app.labels import register_filters
    from app.security import init_security_headers
    from app.web import register_blueprints

    @app.before_request
    def start_projector() -> None:
        runtime.ensure_started()

    init_access(app)
    init_body_limits(app)  # before the form token check, which reads the body
    init_csrf(app)
    init_security_headers(app)
    register_filters(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_commands(app)

    @app.context_processor
    def layout() -> dict[str, Any]:
        return {"identity": current_identity(), "mode_line": runtime.describe_mode()}

    return app
