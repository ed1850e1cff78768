"""The shared REST API: RestApi settings, one resource per path segment, CORS preflight methods,
the deployment and its stage, API keys and usage plans, and the ServiceEndpoint output."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECTS, Compile, OnlyProblem, Template, resources_of_type

from basegear.compile import to_json

API = {"Ref": "ApiGatewayRestApi"}
ROOT = {"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]}


def deployment_of(template: Template) -> tuple[str, dict[str, Any]]:
    ((logical_id, deployment),) = resources_of_type(template, "AWS::ApiGateway::Deployment").items()
    return logical_id, deployment


def endpoint(api: Any, stage: str) -> dict[str, Any]:
    parts = ["https://", api, ".execute-api.", {"Ref": "AWS::Region"}, "."]
    return {"Fn::Join": ["", [*parts, {"Ref": "AWS::URLSuffix"}, f"/{stage}"]]}


# ---------------------------------------------------------------------------------------------
# RestApi and resources


def test_rest_api_is_named_after_stage_and_service(compile_project: Compile) -> None:
    template = compile_project("api-proxy")
    assert template["Resources"]["ApiGatewayRestApi"] == {
        "Type": "AWS::ApiGateway::RestApi",
        "Properties": {"Name": "dev-shop", "EndpointConfiguration": {"Types": ["EDGE"]}},
    }


def test_one_resource_per_path_segment_shared_by_events(compile_project: Compile) -> None:
    resources = resources_of_type(compile_project("api-proxy"), "AWS::ApiGateway::Resource")
    assert resources == {
        "ApiGatewayResourceUsers": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {"ParentId": ROOT, "PathPart": "users", "RestApiId": API},
        },
        "ApiGatewayResourceUsersIdVar": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "ParentId": {"Ref": "ApiGatewayResourceUsers"},
                "PathPart": "{id}",
                "RestApiId": API,
            },
        },
        "ApiGatewayResourceUsersIdVarOrders": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "ParentId": {"Ref": "ApiGatewayResourceUsersIdVar"},
                "PathPart": "orders",
                "RestApiId": API,
            },
        },
    }


def test_rest_api_settings(compile_project: Compile) -> None:
    template = compile_project("api-rest-settings", stage="qa")
    assert template["Resources"]["ApiGatewayRestApi"]["Properties"] == {
        "Name": "settings-qa",
        "EndpointConfiguration": {"Types": ["REGIONAL"]},
        "BinaryMediaTypes": ["image/png", "*/*"],
        "Policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*/*/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}},
                }
            ],
        },
        "ApiKeySourceType": "HEADER",
        "MinimumCompressionSize": 1024,
        "Description": "Settings API",
    }


def test_stage_settings_go_into_the_deployments_stage_description(
    compile_project: Compile,
) -> None:
    template = compile_project("api-rest-settings", stage="qa")
    _, deployment = deployment_of(template)
    assert deployment["Properties"] == {
        "RestApiId": API,
        "StageName": "v1",  # provider.apiGateway.stage
        "Description": "Settings API",
        "StageDescription": {
            "TracingEnabled": True,
            "MetricsEnabled": True,
            "Tags": [
                {"Key": "team", "Value": "platform"},
                {"Key": "cost-center", "Value": "42"},
            ],
        },
    }
    # The endpoint names the stage the deployment created.
    assert template["Outputs"]["ServiceEndpoint"]["Value"] == endpoint(API, "v1")


def test_existing_rest_api_and_resources_are_reused(compile_project: Compile) -> None:
    template = compile_project("api-existing-api")
    assert "ApiGatewayRestApi" not in template["Resources"]
    resources = resources_of_type(template, "AWS::ApiGateway::Resource")
    assert resources == {
        "ApiGatewayResourceUsersIdVarOrders": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "ParentId": "usersid123",
                "PathPart": "orders",
                "RestApiId": "abc123xyz0",
            },
        },
        "ApiGatewayResourceTeams": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "ParentId": "root123456",
                "PathPart": "teams",
                "RestApiId": "abc123xyz0",
            },
        },
    }
    methods = template["Resources"]
    assert methods["ApiGatewayMethodUsersGet"]["Properties"]["ResourceId"] == "users12345"
    assert methods["ApiGatewayMethodUsersGet"]["Properties"]["RestApiId"] == "abc123xyz0"
    _, deployment = deployment_of(template)
    assert deployment["Properties"] == {"RestApiId": "abc123xyz0", "StageName": "dev"}
    assert template["Outputs"]["ServiceEndpoint"]["Value"] == endpoint("abc123xyz0", "dev")


# ---------------------------------------------------------------------------------------------
# CORS preflight


def preflight(template: Template, logical_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OPTIONS method's integration response parameters and response templates."""
    method = template["Resources"][logical_id]["Properties"]
    (response,) = method["Integration"]["IntegrationResponses"]
    (method_response,) = method["MethodResponses"]
    assert method_response["ResponseParameters"] == dict.fromkeys(
        response["ResponseParameters"], True
    )
    return response["ResponseParameters"], response["ResponseTemplates"]


def test_preflight_merges_the_cors_settings_of_a_paths_events(compile_project: Compile) -> None:
    template = compile_project("api-cors")
    method = template["Resources"]["ApiGatewayMethodItemsOptions"]["Properties"]
    assert method["HttpMethod"] == "OPTIONS"
    assert method["AuthorizationType"] == "NONE"
    assert "ApiKeyRequired" not in method  # a preflight request carries no key
    assert method["Integration"]["Type"] == "MOCK"
    assert method["Integration"]["RequestTemplates"] == {"application/json": "{statusCode:200}"}
    assert method["ResourceId"] == {"Ref": "ApiGatewayResourceItems"}
    headers, templates = preflight(template, "ApiGatewayMethodItemsOptions")
    assert headers == {
        "method.response.header.Access-Control-Allow-Origin": "'https://shop.example.com'",
        "method.response.header.Access-Control-Allow-Headers": (
            "'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,"
            "X-Amz-User-Agent,X-Amzn-Trace-Id,X-Request-Id'"
        ),
        "method.response.header.Access-Control-Allow-Methods": "'OPTIONS,GET,POST'",
        "method.response.header.Access-Control-Allow-Credentials": "'true'",
        "method.response.header.Access-Control-Max-Age": "'600'",
        "method.response.header.Cache-Control": "'max-age=600'",
    }
    # Two named origins: the caller's Origin is echoed back when it is one of them.
    assert templates == {
        "application/json": (
            '#set($origin = $input.params("Origin"))\n'
            '#if($origin == "") #set($origin = $input.params("origin")) #end\n'
            '#if($origin.matches("https://shop\\.example\\.com") || '
            '$origin.matches("https://.+\\.example\\.org")) '
            "#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin) #end"
        )
    }


def test_preflight_of_any_lists_every_method(compile_project: Compile) -> None:
    headers, templates = preflight(compile_project("api-cors"), "ApiGatewayMethodItemsIdVarOptions")
    assert headers == {
        "method.response.header.Access-Control-Allow-Origin": "'https://shop.example.com'",
        "method.response.header.Access-Control-Allow-Headers": (
            "'Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,"
            "X-Amz-User-Agent,X-Amzn-Trace-Id'"
        ),
        "method.response.header.Access-Control-Allow-Methods": (
            "'GET,OPTIONS,DELETE,HEAD,PATCH,POST,PUT'"
        ),
    }
    assert templates == {"application/json": ""}


def test_deployment_depends_on_every_method_including_preflights(
    compile_project: Compile,
) -> None:
    template = compile_project("api-cors")
    _, deployment = deployment_of(template)
    methods = resources_of_type(template, "AWS::ApiGateway::Method")
    assert deployment["DependsOn"] == [
        "ApiGatewayMethodItemsGet",
        "ApiGatewayMethodItemsPost",
        "ApiGatewayMethodItemsIdVarAny",
        "ApiGatewayMethodItemsOptions",
        "ApiGatewayMethodItemsIdVarOptions",
    ]
    assert set(deployment["DependsOn"]) == set(methods)


def test_unknown_cors_setting_is_an_error_at_its_line(only_problem: OnlyProblem) -> None:
    assert str(only_problem("api-error-cors-unknown-setting")).endswith(
        "api-error-cors-unknown-setting/serverless.yml:15:30: "
        "functions.items.events[0].http.cors.allowCredential: unknown cors setting "
        "'allowCredential'; expected one of allowCredentials, cacheControl, headers, maxAge, "
        "methods, origin, origins"
    )


# ---------------------------------------------------------------------------------------------
# Deployment


def test_deployment_is_deterministic(compile_project: Compile) -> None:
    assert to_json(compile_project("api-proxy")) == to_json(compile_project("api-proxy"))


def test_a_changed_api_gets_a_new_deployment(compile_project: Compile, tmp_path: Path) -> None:
    before, _ = deployment_of(compile_project("api-proxy"))
    project = tmp_path / "api-proxy"
    shutil.copytree(PROJECTS / "api-proxy", project)
    config = project / "serverless.yml"
    config.write_text(config.read_text().replace("operationId: getUser", "operationId: readUser"))
    after, deployment = deployment_of(compile_project(project))
    assert after != before
    assert after.startswith("ApiGatewayDeployment") and after.isalnum()
    assert deployment["DependsOn"] == [
        "ApiGatewayMethodUsersGet",
        "ApiGatewayMethodUsersIdVarGet",
        "ApiGatewayMethodUsersPost",
        "ApiGatewayMethodGet",
        "ApiGatewayMethodUsersIdVarOrdersAny",
    ]


def test_user_api_resources_are_part_of_the_deployment(
    compile_project: Compile, tmp_path: Path
) -> None:
    before, _ = deployment_of(compile_project("api-proxy"))
    project = tmp_path / "api-proxy"
    shutil.copytree(PROJECTS / "api-proxy", project)
    config = project / "serverless.yml"
    config.write_text(
        config.read_text()
        + """
resources:
  Resources:
    ApiGatewayMethodGet:
      Properties:
        OperationName: health
    StatusMethod:
      Type: AWS::ApiGateway::Method
      Properties:
        HttpMethod: HEAD
        AuthorizationType: NONE
        ResourceId: !GetAtt ApiGatewayRestApi.RootResourceId
        RestApiId: !Ref ApiGatewayRestApi
        Integration:
          Type: MOCK
"""
    )
    after, deployment = deployment_of(compile_project(project))
    assert after != before
    assert deployment["DependsOn"][-1] == "StatusMethod"


def test_service_endpoint_output(compile_project: Compile) -> None:
    assert compile_project("api-proxy")["Outputs"]["ServiceEndpoint"] == {
        "Value": endpoint(API, "dev"),
        "Description": "URL of the service endpoint",
        "Export": {"Name": "sls-shop-dev-ServiceEndpoint"},
    }


def test_no_http_events_no_rest_api(compile_project: Compile) -> None:
    template = compile_project("api-httpapi")
    assert not any(kind.startswith("AWS::ApiGateway::") for kind in _types(template))
    assert "ServiceEndpoint" not in template["Outputs"]


def _types(template: Template) -> set[str]:
    return {resource["Type"] for resource in template["Resources"].values()}


# ---------------------------------------------------------------------------------------------
# API keys and usage plans


def test_api_keys_of_the_default_usage_plan(compile_project: Compile) -> None:
    template = compile_project("api-keys")
    deployment, _ = deployment_of(template)
    stage_keys = [{"RestApiId": API, "StageName": "dev"}]
    resources = template["Resources"]
    assert resources["ApiGatewayApiKey1"] == {
        "Type": "AWS::ApiGateway::ApiKey",
        "DependsOn": deployment,
        "Properties": {"Enabled": True, "Name": "partner-key", "StageKeys": stage_keys},
    }
    assert resources["ApiGatewayApiKey2"]["Properties"] == {
        "Enabled": True,
        "Name": "internal-key",
        "Value": "internal-key-0123456789abcdef",
        "Description": "For internal tools",
        "StageKeys": stage_keys,
    }
    assert resources["ApiGatewayApiKey3"]["Properties"] == {
        "Enabled": False,
        "Name": "retired-key",
        "CustomerId": "customer-7",
        "StageKeys": stage_keys,
    }
    assert resources["ApiGatewayUsagePlan"] == {
        "Type": "AWS::ApiGateway::UsagePlan",
        "DependsOn": deployment,
        "Properties": {
            "ApiStages": [{"ApiId": API, "Stage": "dev"}],
            "Description": "Usage plan for keys dev stage",
            "UsagePlanName": "keys-dev",
            "Quota": {"Limit": 5000, "Offset": 2, "Period": "MONTH"},
            "Throttle": {"BurstLimit": 200, "RateLimit": 100},
        },
    }
    for number in (1, 2, 3):
        assert resources[f"ApiGatewayUsagePlanKey{number}"] == {
            "Type": "AWS::ApiGateway::UsagePlanKey",
            "Properties": {
                "KeyId": {"Ref": f"ApiGatewayApiKey{number}"},
                "KeyType": "API_KEY",
                "UsagePlanId": {"Ref": "ApiGatewayUsagePlan"},
            },
        }
    assert resources["ApiGatewayMethodDataGet"]["Properties"]["ApiKeyRequired"] is True


def test_named_usage_plans_take_their_grouped_keys(compile_project: Compile) -> None:
    template = compile_project("api-usage-plans")
    resources = template["Resources"]
    assert set(resources_of_type(template, "AWS::ApiGateway::UsagePlan")) == {
        "ApiGatewayUsagePlanFree",
        "ApiGatewayUsagePlanPaid",
    }
    assert resources["ApiGatewayUsagePlanFree"]["Properties"] == {
        "ApiStages": [{"ApiId": API, "Stage": "dev"}],
        "Description": 'Usage plan "free" for tiers dev stage',
        "UsagePlanName": "tiers-free-dev",
        "Quota": {"Limit": 100, "Period": "DAY"},
        "Throttle": {"BurstLimit": 5, "RateLimit": 1},
    }
    assert resources["ApiGatewayUsagePlanPaid"]["Properties"]["Throttle"] == {
        "BurstLimit": 100,
        "RateLimit": 50,
    }
    keys = {
        logical_id: resource["Properties"]["Name"]
        for logical_id, resource in resources_of_type(template, "AWS::ApiGateway::ApiKey").items()
    }
    assert keys == {
        "ApiGatewayApiKeyFree1": "free-key-one",
        "ApiGatewayApiKeyFree2": "free-key-two",
        "ApiGatewayApiKeyPaid1": "paid-key",
    }
    plan_keys = {
        logical_id: (resource["Properties"]["KeyId"], resource["Properties"]["UsagePlanId"])
        for logical_id, resource in resources_of_type(
            template, "AWS::ApiGateway::UsagePlanKey"
        ).items()
    }
    assert plan_keys == {
        "ApiGatewayUsagePlanKeyFree1": (
            {"Ref": "ApiGatewayApiKeyFree1"},
            {"Ref": "ApiGatewayUsagePlanFree"},
        ),
        "ApiGatewayUsagePlanKeyFree2": (
            {"Ref": "ApiGatewayApiKeyFree2"},
            {"Ref": "ApiGatewayUsagePlanFree"},
        ),
        "ApiGatewayUsagePlanKeyPaid1": (
            {"Ref": "ApiGatewayApiKeyPaid1"},
            {"Ref": "ApiGatewayUsagePlanPaid"},
        ),
    }


def test_grouped_keys_without_their_plan_are_an_error(only_problem: OnlyProblem) -> None:
    assert str(only_problem("api-error-keys-without-plan")).endswith(
        "api-error-keys-without-plan/serverless.yml:9:11: provider.apiGateway.apiKeys[0].premium: "
        "API keys grouped under 'premium' need a usage plan of that name in "
        "provider.apiGateway.usagePlan"
    )


# ---------------------------------------------------------------------------------------------
# Paths


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        (
            "api-error-duplicate-endpoint",
            "api-error-duplicate-endpoint/serverless.yml:14:15: functions.search.events[0].http: "
            "GET /items is already an endpoint (logical ID ApiGatewayMethodItemsGet); each path "
            "and method takes one",
        ),
        (
            "api-error-sibling-variables",
            "api-error-sibling-variables/serverless.yml:11:15: "
            "functions.users.events[1].http.path: path /users/{userId}: {id} is already the "
            "variable at this level, and API Gateway allows only one",
        ),
        (
            "api-error-shared-api-conflict",
            "api-error-shared-api-conflict/serverless.yml:15:15: "
            "functions.users.events[0].http.path: /users exists in the shared REST API: list its "
            "ID under provider.apiGateway.restApiResources",
        ),
    ],
)
def test_path_conflicts_are_errors_at_their_line(
    project: str, expected: str, only_problem: OnlyProblem
) -> None:
    assert str(only_problem(project)).endswith(expected)
