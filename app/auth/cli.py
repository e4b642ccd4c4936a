"""``flask --app app set-password LOGIN``: a password set from the server's shell,
for the first command-office user of a new county (no one can sign in yet to
reset it through the pages)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from app.auth.logins import user_id_for_login
from app.auth.passwords import hash_password
from domain.errors import DomainError
from domain.events import SYSTEM_ACTOR


@click.command("set-password")
@click.argument("login")
@click.password_option("--password", prompt="新密码", confirmation_prompt="再次输入新密码")
@with_appcontext
def set_password_command(login: str, password: str) -> None:
    """为登录名为 LOGIN 的用户设置密码（系统操作，记入历史）。"""
    runtime = current_app.extensions["duban"]
    user_id = user_id_for_login(runtime, login)
    if user_id is None:
        click.echo(f"找不到登录名为“{login}”的用户", err=True)
        sys.exit(1)
    try:
        runtime.duban.set_password(user_id, hash_password(password), SYSTEM_ACTOR)
    except DomainError as error:
        click.echo(error.message, err=True)
        sys.exit(1)
    click.echo(f"已为“{login}”设置密码，其原有登录均已失效。")
