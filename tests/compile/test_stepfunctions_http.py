"""``http`` events of state machines: AWS integrations calling Step Functions, their role,
request templates, and integration and method responses from ``responses`` and
``response.statusCodes`` — including the algorithms example's DELETE /v1/algorithm."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import (
    Compile,
    OnlyProblem,
    Template,
    method,
    resources_of_type,
    role_statements,
    service_uri,
)

from basegear.compile.http import FORM_BODY_MACRO, PAIRS_MACRO
from basegear.compile.stepfunctions_http import DEFAULT_TEMPLATE, PROXY_TEMPLATES

API = {"Ref": "ApiGatewayRestApi"}
ROLE_ARN = {"Fn::GetAtt": ["ApigatewayToStepFunctionsRole", "Arn"]}


def states_uri(action: str) -> dict[str, Any]:
    return service_uri(f":states:action/{action}")


def default_template(machine_id: str) -> dict[str, Any]:
    return {"Fn::Sub": [DEFAULT_TEMPLATE, {"StateMachineArn": {"Ref": machine_id}}]}


# ---------------------------------------------------------------------------------------------
# The algorithms example


REQUEST_TEMPLATE = (
    "#set($algorithmId = $util.escapeJavaScript($input.params('algorithmId')))\n"
    "#set($uploadVersion = $util.escapeJavaScript($input.params('uploadVersion')))\n"
    "{\n"
    '  "input": "{\\"algorithmId\\": \\"$algorithmId\\", \\"uploadVersion\\": '
    '\\"$uploadVersion\\"}",\n'
    '  "name": "$context.requestId",\n'
    '  "stateMachineArn": "arn:aws:states:${AWS::Region}:${AWS::AccountId}:stateMachine:'
    'PackageDelete-{stage}"\n'
    "}\n"
)
SUCCESS_TEMPLATE = (
    "{\n"
    "  \"executionArn\": $input.json('$.executionArn'),\n"
    "  \"startDate\": $input.json('$.startDate')\n"
    "}\n"
)
ERROR_TEMPLATE = (
    "{\n"
    '  "error": "$util.escapeJavaScript($input.path(\'$.__type\'))",\n'
    '  "message": "$util.escapeJavaScript($input.path(\'$.message\'))'
    '.replaceAll("\\\\\'", "\'")"\n'
    "}\n"
)


def test_example_delete_algorithm_starts_the_package_delete_machine(
    example: Template, example_stage: str
) -> None:
    resource = example["Resources"]["ApiGatewayMethodV1AlgorithmDelete"]
    assert "DependsOn" not in resource
    assert resource["Properties"] == {
        "HttpMethod": "DELETE",
        "RequestParameters": {},
        "ResourceId": {"Ref": "ApiGatewayResourceV1Algorithm"},
        "RestApiId": API,
        "ApiKeyRequired": True,
        "AuthorizationType": "NONE",
        "Integration": {
            "IntegrationHttpMethod": "POST",
            "Type": "AWS",
            "Credentials": ROLE_ARN,
            "Uri": states_uri("StartExecution"),
            "PassthroughBehavior": "NEVER",
            "RequestTemplates": {
                # The user's template verbatim, its #{AWS::…} turned into a substitution.
                "application/json": {
                    "Fn::Sub": REQUEST_TEMPLATE.replace("{stage}", example_stage),
                },
                "application/x-www-form-urlencoded": default_template("PackageDeleteStateMachine"),
            },
            "IntegrationResponses": [
                {
                    "StatusCode": "200",
                    "SelectionPattern": "",
                    "ResponseParameters": {},
                    "ResponseTemplates": {"application/json": SUCCESS_TEMPLATE},
                },
                {
                    "StatusCode": "400",
                    "SelectionPattern": "[45]\\d{2}",
                    "ResponseParameters": {},
                    "ResponseTemplates": {"application/json": ERROR_TEMPLATE},
                },
            ],
        },
        "MethodResponses": [
            {"StatusCode": "200", "ResponseParameters": {}, "ResponseModels": {}},
            {"StatusCode": "400", "ResponseParameters": {}, "ResponseModels": {}},
        ],
    }


def test_example_path_resources(example: Template, example_stage: str) -> None:
    resources = example["Resources"]
    assert resources["ApiGatewayResourceV1"]["Properties"] == {
        "ParentId": {"Fn::GetAtt": ["ApiGatewayRestApi", "RootResourceId"]},
        "PathPart": "v1",
        "RestApiId": API,
    }
    assert resources["ApiGatewayResourceV1Algorithm"]["Properties"] == {
        "ParentId": {"Ref": "ApiGatewayResourceV1"},
        "PathPart": "algorithm",
        "RestApiId": API,
    }
    assert resources["ApiGatewayRestApi"]["Properties"]["Name"] == f"{example_stage}-algorithms"


def test_example_role_may_start_only_the_package_delete_machine(example: Template) -> None:
    role = example["Resources"]["ApigatewayToStepFunctionsRole"]
    assert role == {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "apigateway.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "apigatewaytostepfunctions",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["states:StartExecution"],
                                "Resource": [{"Ref": "PackageDeleteStateMachine"}],
                            }
                        ],
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("example_stage", "rate", "burst", "value"),
    [
        ("dev", 10, 20, "algorithms-dev-4f7c1e9a2b6d8035"),
        ("prod", 50, 100, "algorithms-prod-9b2e7d4c1a6f3058"),
    ],
)
def test_example_api_key_and_usage_plan_per_stage(
    example: Template, example_stage: str, rate: int, burst: int, value: str
) -> None:
    resources = example["Resources"]
    (deployment,) = resources_of_type(example, "AWS::ApiGateway::Deployment")
    assert resources[deployment]["DependsOn"] == ["ApiGatewayMethodV1AlgorithmDelete"]
    assert resources[deployment]["Properties"]["StageName"] == example_stage
    assert resources["ApiGatewayApiKey1"] == {
        "Type": "AWS::ApiGateway::ApiKey",
        "DependsOn": deployment,
        "Properties": {
            "Enabled": True,
            "Name": f"algorithms-{example_stage}-key",
            "Value": value,
            "StageKeys": [{"RestApiId": API, "StageName": example_stage}],
        },
    }
    assert resources["ApiGatewayUsagePlan"] == {
        "Type": "AWS::ApiGateway::UsagePlan",
        "DependsOn": deployment,
        "Properties": {
            "ApiStages": [{"ApiId": API, "Stage": example_stage}],
            "Description": f"Usage plan for algorithms {example_stage} stage",
            "UsagePlanName": f"algorithms-{example_stage}",
            "Throttle": {"RateLimit": rate, "BurstLimit": burst},
        },
    }
    assert resources["ApiGatewayUsagePlanKey1"]["Properties"] == {
        "KeyId": {"Ref": "ApiGatewayApiKey1"},
        "KeyType": "API_KEY",
        "UsagePlanId": {"Ref": "ApiGatewayUsagePlan"},
    }
    assert example["Outputs"]["ServiceEndpoint"]["Export"] == {
        "Name": f"sls-algorithms-{example_stage}-ServiceEndpoint"
    }


# ---------------------------------------------------------------------------------------------
# Requests


@pytest.fixture
def flows(compile_project: Compile) -> Template:
    return compile_project("api-stepfunctions")


def test_default_request_templates_and_responses(flows: Template) -> None:
    orders = method(flows, "ApiGatewayMethodOrdersPost")
    integration = orders["Integration"]
    assert integration["Credentials"] == ROLE_ARN
    assert integration["Uri"] == states_uri("StartExecution")
    assert integration["PassthroughBehavior"] == "NEVER"
    assert integration["TimeoutInMillis"] == 15000  # provider.apiGateway.timeoutInMillis
    assert integration["RequestTemplates"] == {
        "application/json": default_template("OrdersStepFunctionsStateMachine"),
        "application/x-www-form-urlencoded": default_template("OrdersStepFunctionsStateMachine"),
    }
    # The plugin's pair: 200 by default (with response.headers and template), 400 on status 400;
    # with cors, every response allows the origin.
    origin = {"method.response.header.Access-Control-Allow-Origin": "'*'"}
    content_type = {"method.response.header.Content-Type": "'application/json'"}
    assert integration["IntegrationResponses"] == [
        {
            "StatusCode": "200",
            "SelectionPattern": "",
            "ResponseParameters": {**content_type, **origin},
            "ResponseTemplates": {
                "application/json": "{\"executionArn\": $input.json('$.executionArn')}"
            },
        },
        {
            "StatusCode": "400",
            "SelectionPattern": "400",
            "ResponseParameters": origin,
            "ResponseTemplates": {},
        },
    ]
    assert orders["MethodResponses"] == [
        {
            "StatusCode": "200",
            "ResponseParameters": dict.fromkeys({**content_type, **origin}, True),
            "ResponseModels": {},
        },
        {
            "StatusCode": "400",
            "ResponseParameters": dict.fromkeys(origin, True),
            "ResponseModels": {},
        },
    ]
    assert orders["ApiKeyRequired"] is False
    assert "ApiGatewayMethodOrdersOptions" in flows["Resources"]


def test_lambda_proxy_request_templates(flows: Template) -> None:
    templates = method(flows, "ApiGatewayMethodOrdersProxyPost")["Integration"]["RequestTemplates"]
    machine = {"StateMachineArn": {"Ref": "OrdersStepFunctionsStateMachine"}}
    assert templates == {
        "application/json": {"Fn::Sub": [PROXY_TEMPLATES["application/json"], machine]},
        "application/x-www-form-urlencoded": {
            "Fn::Sub": [PROXY_TEMPLATES["application/x-www-form-urlencoded"], machine]
        },
    }
    assert PROXY_TEMPLATES["application/json"].startswith(
        "#set($body = $input.body)\n" + PAIRS_MACRO
    )
    assert PROXY_TEMPLATES["application/x-www-form-urlencoded"].startswith(FORM_BODY_MACRO)


def test_an_explicit_action_passes_the_request_through(flows: Template) -> None:
    status = method(flows, "ApiGatewayMethodOrdersStatusPost")
    assert status["AuthorizationType"] == "AWS_IAM"
    integration = status["Integration"]
    assert integration["Uri"] == states_uri("DescribeExecution")
    assert integration["PassthroughBehavior"] == "WHEN_NO_TEMPLATES"
    assert "RequestTemplates" not in integration
    assert integration["TimeoutInMillis"] == 5000


def test_role_statements_per_machine_and_action(flows: Template) -> None:
    assert role_statements(flows, "ApigatewayToStepFunctionsRole") == [
        {
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [{"Ref": "OrdersStepFunctionsStateMachine"}],
        },
        {
            "Effect": "Allow",
            "Action": ["states:DescribeExecution"],
            "Resource": [
                {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":states:",
                            {"Ref": "AWS::Region"},
                            ":",
                            {"Ref": "AWS::AccountId"},
                            ":execution:",
                            {"Fn::GetAtt": ["OrdersStepFunctionsStateMachine", "Name"]},
                            ":*",
                        ],
                    ]
                }
            ],
        },
        {
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [{"Ref": "RefundsStepFunctionsStateMachine"}],
        },
    ]


def test_given_role_and_user_template_beside_the_defaults(flows: Template) -> None:
    integration = method(flows, "ApiGatewayMethodOrdersImportPut")["Integration"]
    assert integration["Credentials"] == "arn:aws:iam::123456789012:role/api-to-states"
    assert integration["RequestTemplates"] == {
        "application/json": default_template("OrdersStepFunctionsStateMachine"),
        "application/x-www-form-urlencoded": default_template("OrdersStepFunctionsStateMachine"),
        "text/plain": (
            '{"input": "$util.escapeJavaScript($input.body)", "stateMachineArn": '
            '"arn:aws:states:eu-west-1:123456789012:stateMachine:orders"}'
        ),
    }


# ---------------------------------------------------------------------------------------------
# Responses


def test_status_codes_are_honoured(flows: Template) -> None:
    refunds = method(flows, "ApiGatewayMethodRefundsPost")
    assert refunds["ApiKeyRequired"] is True
    assert refunds["Integration"]["IntegrationResponses"] == [
        {
            "StatusCode": "202",
            "SelectionPattern": "",
            "ResponseParameters": {},
            "ResponseTemplates": {"application/json": '{"accepted": true}'},
        },
        {
            "StatusCode": "400",
            "SelectionPattern": "4\\d{2}",
            "ResponseParameters": {"method.response.header.X-Error": "'client'"},
            "ResponseTemplates": {"application/json": "{\"error\": $input.json('$.message')}"},
        },
        {
            "StatusCode": "500",
            "SelectionPattern": "5\\d{2}",
            "ResponseParameters": {},
            "ResponseTemplates": {},
        },
    ]
    assert refunds["MethodResponses"] == [
        {"StatusCode": "202", "ResponseParameters": {}, "ResponseModels": {}},
        {
            "StatusCode": "400",
            "ResponseParameters": {"method.response.header.X-Error": True},
            "ResponseModels": {},
        },
        {"StatusCode": "500", "ResponseParameters": {}, "ResponseModels": {}},
    ]


def test_responses_declare_a_method_response_for_each_status(flows: Template) -> None:
    delete = method(flows, "ApiGatewayMethodRefundsIdVarDelete")
    origin = {"method.response.header.Access-Control-Allow-Origin": "'https://shop.example.com'"}
    reason = {"method.response.header.X-Reason": "'conflict'"}
    assert delete["Integration"]["IntegrationResponses"] == [
        {
            "StatusCode": "204",
            "SelectionPattern": "",
            "ResponseParameters": origin,
            "ResponseTemplates": {},
        },
        {
            "StatusCode": "409",
            "SelectionPattern": "4\\d{2}",
            "ResponseParameters": {**reason, **origin},
            "ResponseTemplates": {"application/json": '{"conflict": true}'},
        },
    ]
    assert delete["MethodResponses"] == [
        {
            "StatusCode": "204",
            "ResponseParameters": dict.fromkeys(origin, True),
            "ResponseModels": {},
        },
        {
            "StatusCode": "409",
            "ResponseParameters": dict.fromkeys({**reason, **origin}, True),
            "ResponseModels": {},
        },
    ]


def test_two_responses_for_one_status_are_an_error(only_problem: OnlyProblem) -> None:
    assert str(only_problem("api-error-sfn-duplicate-status")).endswith(
        "api-error-sfn-duplicate-status/serverless.yml:16:19: "
        "stepFunctions.stateMachines.orders.events[0].http.response.statusCodes.400: status code "
        "400 already has a response; give each status one"
    )
