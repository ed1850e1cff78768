"""A REST API deployed through the local cloud's CloudFormation, called over HTTP: routing by
resource (literal before parameter before greedy proxy, ANY), AWS's 403 for what no resource
serves, Lambda proxy responses (headers, base64 bodies) and the 502 for a malformed answer or a
failed function, the invoke host and the ``_user_request_`` path, and a redeployment seen at
once."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from basegear.cloud.apigateway.paths import PathTable
from basegear.testing import CloudClients

REGION = "eu-west-1"
HANDLER = """
import base64, json
def handler(event, context):
    path = event["path"]
    if path.endswith("/malformed"):
        return {"statusCode": 200, "body": {"not": "a string"}}
    if path.endswith("/crash"):
        raise ValueError("boom")
    if path.endswith("/binary"):
        return {"statusCode": 201, "isBase64Encoded": True,
                "headers": {"Content-Type": "image/png"},
                "body": base64.b64encode(b"\\x89PNG").decode()}
    return {"statusCode": 200,
            "headers": {"X-Resource": event["resource"]},
            "multiValueHeaders": {"X-Many": ["a", "b"]},
            "body": json.dumps({"resource": event["resource"],
                                "parameters": event["pathParameters"],
                                "method": event["httpMethod"]})}
"""


def proxy_method(resource: str, verb: str) -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGateway::Method",
        "Properties": {
            "RestApiId": {"Ref": "Api"},
            "ResourceId": {"Ref": resource}
            if resource != "root"
            else {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "HttpMethod": verb,
            "AuthorizationType": "NONE",
            "Integration": {
                "Type": "AWS_PROXY",
                "IntegrationHttpMethod": "POST",
                "Uri": {
                    "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
                    "functions/${Function.Arn}/invocations"
                },
            },
        },
    }


def resource(parent: str, part: str) -> dict[str, Any]:
    parent_id = {"Fn::GetAtt": ["Api", "RootResourceId"]} if parent == "root" else {"Ref": parent}
    return {
        "Type": "AWS::ApiGateway::Resource",
        "Properties": {"RestApiId": {"Ref": "Api"}, "ParentId": parent_id, "PathPart": part},
    }


def template(name: str) -> dict[str, Any]:
    return {
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17"}},
            },
            "Function": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": name,
                    "Runtime": "python3.12",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": HANDLER},
                },
            },
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": name}},
            "Items": resource("root", "items"),
            "Item": resource("Items", "{id}"),
            "ItemLatest": resource("Items", "latest"),
            "Proxy": resource("root", "{proxy+}"),
            "GetItem": proxy_method("Item", "GET"),
            "GetLatest": proxy_method("ItemLatest", "GET"),
            "AnyProxy": proxy_method("Proxy", "ANY"),
            "Deployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "DependsOn": ["GetItem", "GetLatest", "AnyProxy"],
                "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "dev"},
            },
        },
        "Outputs": {"ApiId": {"Value": {"Ref": "Api"}}},
    }


@dataclass
class Deployed:
    api_id: str
    base: str  # the invoke URL's root, up to the stage
    host: str
    endpoint: str

    def get(self, path: str, method: str = "GET", **kwargs: Any) -> requests.Response:
        return requests.request(
            method,
            f"{self.endpoint}/dev{path}",
            headers={"Host": self.host},
            timeout=10,
            **kwargs,
        )


@pytest.fixture(scope="module")
def api(local_cloud: CloudClients) -> Deployed:
    name = f"routing-{uuid.uuid4().hex[:8]}"
    cfn = local_cloud.client("cloudformation", region=REGION)
    cfn.create_stack(
        StackName=name, TemplateBody=json.dumps(template(name)), Capabilities=["CAPABILITY_IAM"]
    )
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    api_id = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["ApiId"]
    port = local_cloud.cloud.port
    host = f"{api_id}.execute-api.{REGION}.localhost:{port}"
    return Deployed(api_id, f"http://{host}/dev", host, local_cloud.endpoint_url)


def test_a_literal_resource_wins_over_a_parameter(api: Deployed) -> None:
    answer = api.get("/items/latest")
    assert answer.status_code == 200
    assert answer.json() == {"resource": "/items/latest", "parameters": None, "method": "GET"}


def test_a_path_parameter_is_matched(api: Deployed) -> None:
    answer = api.get("/items/a%20b")
    assert answer.json() == {
        "resource": "/items/{id}",
        "parameters": {"id": "a b"},
        "method": "GET",
    }
    assert answer.headers["X-Resource"] == "/items/{id}"
    assert answer.headers["X-Many"] == "a, b"
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["x-amzn-RequestId"]


def test_the_greedy_proxy_takes_what_nothing_else_matches(api: Deployed) -> None:
    answer = api.get("/items/1/reviews", method="POST", data="x")
    assert answer.json() == {
        "resource": "/{proxy+}",
        "parameters": {"proxy": "items/1/reviews"},
        "method": "POST",
    }


def test_what_no_resource_serves_is_403_missing_authentication_token(api: Deployed) -> None:
    # /items/{id} has no DELETE: the greedy proxy's ANY serves it.
    answer = api.get("/items/1", method="DELETE")
    assert answer.status_code == 200
    assert answer.json()["resource"] == "/{proxy+}"
    missing = api.get("/", method="GET")  # the root has no method
    assert missing.status_code == 403
    assert missing.json() == {"message": "Missing Authentication Token"}
    assert missing.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_an_unknown_stage_is_403(api: Deployed, local_cloud: CloudClients) -> None:
    answer = requests.get(f"{api.endpoint}/nostage/items/1", headers={"Host": api.host}, timeout=10)
    assert answer.status_code == 403
    assert answer.json() == {"message": "Missing Authentication Token"}


def test_an_unknown_api_is_404_naming_it(local_cloud: CloudClients) -> None:
    host = f"nosuchapi.execute-api.{REGION}.localhost"
    answer = requests.get(f"{local_cloud.endpoint_url}/dev/x", headers={"Host": host}, timeout=10)
    assert answer.status_code == 404
    assert "nosuchapi" in answer.json()["message"]


def test_a_base64_response_is_decoded(api: Deployed) -> None:
    answer = api.get("/things/binary")
    assert answer.status_code == 201
    assert answer.content == b"\x89PNG"
    assert answer.headers["Content-Type"] == "image/png"


def test_a_malformed_response_is_502(api: Deployed) -> None:
    answer = api.get("/things/malformed")
    assert answer.status_code == 502
    assert answer.json() == {"message": "Internal server error"}


def test_a_function_error_is_502(api: Deployed) -> None:
    answer = api.get("/things/crash")
    assert answer.status_code == 502
    assert answer.json() == {"message": "Internal server error"}


def test_the_user_request_path_serves_the_stage(api: Deployed) -> None:
    url = f"{api.endpoint}/restapis/{api.api_id}/dev/_user_request_/items/9"
    answer = requests.get(url, headers={"Authorization": "Bearer not-a-signature"}, timeout=10)
    assert answer.status_code == 200
    assert answer.json()["parameters"] == {"id": "9"}


def test_a_redeployed_api_is_served_at_once(api: Deployed, local_cloud: CloudClients) -> None:
    client = local_cloud.client("apigateway", region=REGION)
    assert api.get("/items/1").status_code == 200  # the stage is cached now
    resources = client.get_resources(restApiId=api.api_id)["items"]
    item = next(r for r in resources if r["path"] == "/items/{id}")
    client.put_method(
        restApiId=api.api_id, resourceId=item["id"], httpMethod="PUT", authorizationType="NONE"
    )
    client.put_integration(
        restApiId=api.api_id,
        resourceId=item["id"],
        httpMethod="PUT",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 202}'},
    )
    client.put_integration_response(
        restApiId=api.api_id,
        resourceId=item["id"],
        httpMethod="PUT",
        statusCode="202",
        selectionPattern="",
        responseTemplates={"application/json": '{"mocked": true}'},
    )
    client.create_deployment(restApiId=api.api_id, stageName="dev")
    answer = api.get("/items/1", method="PUT")
    assert answer.status_code == 202
    assert answer.json() == {"mocked": True}


SEGMENT = st.text(
    alphabet=st.characters(blacklist_characters="/{}%?#", codec="utf-8"), min_size=1, max_size=8
)


@given(st.lists(SEGMENT, min_size=1, max_size=5))
def test_path_templates_match_most_specific_first(segments: list[str]) -> None:
    path = "/" + "/".join(quote(s, safe="") for s in segments)
    table: PathTable[str] = PathTable()
    table.add("/{proxy+}", "greedy")
    table.add("/" + "/".join(f"{{p{i}}}" for i in range(len(segments))), "parameters")
    table.add("/" + "/".join(segments), "literal")
    found = table.find(path)
    assert [m.value for m in found] == ["literal", "parameters", "greedy"]
    assert found[1].parameters == {f"p{i}": s for i, s in enumerate(segments)}
    assert found[2].parameters == {"proxy": "/".join(segments)}
