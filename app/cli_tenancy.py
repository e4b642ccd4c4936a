"""Operator commands for the deployment's tenants: counties (``flask --app app
county ...``) and regions (地区：市级/省级上级指挥部, ``flask --app app region ...``).

A new county, a region, its member counties and its people are the deployment's
business: these commands act as the system (no county's office can), and every
change is an event like any other. Inside a county, its command office manages
its own units, users and rulebook in the pages.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from uuid import UUID

import click
from flask import current_app
from flask.cli import AppGroup

from domain.errors import DomainError

county_cli = AppGroup("county", help="县（租户）：登记新县及其指挥部办公室和第一位管理员，列出全部县。")
region_cli = AppGroup("region", help="地区（市级/省级上级指挥部）：登记、纳入或移出县、登记地区用户。")


def _duban() -> Any:
    return current_app.extensions["duban"].duban


def _fail(error: DomainError) -> None:
    click.echo(f"失败：{error.message}", err=True)
    sys.exit(1)


def _county_id(value: str) -> UUID:
    """A county by its id, or by its exact name if only one county has it."""
    try:
        return UUID(value)
    except ValueError:
        pass
    runtime = current_app.extensions["duban"]
    runtime.fresh()
    found = [u for u in runtime.query.units() if u["kind"] == "county" and not u["parent_id"] and u["name"] == value]
    if len(found) != 1:
        click.echo(f"失败：找不到名为“{value}”的县，或有重名（请使用县编号）", err=True)
        sys.exit(1)
    return UUID(found[0]["unit_id"])


def regions() -> list[Any]:
    """Every region registered in the store, in the order registered."""
    from eventsourcing.utils import get_topic

    from domain.region import Region

    duban = _duban()
    topic = get_topic(Region.Registered)
    found, start = [], 1
    while True:
        batch = duban.recorder.select_notifications(start, 500, topics=[topic])
        if not batch:
            break
        found += [duban.region(n.originator_id) for n in batch]
        start = batch[-1].id + 1
    return found


@region_cli.command("register")
@click.argument("name")
@click.option("--level", type=click.Choice(["city", "province"]), default="city", show_default=True,
              help="city：市级；province：省级")  # fmt: skip
def register(name: str, level: str) -> None:
    """登记一个地区（例如“榆林市”），显示其编号。"""
    try:
        recorded = _duban().register_region(name=name, level=level)
    except DomainError as error:
        _fail(error)
    click.echo(f"已登记地区“{name.strip()}”，编号 {recorded.id}")


@region_cli.command("rename")
@click.argument("region_id", type=click.UUID)
@click.argument("name")
def rename(region_id: UUID, name: str) -> None:
    """更改地区名称。"""
    try:
        _duban().rename_region(region_id, name)
    except DomainError as error:
        _fail(error)
    click.echo("已更名。")


@region_cli.command("add-county")
@click.argument("region_id", type=click.UUID)
@click.argument("county")
def add_county(region_id: UUID, county: str) -> None:
    """把一个县（编号或县名）纳入地区。"""
    county_id = _county_id(county)
    try:
        _duban().add_region_county(region_id, county_id)
    except DomainError as error:
        _fail(error)
    click.echo(f"已将县 {county_id} 纳入地区。")


@region_cli.command("remove-county")
@click.argument("region_id", type=click.UUID)
@click.argument("county")
@click.option("--reason", required=True, help="移出原因（记入历史）")
def remove_county(region_id: UUID, county: str, reason: str) -> None:
    """把一个县移出地区：地区用户从此不能再查看该县。"""
    county_id = _county_id(county)
    try:
        _duban().remove_region_county(region_id, county_id, reason)
    except DomainError as error:
        _fail(error)
    click.echo(f"已将县 {county_id} 移出地区。")


@region_cli.command("add-user")
@click.argument("region_id", type=click.UUID)
@click.argument("name")
@click.argument("login")
@click.option("--password-env", default="DUBAN_NEW_PASSWORD", show_default=True,
              help="从该环境变量读取初始密码；未设置时提示输入。")  # fmt: skip
def add_user(region_id: UUID, name: str, login: str, password_env: str) -> None:
    """登记地区用户（上级指挥部角色，只读查看本地区各县并比较排名）并设置初始密码。"""
    from app.auth.passwords import check_new_password, hash_password

    password = _password(password_env)
    duban = _duban()
    try:
        check_new_password(password)
        recorded = duban.register_region_user(region_id=region_id, name=name, login=login)
        duban.set_password(recorded.id, hash_password(password), _system())
    except DomainError as error:
        _fail(error)
    click.echo(f"已登记地区用户“{name.strip()}”（登录名 {login.strip()}），编号 {recorded.id}")


def _password(env_name: str) -> str:
    return os.environ.get(env_name) or click.prompt("初始密码", hide_input=True, confirmation_prompt=True)


@county_cli.command("register")
@click.argument("name")
@click.option("--code", default="", help="行政区划代码或发文机关代字（可选）")
@click.option("--office", default="县脱贫攻坚指挥部办公室", show_default=True, help="指挥部办公室的名称")
@click.option("--login", "login", required=True, help="第一位指挥部办公室用户的登录名（全部署唯一）")
@click.option("--person", required=True, help="第一位指挥部办公室用户的姓名")
@click.option("--password-env", default="DUBAN_NEW_PASSWORD", show_default=True,
              help="从该环境变量读取初始密码；未设置时提示输入。")  # fmt: skip
def register_county(name: str, code: str, office: str, login: str, person: str, password_env: str) -> None:
    """登记一个新县：县、其指挥部办公室、第一位管理员（指挥部办公室角色）和默认考评规则（当日起施行）。
    其余单位、用户和规则由该县指挥部办公室在网页中管理。"""
    from app.auth.passwords import check_new_password, hash_password
    from domain.events import COMMAND, local_date
    from domain.rules.rulebook import DEFAULT_RULES

    password = _password(password_env)
    duban = _duban()
    try:
        check_new_password(password)
        if duban.user_id_for_login(login) is not None:
            click.echo(f"失败：登录名“{login}”已被使用", err=True)
            sys.exit(1)
        county = duban.register_unit(name=name, kind="county", parent_id=None, code=code).id
        office_id = duban.register_unit(name=office, kind="office", parent_id=county).id
        user = duban.register_user(unit_id=office_id, name=person, login=login, roles=[COMMAND]).id
        duban.set_password(user, hash_password(password), _system())
        duban.open_rulebook(county, DEFAULT_RULES, local_date(duban.clock()))
    except DomainError as error:
        _fail(error)
    click.echo(f"已登记县“{name.strip()}”，编号 {county}；管理员 {person.strip()}（登录名 {login.strip()}）")


@county_cli.command("list")
def list_counties() -> None:
    """列出部署中的全部县。"""
    runtime = current_app.extensions["duban"]
    runtime.fresh()
    counties = [u for u in runtime.query.units() if u["kind"] == "county" and not u["parent_id"]]
    if not counties:
        click.echo("尚未登记任何县。")
    for county in sorted(counties, key=lambda u: u["name"]):
        click.echo(f"{county['unit_id']}  {county['name']}")


def _system() -> Any:
    from domain.events import SYSTEM_ACTOR

    return SYSTEM_ACTOR


@region_cli.command("list")
def list_regions() -> None:
    """列出全部地区及其所辖各县。"""
    duban = _duban()
    found = regions()
    if not found:
        click.echo("尚未登记任何地区。")
    for region in found:
        click.echo(f"{region.id}  {region.name}（{region.level_label}），{len(region.county_ids)} 个县")
        for county_id in region.county_ids:
            click.echo(f"    {county_id}  {duban.unit(county_id).name}")
