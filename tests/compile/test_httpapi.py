"""``httpApi`` events: the HTTP API, its auto-deployed ``$default`` stage, one integration and
permission per function, one route per method and path, authorizers and CORS."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import (
    Compile,
    OnlyProblem,
    Template,
    execute_api_arn,
    function_arn,
    lambda_uri,
    resources_of_type,
)

HTTP_API = {"Ref": "HttpApi"}
SOURCE_ARN = execute_api_arn(HTTP_API, "/*")


@pytest.fixture
def web(compile_project: Compile) -> Template:
    return compile_project("api-httpapi")


def test_api_with_cors_filled_from_the_routes(web: Template) -> None:
    assert web["Resources"]["HttpApi"] == {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {
            "Name": "dev-web",
            "ProtocolType": "HTTP",
            "Tags": {"team": "web"},
            "CorsConfiguration": {
                "AllowHeaders": [
                    "Content-Type",
                    "X-Amz-Date",
                    "Authorization",
                    "X-Api-Key",
                    "X-Amz-Security-Token",
                    "X-Amz-User-Agent",
                    "X-Amzn-Trace-Id",
                ],
                # The routes' methods; the catch-all route adds the rest.
                "AllowMethods": ["OPTIONS", "GET", "POST", "DELETE", "PUT", "PATCH", "HEAD"],
                "AllowOrigins": ["*"],
            },
        },
    }


def test_default_stage_deploys_itself(web: Template) -> None:
    assert web["Resources"]["HttpApiStage"] == {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "ApiId": HTTP_API,
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"DetailedMetricsEnabled": True},
            "Tags": {"team": "web"},
        },
    }


def test_one_integration_and_permission_per_function(web: Template) -> None:
    resources = web["Resources"]
    for key in ("Api", "Fallback"):
        assert resources[f"HttpApiIntegration{key}"] == {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": HTTP_API,
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": function_arn(key),
                "PayloadFormatVersion": "2.0",
                "TimeoutInMillis": 30000,
            },
        }
        assert resources[f"{key}LambdaPermissionHttpApi"] == {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": function_arn(key),
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": SOURCE_ARN,
            },
        }
    integrations = list(resources_of_type(web, "AWS::ApiGatewayV2::Integration"))
    assert integrations == ["HttpApiIntegrationApi", "HttpApiIntegrationFallback"]


def route(template: Template, logical_id: str) -> dict[str, Any]:
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::ApiGatewayV2::Route"
    properties: dict[str, Any] = resource["Properties"]
    return properties


def target(function: str) -> dict[str, Any]:
    return {"Fn::Join": ["/", ["integrations", {"Ref": f"HttpApiIntegration{function}"}]]}


def test_routes(web: Template) -> None:
    assert route(web, "HttpApiRouteGetItems") == {
        "ApiId": HTTP_API,
        "RouteKey": "GET /items",
        "Target": target("Api"),
    }
    assert route(web, "HttpApiRouteDefault") == {
        "ApiId": HTTP_API,
        "RouteKey": "$default",
        "Target": target("Fallback"),
    }
    assert route(web, "HttpApiRouteGetAdmin")["AuthorizationType"] == "AWS_IAM"


def test_jwt_authorizer(web: Template) -> None:
    assert web["Resources"]["HttpApiAuthorizerJwtAuth"] == {
        "Type": "AWS::ApiGatewayV2::Authorizer",
        "Properties": {
            "ApiId": HTTP_API,
            "Name": "jwtAuth",
            "IdentitySource": ["$request.header.Authorization"],
            "AuthorizerType": "JWT",
            "JwtConfiguration": {
                "Audience": ["client-one"],
                "Issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
            },
        },
    }
    post = route(web, "HttpApiRoutePostItems")
    assert post["AuthorizationType"] == "JWT"
    assert post["AuthorizerId"] == {"Ref": "HttpApiAuthorizerJwtAuth"}
    assert post["AuthorizationScopes"] == ["items/write"]


def test_lambda_request_authorizer_and_its_permission(web: Template) -> None:
    resources = web["Resources"]
    authorizer_arn = function_arn("Authorize")
    assert resources["HttpApiAuthorizerCustomAuth"]["Properties"] == {
        "ApiId": HTTP_API,
        "Name": "customAuth",
        "IdentitySource": ["$request.header.X-Token"],
        "AuthorizerType": "REQUEST",
        "AuthorizerPayloadFormatVersion": "2.0",
        "AuthorizerUri": lambda_uri(authorizer_arn),
        "AuthorizerResultTtlInSeconds": 300,
        "EnableSimpleResponses": True,
    }
    assert resources["CustomAuthLambdaAuthorizerPermissionHttpApi"]["Properties"] == {
        "FunctionName": authorizer_arn,
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": SOURCE_ARN,
    }
    delete = route(web, "HttpApiRouteDeleteItemsIdVar")
    assert delete["RouteKey"] == "DELETE /items/{id}"
    assert delete["AuthorizationType"] == "CUSTOM"
    assert delete["AuthorizerId"] == {"Ref": "HttpApiAuthorizerCustomAuth"}


def test_outputs(web: Template) -> None:
    outputs = web["Outputs"]
    assert outputs["HttpApiId"] == {
        "Value": HTTP_API,
        "Description": "Id of the HTTP API",
        "Export": {"Name": "sls-web-dev-HttpApiId"},
    }
    assert outputs["HttpApiUrl"] == {
        "Value": {
            "Fn::Join": [
                "",
                [
                    "https://",
                    HTTP_API,
                    ".execute-api.",
                    {"Ref": "AWS::Region"},
                    ".",
                    {"Ref": "AWS::URLSuffix"},
                ],
            ]
        },
        "Description": "URL of the HTTP API",
        "Export": {"Name": "sls-web-dev-HttpApiUrl"},
    }


def test_unknown_http_api_setting_is_an_error(only_problem: OnlyProblem) -> None:
    assert str(only_problem("api-error-httpapi-unknown-setting")).endswith(
        "api-error-httpapi-unknown-setting/serverless.yml:7:30: "
        "provider.httpApi.disableDefaultEndpoints: unknown httpApi setting "
        "'disableDefaultEndpoints'; BaseGear compiles authorizers, cors, disableDefaultEndpoint, "
        "id, metrics, name, payload, shouldStartNameWithService, useProviderTags"
    )
