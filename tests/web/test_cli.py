"""The operator commands registered on the app."""

from __future__ import annotations

import sys
import types
from uuid import uuid4

from tests.web.conftest import act_as


def test_rebuild_projections_reproduces_every_view(app, client, county, clock):
    first = county.file(county.village_a1, cadres=(county.cadre_1,))
    county.file(county.town_b, notice=False)
    clock.advance(days=20)
    command = county.actor(county.command, "command")
    county.duban.record_missed_deadline(first, command)
    county.duban.reverse_deduction(first, 1, "申诉成立", command)
    county.duban.rename_unit(county.village_a2, "姬家岔新村", command)
    act_as(client, county.inspector, "inspector")
    assert client.get("/").status_code == 200  # the embedded follower is running
    county.settle()
    before = county.runtime.query.all_rows()
    assert any(row["table"] == "ledger_deductions" for row in before)
    county.duban.send_message(
        message_id=uuid4(), county_id=county.county, purpose="notice", title="整改通知", body="请整改",
        unit_ids=(county.village_a1,), finding_id=first,
    )  # fmt: skip
    county.settle()
    inbox_before = county.runtime.inbox.all_rows()
    assert inbox_before
    scores_before = county.runtime.scores.all_rows()
    assert any(row["table"] == "score_deductions" and row["reversed_day"] for row in scores_before)

    result = app.test_cli_runner().invoke(args=["rebuild-projections"])
    assert result.exit_code == 0, result.output
    assert "问题台账已重建" in result.output and "个事件/秒" in result.output
    assert county.runtime.query.all_rows() == before
    assert "通知已重建" in result.output
    assert county.runtime.inbox.all_rows() == inbox_before
    assert "效能考评已重建" in result.output
    assert county.runtime.scores.all_rows() == scores_before
    # The embedded follower carries on after the rebuild.
    later = county.file(county.village_a2)
    county.settle()
    assert county.runtime.query.finding(str(later), county.runtime.today()) is not None


def fake_demo(monkeypatch, calls):
    class Summary:
        def describe(self) -> str:
            return "演示数据已载入：1 个县"

    def load_demo(store_env=None, now=None):
        calls.append(store_env)
        return None if calls[0] == "full" else Summary()

    module = types.ModuleType("app.demo")
    module.load_demo = load_demo
    monkeypatch.setitem(sys.modules, "app.demo", module)


def test_load_demo_refuses_a_store_that_is_not_empty(app, monkeypatch):
    calls = ["full"]
    fake_demo(monkeypatch, calls)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["load-demo"])
    assert refused.exit_code == 1
    assert "拒绝载入" in refused.output
    skipped = runner.invoke(args=["load-demo", "--if-empty"])
    assert skipped.exit_code == 0
    assert "跳过" in skipped.output
    assert calls[1:] == [app.config["DUBAN_STORE_ENV"]] * 2


def test_load_demo_into_an_empty_store(app, monkeypatch):
    calls = []
    fake_demo(monkeypatch, calls)
    result = app.test_cli_runner().invoke(args=["load-demo", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "演示数据已载入：1 个县" in result.output


def test_init_store_says_where_the_store_is(app, store_env):
    result = app.test_cli_runner().invoke(args=["init-store"])
    assert result.exit_code == 0, result.output
    assert "数据表已就绪" in result.output
    if store_env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        assert store_env["SQLITE_DBNAME"] in result.output
    else:
        assert store_env["POSTGRES_SCHEMA"] in result.output
    # Every process then starts with CREATE_TABLE=n and finds each view's tables there.
    from projections.storage import open_view
    from workers.policies import PolicyPostgresView, PolicySQLiteView

    view = open_view("policies", PolicySQLiteView, PolicyPostgresView, {**store_env, "CREATE_TABLE": "n"})
    try:
        assert view.max_tracking_id("Duban") is None
        with view.reading() as rows:
            assert rows.all("SELECT * FROM {policy_timers}") == []
    finally:
        view.datastore.close()


def test_sweep_overdue_records_each_missed_deadline_once(app, county, clock):
    late = county.file(county.village_a1)
    county.file(county.village_a2, notice=False)
    clock.advance(days=20)
    county.file(county.town_b)  # not yet due
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sweep-overdue"])
    assert result.exit_code == 0, result.output
    assert "已记录逾期 1 项" in result.output
    assert county.runtime.query.finding(str(late), county.runtime.today())["missed_count"] == 1
    again = runner.invoke(args=["sweep-overdue"])
    assert "已记录逾期 0 项" in again.output


def test_rebuild_projections_leaves_the_audit_chain_unless_asked(app, client, county):
    county.file(county.village_a1)
    act_as(client, county.inspector, "inspector")
    assert client.get("/").status_code == 200
    county.settle()
    chain = county.runtime.audit
    before = chain.all_rows()
    assert before
    result = app.test_cli_runner().invoke(args=["rebuild-projections"])
    assert result.exit_code == 0, result.output
    assert "审计哈希链未重建" in result.output and "审计哈希链已重建" not in result.output
    result = app.test_cli_runner().invoke(args=["rebuild-projections", "--audit-chain"])
    assert result.exit_code == 0, result.output
    assert "审计哈希链已重建" in result.output
    assert chain.all_rows() == before
