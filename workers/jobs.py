"""RQ jobs: module-level functions taking ids, safe to run twice.

Each job asks the aggregates, which refuse what was already done (a notice
already issued, a deadline already missed, a message already sent or
delivered), so a retried or duplicated job records nothing new.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta, timezone
from uuid import UUID

from domain.errors import ConcurrentChange, DomainError
from domain.events import CATEGORIES, SOURCES, SYSTEM_ACTOR, local_date
from domain.finding import FILED, RECTIFYING, DeadlineAlreadyMissed, Finding, NoticeAlreadyIssued
from domain.message import message_id
from domain.rules.deductions import days_overdue, deadline_has_passed
from workers.context import services

log = logging.getLogger("duban.jobs")


#: How long the sweep leaves a new finding to the policies before recovering its notice.
SWEEP_GRACE = timedelta(minutes=10)


class DeliveryFailed(RuntimeError):
    """Some channel failed; RQ retries the job, which resends only what failed."""


def _finding(finding_id: str) -> Finding:
    return services().duban.finding(UUID(finding_id))


def _unit_name(unit_id: UUID) -> str:
    return services().duban.unit(unit_id).name


def _link(finding_id: UUID) -> str:
    base = services().link_base.rstrip("/")
    return f"{base}/findings/{finding_id}" if base else f"/findings/{finding_id}"


def issue_notice(finding_id: str) -> str:
    """A filed finding gets its rectification notice (整改通知) and deadline."""
    duban = services().duban
    if _finding(finding_id).status != FILED:
        return "already issued"
    try:
        duban.issue_notice(UUID(finding_id), SYSTEM_ACTOR)
    except (NoticeAlreadyIssued, ConcurrentChange):
        return "already issued"
    return "issued"


def _send(purpose: str, finding: Finding, qualifiers: tuple[object, ...], title: str, body: str,
          units: tuple[UUID, ...] | None = None, users: tuple[UUID, ...] | None = None) -> str:  # fmt: skip
    duban = services().duban
    key = message_id(purpose, finding.id, *qualifiers)
    duban.send_message(
        message_id=key,
        county_id=finding.county_id,
        purpose=purpose,
        title=title,
        body=f"{body}\n查看：{_link(finding.id)}",
        unit_ids=units if units is not None else (finding.unit_id,),
        user_ids=users if users is not None else finding.cadre_ids,
        finding_id=finding.id,
    )
    deliver(str(key))
    return str(key)


def _about(finding: Finding) -> str:
    return (
        f"{_unit_name(finding.unit_id)}：经{SOURCES[finding.source]}发现“{finding.check_item}”存在"
        f"{CATEGORIES[finding.category]}问题：{finding.description}"
    )


def send_notice(finding_id: str, deadline_number: int) -> str:
    finding = _finding(finding_id)
    if finding.deadline is None:
        return "no deadline"
    return _send(
        "notice", finding, (deadline_number,),
        f"整改通知：{_unit_name(finding.unit_id)}·{finding.check_item}",
        f"{_about(finding)}。请于{finding.deadline}前完成整改并提交整改材料。",
    )  # fmt: skip


def send_rejection(finding_id: str, deadline_number: int) -> str:
    finding = _finding(finding_id)
    return _send(
        "rejected", finding, (deadline_number,),
        f"退回整改通知：{_unit_name(finding.unit_id)}·{finding.check_item}",
        f"{_about(finding)}。整改不到位，已退回，请于{finding.deadline}前重新整改。",
    )  # fmt: skip


def send_reminder(finding_id: str, deadline_number: int, days_before: int) -> str:
    """Only while that deadline still stands and the work is still owed."""
    finding = _finding(finding_id)
    if finding.deadline_number != deadline_number or finding.status not in RECTIFYING:
        return "not needed"
    if deadline_has_passed(_deadline(finding), services().duban.clock()):
        return "too late"  # a reminder fired late (a restart, a replay) would only mislead
    return _send(
        "reminder", finding, (deadline_number, days_before),
        f"整改到期提醒（还有{days_before}天）：{_unit_name(finding.unit_id)}·{finding.check_item}",
        f"{_about(finding)}。整改期限为{finding.deadline}，还有{days_before}天到期，请抓紧整改。",
    )  # fmt: skip


def deadline_passed(finding_id: str, deadline_number: int) -> str:
    """The timer at the end of a deadline's day. A deadline since extended or
    met, or already recorded as missed, records nothing."""
    duban = services().duban
    finding = _finding(finding_id)
    if finding.deadline_number == deadline_number and finding.is_missable(duban.clock()):
        try:
            duban.record_missed_deadline(finding.id, SYSTEM_ACTOR)
        except (DeadlineAlreadyMissed, ConcurrentChange):
            pass  # another worker recorded it first
        finding = _finding(finding_id)
    if deadline_number not in finding.missed_deadlines:
        return "not missed"
    points = [d for d in finding.deductions.values() if d.rule_id == "overdue"]
    deducted = f"，按考评规则扣{points[-1].points}分" if points else ""
    _send(
        "deadline_missed", finding, (deadline_number,),
        f"逾期通知：{_unit_name(finding.unit_id)}·{finding.check_item}",
        f"{_about(finding)}。已超过整改期限{finding.deadline}未完成整改{deducted}。",
    )  # fmt: skip
    propose_escalation(finding_id)
    return "missed"


def propose_escalation(finding_id: str) -> str:
    """When the rulebook's escalation rule is met, the command office's inbox
    gets a proposal (the office confirms; nothing is escalated by itself)."""
    svc = services()
    finding = _finding(finding_id)
    reason = svc.duban.escalation_due(finding.id)
    if reason is None:
        return "not due"
    offices = tuple(
        UUID(u["unit_id"])
        for u in svc.ledger.units(str(finding.county_id))
        if u["kind"] == "office" and not u["retired"]
    )
    if not offices:
        return "no command office"
    today = local_date(svc.duban.clock())
    _send(
        "escalation_proposal", finding, _proposal_qualifiers(finding, today),
        f"移交纪检建议：{_unit_name(finding.unit_id)}·{finding.check_item}",
        f"{_about(finding)}。{reason}，建议移交纪检监察机关，请指挥部办公室确认。",
        units=offices, users=(),
    )  # fmt: skip
    return "proposed"


def _proposal_qualifiers(finding: Finding, today) -> tuple[object, ...]:  # type: ignore[no-untyped-def]
    """A proposal per rule met: each further rejection, and reaching the overdue limit."""
    rules = services().duban.rules_in_force(finding.county_id, today).rules
    overdue = days_overdue(_deadline(finding), today) >= rules.escalate_after_days_overdue
    return (finding.rejections, "overdue30" if overdue else "")


def _proposal_id(finding: Finding, today) -> UUID:  # type: ignore[no-untyped-def]
    return message_id("escalation_proposal", finding.id, *_proposal_qualifiers(finding, today))


def _deadline(finding: Finding) -> date | None:
    return date.fromisoformat(finding.deadline) if finding.deadline else None


def deliver(message_id_text: str) -> str:
    """Deliver a sent message on every channel; raise if one failed so RQ
    retries (and the retry resends only what failed)."""
    from workers.channels import deliver_message

    svc = services()
    report = deliver_message(svc.duban, UUID(message_id_text), svc.webhook, svc.email, svc.link_base)
    if report.failed:
        raise DeliveryFailed(f"{len(report.failed)} deliveries failed: {report.failed}")
    return "delivered"


def _exists(message_key: UUID) -> bool:
    from domain.service import UnknownMessage

    try:
        services().duban.message(message_key)
    except UnknownMessage:
        return False
    return True


def _ledger_rows(ledger_filter, today):  # type: ignore[no-untyped-def]
    """Every row the filter keeps, in keyset pages: no count per page, and a row the
    sweep itself changes meanwhile (a notice issued) shifts no other out of reach, as
    numbered pages over a shrinking set did."""
    key = None
    while True:
        rows = services().ledger.after(ledger_filter, today, SWEEP_PAGE, key)
        yield from rows
        if len(rows) < SWEEP_PAGE:
            return
        key = (rows[-1]["filed_at"], rows[-1]["finding_id"])


#: Ledger rows the sweep reads at a time.
SWEEP_PAGE = 500


def sweep() -> dict[str, int]:
    """The backstop for jobs lost with Redis (which keeps nothing on disk): a
    finding still without its notice gets it, a notice never sent is sent, every
    deadline the ledger shows as passed without a recorded miss is recorded, and
    every escalation due without a proposal is proposed. It touches only what is
    missing, so a channel that keeps failing is retried by its job's retries,
    not again by every sweep."""
    from projections.ledger_query import LedgerFilter

    svc = services()
    now = svc.duban.clock()
    today = local_date(now)
    counts = {"notices_issued": 0, "notices_sent": 0, "missed": 0, "proposed": 0, "failed": 0}

    def attempt(finding_id: str, step) -> None:  # type: ignore[no-untyped-def]
        try:
            step()
        except (DomainError, DeliveryFailed):
            counts["failed"] += 1
            log.exception("sweep: finding %s", finding_id)

    # Only findings older than the grace period: younger ones are still in the
    # policies' ordinary hands, and the sweep must not race them.
    settled_before = (now - SWEEP_GRACE).astimezone(timezone.utc).isoformat()
    for row in _ledger_rows(LedgerFilter(status=FILED), today):
        finding_id = row["finding_id"]
        if row["filed_at"] < settled_before:
            attempt(finding_id, lambda: issue_notice(finding_id))
            counts["notices_issued"] += 1
    for status in RECTIFYING:
        for row in _ledger_rows(LedgerFilter(status=status), today):
            finding_id = row["finding_id"]
            if row["filed_at"] < settled_before and not _exists(message_id("notice", UUID(finding_id), 1)):
                attempt(finding_id, lambda: send_notice(finding_id, 1))
                counts["notices_sent"] += 1
    for row in _ledger_rows(LedgerFilter(overdue_only=True), today):
        finding_id = row["finding_id"]
        finding = _finding(finding_id)
        if finding.is_missable(now):
            attempt(finding_id, lambda: deadline_passed(finding_id, finding.deadline_number))
            counts["missed"] += 1
        if svc.duban.escalation_due(finding.id) and not _exists(_proposal_id(finding, today)):
            attempt(finding_id, lambda: propose_escalation(finding_id))
            counts["proposed"] += 1
    counts.update(sweep_documents())
    return counts


# Documents (公文): print an issued document, store its PDF, register its hash
#: How long the sweep leaves an issued document to its render job before printing it itself.
DOCUMENT_GRACE = timedelta(minutes=10)
#: At most this many documents printed by one sweep (each takes a second or two, a
#: long ranking up to a minute; the sweep is one RQ job with RQ's default timeout).
SWEEP_DOCUMENTS = 5
#: How long a ranking circular's job waits for the score view to reach the log's head.
SCORES_WAIT_SECONDS = 30.0


#: How long a document's job waits for the audit chain to read the issuing event (its anchor).
ANCHOR_WAIT_SECONDS = 30.0


class ScoresNotReady(RuntimeError):
    """The score view is behind the issue: RQ retries the job later."""


class ChainNotReady(RuntimeError):
    """The audit chain has not read the document's issuing event yet: the job
    fails and is retried later (RQ's retries; the embedded queue's too)."""


def _store():  # type: ignore[no-untyped-def]
    from workers.documents.storage import DocumentStore

    return services().store or DocumentStore.from_env()


def renderer_name() -> str:
    """What printed a document (recorded with its hash)."""
    from importlib.metadata import version

    from workers.documents import render

    return getattr(render, "RENDERER", "") or f"WeasyPrint {version('weasyprint')}"


def _print(what: str, registered: str | None, build, register, anchor) -> str:  # type: ignore[no-untyped-def]
    """Build, render, store, register; idempotent. A document printed for the
    first time gets its anchor (``anchor()``: the audit chain's head at its
    issuing event) and records it with its hash. A registered document whose
    file is missing is printed again, with its recorded anchor, and stored only
    if its hash is the registered one; otherwise an error is logged and nothing
    is recorded."""
    from workers.documents.render import render_pdf
    from workers.documents.storage import sha256_of

    store = _store()
    if registered and store.exists(registered):
        return "already registered"
    built = build("" if registered else anchor())
    pdf = render_pdf(built.document)
    sha256 = sha256_of(pdf)
    if registered:
        if sha256 != registered:
            log.error("%s: printed again, sha256 %s differs from the registered %s; nothing stored", what, sha256,
                      registered)  # fmt: skip
            return "mismatch"
        store.put(pdf)
        return "restored"
    store.put(pdf)  # the file before the event: a registered hash always has its file
    register(sha256=sha256, size=len(pdf), renderer=renderer_name(), **built.registration)
    return "registered"


def _wait_for_scores(svc) -> None:  # type: ignore[no-untyped-def]
    """The score view must have read every event up to the issue (and beyond)."""
    import time

    target = svc.duban.position()
    deadline = time.monotonic() + SCORES_WAIT_SECONDS
    while (svc.scores.view.max_tracking_id(svc.duban.name) or 0) < target:
        if time.monotonic() > deadline:
            raise ScoresNotReady(f"score view behind position {target}")
        time.sleep(0.1)


def _anchor(svc, aggregate_id: UUID, issuing: type) -> str:  # type: ignore[no-untyped-def]
    """``H@N``: the audit chain's head at the position of the aggregate's
    ``issuing`` event. Waits (bounded) for the chain to read that far, then
    raises ``ChainNotReady`` so the job is retried later."""
    import time

    from domain.audit import format_anchor

    if svc.audit is None:
        raise ChainNotReady("no audit chain in this process")
    event = next((e for e in svc.duban.history(aggregate_id) if isinstance(e, issuing)), None)
    if event is None:
        raise ChainNotReady(f"{aggregate_id} has no {issuing.__qualname__}")
    deadline = time.monotonic() + ANCHOR_WAIT_SECONDS
    while True:
        position = svc.audit.position_of(str(aggregate_id), event.originator_version)
        head = svc.audit.head_at(position) if position is not None else None
        if head is not None:
            return format_anchor(head.chain, position)
        if time.monotonic() > deadline:
            raise ChainNotReady(f"audit chain has not read {aggregate_id} v{event.originator_version}")
        time.sleep(0.1)


def render_circular(circular_id: str) -> str:
    """An issued circular's PDF (started by ``Circular.Issued``)."""
    from domain.circular import DRAFT, RANKING, Circular
    from workers.documents.content import circular_document

    svc = services()
    circular = svc.duban.circular(UUID(circular_id))
    if circular.status == DRAFT:
        return "not issued"
    if circular.kind == RANKING and not circular.document_sha256:
        if svc.scores is None:
            raise ScoresNotReady("no score view in this process")
        _wait_for_scores(svc)

    def register(**values) -> None:  # type: ignore[no-untyped-def]
        values.pop("document_number")
        values.pop("title")
        svc.duban.register_circular_document(circular.id, **values)

    return _print(
        f"circular {circular_id}", circular.document_sha256,
        lambda anchor: circular_document(svc.duban, circular.id, svc.scores, anchor=anchor), register,
        lambda: _anchor(svc, circular.id, Circular.Issued),
    )  # fmt: skip


def render_finding_notice(finding_id: str, deadline_number: int = 1) -> str:
    """A finding's rectification notice's PDF (started by ``Finding.NoticeIssued``)."""
    from domain.finding import NOTICE_DEADLINE_NUMBER
    from workers.documents.content import finding_notice_document

    svc = services()
    finding = _finding(finding_id)
    if finding.status == FILED:
        return "not issued"
    if deadline_number != NOTICE_DEADLINE_NUMBER:
        return "not printed"
    return _print(
        f"notice {finding_id}/{deadline_number}", finding.notice_documents.get(deadline_number),
        lambda anchor: finding_notice_document(svc.duban, finding.id, deadline_number, anchor=anchor),
        lambda **values: svc.duban.register_notice_document(finding.id, deadline_number=deadline_number, **values),
        lambda: _anchor(svc, finding.id, Finding.NoticeIssued),
    )  # fmt: skip


def render_unit_notice(notice_id: str) -> str:
    """A unit notice's PDF (started by ``UnitNotice.Issued``)."""
    from domain.unit_notice import UnitNotice
    from workers.documents.content import unit_notice_document

    svc = services()
    notice = svc.duban.unit_notice(UUID(notice_id))
    return _print(
        f"unit notice {notice_id}", notice.document_sha256,
        lambda anchor: unit_notice_document(svc.duban, notice.id, anchor=anchor),
        lambda **values: svc.duban.register_unit_notice_document(notice.id, **values),
        lambda: _anchor(svc, notice.id, UnitNotice.Issued),
    )  # fmt: skip


#: The job that prints each kind of document in the registry, with its arguments.
def document_job(kind: str, source_id: str):  # type: ignore[no-untyped-def]
    if kind in ("criticism", "ranking"):
        return render_circular, (source_id,), f"render-circular_{source_id}"
    if kind == "finding_notice":
        return render_finding_notice, (source_id, 1), f"render-notice_{source_id}_1"
    return render_unit_notice, (source_id,), f"render-unit-notice_{source_id}"


def sweep_documents() -> dict[str, int]:
    """Documents issued more than ``DOCUMENT_GRACE`` ago and still without a
    registered PDF (their job lost with Redis, or issued before the policy
    knew of documents): printed here, a few per sweep."""
    svc = services()
    counts = {"documents": 0, "documents_failed": 0, "documents_waiting": 0}
    if svc.documents is None:
        return counts
    before = (svc.duban.clock() - DOCUMENT_GRACE).astimezone(timezone.utc).isoformat()
    # A document whose issue the audit chain has not read yet waits for a later sweep
    # (its job would only wait for the anchor, then fail).
    chain = svc.audit.head().position if svc.audit is not None else 0
    for row in svc.documents.unregistered(issued_before=before, limit=SWEEP_DOCUMENTS):
        if not row.issued_position or row.issued_position > chain:
            counts["documents_waiting"] += 1
            continue
        func, args, _ = document_job(row.kind, row.source_id)
        try:
            func(*args)
            counts["documents"] += 1
        except Exception:  # one bad document must not stop the others
            counts["documents_failed"] += 1
            log.exception("sweep: document %s", row.document_id)
    return counts


def verify_history(run_id: str, user_id: str, role: str, anchor: str = "") -> str:
    """A verification of the whole history (or of an anchor) asked for on the
    discipline office's page: recomputed from the store, its progress kept in the
    job's meta (``position``, ``total``) for the page to poll, its result recorded
    with the person who asked. Run again (a retry), the run is recorded once."""
    from rq import get_current_job

    from domain.audit import parse_anchor
    from domain.events import SYSTEM
    from projections.audit_verify import run_and_record

    svc = services()
    actor = SYSTEM_ACTOR if role == SYSTEM else svc.duban.actor(UUID(user_id), role)
    job = get_current_job()

    def progress(position: int, total: int) -> None:
        if job is not None:
            job.meta.update(position=position, total=total, county_id=str(actor.county_id) if actor.county_id else None)
            job.save_meta()

    result, _ = run_and_record(
        svc.duban, svc.audit, actor, UUID(run_id), parse_anchor(anchor) if anchor else None, progress
    )
    return result.outcome
