"""Changes reach an API's requests at once. The gateway remembers which API, stage and route a
path leads to, and which function version a route runs: it must look again after the next
write to API Gateway (a stage or route added) or to the Lambda API (new settings, a version
published and an alias moved, the function replaced)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
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


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def function_maker(local_cloud: CloudClients, name: str) -> Callable[[str], str]:
    """Creates the function ``name`` with VALUE set as given; answers its ARN."""
    iam = local_cloud.client("iam")
    role = iam.create_role(RoleName=unique("changes"), AssumeRolePolicyDocument="{}")["Role"]
    awslambda = local_cloud.client("lambda", region=REGION)

    def create(value: str) -> str:
        arn: str = awslambda.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Arn"],
            Handler="handler.handler",
            Code={"ZipFile": zipped(HANDLER)},
            Environment={"Variables": {"VALUE": value}},
        )["FunctionArn"]
        return arn

    return create


class HttpApi:
    def __init__(self, local_cloud: CloudClients) -> None:
        self.client = local_cloud.client("apigatewayv2", region=REGION)
        self.id = self.client.create_api(Name=unique("changes"), ProtocolType="HTTP")["ApiId"]
        self.endpoint = local_cloud.endpoint_url
        self.host = f"{self.id}.execute-api.{REGION}.localhost:{local_cloud.cloud.port}"

    def route(self, path: str, function_uri: str) -> str:
        integration = self.client.create_integration(
            ApiId=self.id,
            IntegrationType="AWS_PROXY",
            IntegrationUri=function_uri,
            PayloadFormatVersion="2.0",
        )["IntegrationId"]
        target = f"integrations/{integration}"
        self.client.create_route(ApiId=self.id, RouteKey=f"GET {path}", Target=target)
        return target

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.endpoint}{path}", headers={"Host": self.host}, timeout=30)

    def call(self, path: str) -> Any:
        answer = self.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()


def test_routes_follow_settings_versions_aliases_and_replacements(
    local_cloud: CloudClients,
) -> None:
    name = unique("changes")
    create = function_maker(local_cloud, name)
    awslambda = local_cloud.client("lambda", region=REGION)
    function = create("one")
    version = awslambda.publish_version(FunctionName=name)["Version"]
    awslambda.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    api = HttpApi(local_cloud)
    api.route("/latest", function)
    api.route("/live", f"{function}:live")
    api.client.create_stage(ApiId=api.id, StageName="$default", AutoDeploy=True)

    assert api.call("/latest") == {"value": "one", "version": "$LATEST"}
    assert api.call("/live") == {"value": "one", "version": "1"}

    awslambda.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"VALUE": "two"}}
    )
    assert api.call("/latest") == {"value": "two", "version": "$LATEST"}
    assert api.call("/live") == {"value": "one", "version": "1"}

    version = awslambda.publish_version(FunctionName=name)["Version"]
    awslambda.update_alias(FunctionName=name, Name="live", FunctionVersion=version)
    assert api.call("/live") == {"value": "two", "version": "2"}

    awslambda.delete_function(FunctionName=name)
    create("three")
    assert api.call("/latest") == {"value": "three", "version": "$LATEST"}


def test_routes_and_stages_added_later_are_served_at_once(local_cloud: CloudClients) -> None:
    """Including that a path leads nowhere: that is remembered too."""
    function = function_maker(local_cloud, unique("later"))("later")
    api = HttpApi(local_cloud)
    target = api.route("/first", function)

    assert api.get("/live/first").status_code == 404  # no stage yet
    api.client.create_stage(ApiId=api.id, StageName="live", AutoDeploy=True)
    assert api.call("/live/first") == {"value": "later", "version": "$LATEST"}
    assert api.get("/live/second").status_code == 404  # no route yet
    api.client.create_route(ApiId=api.id, RouteKey="GET /second", Target=target)
    assert api.get("/live/second").status_code == 200
