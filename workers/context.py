"""What a job needs, opened once per process: the application, the ledger
view, the delivery channels and the clock. RQ workers open it from the
environment on first use; the embedded mode hands in its own."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.ledger_query import LedgerQuery


@dataclass
class Services:
    duban: Any
    ledger: LedgerQuery
    clock: Callable[[], datetime]
    webhook: Any
    email: Any
    link_base: str = ""
    #: The score view's query (a ranking circular's table), the documents
    #: registry's query (the sweep) and where PDFs are stored; opened from the
    #: environment when not handed in.
    scores: Any = None
    documents: Any = None
    store: Any = None
    #: The audit chain's query (a document's anchor; verification runs).
    audit: Any = None


_services: Services | None = None
_lock = threading.Lock()


def use(services: Services | None) -> None:
    """Set (or clear) this process's services: the embedded mode and tests."""
    global _services
    _services = services


def services() -> Services:
    global _services
    with _lock:
        if _services is None:
            _services = open_services()
        return _services


def open_services(store_env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None) -> Services:
    from projections.documents import DocumentQuery
    from projections.audit_chain import AuditChainQuery
    from projections.runner import audit_projection, documents_projection, ledger_projection, scores_projection
    from projections.scores_query import ScoreQuery
    from workers.documents.storage import DocumentStore
    from projections.storage import open_application
    from workers.channels import EmailChannel, WebhookChannel
    from workers.clock import clock_from_env

    clock = clock or clock_from_env()
    duban = open_application(store_env, clock)
    return Services(
        duban=duban,
        ledger=LedgerQuery(ledger_projection(store_env).view),
        clock=clock,
        webhook=WebhookChannel(),
        email=EmailChannel.from_env(),
        link_base=os.environ.get("DUBAN_BASE_URL", ""),
        scores=ScoreQuery(scores_projection(store_env).view),
        documents=DocumentQuery(documents_projection(store_env).view),
        store=DocumentStore.from_env(),
        audit=AuditChainQuery(audit_projection(store_env).view),
    )
