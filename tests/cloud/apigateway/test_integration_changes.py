"""An API's Lambda integration follows changes to its function at once: the gateway remembers
which function version a route runs, and must forget it at the next write to the Lambda API
(new settings, a version published and an alias moved, the function replaced)."""

from __future__ import annotations

import uuid
from typing import Any

import requests
from test_rest_proxy_events import zipped

from basegear.testing import CloudClients

REGION = "eu-west-1"
HANDLER = """
import json, os
def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(
        {"value": os.environ.get("VALUE"), "version": context.function_version})}
"""


def test_routes_follow_settings_versions_aliases_and_replacements(
    local_cloud: CloudClients,
) -> None:
    iam = local_cloud.client("iam")
    role = iam.create_role(
        RoleName=f"changes-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    awslambda = local_cloud.client("lambda", region=REGION)
    name = f"changes-{uuid.uuid4().hex[:8]}"

    def create(value: str) -> str:
        arn: str = awslambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": zipped(HANDLER)},
            Environment={"Variables": {"VALUE": value}},
        )["FunctionArn"]
        return arn

    function = create("one")
    version = awslambda.publish_version(FunctionName=name)["Version"]
    awslambda.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    client = local_cloud.client("apigatewayv2", region=REGION)
    api_id = client.create_api(Name=f"changes-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP")["ApiId"]
    for path, uri in (("/latest", function), ("/live", f"{function}:live")):
        integration = client.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=uri,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        client.create_route(
            ApiId=api_id, RouteKey=f"GET {path}", Target=f"integrations/{integration}"
        )
    client.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    host = f"{api_id}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"

    def call(path: str) -> Any:
        answer = requests.get(
            f"{local_cloud.endpoint_url}{path}", headers={"Host": host}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert call("/latest") == {"value": "one", "version": "$LATEST"}
    assert call("/live") == {"value": "one", "version": "1"}

    awslambda.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"VALUE": "two"}}
    )
    assert call("/latest") == {"value": "two", "version": "$LATEST"}
    assert call("/live") == {"value": "one", "version": "1"}

    version = awslambda.publish_version(FunctionName=name)["Version"]
    awslambda.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
    assert call("/live") == {"value": "two", "version": "2"}

    awslambda.delete_function(FunctionName=name)
    create("three")
    assert call("/latest") == {"value": "three", "version": "$LATEST"}


def test_routes_and_stages_added_later_are_served_at_once(local_cloud: CloudClients) -> None:
    """The gateway remembers which API, stage and route a path leads to, including that a
    path leads nowhere: a write to API Gateway must make it look again."""
    iam = local_cloud.client("iam")
    role = iam.create_role(RoleName=f"later-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    function = local_cloud.client("lambda", region=REGION).create_function(
        FunctionName=f"later-{uuid.uuid4().hex[:8]}",
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zipped(HANDLER)},
        Environment={"Variables": {"VALUE": "later"}},
    )["FunctionArn"]
    client = local_cloud.client("apigatewayv2", region=REGION)
    api_id = client.create_api(Name=f"later-{uuid.uuid4().hex[:8]}", ProtocolType="HTTP")["ApiId"]
    integration = client.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    client.create_route(ApiId=api_id, RouteKey="GET /first", Target=f"integrations/{integration}")
    host = f"{api_id}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"

    def status(path: str) -> int:
        url = f"{local_cloud.endpoint_url}{path}"
        return requests.get(url, headers={"Host": host}, timeout=30).status_code

    assert status("/live/first") == 404  # no stage yet
    client.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    assert status("/live/first") == 200
    assert status("/live/second") == 404  # no route yet
    client.create_route(ApiId=api_id, RouteKey="GET /second", Target=f"integrations/{integration}")
    assert status("/live/second") == 200
