"""The role a state machine gets: permissions derived from its Task states (Lambda in every
form, service integrations, nested executions), the user's iamRoleStatements, logging,
tracing and a customer managed key."""

from __future__ import annotations

from conftest import (
    DENY_ALL,
    LOG_DELIVERY,
    Compile,
    OnlyProblem,
    function_arn,
    invoke,
    role_statements,
)


def by_name(arn_suffix: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:{arn_suffix}"}


def test_lambda_task_permissions(compile_project: Compile) -> None:
    template = compile_project("sm-iam-lambda")
    worker_arn = function_arn("Worker")
    worker_name = {"Ref": "WorkerLambdaFunction"}
    account_function = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    assert role_statements(template, "DirectStepFunctionsStateMachineRole") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [
                # The alias `live` is trimmed: the grant covers the function and `:*`.
                *invoke("arn:aws:lambda:eu-west-1:123456789012:function:direct"),
                *invoke(worker_arn),
                # Ref of a function is its name.
                {"Fn::Sub": [account_function + "${FunctionName}", {"FunctionName": worker_name}]},
                {
                    "Fn::Sub": [
                        account_function + "${FunctionName}:*",
                        {"FunctionName": worker_name},
                    ]
                },
            ],
        }
    ]
    assert role_statements(template, "InvokeStepFunctionsStateMachineRole") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [
                {"Fn::Sub": account_function + "named-function"},
                {"Fn::Sub": account_function + "named-function:*"},
                by_name("123456789012:function:partial"),
                by_name("123456789012:function:partial:*"),
                *invoke("arn:aws:lambda:eu-west-1:123456789012:function:full"),
                *invoke(worker_arn),  # inside a Parallel branch
            ],
        }
    ]
    # FunctionName.$ (inside a Map) is chosen at run time: only * can cover it.
    assert role_statements(template, "DynamicStepFunctionsStateMachineRole") == [
        {"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": "*"}
    ]


def test_service_integration_permissions(compile_project: Compile) -> None:
    template = compile_project("sm-iam-services")
    account = "${AWS::Region}:${AWS::AccountId}"
    table = f"arn:${{AWS::Partition}}:dynamodb:{account}:table/"
    assert role_statements(template, "ParentStepFunctionsStateMachineRole") == [
        {"Effect": "Allow", "Action": ["sns:Publish"], "Resource": [{"Ref": "Topic"}]},
        {
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [
                {"Fn::GetAtt": ["Queue", "Arn"]},  # Ref of a queue is its URL
                {"Fn::Sub": "arn:${AWS::Partition}:sqs:eu-west-1:123456789012:other-queue"},
            ],
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": [{"Fn::Sub": table + "uploads"}],
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem"],
            "Resource": [{"Fn::GetAtt": ["Table", "Arn"]}],
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:Query"],
            "Resource": [{"Fn::Sub": table + "uploads/index/by-status"}],
        },
        {
            "Effect": "Allow",
            "Action": ["dynamodb:BatchWriteItem"],
            "Resource": [{"Fn::Sub": table + "audit"}],
        },
        {
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": [
                {"Fn::Sub": f"arn:${{AWS::Partition}}:events:{account}:event-bus/default"},
                {"Fn::Sub": f"arn:${{AWS::Partition}}:events:{account}:event-bus/audit"},
            ],
        },
        {
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [
                {"Ref": "IamservicesDashchild"},
                "arn:aws:states:eu-west-1:123456789012:stateMachine:other",
            ],
        },
        # Only the .sync nested execution watches its child.
        {
            "Effect": "Allow",
            "Action": ["states:DescribeExecution", "states:StopExecution"],
            "Resource": [
                {
                    "Fn::Sub": [
                        f"arn:${{AWS::Partition}}:states:{account}:execution:${{MachineName}}:*",
                        {"MachineName": {"Fn::GetAtt": ["IamservicesDashchild", "Name"]}},
                    ]
                }
            ],
        },
        {
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": [
                {
                    "Fn::Sub": f"arn:${{AWS::Partition}}:events:{account}:"
                    "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
                }
            ],
        },
        # Logging and tracing take no resource-level permissions; the activity needs nothing.
        {
            "Effect": "Allow",
            "Action": [
                *LOG_DELIVERY,
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            "Resource": "*",
        },
    ]
    parent = template["Resources"]["ParentStepFunctionsStateMachine"]["Properties"]
    assert parent["TracingConfiguration"] == {"Enabled": True}
    assert role_statements(template, "IamservicesDashchildRole") == DENY_ALL


def test_underivable_task_is_an_error(only_problem: OnlyProblem) -> None:
    problem = only_problem("sm-iam-unknown")
    assert problem.path == (
        "stepFunctions",
        "stateMachines",
        "etl",
        "definition",
        "States",
        "Crunch",
        "Resource",
    )
    assert "arn:aws:states:::glue:startJobRun.sync" in problem.message
    assert "iamRoleStatements" in problem.message
    assert problem.location is not None and problem.location.line == 22


def test_iam_role_statements_join_the_role(compile_project: Compile) -> None:
    template = compile_project("sm-iam-statements")
    role = template["Resources"]["EtlStepFunctionsStateMachineRole"]["Properties"]
    assert role["Path"] == "/flows/"
    assert role["PermissionsBoundary"] == "arn:aws:iam::123456789012:policy/boundary"
    assert role_statements(template, "EtlStepFunctionsStateMachineRole") == [
        {
            "Effect": "Allow",
            "Action": ["glue:StartJobRun", "glue:GetJobRun"],
            "Resource": "arn:aws:glue:eu-west-1:123456789012:job/crunch",
        }
    ]


def test_customer_managed_key(compile_project: Compile) -> None:
    template = compile_project("sm-encryption")
    properties = template["Resources"]["SealedStepFunctionsStateMachine"]["Properties"]
    key = {"Fn::GetAtt": ["SealedKey", "Arn"]}
    assert properties["EncryptionConfiguration"] == {
        "Type": "CUSTOMER_MANAGED_KMS_KEY",
        "KmsKeyId": key,
        "KmsDataKeyReusePeriodSeconds": 300,
    }
    assert role_statements(template, "SealedStepFunctionsStateMachineRole") == [
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": [key]}
    ]
