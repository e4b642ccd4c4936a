"""verify-history on the command line and the discipline office's page: the
result is told in Chinese, the exit code says intact (0), broken (1) or bad input
(2), and every run is recorded as an event with who ran it."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from app.audit_runs import runs
from domain.audit import format_anchor
from tests.audit.conftest import Intruder
from tests.web.conftest import act_as, app, client, clock, county, post, text_of  # noqa: F401 - fixtures


def settled(county: Any) -> Any:
    """The views (the audit chain among them) caught up with the log."""
    county.file(county.village_a1)
    county.file(county.village_a2, check_item="家庭成员信息")
    county.settle()
    return county.runtime


def cli(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["verify-history", *args])


# The command line
def test_an_intact_history_exits_0_and_the_run_is_recorded(app, county) -> None:
    rt = settled(county)
    head = rt.audit.head()
    result = cli(app)
    assert result.exit_code == 0, result.output
    assert f"历史完整：已核验至第{head.position}号事件" in result.output and head.chain in result.output
    assert "个事件/秒" in result.output
    county.settle()
    run = rt.verifications.latest(str(county.county))
    assert run is not None and run["outcome"] == "intact" and run["actor_role"] == "system"
    assert run["head"] == head.chain and run["position"] == head.position


def test_a_changed_event_exits_1(app, county, store_env) -> None:
    rt = settled(county)
    Intruder(county.duban, store_env).change_state(7)
    result = cli(app)
    assert result.exit_code == 1, result.output
    assert "第7号事件处发现篡改：该事件被修改" in result.output
    county.settle()
    run = rt.verifications.latest()
    assert run is not None and (run["outcome"], run["break_kind"], run["break_position"]) == ("broken", "changed", 7)


def test_an_anchor_holds_then_fails_after_a_rewrite(app, county, store_env) -> None:
    rt = settled(county)
    at = rt.audit.head_at(10)
    anchor = format_anchor(at.chain[:24].upper(), 10)  # typed back from paper: a prefix, any case
    county.file(county.village_a1, check_item="之后的检查项")
    result = cli(app, "--anchor", anchor)
    assert result.exit_code == 0, result.output
    assert "存证相符" in result.output
    Intruder(county.duban, store_env).change_state(4)
    result = cli(app, "--anchor", anchor)
    assert result.exit_code == 1, result.output
    assert "存证不符：第10号及以前的历史已被改写" in result.output
    county.settle()
    run = rt.verifications.latest(check="anchor")
    assert run is not None and run["outcome"] == "fails" and run["anchor"] == anchor.lower()


def test_a_malformed_anchor_exits_2_and_records_nothing(app, county) -> None:
    settled(county)
    before = county.duban.position()
    for bad in ("abc@12", "not an anchor", f"{'g' * 16}@3", f"{'a' * 16}@0", ""):
        result = cli(app, "--anchor", bad)
        assert result.exit_code == 2, (bad, result.output)
        assert "存证格式不正确" in result.output
    assert county.duban.position() == before


# The page
def test_the_discipline_office_runs_a_verification_and_sees_the_result(app, client, county) -> None:
    rt = settled(county)
    act_as(client, county.discipline, "discipline")
    page = client.get("/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="verify-form"' in html and rt.audit.head().chain in html and 'id="audit-link"' in html
    run_id = str(uuid4())
    answer = post(client, "/audit/verify", {"run_id": run_id})
    assert answer.status_code == 303 and f"run={run_id}" in answer.headers["Location"]
    runs(app).join(run_id)
    progress = client.get(f"/audit/runs/{run_id}/progress").get_json()
    assert progress["state"] == "done" and progress["outcome"] == "intact" and progress["percent"] == 100
    html = client.get(f"/audit?run={run_id}").get_data(as_text=True)
    assert text_of(html, "run-outcome") == "历史完整"
    assert text_of(html, "run-summary").startswith("历史完整：已核验至第")
    assert "陈书记" in text_of(html, "runs") or county.duban.user(county.discipline).name in text_of(html, "runs")
    run = rt.verifications.run(run_id)
    assert run is not None and run["actor_id"] == str(county.discipline) and run["actor_role"] == "discipline"
    # The same form sent again starts nothing and records nothing more.
    before = county.duban.position()
    post(client, "/audit/verify", {"run_id": run_id})
    runs(app).join(run_id)
    assert county.duban.position() == before


def test_an_anchor_from_a_document_link_is_prefilled_and_checked(app, client, county) -> None:
    rt = settled(county)
    head = rt.audit.head()
    anchor = format_anchor(head.chain, head.position)
    act_as(client, county.discipline, "discipline")
    html = client.get(f"/audit?anchor={anchor}").get_data(as_text=True)
    assert f'value="{anchor}"' in html
    run_id = str(uuid4())
    answer = post(client, "/audit/anchor", {"run_id": run_id, "anchor": anchor})
    assert answer.status_code == 303
    runs(app).join(run_id)
    html = client.get(f"/audit?run={run_id}").get_data(as_text=True)
    assert text_of(html, "run-outcome") == "存证相符"


def test_a_malformed_anchor_on_the_page_is_refused_and_records_nothing(app, client, county) -> None:
    settled(county)
    act_as(client, county.discipline, "discipline")
    before = county.duban.position()
    answer = post(client, "/audit/anchor", {"run_id": str(uuid4()), "anchor": "12ab@x"})
    assert answer.status_code == 422
    assert "存证格式不正确" in text_of(answer.get_data(as_text=True), "form-error")
    runs(app).join()
    assert county.duban.position() == before


def test_the_command_office_reads_but_cannot_run_and_others_are_refused(app, client, county) -> None:
    settled(county)
    act_as(client, county.command, "command")
    page = client.get("/audit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="verify-form"' not in html and 'id="anchor-form"' not in html and 'id="audit-link"' in html
    before = county.duban.position()
    assert post(client, "/audit/verify", {"run_id": str(uuid4())}).status_code == 403
    assert county.duban.position() == before
    act_as(client, county.inspector, "inspector")
    assert client.get("/audit").status_code == 403
    assert 'id="audit-link"' not in client.get("/").get_data(as_text=True)


def test_a_run_of_another_county_is_not_found(app, client, county) -> None:
    from domain.events import DISCIPLINE

    rt = settled(county)
    d = county.duban
    other = d.register_unit(name="佳县", kind="county", parent_id=None).id
    office = d.register_unit(name="佳县纪委监委", kind="discipline", parent_id=other).id
    person = d.register_user(unit_id=office, name="王书记", login="jx-discipline", roles=[DISCIPLINE]).id
    theirs = d.record_verification(
        run_id=uuid4(), actor=d.actor(person, DISCIPLINE), check="full", outcome="intact", position=1, head="ab" * 32,
        events=1, chained_up_to=1, unchained=0, break_kind="", break_position=0, break_detail={}, anchor="",
        summary="历史完整",
    ).id  # fmt: skip
    county.settle()
    act_as(client, county.discipline, "discipline")
    assert client.get(f"/audit/runs/{theirs}/progress").status_code == 404
    assert str(theirs) not in text_of(client.get("/audit").get_data(as_text=True), "runs") if rt.verifications.listing(
        str(county.county)) else True  # fmt: skip
