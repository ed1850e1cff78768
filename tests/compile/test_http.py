"""``http`` events of functions: methods with the Lambda proxy and the lambda integration,
request parameters, validation and templates, integration responses, authorizers and the
functions' invoke permissions, compiled from fixture projects."""

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
    method,
    resources_of_type,
)

from basegear.compile.http import FORM_REQUEST_TEMPLATE, JSON_REQUEST_TEMPLATE

API = {"Ref": "ApiGatewayRestApi"}
SOURCE_ARN = execute_api_arn(API, "/*/*")


# ---------------------------------------------------------------------------------------------
# Lambda proxy


@pytest.fixture
def proxy(compile_project: Compile) -> Template:
    return compile_project("api-proxy")


def test_lambda_proxy_method(proxy: Template) -> None:
    assert proxy["Resources"]["ApiGatewayMethodUsersGet"] == {
        "Type": "AWS::ApiGateway::Method",
        "DependsOn": ["UsersLambdaPermissionApiGateway"],
        "Properties": {
            "HttpMethod": "GET",
            "RequestParameters": {},
            "ResourceId": {"Ref": "ApiGatewayResourceUsers"},
            "RestApiId": API,
            "ApiKeyRequired": False,
            "AuthorizationType": "NONE",
            "Integration": {
                "IntegrationHttpMethod": "POST",
                "Type": "AWS_PROXY",
                "Uri": lambda_uri(function_arn("Users")),
            },
            "MethodResponses": [],
        },
    }


def test_root_path_and_catch_all_method(proxy: Template) -> None:
    root = method(proxy, "ApiGatewayMethodGet")
    assert root["ResourceId"] == {"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]}
    assert root["Integration"]["Uri"] == lambda_uri(function_arn("Health"))
    # `method: '*'` is API Gateway's ANY.
    catch_all = method(proxy, "ApiGatewayMethodUsersIdVarOrdersAny")
    assert catch_all["HttpMethod"] == "ANY"


def test_private_requires_an_api_key(proxy: Template) -> None:
    assert method(proxy, "ApiGatewayMethodUsersPost")["ApiKeyRequired"] is True


def test_one_invoke_permission_per_function(proxy: Template) -> None:
    assert resources_of_type(proxy, "AWS::Lambda::Permission") == {
        f"{prefix}LambdaPermissionApiGateway": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "FunctionName": function_arn(prefix),
                "Action": "lambda:InvokeFunction",
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": SOURCE_ARN,
            },
        }
        for prefix in ("Users", "Health")
    }


def test_request_parameters_and_their_validator(proxy: Template) -> None:
    get_user = method(proxy, "ApiGatewayMethodUsersIdVarGet")
    assert get_user["RequestParameters"] == {
        "method.request.path.id": True,
        "method.request.querystring.fields": False,
        "method.request.header.X-Tenant": True,
    }
    assert get_user["OperationName"] == "getUser"
    # A required parameter is only enforced by a request validator.
    assert get_user["RequestValidatorId"] == {"Ref": "ApiGatewayShopRequestValidator"}
    assert proxy["Resources"]["ApiGatewayShopRequestValidator"] == {
        "Type": "AWS::ApiGateway::RequestValidator",
        "Properties": {
            "RestApiId": API,
            "ValidateRequestBody": True,
            "ValidateRequestParameters": True,
            "Name": "shop-dev | Validate request body and querystring parameters",
        },
    }
    assert "RequestValidatorId" not in method(proxy, "ApiGatewayMethodUsersGet")


def test_response_settings_with_the_proxy_integration_are_an_error(
    only_problem: OnlyProblem,
) -> None:
    assert str(only_problem("api-error-proxy-response")).endswith(
        "api-error-proxy-response/serverless.yml:14:13: functions.items.events[0].http.response: "
        "response needs integration: lambda; the lambda-proxy integration passes requests and "
        "responses through unchanged"
    )


# ---------------------------------------------------------------------------------------------
# The lambda integration


@pytest.fixture
def lambda_integration(compile_project: Compile) -> Template:
    return compile_project("api-lambda-integration")


def test_lambda_integration_request(lambda_integration: Template) -> None:
    integration = method(lambda_integration, "ApiGatewayMethodOrdersPost")["Integration"]
    assert {key: value for key, value in integration.items() if key != "IntegrationResponses"} == {
        "IntegrationHttpMethod": "POST",
        "Type": "AWS",
        "Uri": lambda_uri(function_arn("Orders")),
        "PassthroughBehavior": "WHEN_NO_TEMPLATES",
        "RequestTemplates": {
            "application/json": JSON_REQUEST_TEMPLATE.replace("@CLAIMS@", ""),
            "application/x-www-form-urlencoded": FORM_REQUEST_TEMPLATE.replace("@CLAIMS@", ""),
            "text/plain": '{"raw": "$util.escapeJavaScript($input.body)"}',
        },
        "RequestParameters": {
            "integration.request.querystring.dryRun": "method.request.header.X-Dry-Run",
            "integration.request.header.X-Dry-Run": "method.request.header.X-Dry-Run",
        },
    }
    assert method(lambda_integration, "ApiGatewayMethodOrdersPost")["RequestParameters"] == {
        "method.request.querystring.dryRun": False,
        "method.request.header.X-Dry-Run": False,
    }


def test_status_codes_become_integration_and_method_responses(
    lambda_integration: Template,
) -> None:
    orders = method(lambda_integration, "ApiGatewayMethodOrdersPost")
    common = {
        "method.response.header.Access-Control-Allow-Origin": "'*'",
        "method.response.header.Cache-Control": "'no-store'",
    }
    assert orders["Integration"]["IntegrationResponses"] == [
        {
            "StatusCode": "201",
            "SelectionPattern": "",
            "ResponseParameters": common,
            "ResponseTemplates": {"application/json": "$input.path('$')"},
        },
        {
            "StatusCode": "409",
            "SelectionPattern": '.*"conflict".*',
            "ResponseParameters": {**common, "method.response.header.Retry-After": "'5'"},
            "ResponseTemplates": {"application/json": '{"error": "conflict"}'},
        },
    ]
    assert orders["MethodResponses"] == [
        {
            "StatusCode": "201",
            "ResponseParameters": dict.fromkeys(common, True),
            "ResponseModels": {},
        },
        {
            "StatusCode": "409",
            "ResponseParameters": {
                **dict.fromkeys(common, True),
                "method.response.header.Retry-After": True,
            },
            "ResponseModels": {},
        },
    ]


def test_default_status_codes_select_on_the_error_message(lambda_integration: Template) -> None:
    get_order = method(lambda_integration, "ApiGatewayMethodOrdersIdVarGet")
    responses = get_order["Integration"]["IntegrationResponses"]
    patterns = {response["StatusCode"]: response["SelectionPattern"] for response in responses}
    assert patterns == {
        "200": "",
        "400": r"[\s\S]*\[400\][\s\S]*",
        "401": r"[\s\S]*\[401\][\s\S]*",
        "403": r"[\s\S]*\[403\][\s\S]*",
        "404": r"[\s\S]*\[404\][\s\S]*",
        "422": r"[\s\S]*\[422\][\s\S]*",
        "500": r"[\s\S]*(Process\s?exited\s?before\s?completing\s?request|\[500\])[\s\S]*",
        "502": r"[\s\S]*\[502\][\s\S]*",
        "504": r"([\s\S]*\[504\][\s\S]*)|(.*Task timed out after \d+\.\d+ seconds$)",
    }
    assert [response["StatusCode"] for response in get_order["MethodResponses"]] == list(patterns)
    assert get_order["Integration"]["PassthroughBehavior"] == "NEVER"


def test_async_event_invokes_the_function_asynchronously(lambda_integration: Template) -> None:
    delete = method(lambda_integration, "ApiGatewayMethodOrdersIdVarDelete")
    assert delete["Integration"]["Type"] == "AWS"
    assert delete["Integration"]["RequestParameters"] == {
        "integration.request.header.X-Amz-Invocation-Type": "'Event'"
    }


# ---------------------------------------------------------------------------------------------
# Request models


def test_request_schemas_become_models(compile_project: Compile) -> None:
    template = compile_project("api-schemas")
    resources = template["Resources"]
    assert resources["ApiGatewayOrderInputModel"] == {
        "Type": "AWS::ApiGateway::Model",
        "Properties": {
            "RestApiId": API,
            "ContentType": "application/json",
            "Schema": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}},
            },
            "Name": "OrderInput",
            "Description": "An order",
        },
    }
    post = method(template, "ApiGatewayMethodOrdersPost")
    assert post["RequestModels"] == {"application/json": {"Ref": "ApiGatewayOrderInputModel"}}
    assert post["RequestValidatorId"] == {"Ref": "ApiGatewayValidatedRequestValidator"}
    put = method(template, "ApiGatewayMethodOrdersIdVarPut")
    assert put["RequestModels"] == {
        "application/json": {"Ref": "ApiGatewayMethodOrdersIdVarPutApplicationJsonModel"},
        "text/plain": {"Ref": "ApiGatewayMethodOrdersIdVarPutTextPlainModel"},
    }
    assert resources["ApiGatewayMethodOrdersIdVarPutApplicationJsonModel"]["Properties"] == {
        "RestApiId": API,
        "ContentType": "application/json",
        "Schema": {"type": "object", "properties": {"quantity": {"type": "integer"}}},
    }
    assert resources["ApiGatewayMethodOrdersIdVarPutTextPlainModel"]["Properties"] == {
        "RestApiId": API,
        "ContentType": "text/plain",
        "Schema": {"type": "string"},
        "Name": "PlainOrder",
    }


# ---------------------------------------------------------------------------------------------
# Authorizers


@pytest.fixture
def secured(compile_project: Compile) -> Template:
    return compile_project("api-authorizers")


def authorization(template: Template, logical_id: str) -> dict[str, Any]:
    properties = method(template, logical_id)
    keys = ("AuthorizationType", "AuthorizerId", "AuthorizationScopes")
    return {key: properties[key] for key in keys if key in properties}


def test_lambda_token_authorizer_of_the_service(secured: Template) -> None:
    resources = secured["Resources"]
    assert resources["AuthApiGatewayAuthorizer"] == {
        "Type": "AWS::ApiGateway::Authorizer",
        "Properties": {
            "Name": "auth",
            "RestApiId": API,
            "Type": "TOKEN",
            "IdentitySource": "method.request.header.Authorization",
            "AuthorizerResultTtlInSeconds": 300,
            "AuthorizerUri": lambda_uri(function_arn("Auth")),
        },
    }
    for logical_id in ("ApiGatewayMethodReportsGet", "ApiGatewayMethodReportsPost"):
        assert authorization(secured, logical_id) == {
            "AuthorizationType": "CUSTOM",
            "AuthorizerId": {"Ref": "AuthApiGatewayAuthorizer"},
        }
    # The authorizer function's own endpoint and its authorizer share one permission.
    assert resources["AuthLambdaPermissionApiGateway"]["Properties"]["FunctionName"] == (
        function_arn("Auth")
    )


def test_lambda_request_authorizer_by_arn(secured: Template) -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:shared-request-authorizer"
    resources = secured["Resources"]
    authorizer = resources["RequestAuthApiGatewayAuthorizer"]["Properties"]
    # Uncached, a REQUEST authorizer needs no identity source.
    assert authorizer == {
        "Name": "requestAuth",
        "RestApiId": API,
        "Type": "REQUEST",
        "AuthorizerResultTtlInSeconds": 0,
        "AuthorizerUri": lambda_uri(arn),
    }
    assert resources["RequestAuthLambdaPermissionApiGateway"]["Properties"] == {
        "FunctionName": arn,
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": SOURCE_ARN,
    }
    assert authorization(secured, "ApiGatewayMethodReportsIdVarGet") == {
        "AuthorizationType": "CUSTOM",
        "AuthorizerId": {"Ref": "RequestAuthApiGatewayAuthorizer"},
    }


def test_cognito_authorizer_with_scopes_and_claims(secured: Template) -> None:
    pool = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123"
    assert secured["Resources"]["PoolApiGatewayAuthorizer"]["Properties"] == {
        "Name": "pool",
        "RestApiId": API,
        "Type": "COGNITO_USER_POOLS",
        "IdentitySource": "method.request.header.Authorization",
        "AuthorizerResultTtlInSeconds": 300,
        "ProviderARNs": [pool],
    }
    assert "PoolLambdaPermissionApiGateway" not in secured["Resources"]
    assert authorization(secured, "ApiGatewayMethodReportsIdVarPut") == {
        "AuthorizationType": "COGNITO_USER_POOLS",
        "AuthorizerId": {"Ref": "PoolApiGatewayAuthorizer"},
        "AuthorizationScopes": ["reports/write"],
    }
    put = method(secured, "ApiGatewayMethodReportsIdVarPut")
    template = put["Integration"]["RequestTemplates"]["application/json"]
    assert (
        '"cognitoPoolClaims": {\n'
        '    "email": "$context.authorizer.claims.email",\n'
        '    "tenant": "$context.authorizer.claims[\'custom:tenant\']",\n'
        '    "sub": "$context.authorizer.claims.sub"\n'
        "  }"
    ) in template


def test_existing_authorizer_and_aws_iam(secured: Template) -> None:
    assert authorization(secured, "ApiGatewayMethodReportsIdVarDelete") == {
        "AuthorizationType": "COGNITO_USER_POOLS",
        "AuthorizerId": {"Fn::ImportValue": "shared-api-authorizer-id"},
        "AuthorizationScopes": ["reports/admin"],
    }
    assert authorization(secured, "ApiGatewayMethodReportsExportGet") == {
        "AuthorizationType": "AWS_IAM"
    }
    authorizers = list(resources_of_type(secured, "AWS::ApiGateway::Authorizer"))
    assert authorizers == [
        "AuthApiGatewayAuthorizer",
        "RequestAuthApiGatewayAuthorizer",
        "PoolApiGatewayAuthorizer",
    ]


def test_authorizer_that_is_not_a_function_is_an_error(only_problem: OnlyProblem) -> None:
    assert str(only_problem("api-error-authorizer-not-a-function")).endswith(
        "api-error-authorizer-not-a-function/serverless.yml:13:23: "
        "functions.items.events[0].http.authorizer: authorizer 'checkToken' is not a function "
        "of this service; give its arn instead"
    )


# ---------------------------------------------------------------------------------------------
# Aliases


def test_functions_with_an_alias_are_invoked_through_it(compile_project: Compile) -> None:
    template = compile_project("api-alias")
    resources = template["Resources"]
    api_alias = {"Fn::Join": [":", [{"Fn::GetAtt": ["ApiLambdaFunction", "Arn"]}, "provisioned"]]}
    auth_alias = {"Fn::Join": [":", [{"Fn::GetAtt": ["AuthLambdaFunction", "Arn"]}, "provisioned"]]}
    get = resources["ApiGatewayMethodItemsGet"]
    assert get["DependsOn"] == ["ApiLambdaPermissionApiGateway", "ApiProvConcLambdaAlias"]
    uri = get["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
    assert uri[-2:] == [api_alias, "/invocations"]
    assert resources["ApiLambdaPermissionApiGateway"]["DependsOn"] == "ApiProvConcLambdaAlias"
    assert resources["ApiLambdaPermissionApiGateway"]["Properties"]["FunctionName"] == api_alias
    authorizer = resources["AuthApiGatewayAuthorizer"]
    assert authorizer["DependsOn"] == "AuthProvConcLambdaAlias"
    assert authorizer["Properties"]["AuthorizerUri"]["Fn::Join"][1][-2] == auth_alias
    assert resources["AuthLambdaPermissionApiGateway"]["Properties"]["FunctionName"] == auth_alias
    # The HTTP API's integration and permission name the alias too.
    integration = resources["HttpApiIntegrationApi"]
    assert integration["DependsOn"] == "ApiProvConcLambdaAlias"
    assert integration["Properties"]["IntegrationUri"] == api_alias
    assert resources["ApiLambdaPermissionHttpApi"]["Properties"]["FunctionName"] == api_alias
