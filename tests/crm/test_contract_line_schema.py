"""`GET /contracts/` answers what its schema says: an uncapped line's `cap_amount` is null and a line that
is not a retainer or subscription has a blank period and unused-hours policy, and the schema allows both."""

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from crm.services.handoff import win_opportunity

pytestmark = pytest.mark.django_db


def json_schema(openapi_schema: dict, name: str) -> dict:
    """A component of the OpenAPI 3.0 schema as JSON Schema: `nullable` becomes a null alternative."""

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: convert(value) for key, value in node.items() if key != "nullable"}
        if "$ref" in node:
            node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/definitions/")
        return node

    components = openapi_schema["components"]["schemas"]
    definitions = {}
    for key, component in components.items():
        converted = convert(component)
        for field, spec in component.get("properties", {}).items():
            if spec.get("nullable"):
                converted["properties"][field] = {"anyOf": [converted["properties"][field], {"type": "null"}]}
        definitions[key] = converted
    return {**definitions[name], "definitions": definitions}


def test_contract_lines_match_their_schema(pm, mixed_deal, pm_person):
    contract = win_opportunity(actor=pm, opportunity=mixed_deal)
    api = APIClient()
    api.force_authenticate(user=pm)

    listed = api.get("/api/v1/contracts/")
    shown = api.get(f"/api/v1/contracts/{contract.pk}/")

    assert (listed.status_code, shown.status_code) == (200, 200)
    lines = {line["description"]: line for line in shown.json()["lines"]}
    analyst = lines["Implementation: analyst"]
    assert (analyst["cap_amount"], analyst["billing_period"], analyst["unused_hours"]) == (None, "", "")
    assert (analyst["period_amount"], analyst["overage_rate"]) == (None, None)
    retainer = lines["Support retainer"]
    assert (retainer["billing_period"], retainer["unused_hours"], retainer["overage_rate"]) == (
        "monthly",
        "forfeit",
        "150.00",
    )
    assert lines["Implementation: senior consultant"]["cap_amount"] == "75000.00"
    schema = json_schema(SchemaGenerator().get_schema(request=None, public=True), "ContractLine")
    for line in [*shown.json()["lines"], *listed.json()["results"][0]["lines"]]:
        jsonschema.validate(line, schema)
