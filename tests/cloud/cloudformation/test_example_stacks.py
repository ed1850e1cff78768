"""The algorithms example deployed as `gear deploy` will deploy it: its static stack first (for
its exports), then the service's core stack (the deployment bucket), the artifacts uploaded
there, and the compiled template deployed through a change set — every resource type the
example's template holds, including the Custom::S3 notification resource whose inline Python
function answers at the ResponseURL."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from cfn_helpers import Cloud

from basegear.build import Build, build
from basegear.config.service import load_service
from basegear.config.variables import Options

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "algorithms"


def _build(folder: Path, out: Path) -> Build:
    return build(load_service(folder, Options(stage="dev"), environ={}), out)


def _deploy(cloud: Cloud, name: str, kind: str, **template: Any) -> dict[str, Any]:
    change_set = cloud.cfn.create_change_set(
        StackName=name,
        ChangeSetName=f"deploy-{int(time.time() * 1000)}",
        ChangeSetType=kind,
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        **template,
    )
    cloud.cfn.get_waiter("change_set_create_complete").wait(
        ChangeSetName=change_set["Id"], WaiterConfig={"Delay": 1}
    )
    cloud.cfn.execute_change_set(ChangeSetName=change_set["Id"])
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    cloud.cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return cloud.describe(name)


def _s3_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["S3Key"]} if isinstance(value.get("S3Key"), str) else set()
        return found.union(*(_s3_keys(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_s3_keys(item) for item in value))
    return set()


def test_the_example_deploys_with_its_static_stack(cloud: Cloud, tmp_path: Path) -> None:
    static = _build(EXAMPLE / "static", tmp_path / "static")
    service = _build(EXAMPLE, tmp_path / "service")
    started = time.monotonic()

    _deploy(cloud, "algorithms-static-dev", "CREATE", TemplateBody=json.dumps(static.template))
    full = service.template
    core = {
        "Resources": {
            "ServerlessDeploymentBucket": full["Resources"]["ServerlessDeploymentBucket"]
        },
        "Outputs": {
            "ServerlessDeploymentBucketName": full["Outputs"]["ServerlessDeploymentBucketName"]
        },
    }
    _deploy(cloud, "algorithms-dev", "CREATE", TemplateBody=json.dumps(core))
    bucket = cloud.outputs("algorithms-dev")["ServerlessDeploymentBucketName"]
    s3 = cloud.client("s3")
    for key in _s3_keys(full):
        zipped = next((tmp_path / "service").rglob(key.rsplit("/", 1)[1]))
        s3.put_object(Bucket=bucket, Key=key, Body=zipped.read_bytes())
    s3.put_object(Bucket=bucket, Key="template.json", Body=json.dumps(full).encode())
    url = f"{cloud.gateway.clients.endpoint_url}/{bucket}/template.json"
    stack = _deploy(cloud, "algorithms-dev", "UPDATE", TemplateURL=url)
    elapsed = time.monotonic() - started

    assert stack["StackStatus"] == "UPDATE_COMPLETE", cloud.events("algorithms-dev")
    resources = cloud.cfn.list_stack_resources(StackName="algorithms-dev")
    types = {item["ResourceType"] for item in resources["StackResourceSummaries"]}
    assert types == {resource["Type"] for resource in full["Resources"].values()}
    assert all(
        item["ResourceStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        for item in resources["StackResourceSummaries"]
    )
    outputs = cloud.outputs("algorithms-dev")
    assert outputs["ObjectsDashprocessorLambdaFunctionQualifiedArn"].endswith(
        ":function:algorithms-dev-objects-processor:1"
    )
    packages = cloud.outputs("algorithms-static-dev")["PackagesBucketName"]
    notifications = s3.get_bucket_notification_configuration(Bucket=packages)
    (configured,) = notifications["LambdaFunctionConfigurations"]
    assert configured["LambdaFunctionArn"].endswith(":function:algorithms-dev-objects-processor")
    (mapping,) = [
        item
        for item in cloud.gateway.mappings.list()
        if item["FunctionArn"].endswith(":function:algorithms-dev-stream-processor")
    ]
    assert (
        mapping["EventSourceArn"] == cloud.outputs("algorithms-static-dev")["UploadsTableStreamArn"]
    )
    assert (mapping["BatchSize"], mapping["StartingPosition"]) == (10, "LATEST")
    lambdas = cloud.client("lambda")
    listed = lambdas.list_event_source_mappings(FunctionName="algorithms-dev-stream-processor")
    assert [item["UUID"] for item in listed["EventSourceMappings"]] == [mapping["UUID"]]
    alarm_names = [
        item["PhysicalResourceId"]
        for item in resources["StackResourceSummaries"]
        if item["ResourceType"] == "AWS::CloudWatch::Alarm"
    ]
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    assert len(alarms) == len(alarm_names) == 23
    print(f"deployed the algorithms example (static + core + service) in {elapsed:.2f} s")
    assert elapsed < 30
