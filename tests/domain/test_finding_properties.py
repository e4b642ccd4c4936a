"""Random sequences of finding commands by random actors at random times:
whatever happens, the invariants of a finding's history hold."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.events import SYSTEM_ACTOR, local_date
from domain.finding import CLOSED, STATUSES, WITHDRAWN, Finding
from tests.domain.helpers import T0, build_world, file_finding, make_deadline, state_of

WORLD = build_world()
RULES = WORLD.rules

ACTORS = {
    "inspector": WORLD.inspector,
    "command": WORLD.command,
    "unit": WORLD.village_unit,  # the accountable unit
    "town": WORLD.town_unit,  # the unit above it
    "other_unit": WORLD.other_village_unit,
    "system": SYSTEM_ACTOR,
    "discipline": WORLD.discipline,
}

#: The events each command records when it succeeds.
PRODUCES = {
    "issue_notice": [Finding.NoticeIssued],
    "acknowledge": [Finding.NoticeAcknowledged],
    "request_extension": [Finding.ExtensionRequested],
    "grant_extension": [Finding.ExtensionGranted],
    "deny_extension": [Finding.ExtensionDenied],
    "submit_rectification": [Finding.RectificationSubmitted],
    "accept_rectification": [Finding.RectificationAccepted],
    "reject_rectification": [Finding.RectificationRejected, Finding.PointsDeducted],
    "record_missed_deadline": [Finding.DeadlineMissed, Finding.PointsDeducted],
    "reverse_deduction": [Finding.DeductionReversed],
    "escalate": [Finding.EscalatedToDiscipline],
    "withdraw": [Finding.Withdrawn],
}

#: Who may carry out each command: most random steps use one of them, so that
#: sequences get deep into a finding's life; the rest use anybody at all.
ENTITLED = {
    "issue_notice": ["inspector", "command", "system"],
    "acknowledge": ["unit", "town"],
    "request_extension": ["unit", "town"],
    "grant_extension": ["command"],
    "deny_extension": ["command"],
    "submit_rectification": ["unit", "town"],
    "accept_rectification": ["inspector", "command"],
    "reject_rectification": ["inspector", "command"],
    "record_missed_deadline": ["system", "command"],
    "reverse_deduction": ["command"],
    "escalate": ["command"],
    "withdraw": ["inspector", "command"],
}

#: Commands that fit each status. Most random steps pick one of these, so that
#: sequences get deep into a finding's life; the rest pick any command at all.
FITTING = {
    "filed": ["issue_notice"] * 3 + ["withdraw"] + ["issue_notice"] * 3 + ["escalate"] + ["issue_notice"] * 2,
    "open": [
        "acknowledge",
        "acknowledge",
        "submit_rectification",
        "request_extension",
        "grant_extension",
        "deny_extension",
        "record_missed_deadline",
        "record_missed_deadline",
        "withdraw",
        "reverse_deduction",
        "escalate",
        "acknowledge",
    ],
    "acknowledged": [
        "submit_rectification",
        "submit_rectification",
        "request_extension",
        "grant_extension",
        "deny_extension",
        "record_missed_deadline",
        "record_missed_deadline",
        "withdraw",
        "reverse_deduction",
        "escalate",
        "submit_rectification",
    ],
    "submitted": [
        "reject_rectification",
        "reject_rectification",
        "reject_rectification",
        "accept_rectification",
        "grant_extension",
        "accept_rectification",
        "withdraw",
        "reverse_deduction",
        "reject_rectification",
    ],
    "closed": ["reverse_deduction"],
    "withdrawn": ["reverse_deduction"],
}

DEADLINE_SETTERS = (Finding.NoticeIssued, Finding.ExtensionGranted, Finding.RectificationRejected)

ADVANCES = st.one_of(
    st.sampled_from(
        [
            timedelta(0),
            timedelta(microseconds=1),
            timedelta(hours=1),
            timedelta(hours=8),
            timedelta(days=1),
            timedelta(days=3),
            timedelta(days=10),
            timedelta(days=31),
        ]
    ),
    st.integers(min_value=0, max_value=40 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
)

STEPS = st.lists(
    st.fixed_dictionaries(
        {
            "fitting": st.sampled_from([True, True, True, False]),
            "choice": st.integers(min_value=0, max_value=999),
            "any_command": st.sampled_from(sorted(PRODUCES)),
            "entitled": st.sampled_from([True, True, True, False]),
            "pick": st.integers(min_value=0, max_value=2),
            "anybody": st.sampled_from(sorted(ACTORS)),
            "advance": ADVANCES,
            "days": st.integers(min_value=-3, max_value=20),
            "explicit_date": st.booleans(),
            "reason": st.sampled_from(["理由", "理由", "理由", "理由", "  ", ""]),
            "deduction": st.integers(min_value=0, max_value=5),
        }
    ),
    min_size=5,
    max_size=40,
)


def command_for(finding: Finding, step: dict[str, Any]) -> str:
    if step["fitting"]:
        if finding.pending_extension is not None and step["choice"] % 3 == 0:
            return "grant_extension" if step["choice"] % 2 == 0 else "deny_extension"
        fitting = FITTING[finding.status]
        return fitting[step["choice"] % len(fitting)]
    return step["any_command"]


def actor_for(command: str, step: dict[str, Any]):
    if step["entitled"]:
        entitled = ENTITLED[command]
        return ACTORS[entitled[step["pick"] % len(entitled)]]
    return ACTORS[step["anybody"]]


def run(finding: Finding, name: str, step: dict[str, Any], actor, now) -> None:
    """Carry out one random command on the finding."""
    today = local_date(now)
    deadline = date.fromisoformat(finding.deadline) if finding.deadline else today
    shifted = deadline + timedelta(days=step["days"])
    reason = step["reason"]
    if name == "issue_notice":
        finding.issue_notice(make_deadline(today + timedelta(days=step["days"])), (WORLD.village.id,), actor, now)
    elif name == "acknowledge":
        finding.acknowledge(actor, now)
    elif name == "request_extension":
        finding.request_extension(shifted, reason, actor, now)
    elif name == "grant_extension":
        finding.grant_extension(actor, now, until=shifted if step["explicit_date"] else None)
    elif name == "deny_extension":
        finding.deny_extension(reason, actor, now)
    elif name == "submit_rectification":
        finding.submit_rectification(reason, ("evidence.jpg",), actor, now)
    elif name == "accept_rectification":
        finding.accept_rectification(reason, actor, now)
    elif name == "reject_rectification":
        new_deadline = make_deadline(today + timedelta(days=step["days"]), working_days=5)
        finding.reject_rectification(reason, new_deadline, RULES, actor, now)
    elif name == "record_missed_deadline":
        finding.record_missed_deadline(RULES, actor, now)
    elif name == "reverse_deduction":
        number = step["deduction"]
        if step["fitting"] and finding.deductions:  # mostly one that exists
            number = 1 + step["choice"] % len(finding.deductions)
        finding.reverse_deduction(number, reason, actor, now)
    elif name == "escalate":
        finding.escalate(reason, RULES, actor, now)
    elif name == "withdraw":
        finding.withdraw(reason, actor, now)
    else:  # pragma: no cover
        raise AssertionError(name)


def check_invariants(finding: Finding) -> None:
    events = list(finding.pending_events)
    assert finding.status in STATUSES
    # Versions run on without a gap.
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    # One deadline number per deadline set.
    assert finding.deadline_number == sum(isinstance(e, DEADLINE_SETTERS) for e in events)
    # No deadline number missed twice, and only deadlines that existed.
    missed = [e.deadline_number for e in events if isinstance(e, Finding.DeadlineMissed)]
    assert len(missed) == len(set(missed))
    assert all(1 <= n <= finding.deadline_number for n in missed)
    assert finding.missed_deadlines == tuple(missed)
    # Deductions are numbered 1..n; a deduction is reversed at most once; the total adds up.
    deducted = {e.deduction_number: e.points for e in events if isinstance(e, Finding.PointsDeducted)}
    assert list(deducted) == list(range(1, len(deducted) + 1))
    reversed_ = [e.deduction_number for e in events if isinstance(e, Finding.DeductionReversed)]
    assert len(reversed_) == len(set(reversed_)) and set(reversed_) <= set(deducted)
    expected = sum((p for n, p in deducted.items() if n not in reversed_), Decimal(0))
    assert finding.points_deducted == expected
    assert finding.points_deducted == sum(
        (d.points for d in finding.deductions.values() if not d.reversed), Decimal(0)
    )
    # Every deduction comes with its cause in the same command.
    for before, event in zip(events, events[1:]):
        if isinstance(event, Finding.PointsDeducted):
            assert type(before) in (Finding.DeadlineMissed, Finding.RectificationRejected)
            assert before.timestamp == event.timestamp
            expected_points = Decimal("0.5") * (2 if finding.repeat_of else 1)
            assert event.points == expected_points
    # Closed and withdrawn are terminal: afterwards only deductions are reversed.
    ended = [i for i, e in enumerate(events) if isinstance(e, (Finding.RectificationAccepted, Finding.Withdrawn))]
    if ended:
        assert len(ended) == 1
        assert all(isinstance(e, Finding.DeductionReversed) for e in events[ended[0] + 1 :])
        assert finding.status in (CLOSED, WITHDRAWN)
    else:
        assert finding.status not in (CLOSED, WITHDRAWN)
    assert (finding.closed_on is not None) == (finding.status == CLOSED)
    # Escalated at most once.
    assert sum(isinstance(e, Finding.EscalatedToDiscipline) for e in events) == int(finding.escalated)
    # Nobody outside the finding's unit path, and no discipline user, wrote anything.
    writers = {e.actor_id for e in events}
    assert ACTORS["other_unit"].user_id not in writers
    assert ACTORS["discipline"].user_id not in writers
    # Replaying the history rebuilds the same finding.
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert state_of(replayed) == state_of(finding)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps=STEPS, repeat=st.booleans(), start=st.integers(min_value=0, max_value=300))
def test_random_command_sequences_keep_the_invariants(steps, repeat, start):
    now = T0 + timedelta(days=start)
    finding = file_finding(WORLD, now=now, repeat_of=WORLD.county.id if repeat else None)
    check_invariants(finding)
    for step in steps:
        now = now + step["advance"]
        command = command_for(finding, step)
        actor = actor_for(command, step)
        before_events = list(finding.pending_events)
        before_state = state_of(finding)
        try:
            run(finding, command, step, actor, now)
        except DomainError:
            # A refused command left no trace.
            assert list(finding.pending_events) == before_events
            assert state_of(finding) == before_state
        else:
            new = finding.pending_events[len(before_events) :]
            assert [type(e) for e in new] == PRODUCES[command]
            for event in new:
                assert event.timestamp == now
                assert event.actor_id == actor.user_id
                assert event.actor_role == actor.role
            if before_state["status"] in (CLOSED, WITHDRAWN):
                assert command == "reverse_deduction"
        check_invariants(finding)
