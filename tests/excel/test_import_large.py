"""A file at the row limit imports in one write, in reasonable time."""

from __future__ import annotations

import time

from tests.excel.sheets import good_file, upload
from tests.web.conftest import act_as


def test_a_full_file_imports(client, county):
    units = ("高庙山村", "银州街道/姬家岔村", "龙镇", "银州街道")
    rows = [
        (units[n % 4], "缺项", f"检查项目{n % 50}", f"第{n}户帮扶手册缺少收入测算", "一般", f"61272720190{n:07d}", "张帮扶")
        for n in range(1000)
    ]
    data = good_file(rows)
    act_as(client, county.inspector, "inspector")
    county.settle()
    before = county.duban.position()
    started = time.monotonic()
    response = upload(client, data)
    elapsed = time.monotonic() - started
    assert response.status_code == 303, response.text[:3000]
    assert county.duban.position() == before + 2 + 1000 * 3  # planned, completed; filed, notice, check item
    assert elapsed < 60, elapsed
    print(f"1000 rows imported in {elapsed:.1f}s")
