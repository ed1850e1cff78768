"""Functions: log groups, AWS::Lambda::Function, versions, aliases, asynchronous settings and
outputs, compiled from fixture projects and checked resource by resource."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import PROJECTS, Compile, OnlyProblem, Template, role_statements, zip_artifact

from basegear.compile import compile_service, to_json
from basegear.config.service import load_service
from basegear.config.variables import Options
from basegear.package.artifact import Artifacts

SHARED_ROLE = {"Fn::GetAtt": ["IamRoleLambdaExecution", "Arn"]}


def versions_of(template: Template, prefix: str) -> dict[str, Any]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if logical_id.startswith(f"{prefix}LambdaVersion")
    }


def only_version(template: Template, prefix: str) -> tuple[str, Any]:
    (found,) = versions_of(template, prefix).items()
    return found


@pytest.fixture
def settings(compile_project: Compile) -> Template:
    return compile_project("fn-settings")


def test_function_settings_override_the_provider(settings: Template) -> None:
    function = settings["Resources"]["ApiDashhandlerLambdaFunction"]
    assert function["DependsOn"] == ["ApiDashhandlerLogGroup"]
    properties = function["Properties"]
    assert properties["Code"]["S3Bucket"] == {"Ref": "ServerlessDeploymentBucket"}
    assert properties["Code"]["S3Key"].startswith("basegear/settings/dev/")
    assert properties["Code"]["S3Key"].endswith("/api-handler.zip")
    assert properties["Handler"] == "src/api.handler"
    assert properties["FunctionName"] == "settings-dev-api-handler"
    assert properties["Runtime"] == "python3.11"
    assert properties["MemorySize"] == 1024
    assert properties["Timeout"] == 30
    assert properties["Architectures"] == ["x86_64"]
    assert properties["Description"] == "Answers the API"
    assert properties["ReservedConcurrentExecutions"] == 5
    assert properties["EphemeralStorage"] == {"Size": 1024}
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["KmsKeyArn"].startswith("arn:aws:kms:eu-west-1:123456789012:key/")
    assert properties["Layers"] == ["arn:aws:lambda:eu-west-1:123456789012:layer:shared:3"]
    assert properties["Role"] == SHARED_ROLE


def test_a_minimal_function_takes_the_provider_settings(settings: Template) -> None:
    properties = settings["Resources"]["WorkerLambdaFunction"]["Properties"]
    assert properties["Runtime"] == "python3.12"
    assert properties["MemorySize"] == 512
    assert properties["Timeout"] == 20
    assert properties["Architectures"] == ["arm64"]
    assert "Description" not in properties
    assert "Layers" not in properties
    assert "ReservedConcurrentExecutions" not in properties
    assert "TracingConfig" not in properties


def test_environment_merges_provider_and_function_and_the_function_wins(
    settings: Template,
) -> None:
    resources = settings["Resources"]
    assert resources["ApiDashhandlerLambdaFunction"]["Properties"]["Environment"] == {
        "Variables": {
            "STAGE": "dev",
            "LOG_LEVEL": "DEBUG",
            "TABLE": {"Fn::ImportValue": "settings-table-name"},
            "API_NAME": "public",
        }
    }
    assert resources["WorkerLambdaFunction"]["Properties"]["Environment"] == {
        "Variables": {
            "STAGE": "dev",
            "LOG_LEVEL": "INFO",
            "TABLE": {"Fn::ImportValue": "settings-table-name"},
        }
    }


def test_tags_merge_provider_and_function(settings: Template) -> None:
    resources = settings["Resources"]
    assert resources["ApiDashhandlerLambdaFunction"]["Properties"]["Tags"] == [
        {"Key": "team", "Value": "api"},
        {"Key": "cost-center", "Value": "42"},
        {"Key": "tier", "Value": "front"},
    ]
    assert resources["WorkerLambdaFunction"]["Properties"]["Tags"] == [
        {"Key": "team", "Value": "data"},
        {"Key": "cost-center", "Value": "42"},
    ]


def test_log_groups_use_the_deployed_name_and_the_closest_retention(settings: Template) -> None:
    resources = settings["Resources"]
    assert resources["ApiDashhandlerLogGroup"]["Type"] == "AWS::Logs::LogGroup"
    assert resources["ApiDashhandlerLogGroup"]["Properties"] == {
        "LogGroupName": "/aws/lambda/settings-dev-api-handler",
        "RetentionInDays": 7,
    }
    assert resources["WorkerLogGroup"]["Properties"]["RetentionInDays"] == 30
    assert resources["ExporterLogGroup"]["Properties"]["LogGroupName"] == (
        "/aws/lambda/reports-exporter"
    )
    # A log group with a retention holds data: resources.protect_stateful keeps it.
    assert resources["WorkerLogGroup"]["DeletionPolicy"] == "Retain"


def test_disabled_logs_mean_no_log_group_and_no_dependency(settings: Template) -> None:
    resources = settings["Resources"]
    assert "QuietLogGroup" not in resources
    assert "DependsOn" not in resources["QuietLambdaFunction"]


def test_versions_publish_the_code_with_its_sha256(tmp_path: Path) -> None:
    artifacts = _artifacts(tmp_path, code="one")
    template = _compile_versions(artifacts)
    logical_id, version = only_version(template, "Worker")
    assert version == {
        "Type": "AWS::Lambda::Version",
        "DeletionPolicy": "Retain",
        "Properties": {
            "FunctionName": {"Ref": "WorkerLambdaFunction"},
            "CodeSha256": artifacts.functions["worker"].code_sha256,
        },
    }
    assert template["Outputs"]["WorkerLambdaFunctionQualifiedArn"] == {
        "Value": {"Ref": logical_id},
        "Description": "Current Lambda function version",
        "Export": {"Name": "sls-versions-dev-WorkerLambdaFunctionQualifiedArn"},
    }


def test_function_arn_outputs(settings: Template) -> None:
    assert settings["Outputs"]["WorkerLambdaFunctionArn"] == {
        "Value": {"Fn::GetAtt": ["WorkerLambdaFunction", "Arn"]},
        "Description": "Lambda function ARN",
        "Export": {"Name": "sls-settings-dev-WorkerLambdaFunctionArn"},
    }


def test_version_id_changes_with_the_code_and_stays_without_a_change(tmp_path: Path) -> None:
    first, _ = only_version(_compile_versions(_artifacts(tmp_path / "a", code="one")), "Worker")
    again, _ = only_version(_compile_versions(_artifacts(tmp_path / "b", code="one")), "Worker")
    changed, _ = only_version(_compile_versions(_artifacts(tmp_path / "c", code="two")), "Worker")
    assert first == again
    assert changed != first
    assert first.startswith("WorkerLambdaVersion")
    assert first[len("WorkerLambdaVersion") :].isalnum()


def test_version_id_changes_with_the_layer_code(tmp_path: Path) -> None:
    first, _ = only_version(_compile_versions(_artifacts(tmp_path / "a", layer="one")), "Worker")
    changed, _ = only_version(_compile_versions(_artifacts(tmp_path / "b", layer="two")), "Worker")
    assert changed != first


def test_version_id_changes_with_the_configuration(tmp_path: Path) -> None:
    artifacts = _artifacts(tmp_path)
    first, _ = only_version(_compile_versions(artifacts), "Worker")
    bigger, _ = only_version(_compile_versions(artifacts, memory="1024"), "Worker")
    assert bigger != first


def test_version_id_ignores_settings_a_version_does_not_hold(tmp_path: Path) -> None:
    # Reserved concurrency and tags belong to the function, not to its versions.
    artifacts = _artifacts(tmp_path)
    first, _ = only_version(_compile_versions(artifacts), "Worker")
    retagged, _ = only_version(_compile_versions(artifacts, concurrency="9", team="ml"), "Worker")
    assert retagged == first


def test_the_same_input_compiles_to_the_same_bytes(tmp_path: Path) -> None:
    artifacts = _artifacts(tmp_path)
    assert to_json(_compile_versions(artifacts)) == to_json(_compile_versions(artifacts))


def test_unversioned_functions_publish_no_version(compile_project: Compile) -> None:
    template = compile_project("fn-unversioned")
    assert versions_of(template, "Plain") == {}
    assert "PlainLambdaFunctionQualifiedArn" not in template["Outputs"]
    assert "PlainLambdaFunctionArn" in template["Outputs"]
    # Provisioned concurrency needs a version for its alias, but it is not retained.
    _, version = only_version(template, "Warm")
    assert "DeletionPolicy" not in version
    assert "WarmProvConcLambdaAlias" in template["Resources"]


def test_provisioned_concurrency_and_snap_start_publish_behind_an_alias(
    compile_project: Compile,
) -> None:
    template = compile_project("fn-aliases")
    resources = template["Resources"]
    warm_version, _ = only_version(template, "Warm")
    assert resources["WarmProvConcLambdaAlias"] == {
        "Type": "AWS::Lambda::Alias",
        "Properties": {
            "FunctionName": {"Ref": "WarmLambdaFunction"},
            "FunctionVersion": {"Fn::GetAtt": [warm_version, "Version"]},
            "Name": "provisioned",
            "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 2},
        },
    }
    snappy_version, _ = only_version(template, "Snappy")
    assert resources["SnappyLambdaFunction"]["Properties"]["SnapStart"] == {
        "ApplyOn": "PublishedVersions"
    }
    assert resources["SnappySnapStartLambdaAlias"]["Properties"] == {
        "FunctionName": {"Ref": "SnappyLambdaFunction"},
        "FunctionVersion": {"Fn::GetAtt": [snappy_version, "Version"]},
        "Name": "snapstart",
    }


def test_async_settings_of_an_aliased_function_apply_to_the_alias(
    compile_project: Compile,
) -> None:
    resources = compile_project("fn-aliases")["Resources"]
    assert resources["WarmLambdaEvConf"] == {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "DependsOn": ["WarmProvConcLambdaAlias"],
        "Properties": {
            "FunctionName": {"Ref": "WarmLambdaFunction"},
            "Qualifier": "provisioned",
            "MaximumRetryAttempts": 1,
        },
    }
    caller = resources["CallerLambdaEvConf"]
    assert caller["DependsOn"] == ["WarmProvConcLambdaAlias"]
    assert caller["Properties"]["DestinationConfig"] == {
        "OnSuccess": {
            "Destination": {
                "Fn::Join": [":", [{"Fn::GetAtt": ["WarmLambdaFunction", "Arn"]}, "provisioned"]]
            }
        }
    }


def test_event_invoke_config_with_destinations_and_limits(compile_project: Compile) -> None:
    resources = compile_project("fn-destinations")["Resources"]
    assert resources["ProducerLambdaEvConf"] == {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": "ProducerLambdaFunction"},
            "Qualifier": "$LATEST",
            "DestinationConfig": {
                "OnSuccess": {"Destination": {"Fn::GetAtt": ["ConsumerLambdaFunction", "Arn"]}},
                "OnFailure": {
                    "Destination": "arn:aws:sqs:eu-west-1:123456789012:producer-failures"
                },
            },
            "MaximumEventAgeInSeconds": 3600,
            "MaximumRetryAttempts": 1,
        },
    }
    assert resources["PublisherLambdaEvConf"]["Properties"]["DestinationConfig"] == {
        "OnSuccess": {"Destination": "arn:aws:events:eu-west-1:123456789012:event-bus/default"},
        "OnFailure": {"Destination": {"Ref": "FailureTopic"}},
    }
    assert resources["ArchiverLambdaEvConf"]["Properties"]["DestinationConfig"] == {
        "OnFailure": {"Destination": "arn:aws:s3:::dest-failed-invocations"}
    }
    # maximumRetryAttempts: 0 is a setting, not an absence.
    assert resources["RetriesDashonlyLambdaEvConf"]["Properties"] == {
        "FunctionName": {"Ref": "RetriesDashonlyLambdaFunction"},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": 0,
    }
    assert "ConsumerLambdaEvConf" not in resources


def test_destinations_are_granted_to_the_role(compile_project: Compile) -> None:
    statements = role_statements(compile_project("fn-destinations"))
    consumer = (
        "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:dest-dev-consumer"
    )
    for action, resource in (
        ("lambda:InvokeFunction", {"Fn::Sub": consumer}),
        ("sqs:SendMessage", "arn:aws:sqs:eu-west-1:123456789012:producer-failures"),
        ("events:PutEvents", "arn:aws:events:eu-west-1:123456789012:event-bus/default"),
        ("sns:Publish", {"Ref": "FailureTopic"}),
    ):
        expected = {"Effect": "Allow", "Action": [action], "Resource": [resource]}
        assert expected in statements, action
    bucket = "arn:aws:s3:::dest-failed-invocations"
    assert {
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:ListBucket"],
        "Resource": [bucket, {"Fn::Join": ["", [bucket, "/*"]]}],
    } in statements


def test_vpc_settings_merge_function_over_provider(compile_project: Compile) -> None:
    resources = compile_project("fn-vpc")["Resources"]
    assert resources["InsideLambdaFunction"]["Properties"]["VpcConfig"] == {
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
        "SubnetIds": ["subnet-0123456789abcdef0"],
    }
    own = resources["OwnDashsubnetsLambdaFunction"]["Properties"]
    assert own["VpcConfig"] == {
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
        "SubnetIds": ["subnet-0fedcba9876543210"],
        "Ipv6AllowedForDualStack": True,
    }
    assert own["FileSystemConfigs"] == [
        {
            "Arn": "arn:aws:elasticfilesystem:eu-west-1:123456789012:access-point/"
            "fsap-0123456789abcdef0",
            "LocalMountPath": "/mnt/data",
        }
    ]
    assert "VpcConfig" not in resources["OutsideLambdaFunction"]["Properties"]


def test_runtime_management_function_over_provider(compile_project: Compile) -> None:
    resources = compile_project("fn-vpc")["Resources"]
    assert resources["InsideLambdaFunction"]["Properties"]["RuntimeManagementConfig"] == {
        "UpdateRuntimeOn": "FunctionUpdate"
    }
    outside = resources["OutsideLambdaFunction"]["Properties"]["RuntimeManagementConfig"]
    assert outside["UpdateRuntimeOn"] == "Manual"
    assert outside["RuntimeVersionArn"].startswith("arn:aws:lambda:eu-west-1::runtime:")


def test_a_condition_follows_everything_the_function_owns(compile_project: Compile) -> None:
    template = compile_project("fn-condition", stage="prod")
    resources = template["Resources"]
    function = resources["ReporterLambdaFunction"]
    assert function["Condition"] == "IsProd"
    assert function["DependsOn"] == ["ReporterLogGroup", "ReportsBucket"]
    _, version = only_version(template, "Reporter")
    assert version["Condition"] == "IsProd"
    assert resources["ReporterLambdaEvConf"]["Condition"] == "IsProd"
    assert template["Outputs"]["ReporterLambdaFunctionArn"]["Condition"] == "IsProd"
    assert template["Outputs"]["ReporterLambdaFunctionQualifiedArn"]["Condition"] == "IsProd"


@pytest.mark.parametrize(
    ("project", "where", "message"),
    [
        (
            "fn-image-function",
            "8:12: functions.packaged.image",
            "BaseGear does not compile container image functions yet",
        ),
        (
            "fn-unknown-destination",
            "11:18: functions.producer.destinations.onSuccess",
            "no function 'consumr' in this service; a destination is an ARN or the key of one "
            "of its functions (did you mean 'consumer'?)",
        ),
        (
            "fn-destination-unsupported-service",
            "11:18: functions.worker.destinations.onFailure",
            "a destination is a Lambda function, an SQS queue, an SNS topic or an EventBridge "
            "event bus (or, on failure only, an S3 bucket)",
        ),
        (
            "fn-vpc-without-subnets",
            "12:7: functions.worker.vpc",
            "a function in a VPC needs subnetIds",
        ),
        (
            "fn-tracing-typo",
            "10:14: functions.worker.tracing",
            "expected true, Active or PassThrough, got 'active'",
        ),
        (
            "fn-file-system-without-vpc",
            "11:7: functions.worker.fileSystemConfig",
            "a function mounts a file system only from a VPC: set vpc on the function or the "
            "provider",
        ),
        (
            "fn-snap-start-with-provisioned",
            "10:16: functions.worker.snapStart",
            "SnapStart does not support provisioned concurrency; remove one of the two",
        ),
    ],
)
def test_mistakes_are_located(
    project: str, where: str, message: str, only_problem: OnlyProblem
) -> None:
    assert str(only_problem(project)).endswith(f"{project}/serverless.yml:{where}: {message}")


# The algorithms example: this family's resources, for both stages.

FUNCTIONS = (
    "ObjectsDashprocessor",
    "StreamDashprocessor",
    "PackageDashstatus",
    "PackageDashdelete",
)


def test_example_functions(example: Template, example_stage: str) -> None:
    resources = example["Resources"]
    retention = 14 if example_stage == "dev" else 90
    for prefix in FUNCTIONS:
        assert resources[f"{prefix}LogGroup"]["Properties"]["RetentionInDays"] == retention
        function = resources[f"{prefix}LambdaFunction"]
        assert function["DependsOn"] == [f"{prefix}LogGroup"]
        assert function["Properties"]["Runtime"] == "python3.11"
        assert function["Properties"]["Role"] == SHARED_ROLE
        assert {"Key": "owner", "Value": "algorithms-team"} in function["Properties"]["Tags"]
        version_id, _ = only_version(example, prefix)
        qualified = example["Outputs"][f"{prefix}LambdaFunctionQualifiedArn"]
        assert qualified["Value"] == {"Ref": version_id}
    objects = resources["ObjectsDashprocessorLambdaFunction"]["Properties"]
    assert objects["FunctionName"] == f"algorithms-{example_stage}-objects-processor"
    assert objects["MemorySize"] == 256
    assert objects["Timeout"] == 30
    assert objects["ReservedConcurrentExecutions"] == 20
    assert objects["Layers"] == [
        {"Ref": "CustomLoggingLambdaLayer"},
        {"Ref": "SsmCacheLambdaLayer"},
    ]
    assert objects["Environment"]["Variables"]["MAX_PACKAGE_SIZE_PARAMETER"] == (
        f"/algorithms/{example_stage}/max-package-size-bytes"
    )
    assert objects["Environment"]["Variables"]["STAGE"] == example_stage
    stream = resources["StreamDashprocessorLambdaFunction"]["Properties"]
    assert stream["MemorySize"] == 128
    assert stream["Timeout"] == 120
    assert stream["Layers"] == [{"Ref": "CustomLoggingLambdaLayer"}]


def test_example_dead_letter_queue_is_created_and_wired(
    example: Template, example_stage: str
) -> None:
    resources = example["Resources"]
    assert resources["ObjectsDashprocessorDeadLetterQueue"] == {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": f"algorithms-{example_stage}-objects-processor-dlq",
            "DelaySeconds": 10,
            "MaximumMessageSize": 2048,
            "MessageRetentionPeriod": 86400,
            "ReceiveMessageWaitTimeSeconds": 5,
            "VisibilityTimeout": 300,
        },
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    }
    function = resources["ObjectsDashprocessorLambdaFunction"]["Properties"]
    assert function["DeadLetterConfig"] == {
        "TargetArn": {"Fn::GetAtt": ["ObjectsDashprocessorDeadLetterQueue", "Arn"]}
    }


def _artifacts(folder: Path, code: str = "code", layer: str = "layer") -> Artifacts:
    folder.mkdir(parents=True, exist_ok=True)
    return Artifacts(
        functions={"worker": zip_artifact(folder / "worker.zip", code)},
        layers={"shared": zip_artifact(folder / "shared.zip", layer)},
    )


def _compile_versions(artifacts: Artifacts, **params: str) -> Template:
    loaded = load_service(PROJECTS / "fn-versions", Options(stage="dev", params=params), environ={})
    return compile_service(loaded, artifacts)
