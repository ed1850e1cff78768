"""``gear deploy`` of the algorithms example into the local cloud, checked through boto3: the
stacks and their outputs, the deployment bucket, a redeploy with no change and one with a
change."""

from __future__ import annotations

import json
import time
from pathlib import Path

from deploy_helpers import EXAMPLE, REGION, Algorithms, deploy

from basegear.deploy.upload import TEMPLATE_NAME


def test_the_static_stack_then_the_service_deploy(algorithms: Algorithms) -> None:
    static, service = algorithms.static, algorithms.service
    cfn = algorithms.client("cloudformation")

    assert (static.stack_name, static.outcome) == ("algorithms-static-dev", "created")
    assert (service.stack_name, service.outcome) == ("algorithms-dev", "created")
    for name in (static.stack_name, service.stack_name):
        (stack,) = cfn.describe_stacks(StackName=name)["Stacks"]
        assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert algorithms.table == "algorithms-uploads-dev"
    assert service.outputs["ObjectsDashprocessorLambdaFunctionArn"] == (
        f"arn:aws:lambda:{REGION}:123456789012:function:algorithms-dev-objects-processor"
    )
    assert service.outputs["PackageDeleteStateMachineArn"].endswith(":PackageDelete-dev")
    assert all(
        item["ResourceStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        for item in service.resources
    )
    functions = algorithms.client("lambda").list_functions()["Functions"]
    names = {item["FunctionName"] for item in functions}
    assert {
        "algorithms-dev-objects-processor",
        "algorithms-dev-stream-processor",
        "algorithms-dev-package-status",
        "algorithms-dev-package-delete",
    } <= names
    print(f"deployed static in {static.seconds:.2f} s, service in {service.seconds:.2f} s")


def test_the_deployment_bucket_holds_the_zips_and_the_template(algorithms: Algorithms) -> None:
    bucket = algorithms.service.outputs["ServerlessDeploymentBucketName"]
    listed = algorithms.client("s3").list_objects_v2(Bucket=bucket)["Contents"]
    keys = [item["Key"] for item in listed]

    assert sorted(key.rsplit("/", 1)[1] for key in keys) == sorted(
        ["algorithms.zip", "customLogging.zip", "ssmCache.zip", TEMPLATE_NAME]
    )
    assert all(key.startswith("basegear/algorithms/dev/") for key in keys)
    policy = json.loads(algorithms.client("s3").get_bucket_policy(Bucket=bucket)["Policy"])
    (condition,) = policy["Statement"][0]["Condition"]["Bool"].values()
    assert str(condition).lower() == "false"


def test_the_stream_mapping_is_listed_by_the_lambda_api(algorithms: Algorithms) -> None:
    listed = algorithms.client("lambda").list_event_source_mappings(
        FunctionName="algorithms-dev-stream-processor"
    )["EventSourceMappings"]

    (mapping,) = listed
    assert mapping["EventSourceArn"] == algorithms.static.outputs["UploadsTableStreamArn"]
    assert (mapping["StartingPosition"], mapping["BatchSize"]) == ("LATEST", 10)
    got = algorithms.client("lambda").get_event_source_mapping(UUID=mapping["UUID"])
    assert got["FunctionArn"] == mapping["FunctionArn"]


def test_a_second_deploy_changes_nothing(algorithms: Algorithms, tmp_path: Path) -> None:
    cfn = algorithms.client("cloudformation")
    before = cfn.describe_stacks(StackName="algorithms-dev")["Stacks"][0]
    started = time.monotonic()

    again = deploy(algorithms.cloud, EXAMPLE, tmp_path / "again")

    assert again.outcome == "unchanged" and again.changes == ()
    after = cfn.describe_stacks(StackName="algorithms-dev")["Stacks"][0]
    assert after["LastUpdatedTime"] == before["LastUpdatedTime"]
    summaries = cfn.list_change_sets(StackName="algorithms-dev")["Summaries"]
    assert [item for item in summaries if item["Status"] == "FAILED"] == []
    assert time.monotonic() - started < 3


def test_a_changed_setting_modifies_the_functions_in_place(
    algorithms: Algorithms, tmp_path: Path
) -> None:
    changed = deploy(algorithms.cloud, EXAMPLE, tmp_path / "info", params={"logLevel": "INFO"})

    assert changed.outcome == "updated"
    kinds = {change.logical_id: change.kind for change in changed.changes}
    assert kinds["PackageDashstatusLambdaFunction"] == "modify"
    # Only the S3 permission may be replaced: its FunctionName is a Ref whose value CloudFormation
    # knows at execution only (Replacement: Conditional).
    replaced = {change.resource_type for change in changed.changes if change.kind == "replace"}
    assert replaced <= {"AWS::Lambda::Permission"}
    configuration = algorithms.client("lambda").get_function_configuration(
        FunctionName="algorithms-dev-package-status"
    )
    assert configuration["Environment"]["Variables"]["LOG_LEVEL"] == "INFO"
    back = deploy(algorithms.cloud, EXAMPLE, tmp_path / "debug")
    assert back.outcome == "updated"
