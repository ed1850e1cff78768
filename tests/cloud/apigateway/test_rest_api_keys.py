"""API keys and CORS on a REST API, over HTTP: a method with apiKeyRequired answers 403
Forbidden without the value of an enabled key of a usage plan bound to the stage; an OPTIONS
method with a MOCK integration answers the CORS preflight with its response headers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from basegear.testing import CloudClients

REGION = "eu-west-1"
CORS_HEADERS = {
    "method.response.header.Access-Control-Allow-Origin": "'*'",
    "method.response.header.Access-Control-Allow-Methods": "'OPTIONS,GET'",
    "method.response.header.Access-Control-Allow-Headers": "'Content-Type,X-Api-Key'",
}


@dataclass
class Api:
    api_id: str
    endpoint: str
    host: str
    key: str
    other_stage_key: str
    disabled_key: str

    def call(self, method: str, path: str, key: str | None = None) -> requests.Response:
        headers = {"Host": self.host}
        if key is not None:
            headers["x-api-key"] = key
        return requests.request(method, f"{self.endpoint}{path}", headers=headers, timeout=10)


def mock_method(
    client: Any,
    api_id: str,
    resource_id: str,
    verb: str,
    *,
    key_required: bool,
    body: str,
    parameters: dict[str, str],
) -> None:
    where = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": verb}
    client.put_method(**where, authorizationType="NONE", apiKeyRequired=key_required)
    client.put_integration(
        **where, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    client.put_method_response(
        **where, statusCode="200", responseParameters={name: False for name in parameters}
    )
    client.put_integration_response(
        **where,
        statusCode="200",
        selectionPattern="",
        responseTemplates={"application/json": body},
        responseParameters=parameters,
    )


def key(client: Any, plan_id: str, value: str, *, enabled: bool = True) -> None:
    created = client.create_api_key(
        name=f"key-{uuid.uuid4().hex[:8]}", value=value, enabled=enabled
    )
    client.create_usage_plan_key(usagePlanId=plan_id, keyId=created["id"], keyType="API_KEY")


@pytest.fixture(scope="module")
def api(local_cloud: CloudClients) -> Api:
    client = local_cloud.client("apigateway", region=REGION)
    rest = client.create_rest_api(name=f"keys-{uuid.uuid4().hex[:8]}")
    api_id = rest["id"]
    private = client.create_resource(
        restApiId=api_id, parentId=rest["rootResourceId"], pathPart="private"
    )["id"]
    mock_method(
        client,
        api_id,
        private,
        "GET",
        key_required=True,
        body='{"secret": 1}',
        parameters={"method.response.header.Access-Control-Allow-Origin": "'*'"},
    )
    mock_method(
        client, api_id, private, "OPTIONS", key_required=False, body="", parameters=CORS_HEADERS
    )
    client.create_deployment(restApiId=api_id, stageName="dev")
    client.create_deployment(restApiId=api_id, stageName="prod")
    dev_plan = client.create_usage_plan(
        name=f"dev-{api_id}", apiStages=[{"apiId": api_id, "stage": "dev"}]
    )
    prod_plan = client.create_usage_plan(
        name=f"prod-{api_id}", apiStages=[{"apiId": api_id, "stage": "prod"}]
    )
    values = [f"{name}-{uuid.uuid4().hex}" for name in ("dev", "prod", "disabled")]
    key(client, dev_plan["id"], values[0])
    key(client, prod_plan["id"], values[1])
    key(client, dev_plan["id"], values[2], enabled=False)
    host = f"{api_id}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"
    return Api(api_id, local_cloud.endpoint_url, host, *values)


def test_a_private_method_without_a_key_is_403_forbidden(api: Api) -> None:
    answer = api.call("GET", "/dev/private")
    assert answer.status_code == 403
    assert answer.json() == {"message": "Forbidden"}


def test_a_private_method_with_the_stage_key_answers(api: Api) -> None:
    answer = api.call("GET", "/dev/private", key=api.key)
    assert answer.status_code == 200
    assert answer.json() == {"secret": 1}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("which", ["other_stage_key", "disabled_key", "unknown"])
def test_a_key_not_valid_for_the_stage_is_403(api: Api, which: str) -> None:
    value = getattr(api, which, "no-such-key")
    answer = api.call("GET", "/dev/private", key=value)
    assert answer.status_code == 403
    assert answer.json() == {"message": "Forbidden"}


def test_the_other_stage_takes_its_own_key(api: Api) -> None:
    assert api.call("GET", "/prod/private", key=api.other_stage_key).status_code == 200


def test_a_key_added_later_is_accepted_at_once(api: Api, local_cloud: CloudClients) -> None:
    client = local_cloud.client("apigateway", region=REGION)
    assert api.call("GET", "/dev/private", key="late-key-value-0123456789").status_code == 403
    plan = next(p for p in client.get_usage_plans()["items"] if p["name"] == f"dev-{api.api_id}")
    key(client, plan["id"], "late-key-value-0123456789")
    assert api.call("GET", "/dev/private", key="late-key-value-0123456789").status_code == 200


def test_the_cors_preflight_answers_with_the_configured_headers(api: Api) -> None:
    answer = api.call("OPTIONS", "/dev/private")
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.headers["Access-Control-Allow-Methods"] == "OPTIONS,GET"
    assert answer.headers["Access-Control-Allow-Headers"] == "Content-Type,X-Api-Key"
    assert answer.content == b""
