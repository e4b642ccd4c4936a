"""In the services mode a filing waits only for the views the page it lands on reads."""

from __future__ import annotations

from app.runtime import FILING_VIEWS, Runtime
from domain.service import TravellingClock
from tests.integration.county import START, build_county


def test_a_filing_waits_for_the_views_its_page_reads_not_for_every_view(store_env: dict[str, str]) -> None:
    runtime = Runtime(store_env, TravellingClock(START), embedded=False, wait_seconds=0.2)
    try:
        county = build_county(runtime.duban)
        filed = runtime.duban.file_finding(
            unit_id=county.village_a, category="missing", source="inspection", severity="general",
            check_item="家庭成员信息", description="缺失", actor=county.inspector,
        )  # fmt: skip
        position = filed.position
        # No projector runs here: bring only the filing's views up to date, by hand.
        for name in FILING_VIEWS:
            runtime.views[name].follower.catch_up()
        assert runtime.wait_for(position, FILING_VIEWS) is True
        assert runtime.query.finding(str(filed.id), runtime.today()) is not None
        assert runtime.wait_for(position) is False  # the audit chain, the history … are behind
    finally:
        runtime.close()
