"""The Duban application: one method per command, persistence by environment.

Each command loads the aggregates it needs, asks them to decide (they raise a
DomainError and record nothing when the step is illegal), and saves the new
events in one atomic write. It returns the position of the last event written
so a caller can wait for the read models to catch up with it.

Storage comes from the environment only (eventsourcing's own variables):
``PERSISTENCE_MODULE`` (``eventsourcing.sqlite`` by default, or
``eventsourcing.postgres``), ``SQLITE_DBNAME``, ``POSTGRES_*``, ``CIPHER_TOPIC``
and ``CIPHER_KEY``. See docs/CONFIGURATION.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, MapperDeserialisationError

from domain.case import Case
from domain.check_items import CheckItemRecord, check_item_record_id
from domain.circular import Circular, DocumentSeries, series_id
from domain.errors import ConcurrentChange, DomainError, InvalidInput, UnknownUnit, UnknownUser
from domain.events import CADRE, COMMAND, INSPECTOR, SYSTEM_ACTOR, Actor, local_date
from domain.finding import Finding
from domain.inspection import Inspection
from domain.message import Message
from domain.unit_notice import UnitNotice
from domain.org import LoginClaim, LoginTaken, Unit, User, login_claim_id
from domain.region import Region, UnknownRegion
from domain.rulebook import NoRulebookInForce, Rulebook, RulebookAlreadyOpen, rulebook_id
from domain.rules.deductions import is_repeat
from domain.rules.rulebook import Rules, RulebookVersion
from domain.rules.working_days import ComputedDeadline, add_working_days


#: How often a filing is decided again after colliding on its check item's record: each
#: collision lets one filing through, so ten outlast ten inspectors filing at once.
FILING_ATTEMPTS = 10


class UnknownFinding(DomainError):
    status = 404
    message = "找不到该问题"


class UnknownInspection(DomainError):
    status = 404
    message = "找不到该督查批次"


class UnknownCircular(DomainError):
    status = 404
    message = "找不到该通报"


class UnknownMessage(DomainError):
    status = 404
    message = "找不到该通知"


class UnknownCase(DomainError):
    status = 404
    message = "找不到该案件"


class UnknownUnitNotice(DomainError):
    status = 404
    message = "找不到该整改通知书"


class NotTheUnitsOpenFinding(InvalidInput):
    message = "所列问题不属于该单位，或已不在整改期内"


class NotACadre(InvalidInput):
    message = "所选帮扶责任人不存在或不属于本县"


class RetiredUnitCannotBeAccountable(InvalidInput):
    message = "该单位已撤销，不能作为责任单位"


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class TravellingClock:
    """A clock that stands still until told to move: tests and the demo use it
    to write a history that spans weeks."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self.now = start.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, instant: datetime) -> None:
        self.now = instant.astimezone(timezone.utc)


@dataclass(frozen=True)
class Recorded:
    """What a command wrote: the aggregate it concerns and the log position of
    its last event (None if it wrote nothing)."""

    id: UUID
    position: int | None
    value: Any = None


@dataclass(frozen=True)
class MissedDeadlines:
    """What ``record_missed_deadlines`` did: misses recorded, findings skipped (not
    or no longer missable), and the log position of the last event written."""

    recorded: int
    skipped: int
    position: int | None


class Duban(Application[UUID]):
    name = "Duban"
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_LOCK_TIMEOUT": "10"}

    def __init__(self, env: dict[str, str] | None = None, clock: Callable[[], datetime] = system_clock):
        super().__init__(env)
        self.clock = clock
        self._listeners: list[Callable[[int], None]] = []

    # Plumbing
    def on_recorded(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after every successful save (in this process)."""
        self._listeners.append(listener)

    def _now(self) -> datetime:
        return self.clock()

    def _save_all(self, *aggregates: Aggregate) -> int | None:
        try:
            recordings = self.save(*aggregates)
        except IntegrityError as error:
            raise ConcurrentChange() from error
        position = max((r.notification.id for r in recordings), default=None)
        if position is not None:
            for listener in self._listeners:
                listener(position)
        return position

    def _get(self, aggregate_id: UUID | str, kind: type, missing: type[DomainError]) -> Any:
        """Load an aggregate of a kind; any other id (unknown, forged, of another
        kind, not a UUID) is the kind's own "not found" error on every backend."""
        try:
            aggregate = self.repository.get(UUID(str(aggregate_id)))
        except MapperDeserialisationError:
            # A wrong cipher key or damaged data: not a missing record.
            raise
        except (AggregateNotFoundError, ValueError, TypeError) as error:
            raise missing() from error
        if not isinstance(aggregate, kind):
            raise missing()
        return aggregate

    def finding(self, finding_id: UUID) -> Finding:
        return self._get(finding_id, Finding, UnknownFinding)

    def unit(self, unit_id: UUID) -> Unit:
        return self._get(unit_id, Unit, UnknownUnit)

    def user(self, user_id: UUID) -> User:
        return self._get(user_id, User, UnknownUser)

    def inspection(self, inspection_id: UUID) -> Inspection:
        return self._get(inspection_id, Inspection, UnknownInspection)

    def circular(self, circular_id: UUID) -> Circular:
        return self._get(circular_id, Circular, UnknownCircular)

    def case(self, case_id: UUID) -> Case:
        return self._get(case_id, Case, UnknownCase)

    def rulebook(self, county_id: UUID) -> Rulebook:
        return self._get(rulebook_id(county_id), Rulebook, NoRulebookInForce)

    def rules_in_force(self, county_id: UUID, day: date | None = None) -> RulebookVersion:
        return self.rulebook(county_id).in_force_on(day or local_date(self._now()))

    def actor(self, user_id: UUID, role: str) -> Actor:
        """The user acting in one of their roles (the web's signed-in person)."""
        return self.user(user_id).acting_as(role)

    def unit_path(self, unit: Unit | UUID) -> tuple[UUID, ...]:
        """The unit and every unit above it, nearest first."""
        if not isinstance(unit, Unit):
            unit = self.unit(unit)
        path: list[UUID] = [unit.id]
        current = unit.parent_id
        while current is not None and current not in path:  # a cycle would be a bug: stop
            path.append(current)
            current = self.unit(current).parent_id
        return tuple(path)

    def _deadline(self, county_id: UUID, severity: str, today: date) -> tuple[ComputedDeadline, RulebookVersion]:
        rulebook = self.rulebook(county_id)
        version = rulebook.in_force_on(today)
        working_days = version.rules.deadline_working_days[severity]
        return add_working_days(today, working_days, rulebook.working_calendar()), version

    # Organisation
    def register_unit(
        self,
        *,
        name: str,
        kind: str,
        parent_id: UUID | None,
        actor: Actor = SYSTEM_ACTOR,
        code: str = "",
        unit_id: UUID | None = None,
    ) -> Recorded:
        parent = self.unit(parent_id) if parent_id else None
        unit = Unit.register(name=name, kind=kind, parent=parent, actor=actor, now=self._now(), code=code, unit_id=unit_id)
        return Recorded(unit.id, self._save_all(unit))

    def rename_unit(self, unit_id: UUID, name: str, actor: Actor) -> Recorded:
        unit = self.unit(unit_id)
        unit.rename(name, actor, self._now())
        return Recorded(unit.id, self._save_all(unit))

    def move_unit(self, unit_id: UUID, new_parent_id: UUID, actor: Actor) -> Recorded:
        unit = self.unit(unit_id)
        unit.move(self.unit(new_parent_id), actor, self._now())
        return Recorded(unit.id, self._save_all(unit))

    def retire_unit(self, unit_id: UUID, reason: str, actor: Actor) -> Recorded:
        unit = self.unit(unit_id)
        unit.retire(reason, actor, self._now())
        return Recorded(unit.id, self._save_all(unit))

    def register_user(
        self,
        *,
        unit_id: UUID,
        name: str,
        login: str,
        roles: list[str],
        actor: Actor = SYSTEM_ACTOR,
        user_id: UUID | None = None,
    ) -> Recorded:
        user = User.register(
            unit=self.unit(unit_id), name=name, login=login, roles=roles, actor=actor, now=self._now(), user_id=user_id
        )
        if self.user_id_for_login(login) is not None:
            raise LoginTaken(f"登录名“{login.strip()}”已被使用")
        # The claim is saved with the user: a concurrent registration of the same
        # login fails on the claim's fixed id (ConcurrentChange) and writes nothing.
        claim = LoginClaim.claim(user, actor, self._now())
        return Recorded(user.id, self._save_all(user, claim))

    def user_id_for_login(self, login: str) -> UUID | None:
        """The user who holds this login (any case), or None."""
        try:
            claim = self.repository.get(login_claim_id(login))
        except (AggregateNotFoundError, ValueError):
            return None
        return claim.user_id if isinstance(claim, LoginClaim) else None

    # Regions (市/省级): groups of counties read by an office above them
    def region(self, region_id: UUID) -> Region:
        return self._get(region_id, Region, UnknownRegion)

    def register_region(
        self, *, name: str, level: str, actor: Actor = SYSTEM_ACTOR, region_id: UUID | None = None
    ) -> Recorded:
        region = Region.register(name=name, level=level, actor=actor, now=self._now(), region_id=region_id)
        return Recorded(region.id, self._save_all(region))

    def rename_region(self, region_id: UUID, name: str, actor: Actor = SYSTEM_ACTOR) -> Recorded:
        region = self.region(region_id)
        region.rename(name, actor, self._now())
        return Recorded(region.id, self._save_all(region))

    def add_region_county(self, region_id: UUID, county_id: UUID, actor: Actor = SYSTEM_ACTOR) -> Recorded:
        region = self.region(region_id)
        unit = self.unit(county_id)
        region.add_county(unit.id, unit.kind == "county" and unit.parent_id is None, actor, self._now())
        return Recorded(region.id, self._save_all(region))

    def remove_region_county(
        self, region_id: UUID, county_id: UUID, reason: str, actor: Actor = SYSTEM_ACTOR
    ) -> Recorded:
        region = self.region(region_id)
        region.remove_county(county_id, reason, actor, self._now())
        return Recorded(region.id, self._save_all(region))

    def register_region_user(
        self, *, region_id: UUID, name: str, login: str, actor: Actor = SYSTEM_ACTOR, user_id: UUID | None = None
    ) -> Recorded:
        """A person of the regional office, with the REGION role (read-only across its counties)."""
        user = User.register_in_region(
            region=self.region(region_id), name=name, login=login, actor=actor, now=self._now(), user_id=user_id
        )
        if self.user_id_for_login(login) is not None:
            raise LoginTaken(f"登录名“{login.strip()}”已被使用")
        claim = LoginClaim.claim(user, actor, self._now())
        return Recorded(user.id, self._save_all(user, claim))

    def configure_webhook(self, unit_id: UUID, url: str, secret: str, actor: Actor) -> Recorded:
        unit = self.unit(unit_id)
        unit.configure_webhook(url, secret, actor, self._now())
        return Recorded(unit.id, self._save_all(unit))

    def set_email(self, user_id: UUID, email: str, actor: Actor) -> Recorded:
        user = self.user(user_id)
        user.set_email(email, actor, self._now())
        return Recorded(user.id, self._save_all(user))

    def grant_role(self, user_id: UUID, role: str, actor: Actor) -> Recorded:
        user = self.user(user_id)
        user.grant_role(role, actor, self._now())
        return Recorded(user.id, self._save_all(user))

    def revoke_role(self, user_id: UUID, role: str, actor: Actor) -> Recorded:
        user = self.user(user_id)
        user.revoke_role(role, actor, self._now())
        return Recorded(user.id, self._save_all(user))

    def set_password(self, user_id: UUID, password_hash: str, actor: Actor) -> Recorded:
        """A password (its argon2 hash) set by the user, or reset by the command office."""
        user = self.user(user_id)
        user.set_password(password_hash, actor, self._now())
        return Recorded(user.id, self._save_all(user))

    def record_sign_in(self, user_id: UUID, succeeded: bool, actor: Actor = SYSTEM_ACTOR, role: str = "") -> Recorded:
        """A sign-in attempt; refused (AccountLocked, nothing recorded) while the account is locked."""
        user = self.user(user_id)
        user.record_sign_in(succeeded, actor, self._now(), role)
        return Recorded(user.id, self._save_all(user))

    def issue_api_token(self, user_id: UUID, token_id: str, role: str, label: str, digest: str, actor: Actor) -> Recorded:
        user = self.user(user_id)
        user.issue_api_token(token_id, role, label, digest, actor, self._now())
        return Recorded(user.id, self._save_all(user))

    def revoke_api_token(self, user_id: UUID, token_id: str, actor: Actor) -> Recorded:
        user = self.user(user_id)
        user.revoke_api_token(token_id, actor, self._now())
        return Recorded(user.id, self._save_all(user))

    # Rulebook and calendar
    def open_rulebook(
        self, county_id: UUID, rules: Rules, in_force_from: date, actor: Actor = SYSTEM_ACTOR
    ) -> Recorded:
        self.unit(county_id)
        try:
            self.repository.get(rulebook_id(county_id))
        except AggregateNotFoundError:
            pass
        else:
            raise RulebookAlreadyOpen()
        rulebook = Rulebook.open(county_id=county_id, rules=rules, in_force_from=in_force_from, actor=actor, now=self._now())
        return Recorded(rulebook.id, self._save_all(rulebook), value=1)

    def adopt_rules(self, county_id: UUID, rules: Rules, in_force_from: date, actor: Actor) -> Recorded:
        rulebook = self.rulebook(county_id)
        version = rulebook.adopt(rules, in_force_from, actor, self._now())
        return Recorded(rulebook.id, self._save_all(rulebook), value=version)

    def record_holiday_arrangement(
        self, county_id: UUID, year: int, days_off: list[date], make_up_workdays: list[date], actor: Actor
    ) -> Recorded:
        rulebook = self.rulebook(county_id)
        rulebook.record_holiday_arrangement(year, days_off, make_up_workdays, actor, self._now())
        return Recorded(rulebook.id, self._save_all(rulebook))

    # Inspections
    def plan_inspection(
        self,
        *,
        county_id: UUID,
        title: str,
        source: str,
        inspector_ids: Iterable[UUID],
        starts_on: date,
        ends_on: date,
        actor: Actor,
        inspection_id: UUID | None = None,
    ) -> Recorded:
        inspectors = tuple(inspector_ids)
        for inspector_id in inspectors:
            if self.user(inspector_id).county_id != county_id:
                raise UnknownUser("所选督查员不属于本县")
        inspection = Inspection.plan(
            county_id=county_id,
            title=title,
            source=source,
            inspector_ids=inspectors,
            starts_on=starts_on,
            ends_on=ends_on,
            actor=actor,
            now=self._now(),
            inspection_id=inspection_id,
        )
        return Recorded(inspection.id, self._save_all(inspection))

    def complete_inspection(self, inspection_id: UUID, summary: str, actor: Actor) -> Recorded:
        inspection = self.inspection(inspection_id)
        inspection.complete(summary, actor, self._now())
        return Recorded(inspection.id, self._save_all(inspection))

    # Findings
    def file_finding(
        self,
        *,
        unit_id: UUID,
        category: str,
        source: str,
        severity: str,
        check_item: str,
        description: str,
        actor: Actor,
        inspection_id: UUID | None = None,
        household_no: str = "",
        cadre_ids: Iterable[UUID] = (),
        finding_id: UUID | None = None,
        attachments: Iterable[Mapping[str, Any]] = (),
    ) -> Recorded:
        """``attachments``: the inspector's evidence files, already in the evidence
        store (domain/attachments.py says what a record holds).

        Findings of one check item at one unit are counted by one record (for the
        repeat rule), so two filed at the same moment collide there; nothing was
        saved, and the filing is decided again on the record as it now stands."""
        finding_id = finding_id or uuid4()
        cadre_ids, attachments = tuple(cadre_ids), tuple(attachments)
        for attempt in range(FILING_ATTEMPTS):
            try:
                return self._file_finding_once(
                    unit_id, category, source, severity, check_item, description, actor, inspection_id,
                    household_no, cadre_ids, finding_id, attachments,
                )  # fmt: skip
            except ConcurrentChange:
                if attempt == FILING_ATTEMPTS - 1 or self._exists(finding_id):
                    raise
        raise AssertionError("unreachable")

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def _file_finding_once(  # noqa: PLR0913 - file_finding's arguments, in its order
        self, unit_id: UUID, category: str, source: str, severity: str, check_item: str, description: str,
        actor: Actor, inspection_id: UUID | None, household_no: str, cadre_ids: tuple[UUID, ...], finding_id: UUID,
        attachments: tuple[Mapping[str, Any], ...],
    ) -> Recorded:  # fmt: skip
        now = self._now()
        unit = self.unit(unit_id)
        if unit.retired:
            raise RetiredUnitCannotBeAccountable()
        cadres = tuple(dict.fromkeys(cadre_ids))
        for cadre_id in cadres:
            try:
                cadre = self.user(cadre_id)
            except UnknownUser as error:
                raise NotACadre() from error
            if cadre.county_id != unit.county_id or CADRE not in cadre.roles:
                raise NotACadre()
        if inspection_id is not None:
            inspection = self.inspection(inspection_id)
            if inspection.county_id != unit.county_id:
                raise UnknownInspection()
            inspection.require_open()
        today = local_date(now)
        rules = self.rules_in_force(unit.county_id, today).rules
        record_id = check_item_record_id(unit.id, check_item)
        try:
            record: CheckItemRecord | None = self.repository.get(record_id)
        except AggregateNotFoundError:
            record = None
        repeat_of = None
        if record is not None:
            earlier = record.filed_dates()
            if is_repeat((d for _, d in earlier), today, rules):
                repeat_of = earlier[-1][0]
        finding = Finding.file(
            county_id=unit.county_id,
            unit_id=unit.id,
            unit_path=self.unit_path(unit),
            category=category,
            source=source,
            severity=severity,
            check_item=check_item,
            description=description,
            actor=actor,
            now=now,
            inspection_id=inspection_id,
            household_no=household_no,
            cadre_ids=cadres,
            repeat_of=repeat_of,
            finding_id=finding_id,
            attachments=attachments,
        )
        if record is None:
            record = CheckItemRecord.start(
                county_id=unit.county_id,
                unit_id=unit.id, check_item=check_item, finding_id=finding.id, actor=actor, now=now, filed_on=today
            )
        else:
            record.record(finding.id, today, actor, now)
        return Recorded(finding.id, self._save_all(finding, record))

    def issue_notice(self, finding_id: UUID, actor: Actor = SYSTEM_ACTOR) -> Recorded:
        """The rectification notice: deadline counted in working days from today,
        by the severity, under the rulebook in force and the calendar known now."""
        now = self._now()
        finding = self.finding(finding_id)
        deadline, _ = self._deadline(finding.county_id, finding.severity, local_date(now))
        recipients = (finding.unit_id, *finding.cadre_ids)
        finding.issue_notice(deadline, recipients, actor, now)
        return Recorded(finding.id, self._save_all(finding), value=deadline)

    def acknowledge_notice(self, finding_id: UUID, actor: Actor) -> Recorded:
        finding = self.finding(finding_id)
        finding.acknowledge(actor, self._now())
        return Recorded(finding.id, self._save_all(finding))

    def request_extension(self, finding_id: UUID, until: date, reason: str, actor: Actor) -> Recorded:
        finding = self.finding(finding_id)
        finding.request_extension(until, reason, actor, self._now())
        return Recorded(finding.id, self._save_all(finding))

    def grant_extension(self, finding_id: UUID, actor: Actor, until: date | None = None, note: str = "") -> Recorded:
        finding = self.finding(finding_id)
        finding.grant_extension(actor, self._now(), until=until, note=note)
        return Recorded(finding.id, self._save_all(finding))

    def deny_extension(self, finding_id: UUID, reason: str, actor: Actor) -> Recorded:
        finding = self.finding(finding_id)
        finding.deny_extension(reason, actor, self._now())
        return Recorded(finding.id, self._save_all(finding))

    def submit_rectification(
        self,
        finding_id: UUID,
        description: str,
        actor: Actor,
        evidence: Iterable[str] = (),
        attachments: Iterable[Mapping[str, Any]] = (),
    ) -> Recorded:
        """``evidence``: lines of text; ``attachments``: the unit's evidence files,
        already in the evidence store."""
        finding = self.finding(finding_id)
        finding.submit_rectification(description, tuple(evidence), actor, self._now(), attachments=attachments)
        return Recorded(finding.id, self._save_all(finding))

    def accept_rectification(self, finding_id: UUID, actor: Actor, note: str = "") -> Recorded:
        finding = self.finding(finding_id)
        finding.accept_rectification(note, actor, self._now())
        return Recorded(finding.id, self._save_all(finding))

    def reject_rectification(self, finding_id: UUID, reason: str, actor: Actor) -> Recorded:
        now = self._now()
        finding = self.finding(finding_id)
        deadline, version = self._deadline(finding.county_id, finding.severity, local_date(now))
        finding.reject_rectification(reason, deadline, version, actor, now)
        return Recorded(finding.id, self._save_all(finding), value=deadline)

    def record_missed_deadline(self, finding_id: UUID, actor: Actor = SYSTEM_ACTOR) -> Recorded:
        """At most once per deadline: the aggregate refuses a second time, and of two
        processes racing, optimistic concurrency lets only one save."""
        now = self._now()
        finding = self.finding(finding_id)
        finding.record_missed_deadline(self.rules_in_force(finding.county_id, local_date(now)), actor, now)
        return Recorded(finding.id, self._save_all(finding))

    def record_missed_deadlines(self, findings: Iterable[Finding], actor: Actor = SYSTEM_ACTOR) -> MissedDeadlines:
        """The sweep's many at once: each finding (as just loaded) whose deadline has
        passed unrecorded gets its miss, and they are saved in one transaction, not a
        commit each. If another process changed one meanwhile, nothing of the batch
        was saved and each is recorded again on its own (at most once per deadline)."""
        now = self._now()
        rules: dict[UUID, RulebookVersion] = {}
        missed: list[Finding] = []
        skipped = 0
        for finding in findings:
            if not finding.is_missable(now):
                skipped += 1
                continue
            try:
                if finding.county_id not in rules:
                    rules[finding.county_id] = self.rules_in_force(finding.county_id, local_date(now))
                finding.record_missed_deadline(rules[finding.county_id], actor, now)
            except DomainError:  # no rulebook in force, say: as the one-at-a-time sweep, skip it
                skipped += 1
                continue
            missed.append(finding)
        if not missed:
            return MissedDeadlines(0, skipped, None)
        try:
            return MissedDeadlines(len(missed), skipped, self._save_all(*missed))
        except ConcurrentChange:
            recorded, position = 0, None
            for finding in missed:
                try:
                    position = self.record_missed_deadline(finding.id, actor).position
                    recorded += 1
                except DomainError:
                    skipped += 1
            return MissedDeadlines(recorded, skipped, position)

    def reverse_deduction(self, finding_id: UUID, deduction_number: int, reason: str, actor: Actor) -> Recorded:
        finding = self.finding(finding_id)
        finding.reverse_deduction(deduction_number, reason, actor, self._now())
        return Recorded(finding.id, self._save_all(finding))

    def escalation_due(self, finding_id: UUID) -> str | None:
        now = self._now()
        finding = self.finding(finding_id)
        return finding.escalation_due(self.rules_in_force(finding.county_id, local_date(now)), local_date(now))

    def escalate(self, finding_id: UUID, reason: str, actor: Actor) -> Recorded:
        now = self._now()
        finding = self.finding(finding_id)
        finding.escalate(reason, self.rules_in_force(finding.county_id, local_date(now)), actor, now)
        return Recorded(finding.id, self._save_all(finding))

    def withdraw_finding(self, finding_id: UUID, reason: str, actor: Actor) -> Recorded:
        finding = self.finding(finding_id)
        finding.withdraw(reason, actor, self._now())
        return Recorded(finding.id, self._save_all(finding))

    # Circulars
    def draft_circular(
        self,
        *,
        county_id: UUID,
        kind: str,
        title: str,
        prefix: str,
        period: str,
        body: str,
        finding_ids: Iterable[UUID],
        unit_ids: Iterable[UUID],
        actor: Actor,
        circular_id: UUID | None = None,
    ) -> Recorded:
        findings, units = tuple(finding_ids), tuple(unit_ids)
        self._require_in_county(county_id, findings, units)
        circular = Circular.draft(
            county_id=county_id,
            kind=kind,
            title=title,
            prefix=prefix,
            period=period,
            body=body,
            finding_ids=findings,
            unit_ids=units,
            actor=actor,
            now=self._now(),
            circular_id=circular_id,
        )
        return Recorded(circular.id, self._save_all(circular))

    def issue_circular(self, circular_id: UUID, actor: Actor) -> Recorded:
        """Takes the next number of the series for this year; two issues racing
        for one number cannot both save."""
        now = self._now()
        circular = self.circular(circular_id)
        year = local_date(now).year
        try:
            series = self.repository.get(series_id(circular.county_id, circular.prefix, year))
        except AggregateNotFoundError:
            series = DocumentSeries.open(
                county_id=circular.county_id, prefix=circular.prefix, year=year, actor=actor, now=now
            )
        number = circular.issue(series, self.rules_in_force(circular.county_id, local_date(now)), actor, now)
        return Recorded(circular.id, self._save_all(circular, series), value=number)

    def edit_circular(
        self,
        circular_id: UUID,
        *,
        title: str,
        body: str,
        finding_ids: Iterable[UUID],
        unit_ids: Iterable[UUID],
        actor: Actor,
    ) -> Recorded:
        circular = self.circular(circular_id)
        findings, units = tuple(finding_ids), tuple(unit_ids)
        self._require_in_county(circular.county_id, findings, units)
        circular.edit(title=title, body=body, finding_ids=findings, unit_ids=units, actor=actor, now=self._now())
        return Recorded(circular.id, self._save_all(circular))

    def _require_in_county(self, county_id: UUID, finding_ids: tuple[UUID, ...], unit_ids: tuple[UUID, ...]) -> None:
        """A circular lists only its own county's findings and units (an unknown or forged id is not found)."""
        for finding_id in finding_ids:
            if self.finding(finding_id).county_id != county_id:
                raise UnknownFinding()
        for unit_id in unit_ids:
            if self.unit(unit_id).county_id != county_id:
                raise UnknownUnit()

    def revoke_circular(self, circular_id: UUID, reason: str, actor: Actor) -> Recorded:
        circular = self.circular(circular_id)
        circular.revoke(reason, actor, self._now())
        return Recorded(circular.id, self._save_all(circular))

    # Discipline cases
    def open_case(
        self, *, county_id: UUID, summary: str, actor: Actor, finding_ids: Iterable[UUID] = (), subject_unit_id: UUID | None = None,
        case_id: UUID | None = None,
    ) -> Recorded:
        findings = tuple(finding_ids)
        for finding_id in findings:
            if self.finding(finding_id).county_id != county_id:
                raise UnknownFinding()
        if subject_unit_id is not None and self.unit(subject_unit_id).county_id != county_id:
            raise UnknownUnit()
        case = Case.open(
            county_id=county_id,
            subject_unit_id=subject_unit_id,
            finding_ids=findings,
            summary=summary,
            actor=actor,
            now=self._now(),
            case_id=case_id,
        )
        return Recorded(case.id, self._save_all(case))

    def link_case_findings(self, case_id: UUID, finding_ids: Iterable[UUID], actor: Actor) -> Recorded:
        case = self.case(case_id)
        findings = tuple(finding_ids)
        for finding_id in findings:
            if self.finding(finding_id).county_id != case.county_id:
                raise UnknownFinding()
        case.link_findings(findings, actor, self._now())
        return Recorded(case.id, self._save_all(case))

    def record_hearing(self, case_id: UUID, held_on: date, participants: str, note: str, actor: Actor) -> Recorded:
        case = self.case(case_id)
        case.record_hearing(held_on, participants, note, actor, self._now())
        return Recorded(case.id, self._save_all(case))

    def record_sanction(self, case_id: UUID, sanction: str, subject: str, note: str, actor: Actor) -> Recorded:
        case = self.case(case_id)
        case.record_sanction(sanction, subject, note, actor, self._now())
        return Recorded(case.id, self._save_all(case))

    def close_case(self, case_id: UUID, conclusion: str, actor: Actor) -> Recorded:
        case = self.case(case_id)
        case.close(conclusion, actor, self._now())
        return Recorded(case.id, self._save_all(case))

    # Access to full histories (查阅记录)
    def record_history_viewed(
        self, *, county_id: UUID, subject_kind: str, subject_id: UUID, subject_name: str, filters: dict[str, str],
        actor: Actor,
    ) -> Recorded:  # fmt: skip
        """A full history page was shown to ``actor`` (see domain/history_access.py)."""
        from domain.history_access import HistoryAccess

        access = HistoryAccess.viewed(
            county_id=county_id, subject_kind=subject_kind, subject_id=subject_id, subject_name=subject_name,
            filters=filters, actor=actor, now=self._now(),
        )  # fmt: skip
        return Recorded(access.id, self._save_all(access))

    def record_history_exported(
        self, *, county_id: UUID, subject_kind: str, subject_id: UUID, subject_name: str, filters: dict[str, str],
        events: int, sha256: str, actor: Actor,
    ) -> Recorded:  # fmt: skip
        """An audit bundle of a history was handed to ``actor``."""
        from domain.history_access import HistoryAccess

        access = HistoryAccess.exported(
            county_id=county_id, subject_kind=subject_kind, subject_id=subject_id, subject_name=subject_name,
            filters=filters, events=events, sha256=sha256, actor=actor, now=self._now(),
        )  # fmt: skip
        return Recorded(access.id, self._save_all(access))

    # Messages (通知)
    def message(self, message_id: UUID) -> Message:
        return self._get(message_id, Message, UnknownMessage)

    def send_message(
        self,
        *,
        message_id: UUID,
        county_id: UUID,
        purpose: str,
        title: str,
        body: str,
        unit_ids: Iterable[UUID] = (),
        user_ids: Iterable[UUID] = (),
        finding_id: UUID | None = None,
        actor: Actor = SYSTEM_ACTOR,
    ) -> Recorded:
        """Send once: a message whose id exists already was sent, and sending it
        again records nothing (position None)."""
        try:
            self.repository.get(message_id)
        except AggregateNotFoundError:
            pass
        else:
            return Recorded(message_id, None)
        message = Message.send(
            message_id=message_id,
            county_id=county_id,
            purpose=purpose,
            title=title,
            body=body,
            unit_ids=tuple(unit_ids),
            user_ids=tuple(user_ids),
            finding_id=finding_id,
            actor=actor,
            now=self._now(),
        )
        try:
            return Recorded(message.id, self._save_all(message))
        except ConcurrentChange:
            return Recorded(message_id, None)  # another process sent it first

    def record_delivery(
        self, message_id: UUID, channel: str, recipient: str, succeeded: bool, detail: str = ""
    ) -> Recorded:
        message = self.message(message_id)
        message.record_delivery(channel, recipient, succeeded, detail, SYSTEM_ACTOR, self._now())
        return Recorded(message.id, self._save_all(message))

    def mark_message_read(self, message_id: UUID, actor: Actor) -> Recorded:
        message = self.message(message_id)
        message.mark_read(actor, self._now())
        return Recorded(message.id, self._save_all(message))

    # Reading the log
    def history(self, aggregate_id: UUID) -> list[Any]:
        """Every event of one aggregate, oldest first."""
        return list(self.repository.event_store.get(aggregate_id))

    def position(self) -> int:
        return self.recorder.max_notification_id() or 0

    # Verifications of the history (历史核验)
    def record_verification(self, *, run_id: UUID, actor: Actor, **result: Any) -> Recorded:
        """A verification run's result (see domain/verification.py); the same run
        recorded again (a retried job) records nothing."""
        from domain.verification import Verification

        if self._exists(run_id):
            return Recorded(run_id, None)
        run = Verification.record(run_id=run_id, actor=actor, now=self._now(), **result)
        try:
            return Recorded(run.id, self._save_all(run))
        except ConcurrentChange:
            return Recorded(run_id, None)  # recorded by another process first

    # Importing an inspection's findings (an inspection team's spreadsheet)
    def import_inspection(
        self,
        *,
        inspection_id: UUID,
        county_id: UUID,
        title: str,
        source: str,
        starts_on: date,
        ends_on: date,
        rows: Iterable[ImportRow],
        actor: Actor,
        summary: str = "",
        issue_notices: bool = False,
    ) -> Recorded:
        """Plan an inspection with the actor as its inspector, file every row's
        finding in it (and, if asked, issue their notices), and complete it: an
        imported file is the whole record of a finished round. All of it is
        saved in one write, so either every finding is recorded or none is.

        ``inspection_id`` is the import's identity (``imported_inspection_id``
        of the county and the file's digest): if that inspection exists the
        file was imported already, and nothing is recorded (position None,
        ``value.already_imported``). Finding ids derive from it and the row
        number, so two processes importing the same file cannot both save.

        Each row meets the rules ``file_finding`` applies, repeats included
        (rows earlier in the same file count as earlier filings); every refused
        row is reported in ``ImportRefused.problems``, not only the first.
        """
        rows = tuple(rows)
        # Who may import is checked before "already imported" is told to anyone.
        actor.require_role(COMMAND, INSPECTOR)
        actor.require_county(county_id)
        done = self._imported_already(inspection_id, county_id, rows)
        if done is not None:
            return done
        if not rows:
            raise InvalidInput("导入文件中没有需要登记的问题")
        if len({row.row for row in rows}) != len(rows):
            raise ValueError("each imported row needs its own row number: it fixes the finding's id")
        now = self._now()
        today = local_date(now)
        try:
            inspector_ids: tuple[UUID, ...] = (UUID(actor.user_id),)
        except ValueError:
            inspector_ids = ()  # the system is no inspector; plan() refuses its role anyway
        inspection = Inspection.plan(
            county_id=county_id,
            title=title,
            source=source,
            inspector_ids=inspector_ids,
            starts_on=starts_on,
            ends_on=ends_on,
            actor=actor,
            now=now,
            inspection_id=inspection_id,
        )
        rules = self.rules_in_force(county_id, today).rules
        problems: list[ImportProblem] = []
        findings: list[Finding] = []
        records: dict[UUID, CheckItemRecord | None] = {}
        deadlines: dict[str, ComputedDeadline] = {}
        units: dict[UUID, tuple[Unit, tuple[UUID, ...]]] = {}  # a file names few units, many times
        for row in rows:
            try:
                if row.unit_id not in units:
                    unit = self._importable_unit(row.unit_id, county_id)
                    units[row.unit_id] = (unit, self.unit_path(unit))
                unit, unit_path = units[row.unit_id]
            except DomainError as error:
                problems.append(ImportProblem(row.row, ImportProblem.UNIT, error.message))
                continue
            try:
                cadres = self._importable_cadres(row.cadre_ids, county_id)
            except DomainError as error:
                problems.append(ImportProblem(row.row, ImportProblem.CADRES, error.message))
                continue
            record_id = check_item_record_id(unit.id, row.check_item)
            if record_id not in records:
                try:
                    records[record_id] = self.repository.get(record_id)
                except AggregateNotFoundError:
                    records[record_id] = None
            record = records[record_id]
            repeat_of = None
            if record is not None:
                earlier = record.filed_dates()
                if is_repeat((d for _, d in earlier), today, rules):
                    repeat_of = earlier[-1][0]
            try:
                finding = Finding.file(
                    county_id=county_id,
                    unit_id=unit.id,
                    unit_path=unit_path,
                    category=row.category,
                    source=source,
                    severity=row.severity,
                    check_item=row.check_item,
                    description=row.description,
                    actor=actor,
                    now=now,
                    inspection_id=inspection_id,
                    household_no=row.household_no,
                    cadre_ids=cadres,
                    repeat_of=repeat_of,
                    finding_id=imported_finding_id(inspection_id, row.row),
                )
                if issue_notices:
                    if finding.severity not in deadlines:
                        deadlines[finding.severity], _ = self._deadline(county_id, finding.severity, today)
                    finding.issue_notice(deadlines[finding.severity], (unit.id, *cadres), actor, now)
            except DomainError as error:
                problems.append(ImportProblem(row.row, ImportProblem.FINDING, error.message))
                continue
            findings.append(finding)
            if record is None:
                records[record_id] = CheckItemRecord.start(
                    county_id=county_id,
                    unit_id=unit.id, check_item=row.check_item, finding_id=finding.id, actor=actor, now=now, filed_on=today
                )
            else:
                record.record(finding.id, today, actor, now)
        if problems:
            raise ImportRefused(problems)
        inspection.complete(summary or f"由电子表格导入，共{len(findings)}个问题", actor, now)
        touched = [r for r in records.values() if r is not None and r.pending_events]
        try:
            position = self._save_all(inspection, *findings, *touched)
        except ConcurrentChange:
            # Another request imported the same file first; anything else is a real conflict.
            done = self._imported_already(inspection_id, county_id, rows)
            if done is None:
                raise
            return done
        return Recorded(inspection.id, position, value=ImportOutcome(tuple(f.id for f in findings), False))

    def _imported_already(self, inspection_id: UUID, county_id: UUID, rows: tuple[ImportRow, ...]) -> Recorded | None:
        try:
            existing = self.repository.get(inspection_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(existing, Inspection) or existing.county_id != county_id:
            raise UnknownInspection()
        ids = tuple(imported_finding_id(inspection_id, row.row) for row in rows)
        return Recorded(inspection_id, None, value=ImportOutcome(ids, True))

    def _importable_unit(self, unit_id: UUID, county_id: UUID) -> Unit:
        unit = self.unit(unit_id)
        if unit.county_id != county_id:
            raise UnknownUnit()
        if unit.retired:
            raise RetiredUnitCannotBeAccountable()
        return unit

    def _importable_cadres(self, cadre_ids: Iterable[UUID], county_id: UUID) -> tuple[UUID, ...]:
        cadres = tuple(dict.fromkeys(cadre_ids))
        for cadre_id in cadres:
            try:
                cadre = self.user(cadre_id)
            except UnknownUser as error:
                raise NotACadre() from error
            if cadre.county_id != county_id or CADRE not in cadre.roles:
                raise NotACadre()
        return cadres

    # Documents (公文): unit notices, and the registered PDF of every document
    def unit_notice(self, notice_id: UUID) -> UnitNotice:
        return self._get(notice_id, UnitNotice, UnknownUnitNotice)

    def as_of(self, aggregate_id: UUID, instant: datetime) -> Any:
        """An aggregate as it stood at ``instant``: its events recorded up to
        then, folded (None if it did not exist yet). What a document printed at
        ``instant`` said, whatever happened since."""
        version = None
        for event in self.repository.event_store.get(aggregate_id):
            if event.timestamp > instant:
                break
            version = event.originator_version
        if version is None:
            return None
        return self.repository.get(aggregate_id, version=version)

    def issue_unit_notice(
        self, unit_id: UUID, finding_ids: Iterable[UUID], actor: Actor, notice_id: UUID | None = None
    ) -> Recorded:
        """A unit's rectification notice listing its open findings (its own and
        its sub-units'), which the caller read from the ledger; each is checked
        here to be the unit's and still owed. Issuing the same ``notice_id``
        again (a form sent twice) records nothing."""
        from domain.finding import RECTIFYING

        if notice_id is not None:
            try:
                existing = self.repository.get(notice_id)
            except AggregateNotFoundError:
                pass
            else:
                if not isinstance(existing, UnitNotice) or existing.county_id != actor.county_id:
                    raise UnknownUnitNotice()
                return Recorded(notice_id, None)
        unit = self.unit(unit_id)
        findings = tuple(dict.fromkeys(finding_ids))
        for finding_id in findings:
            finding = self.finding(finding_id)
            if finding.county_id != unit.county_id or unit.id not in finding.unit_path:
                raise NotTheUnitsOpenFinding()
            if finding.status not in RECTIFYING:
                raise NotTheUnitsOpenFinding()
        notice = UnitNotice.issue(
            county_id=unit.county_id, unit_id=unit.id, finding_ids=findings, actor=actor, now=self._now(),
            notice_id=notice_id,
        )
        try:
            return Recorded(notice.id, self._save_all(notice))
        except ConcurrentChange:
            if notice_id is None:
                raise
            return Recorded(notice_id, None)  # the same form, sent twice at once

    def _register(self, load: Callable[[], Any], register: Callable[[Any], bool]) -> Recorded:
        """Register a document on its aggregate: nothing recorded (position None)
        if the same file is registered already, also when a racing worker saved
        it first; another change saved meanwhile (a unit acknowledging) is
        simply read again."""
        for attempt in range(3):
            aggregate = load()
            if not register(aggregate):
                return Recorded(aggregate.id, None)
            try:
                return Recorded(aggregate.id, self._save_all(aggregate))
            except ConcurrentChange:
                if attempt == 2:
                    raise  # the aggregate keeps changing: the job's retry tries again later
        raise AssertionError("unreachable")

    def register_circular_document(
        self, circular_id: UUID, *, sha256: str, size: int, renderer: str, letterhead: dict[str, str],
        actor: Actor = SYSTEM_ACTOR, anchor_head: str = "", anchor_position: int = 0,
    ) -> Recorded:  # fmt: skip
        """The issued circular's stored PDF: recorded once (see ``Circular.register_document``),
        with the anchor printed on it (the audit chain's head at the issuing event)."""
        return self._register(
            lambda: self.circular(circular_id),
            lambda c: c.register_document(
                sha256=sha256, size=size, renderer=renderer, letterhead=letterhead, actor=actor, now=self._now(),
                anchor_head=anchor_head, anchor_position=anchor_position,
            ),
        )  # fmt: skip

    def register_notice_document(
        self, finding_id: UUID, *, sha256: str, size: int, renderer: str, document_number: str, title: str,
        letterhead: dict[str, str], deadline_number: int = 1, actor: Actor = SYSTEM_ACTOR, anchor_head: str = "",
        anchor_position: int = 0,
    ) -> Recorded:  # fmt: skip
        """A finding's rectification notice's stored PDF: recorded once, with its anchor."""
        return self._register(
            lambda: self.finding(finding_id),
            lambda f: f.register_notice_document(
                deadline_number=deadline_number, sha256=sha256, size=size, renderer=renderer,
                document_number=document_number, title=title, letterhead=letterhead, actor=actor, now=self._now(),
                anchor_head=anchor_head, anchor_position=anchor_position,
            ),
        )  # fmt: skip

    def register_unit_notice_document(
        self, notice_id: UUID, *, sha256: str, size: int, renderer: str, document_number: str, title: str,
        letterhead: dict[str, str], actor: Actor = SYSTEM_ACTOR, anchor_head: str = "", anchor_position: int = 0,
    ) -> Recorded:  # fmt: skip
        """A unit notice's stored PDF: recorded once, with its anchor."""
        return self._register(
            lambda: self.unit_notice(notice_id),
            lambda n: n.register_document(
                sha256=sha256, size=size, renderer=renderer, document_number=document_number, title=title,
                letterhead=letterhead, actor=actor, now=self._now(), anchor_head=anchor_head,
                anchor_position=anchor_position,
            ),
        )  # fmt: skip


@dataclass(frozen=True)
class ImportRow:
    """One finding of an imported inspection; ``row`` is its row number in the
    file, which names it in problem reports and fixes its finding id."""

    row: int
    unit_id: UUID
    category: str
    severity: str
    check_item: str
    description: str
    household_no: str = ""
    cadre_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class ImportProblem:
    """Why one row was refused; ``field`` says which part of the row."""

    UNIT = "unit"
    CADRES = "cadres"
    FINDING = "finding"

    row: int
    field: str
    message: str


class ImportRefused(InvalidInput):
    message = "导入文件中有不符合要求的行，未登记任何问题"

    def __init__(self, problems: Iterable[ImportProblem]):
        super().__init__()
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ImportOutcome:
    finding_ids: tuple[UUID, ...]
    already_imported: bool


def imported_inspection_id(county_id: UUID, file_sha256: str) -> UUID:
    """The same file imported into the same county is the same inspection."""
    return uuid5(NAMESPACE_URL, f"duban:import:{county_id}:{file_sha256.lower()}")


def imported_finding_id(inspection_id: UUID, row: int) -> UUID:
    return uuid5(inspection_id, f"row:{row}")
