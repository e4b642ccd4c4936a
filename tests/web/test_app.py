"""create_app's configuration."""

from __future__ import annotations

import stat

from app import create_app


def make(store_env, clock, **config):
    return create_app({"TESTING": True, "DUBAN_STORE_ENV": store_env, "DUBAN_CLOCK": clock, **config})


def test_the_secret_key_is_kept_in_the_var_dir(store_env, clock, tmp_path, monkeypatch):
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DUBAN_SECRET_KEY", raising=False)
    first, second = make(store_env, clock), make(store_env, clock)
    try:
        key_file = tmp_path / "var" / "secret.key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text().strip()
        assert len(first.config["SECRET_KEY"]) >= 32
    finally:
        first.extensions["duban"].close()
        second.extensions["duban"].close()
    monkeypatch.setenv("DUBAN_SECRET_KEY", "from-the-environment")
    third = make(store_env, clock)
    try:
        assert third.config["SECRET_KEY"] == "from-the-environment"
    finally:
        third.extensions["duban"].close()


def test_the_mode_follows_duban_mode(store_env, clock, monkeypatch):
    monkeypatch.setenv("DUBAN_MODE", "services")
    services = make(store_env, clock, SECRET_KEY="t")
    monkeypatch.delenv("DUBAN_MODE")
    embedded = make(store_env, clock, SECRET_KEY="t")
    try:
        assert services.config["DUBAN_EMBEDDED_PROJECTOR"] is False
        assert embedded.config["DUBAN_EMBEDDED_PROJECTOR"] is True
        html = services.test_client().get("/about").text
        assert "服务模式" in html and "projector" in html
        assert not services.extensions["duban"]._running
        html = embedded.test_client().get("/about").text
        assert "内嵌模式" in html and "投影在网页进程内运行" in html
        assert embedded.extensions["duban"]._running
    finally:
        services.extensions["duban"].close()
        embedded.extensions["duban"].close()


def test_the_runtime_closes_once(app):
    runtime = app.extensions["duban"]
    runtime.close()
    runtime.close()
