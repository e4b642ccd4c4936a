"""The organisation: units and users are registered, changed and retired by events."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput, MissingField, NotPermitted, WrongCounty
from domain.events import CADRE, COMMAND, INSPECTOR, SYSTEM_ACTOR, UNIT, Actor
from domain.org import (
    ParentKindNotAllowed,
    RoleAlreadyHeld,
    RoleNotHeld,
    Unit,
    UnitAlreadyRetired,
    UnknownRole,
    UnknownUnitKind,
    User,
)
from tests.domain.helpers import T0, assert_event, at, emitted, refused


# ------------------------------------------------------------------ units
def test_a_county_is_its_own_county(world):
    county = Unit.register(name=" 米脂县 ", kind="county", parent=None, actor=SYSTEM_ACTOR, now=T0, code=" 610827 ")
    [event] = emitted(county)
    assert_event(
        event,
        Unit.Registered,
        actor=SYSTEM_ACTOR,
        now=T0,
        aggregate=county,
        county_id=county.id,
        name="米脂县",
        kind="county",
        parent_id=None,
        code="610827",
    )
    assert county.county_id == county.id
    assert county.retired is False


def test_only_the_system_registers_a_new_county(world):
    """A county is a tenant of the provincial deployment: no county's command
    office may create one (it would be a county outside every other's reach)."""
    with pytest.raises(NotPermitted):
        Unit.register(name="绥德县", kind="county", parent=None, actor=world.command, now=T0)
    with pytest.raises(NotPermitted):
        Unit.register(name="绥德县", kind="county", parent=None, actor=world.foreign_command, now=T0)


def test_a_county_may_be_registered_with_a_chosen_id(world):
    chosen = world.zone.id  # any UUID
    county = Unit.register(name="绥德县", kind="county", parent=None, actor=SYSTEM_ACTOR, now=T0, unit_id=chosen)
    assert county.id == chosen and county.county_id == chosen


@pytest.mark.parametrize(
    ("kind", "parent"),
    [
        ("zone", "county"),
        ("town", "zone"),
        ("village", "town"),
        ("department", "county"),
        ("office", "county"),
        ("discipline", "county"),
    ],
)
def test_units_sit_under_the_kind_of_unit_allowed(world, kind, parent):
    parent_unit = getattr(world, parent)
    unit = Unit.register(name="新单位", kind=kind, parent=parent_unit, actor=world.command, now=T0)
    [event] = emitted(unit)
    assert_event(
        event,
        Unit.Registered,
        actor=world.command,
        now=T0,
        aggregate=unit,
        county_id=world.county.id,
        name="新单位",
        kind=kind,
        parent_id=parent_unit.id,
        code="",
    )


@pytest.mark.parametrize(
    ("kind", "parent"),
    [
        ("county", "county"),
        ("zone", None),
        ("zone", "town"),
        ("town", "county"),
        ("town", "town"),
        ("village", "zone"),
        ("village", None),
        ("department", "town"),
        ("office", "zone"),
        ("discipline", None),
    ],
)
def test_a_unit_under_the_wrong_kind_of_parent_is_refused(world, kind, parent):
    with pytest.raises(ParentKindNotAllowed):
        Unit.register(
            name="新单位", kind=kind, parent=getattr(world, parent) if parent else None, actor=SYSTEM_ACTOR, now=T0
        )


def test_registering_a_unit_refuses_bad_input_and_the_wrong_actor(world):
    with pytest.raises(UnknownUnitKind):
        Unit.register(name="某组", kind="group", parent=world.town, actor=SYSTEM_ACTOR, now=T0)
    with pytest.raises(MissingField):
        Unit.register(name="  ", kind="village", parent=world.town, actor=SYSTEM_ACTOR, now=T0)
    with pytest.raises(NotPermitted):
        Unit.register(name="某村", kind="village", parent=world.town, actor=world.inspector, now=T0)
    with pytest.raises(NotPermitted):
        Unit.register(name="某村", kind="village", parent=world.town, actor=world.village_unit, now=T0)
    with pytest.raises(WrongCounty):
        Unit.register(name="某村", kind="village", parent=world.town, actor=world.foreign_command, now=T0)


def test_nothing_is_registered_under_a_retired_unit(world):
    world.other_town.retire("撤并", world.command, at(days=1))
    with pytest.raises(UnitAlreadyRetired):
        Unit.register(name="某村", kind="village", parent=world.other_town, actor=SYSTEM_ACTOR, now=at(days=2))


def test_a_unit_is_renamed(world):
    now = at(days=1)
    world.village.rename(" 高西沟社区 ", world.command, now)
    [event] = emitted(world.village)
    assert_event(event, Unit.Renamed, actor=world.command, now=now, aggregate=world.village, name="高西沟社区")
    assert world.village.name == "高西沟社区"


def test_renaming_refusals(world):
    village = world.village
    refused(village, MissingField, village.rename, " ", world.command, at(days=1))
    refused(village, NotPermitted, village.rename, "新名", world.inspector, at(days=1))
    refused(village, NotPermitted, village.rename, "新名", world.village_unit, at(days=1))
    refused(village, WrongCounty, village.rename, "新名", world.foreign_command, at(days=1))
    village.retire("撤并", world.command, at(days=1))
    village.collect_events()
    refused(village, UnitAlreadyRetired, village.rename, "新名", world.command, at(days=2))


def test_a_village_moves_to_another_town(world):
    now = at(days=1)
    world.village.move(world.other_town, world.command, now)
    [event] = emitted(world.village)
    assert_event(event, Unit.Moved, actor=world.command, now=now, aggregate=world.village, parent_id=world.other_town.id)
    assert world.village.parent_id == world.other_town.id


def test_moving_refusals(world):
    village = world.village
    refused(village, ParentKindNotAllowed, village.move, world.zone, world.command, at(days=1))
    refused(village, ParentKindNotAllowed, village.move, world.other_village, world.command, at(days=1))
    refused(world.county, ParentKindNotAllowed, world.county.move, world.department, SYSTEM_ACTOR, at(days=1))
    refused(village, InvalidInput, village.move, world.foreign_town_unit, SYSTEM_ACTOR, at(days=1))
    refused(village, WrongCounty, village.move, world.other_town, world.foreign_command, at(days=1))
    refused(village, NotPermitted, village.move, world.other_town, world.inspector, at(days=1))
    refused(village, InvalidInput, village.move, world.town, world.command, at(days=1))  # already there
    world.other_town.retire("撤并", world.command, at(days=1))
    refused(village, UnitAlreadyRetired, village.move, world.other_town, world.command, at(days=2))
    village.retire("撤并", world.command, at(days=2))
    village.collect_events()
    refused(village, UnitAlreadyRetired, village.move, world.town, world.command, at(days=3))


def test_a_unit_is_retired_once_with_a_reason(world):
    unit = world.other_village
    now = at(days=1)
    unit.retire(" 合并至杨家沟社区 ", world.command, now)
    [event] = emitted(unit)
    assert_event(event, Unit.Retired, actor=world.command, now=now, aggregate=unit, reason="合并至杨家沟社区")
    assert unit.retired is True
    refused(unit, UnitAlreadyRetired, unit.retire, "再次", world.command, at(days=2))


def test_retiring_refusals(world):
    unit = world.other_village
    refused(unit, MissingField, unit.retire, "  ", world.command, at(days=1))
    refused(unit, NotPermitted, unit.retire, "撤并", world.inspector, at(days=1))
    refused(unit, WrongCounty, unit.retire, "撤并", world.foreign_command, at(days=1))


# ------------------------------------------------------------------ users
def test_a_user_is_registered_in_a_unit_with_roles(world):
    user = User.register(
        unit=world.village,
        name=" 张三 ",
        login=" zhangsan ",
        roles=[UNIT, CADRE, UNIT],
        actor=world.command,
        now=T0,
    )
    [event] = emitted(user)
    assert_event(
        event,
        User.Registered,
        actor=world.command,
        now=T0,
        aggregate=user,
        county_id=world.county.id,
        unit_id=world.village.id,
        name="张三",
        login="zhangsan",
        roles=[CADRE, UNIT],
    )
    assert user.roles == (CADRE, UNIT)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"roles": ["mayor"]}, UnknownRole),
        ({"roles": ["system"]}, UnknownRole),
        ({"name": " "}, MissingField),
        ({"login": ""}, MissingField),
    ],
)
def test_registering_a_user_refuses_bad_input(world, changes, error):
    values = dict(unit=world.village, name="张三", login="zhangsan", roles=[UNIT], actor=world.command, now=T0)
    values.update(changes)
    with pytest.raises(error):
        User.register(**values)


def test_registering_a_user_refuses_the_wrong_actor_and_retired_units(world):
    values = dict(unit=world.village, name="张三", login="zhangsan", roles=[UNIT], now=T0)
    with pytest.raises(NotPermitted):
        User.register(actor=world.inspector, **values)
    with pytest.raises(WrongCounty):
        User.register(actor=world.foreign_command, **values)
    world.village.retire("撤并", world.command, T0)
    with pytest.raises(UnitAlreadyRetired):
        User.register(actor=world.command, **values)


def _user(world):
    user = User.register(unit=world.town, name="李四", login="lisi", roles=[UNIT], actor=world.command, now=T0)
    user.collect_events()
    return user


def test_a_role_is_granted(world):
    user = _user(world)
    now = at(days=1)
    user.grant_role(INSPECTOR, world.command, now)
    [event] = emitted(user)
    assert_event(event, User.RoleGranted, actor=world.command, now=now, aggregate=user, role=INSPECTOR)
    assert user.roles == (INSPECTOR, UNIT)


def test_granting_refusals(world):
    user = _user(world)
    refused(user, RoleAlreadyHeld, user.grant_role, UNIT, world.command, at(days=1))
    refused(user, UnknownRole, user.grant_role, "mayor", world.command, at(days=1))
    refused(user, UnknownRole, user.grant_role, "system", world.command, at(days=1))
    refused(user, NotPermitted, user.grant_role, COMMAND, world.inspector, at(days=1))
    refused(user, WrongCounty, user.grant_role, COMMAND, world.foreign_command, at(days=1))


def test_a_role_is_revoked(world):
    user = _user(world)
    now = at(days=1)
    user.revoke_role(UNIT, SYSTEM_ACTOR, now)
    [event] = emitted(user)
    assert_event(event, User.RoleRevoked, actor=SYSTEM_ACTOR, now=now, aggregate=user, role=UNIT)
    assert user.roles == ()


def test_revoking_refusals(world):
    user = _user(world)
    refused(user, RoleNotHeld, user.revoke_role, COMMAND, world.command, at(days=1))
    refused(user, NotPermitted, user.revoke_role, UNIT, world.village_unit, at(days=1))
    refused(user, WrongCounty, user.revoke_role, UNIT, world.foreign_command, at(days=1))


def test_a_user_acts_in_one_of_the_roles_they_hold(world):
    user = _user(world)
    user.grant_role(CADRE, world.command, at(days=1))
    actor = user.acting_as(CADRE)
    assert actor == Actor(
        user_id=str(user.id),
        role=CADRE,
        county_id=world.county.id,
        unit_id=world.town.id,
        name="李四",
        roles=frozenset({CADRE, UNIT}),
    )
    with pytest.raises(RoleNotHeld, match="督查员"):
        user.acting_as(INSPECTOR)


def test_a_revoked_role_can_no_longer_be_acted_in(world):
    user = _user(world)
    user.revoke_role(UNIT, world.command, at(days=1))
    with pytest.raises(RoleNotHeld):
        user.acting_as(UNIT)
