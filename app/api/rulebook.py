"""The county's rulebook (效能考评规则): its versions, and adopting a new one."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.access import allow, signed_in
from app.api import api
from app.api import schemas as s
from app.api.common import actor, respond, settle
from app.api.registry import read_body
from app.identity import runtime
from domain.events import COMMAND
from domain.rules.rulebook import Rules

TAG = "考评规则"


def rulebook_out(county_id: Any) -> dict[str, Any]:
    duban = runtime().duban
    rulebook = duban.rulebook(county_id)
    in_force = rulebook.in_force_on(runtime().today())
    return {
        "county_id": str(county_id),
        "in_force": in_force.version,
        "versions": [
            {"version": v.version, "in_force_from": v.in_force_from, "rules": v.rules.to_dict()}
            for v in rulebook.versions
        ],
    }


@api.get("/rulebook", summary="考评规则的各个版本", tag=TAG, response=s.RULEBOOK)
@signed_in
def show() -> Any:
    return respond(rulebook_out(actor().county_id))


@api.post("/rulebook", summary="通过新版考评规则", tag=TAG, request=s.ADOPT_RULES, response=s.RULEBOOK,
          status=201)  # fmt: skip
@allow(COMMAND)
def adopt() -> Any:
    payload = read_body(api.current())
    who = actor()
    rules = Rules.from_dict(payload["rules"])
    result = runtime().duban.adopt_rules(who.county_id, rules, date.fromisoformat(payload["in_force_from"]), who)
    settle(result.position)
    return respond(rulebook_out(who.county_id), 201)


HOLIDAYS = s.body(
    {"year": {"type": "integer", "minimum": 2000, "maximum": 2100},
     "days_off": {"type": "array", "items": s.DATE, "maxItems": 60},
     "make_up_workdays": {"type": "array", "items": s.DATE, "maxItems": 30}},
    ("year", "days_off", "make_up_workdays"),
)  # fmt: skip


@api.post("/rulebook/holidays", summary="登记某年的法定节假日与调休上班日", tag=TAG, request=HOLIDAYS,
          response=s.RULEBOOK)  # fmt: skip
@allow(COMMAND)
def holidays() -> Any:
    payload = read_body(api.current())
    who = actor()
    result = runtime().duban.record_holiday_arrangement(
        who.county_id, payload["year"], [date.fromisoformat(d) for d in payload["days_off"]],
        [date.fromisoformat(d) for d in payload["make_up_workdays"]], who,
    )  # fmt: skip
    settle(result.position)
    return respond(rulebook_out(who.county_id))
