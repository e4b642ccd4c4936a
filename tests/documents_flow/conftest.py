"""An office whose documents are printed for real: the store (SQLite and
PostgreSQL), the ledger, score, documents and audit chain views, the policies
with the embedded queue running their jobs in this process, and a documents
directory."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pytest

from domain.service import Duban
from projections.audit_chain import AuditChainQuery
from projections.documents import DocumentQuery
from projections.ledger_query import LedgerQuery
from projections.runner import (
    Follower,
    audit_projection,
    documents_projection,
    ledger_projection,
    scores_projection,
)
from projections.scores_query import ScoreQuery
from tests.integration.county import County, build_county, local, opened
from tests.workers.conftest import redis  # noqa: F401 - the real Redis database 15, for the RQ test
from workers import context
from workers.channels import WebhookChannel
from workers.documents.storage import DocumentStore
from workers.policies import policy_projection
from workers.queueing import InlineJobQueue

BASE_URL = "https://duban.example.gov.cn"


@dataclass
class Office:
    app: Duban
    county: County
    store: DocumentStore
    documents: DocumentQuery
    scores: ScoreQuery
    audit: AuditChainQuery
    queue: InlineJobQueue
    followers: list[Follower]
    #: The score view and the audit chain follow in threads of their own, as the
    #: projector does: a ranking circular's job waits for the one, every
    #: document's job for the other (its anchor).
    scores_follower: Follower
    audit_follower: Follower

    def settle(self) -> None:
        """Views and policies follow the log; the jobs they started run; again until quiet."""
        for _ in range(6):
            before = self.app.position()
            for follower in self.followers:
                follower.catch_up()
            self.queue.join()
            if self.app.position() == before:
                for follower in self.followers:
                    follower.catch_up()
                assert self.scores_follower.wait_for(before, timeout=10)
                assert self.audit_follower.wait_for(before, timeout=10)
                return
        raise AssertionError("the office did not settle")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace removed (WeasyPrint's lines break anywhere)."""
    from pypdf import PdfReader

    return re.sub(r"\s+", "", "".join(page.extract_text() or "" for page in PdfReader(BytesIO(data)).pages))


@pytest.fixture
def office(store_env: dict[str, str], tmp_path, monkeypatch) -> Iterator[Office]:
    store = DocumentStore(tmp_path / "documents")
    monkeypatch.setenv("DUBAN_DOCUMENTS_DIR", str(store.directory))
    monkeypatch.setenv("DUBAN_BASE_URL", BASE_URL)
    with opened(store_env, start=local(2026, 3, 2)) as app:
        ledger, scores, documents, audit = (make(store_env) for make in (ledger_projection, scores_projection,
                                                                          documents_projection, audit_projection))  # fmt: skip
        queue = InlineJobQueue(retries=0, pause=0)
        policies = policy_projection(queue, app, store_env)
        context.use(
            context.Services(
                app, LedgerQuery(ledger.view), app.clock, WebhookChannel(timeout=1), None,
                scores=ScoreQuery(scores.view), documents=DocumentQuery(documents.view), store=store,
                audit=AuditChainQuery(audit.view),
            )
        )  # fmt: skip
        projections: list[Any] = [ledger, scores, documents, audit, policies]
        scores_follower = Follower(app, scores, poll_interval=0.05).start()
        audit_follower = Follower(app, audit, poll_interval=0.05).start()
        try:
            yield Office(
                app=app, county=build_county(app), store=store, documents=DocumentQuery(documents.view),
                scores=ScoreQuery(scores.view), audit=AuditChainQuery(audit.view), queue=queue,
                followers=[Follower(app, p) for p in (ledger, documents, policies)],
                scores_follower=scores_follower, audit_follower=audit_follower,
            )  # fmt: skip
        finally:
            scores_follower.stop()
            audit_follower.stop()
            queue.stop()
            context.use(None)
            for projection in projections:
                projection.view.datastore.close()
