"""The OpenAPI document is valid 3.1 and lists exactly the API's routes."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from app.access import rule_of


def test_the_document_is_valid_openapi_3_1(api):
    response = api.client.get("/api/v1/openapi.json")  # public: no key needed
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_route_is_described_and_nothing_else(app, api):
    document = api.client.get("/api/v1/openapi.json").get_json()
    described = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((path, method))
        assert rule_of(app.view_functions[rule.endpoint]) is not None
    assert routed == described


def test_each_operation_names_its_roles_and_its_summary_in_chinese(api):
    document = api.client.get("/api/v1/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert re.search(r"[\u4e00-\u9fff]", operation["summary"]), (path, method)
            assert operation.get("security") == [] or operation["x-roles"], (path, method)
