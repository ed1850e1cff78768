"""The Lambda execution role IamRoleLambdaExecution: log permissions, the user's statements and
settings, the statements other families add, and when no role is created."""

from __future__ import annotations

from typing import Any

from conftest import Compile, OnlyProblem, Template, role_statements

LOGS = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/"
VPC_POLICY = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
        ],
    ]
}


def role(template: Template) -> dict[str, Any]:
    resource: dict[str, Any] = template["Resources"]["IamRoleLambdaExecution"]
    return resource


def test_default_role_as_the_serverless_framework_builds_it(compile_project: Compile) -> None:
    template = compile_project("fn-legacy-iam")
    resource = role(template)
    assert resource["Type"] == "AWS::IAM::Role"
    properties = resource["Properties"]
    assert properties["AssumeRolePolicyDocument"] == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["lambda.amazonaws.com"]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }
    assert properties["Path"] == "/"
    assert properties["RoleName"] == {
        "Fn::Join": ["-", ["legacy", "dev", {"Ref": "AWS::Region"}, "lambdaRole"]]
    }
    assert properties["Policies"][0]["PolicyName"] == {
        "Fn::Join": ["-", ["legacy", "dev", "lambda"]]
    }


def test_log_statements_cover_the_service_prefix(compile_project: Compile) -> None:
    assert role_statements(compile_project("fn-legacy-iam"))[:2] == [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:CreateLogGroup", "logs:TagResource"],
            "Resource": [{"Fn::Sub": f"{LOGS}legacy-dev*:*"}],
        },
        {
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents"],
            "Resource": [{"Fn::Sub": f"{LOGS}legacy-dev*:*:*"}],
        },
    ]


def test_custom_names_and_disabled_logs_in_the_log_statements(compile_project: Compile) -> None:
    found = role_statements(compile_project("fn-settings"))
    assert found[0]["Resource"] == [
        {"Fn::Sub": f"{LOGS}reports-exporter:*"},
        {"Fn::Sub": f"{LOGS}settings-dev*:*"},
    ]
    assert found[1]["Resource"] == [
        {"Fn::Sub": f"{LOGS}reports-exporter:*:*"},
        {"Fn::Sub": f"{LOGS}settings-dev*:*:*"},
    ]
    assert found[2] == {
        "Effect": "Deny",
        "Action": "logs:PutLogEvents",
        "Resource": [{"Fn::Sub": f"{LOGS}settings-dev-quiet:*"}],
    }


def test_settings_that_need_permissions_grant_them(compile_project: Compile) -> None:
    found = role_statements(compile_project("fn-settings"))
    assert {
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": ["arn:aws:kms:eu-west-1:123456789012:key/0d5f6c1e-1111-4a4a-9b9b-123456789012"],
    } in found
    assert {
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": ["*"],
    } in found
    vpc = role_statements(compile_project("fn-vpc"))
    assert {
        "Effect": "Allow",
        "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
        "Resource": [
            "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/fsap-0123456789abcdef0"
        ],
    } in vpc


def test_every_role_setting(compile_project: Compile) -> None:
    template = compile_project("fn-role-settings")
    properties = role(template)["Properties"]
    assert properties["RoleName"] == "roles-dev-lambda"
    assert properties["Path"] == "/service/"
    assert properties["PermissionsBoundary"] == "arn:aws:iam::123456789012:policy/boundary"
    assert properties["Tags"] == [{"Key": "owner", "Value": "platform"}]
    # The user's managed policies, and the one a function in a VPC needs.
    assert properties["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
        VPC_POLICY,
    ]
    assert role_statements(template)[2:] == [
        {
            "Sid": "ReadTable",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/roles",
        },
        {
            "Effect": "Allow",
            "Action": ["ssm:GetParameter"],
            "Resource": {
                "Fn::Sub": "arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter/roles/*"
            },
            "Condition": {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}},
        },
    ]
    function = template["Resources"]["WorkerLambdaFunction"]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]}


def test_deprecated_provider_iam_settings_are_honoured(compile_project: Compile) -> None:
    template = compile_project("fn-legacy-iam")
    properties = role(template)["Properties"]
    assert properties["PermissionsBoundary"] == "arn:aws:iam::123456789012:policy/legacy-boundary"
    assert properties["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy"
    ]
    assert role_statements(template)[2:] == [
        {
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": "arn:aws:sqs:eu-west-1:123456789012:legacy-queue",
        }
    ]


def test_an_existing_provider_role_means_no_role(compile_project: Compile) -> None:
    resources = compile_project("fn-existing-role")["Resources"]
    assert "IamRoleLambdaExecution" not in resources
    roles = {
        prefix: resources[f"{prefix}LambdaFunction"]["Properties"]["Role"]
        for prefix in ("Shared", "ByDasharn", "ByDashname", "ByDashgetDashatt")
    }
    assert roles == {
        "Shared": "arn:aws:iam::123456789012:role/shared-lambda",
        "ByDasharn": "arn:aws:iam::123456789012:role/special",
        # A plain name is the logical ID of a role in this template.
        "ByDashname": {"Fn::GetAtt": ["WorkerRole", "Arn"]},
        "ByDashgetDashatt": {"Fn::GetAtt": ["WorkerRole", "Arn"]},
    }


def test_no_role_when_every_function_has_its_own(compile_project: Compile) -> None:
    resources = compile_project("fn-own-roles")["Resources"]
    assert "IamRoleLambdaExecution" not in resources
    assert resources["FirstLambdaFunction"]["Properties"]["Role"] == (
        "arn:aws:iam::123456789012:role/first"
    )
    assert resources["SecondLambdaFunction"]["Properties"]["Role"] == {
        "Fn::ImportValue": "shared-roles-SecondRoleArn"
    }


def test_example_role(example: Template, example_stage: str) -> None:
    found = role_statements(example)
    sids = [statement.get("Sid") for statement in found]
    assert sids[2:8] == [
        "UploadsTable",
        "PackagesBucketListing",
        "PackagesBucketObjects",
        "AlgorithmFunctions",
        "ServiceParameters",
        "ObjectsProcessorDeadLetterQueue",
    ]
    assert {
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": [{"Fn::GetAtt": ["ObjectsDashprocessorDeadLetterQueue", "Arn"]}],
    } in found
    assert found[0]["Resource"] == [{"Fn::Sub": f"{LOGS}algorithms-{example_stage}*:*"}]


def test_a_role_name_too_long_for_iam_is_located(only_problem: OnlyProblem) -> None:
    assert str(only_problem("fn-role-name-too-long")).endswith(
        "fn-role-name-too-long/serverless.yml:4:3: provider.iam.role: the execution role name "
        "'a-service-name-that-is-long-enough-to-overflow-dev-ap-southeast-2-lambdaRole' is 76 "
        "characters long; IAM allows at most 64 (set a shorter provider.iam.role.name)"
    )
