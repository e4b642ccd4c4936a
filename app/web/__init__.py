"""The pages, by blueprint."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from app.auth import init_auth
    from app.web import about, circulars, findings, inbox, ledger, scores

    init_auth(app)
    app.register_blueprint(ledger.bp)
    app.register_blueprint(findings.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(about.bp)
    app.register_blueprint(scores.bp)
    app.register_blueprint(circulars.bp)

    from app.web import excel

    app.register_blueprint(excel.bp)

    from app.web import documents

    app.register_blueprint(documents.bp)

    from app.web import admin, cases

    app.register_blueprint(admin.bp)
    app.register_blueprint(cases.bp)

    from app.web import history

    app.register_blueprint(history.bp)

    from app.web import audit

    app.register_blueprint(audit.bp)

    from app.evidence import web as evidence

    app.register_blueprint(evidence.bp)

    from app.api import register_api
    from app.web import api_keys

    register_api(app)
    app.register_blueprint(api_keys.bp)

    from app.web import region

    app.register_blueprint(region.bp)
