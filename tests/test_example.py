"""The algorithms example (DESIGN.md, "The example that must always work") reads as described,
for both of its stages."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from basegear.config.service import LoadedService, load_service
from basegear.config.variables import Options
from basegear.model import Service

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "algorithms"
STAGES = ("dev", "prod")
IMPORT = "algorithms-static-{stage}-{name}"


@cache
def loaded(stage: str) -> LoadedService:
    # No ALGORITHMS_OWNER in the environment: the example's .env must supply it.
    return load_service(EXAMPLE, Options(stage=stage), environ={})


def model(stage: str) -> Service:
    return loaded(stage).model


def imported(stage: str, name: str) -> dict[str, str]:
    return {"Fn::ImportValue": IMPORT.format(stage=stage, name=name)}


def logical_id(key: str, suffix: str) -> str:
    """The Serverless Framework's logical ID: first letter upper-cased, ``-`` spelt ``Dash``
    and ``_`` spelt ``Underscore`` (``package-delete`` → ``PackageDashdeleteLambdaFunction``)."""
    name = key.replace("-", "Dash").replace("_", "Underscore")
    return name[:1].upper() + name[1:] + suffix


# --- the whole service ------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_validates_without_warnings(stage: str) -> None:
    service = loaded(stage)
    assert service.warnings == ()
    assert service.model.service == "algorithms"
    assert service.model.stage == stage
    assert service.model.provider.region == "eu-west-1"
    assert service.model.provider.runtime == "python3.11"
    assert set(service.model.functions) == {
        "objects-processor",
        "stream-processor",
        "package-status",
        "package-delete",
    }


@pytest.mark.parametrize("stage", STAGES)
def test_gear_validate_and_print(stage: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ALGORITHMS_OWNER"}
    command = (sys.executable, "-m", "basegear")
    validate = subprocess.run(
        [*command, "validate", str(EXAMPLE), "--stage", stage],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert validate.returncode == 0, validate.stderr
    assert validate.stderr == ""
    assert f"(stage {stage}, region eu-west-1): 4 functions, 1 state machine, " in validate.stdout
    printed = subprocess.run(
        [*command, "print", "--stage", stage, "--format", "json"],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    data = json.loads(printed.stdout)
    assert data["provider"]["stage"] == stage
    assert data["provider"]["tags"]["owner"] == "algorithms-team"
    assert data["stepFunctions"]["stateMachines"]["packageDelete"]["name"] == (
        f"PackageDelete-{stage}"
    )


def test_owner_comes_from_dotenv_unless_already_set() -> None:
    assert model("dev").provider.tags == {
        "service": "algorithms",
        "stage": "dev",
        "owner": "algorithms-team",
    }
    # Variables set in the environment win over .env (Serverless Framework v3, "Resolution
    # of environment variables").
    own = load_service(EXAMPLE, Options(stage="dev"), environ={"ALGORITHMS_OWNER": "ops"})
    assert own.model.provider.tags["owner"] == "ops"


def test_default_stage_is_dev() -> None:
    default = load_service(EXAMPLE, Options(), environ={})
    assert default.model.stage == "dev"
    assert default.model.provider.region == "eu-west-1"


# --- functions --------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_objects_processor(stage: str) -> None:
    function = model(stage).functions["objects-processor"]
    assert function.memory_size == 256
    assert function.reserved_concurrency == 20
    assert function.timeout == 30
    assert function.layers == [{"Ref": "CustomLoggingLambdaLayer"}, {"Ref": "SsmCacheLambdaLayer"}]
    assert function.dead_letter is not None
    queue = function.dead_letter.sqs
    assert queue is not None
    assert queue.queue_name == f"algorithms-{stage}-objects-processor-dlq"
    assert queue.delay_seconds == 10
    assert queue.maximum_message_size == 2048
    assert queue.message_retention_period == 86400
    assert queue.receive_message_wait_time_seconds == 5
    assert queue.visibility_timeout == 300
    [event] = function.events
    assert event.kind == "s3"
    assert event.s3 is not None
    assert event.s3.bucket == imported(stage, "PackagesBucketName")
    assert event.s3.event == "s3:ObjectCreated:*"
    assert event.s3.existing is True
    assert [(rule.prefix, rule.suffix) for rule in event.s3.rules or []] == [
        ("packages/", None),
        (None, ".zip"),
    ]


@pytest.mark.parametrize(("stage", "batch_size"), [("dev", 10), ("prod", 50)])
def test_stream_processor(stage: str, batch_size: int) -> None:
    function = model(stage).functions["stream-processor"]
    assert function.timeout == 120
    assert function.layers == [{"Ref": "CustomLoggingLambdaLayer"}]
    assert function.environment == {
        "ALGORITHM_FUNCTION_PREFIX": f"algorithm-{stage}-",
        "ALGORITHM_ALIAS": "prod",
    }
    [event] = function.events
    stream = event.stream
    assert stream is not None
    assert stream.type == "dynamodb"
    assert stream.arn == imported(stage, "UploadsTableStreamArn")
    assert stream.batch_size == batch_size
    assert stream.batch_window == 3
    assert stream.maximum_retry_attempts == 10
    assert stream.starting_position == "LATEST"
    assert stream.bisect_batch_on_function_error is True
    assert stream.function_response_type == "ReportBatchItemFailures"
    assert stream.destinations is not None
    on_failure = stream.destinations.on_failure
    assert on_failure.type == "sqs"
    assert on_failure.arn == {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]}
    assert stream.filter_patterns == [
        {
            "eventName": ["INSERT", "MODIFY"],
            "dynamodb": {"NewImage": {"status": {"S": ["UPLOADED"]}}},
        }
    ]


def test_handlers_exist() -> None:
    for key, function in model("dev").functions.items():
        assert function.handler is not None, key
        module, _, name = function.handler.rpartition(".")
        source = EXAMPLE / f"{module}.py"
        assert source.is_file(), f"{key}: {source} is missing"
        tree = ast.parse(source.read_text())
        defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in defined, f"{key}: {source} defines no {name}()"


# --- per-stage parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "retention", "log_level", "errors_threshold", "throttle", "failure_retention"),
    [
        ("dev", 14, "DEBUG", 1, {"rateLimit": 10, "burstLimit": 20}, 345600),
        ("prod", 90, "INFO", 5, {"rateLimit": 50, "burstLimit": 100}, 1209600),
    ],
)
def test_stage_parameters(
    stage: str,
    retention: int,
    log_level: str,
    errors_threshold: int,
    throttle: dict[str, int],
    failure_retention: int,
) -> None:
    service = model(stage)
    provider = service.provider
    assert provider.log_retention_in_days == retention
    assert provider.environment == {
        "STAGE": stage,
        "LOG_LEVEL": log_level,
        "UPLOADS_TABLE": imported(stage, "UploadsTableName"),
        "PACKAGES_BUCKET": imported(stage, "PackagesBucketName"),
    }
    [key] = provider.api_gateway.api_keys
    assert not isinstance(key, dict)
    assert key.name == f"algorithms-{stage}-key"
    assert key.value is not None and key.value.startswith(f"algorithms-{stage}-")
    assert provider.api_gateway.usage_plan == {"throttle": throttle}
    resources = service.resources.Resources
    assert resources["PackageDeleteLogGroup"].Properties["RetentionInDays"] == retention
    assert resources["StreamFailureQueue"].Properties == {
        "QueueName": f"algorithms-{stage}-stream-failures",
        "MessageRetentionPeriod": failure_retention,
        "SqsManagedSseEnabled": True,
    }
    alerts = service.custom.alerts
    assert alerts is not None
    assert alerts.definitions["functionErrors"].threshold == errors_threshold


# --- the PackageDelete state machine ----------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_package_delete_state_machine(stage: str) -> None:
    service = model(stage)
    assert service.step_functions is not None
    assert service.step_functions.validate_ is True
    machine = service.step_functions.state_machines["packageDelete"]
    assert machine.name == f"PackageDelete-{stage}"
    assert machine.id == "PackageDeleteStateMachine"
    assert machine.type == "STANDARD"
    [event] = machine.events
    http = event.http
    assert http is not None
    assert (http.method, http.path, http.private, http.action) == (
        "DELETE",
        "v1/algorithm",
        True,
        "StartExecution",
    )
    assert http.request is not None
    assert isinstance(http.request.template, dict)
    template = http.request.template["application/json"]
    assert f":stateMachine:PackageDelete-{stage}" in template
    assert "$input.params('algorithmId')" in template
    assert "$input.params('uploadVersion')" in template
    assert http.responses is not None
    patterns = {
        response.status_code: response.selection_pattern for response in http.responses.values()
    }
    assert patterns == {200: "", 400: r"[45]\d{2}"}
    assert machine.alarms is not None
    assert machine.alarms.topics == {
        "alarm": f"arn:aws:sns:#{{AWS::Region}}:#{{AWS::AccountId}}:algorithms-{stage}-alerts"
    }
    assert [metric.metric for metric in machine.alarms.metrics] == [
        "executionsTimedOut",
        "executionsFailed",
        "executionsAborted",
        "executionThrottled",
    ]
    assert machine.logging_config is not None
    assert machine.logging_config.level == "ERROR"
    assert machine.logging_config.destinations == [{"Fn::GetAtt": ["PackageDeleteLogGroup", "Arn"]}]


def test_package_delete_loops_until_the_package_is_gone() -> None:
    service = model("dev")
    assert service.step_functions is not None
    definition = service.step_functions.state_machines["packageDelete"].definition
    states: dict[str, Any] = definition["States"]
    assert definition["StartAt"] == "DeletePackage"
    assert definition["TimeoutSeconds"] == 900
    # Task → Wait → Task → Choice, and back to Wait until the status says DELETED.
    assert states["DeletePackage"]["Type"] == "Task"
    assert states["DeletePackage"]["Next"] == "WaitForDeletion"
    assert states["WaitForDeletion"] == {
        "Type": "Wait",
        "Seconds": 5,
        "Next": "CheckPackageStatus",
    }
    assert states["CheckPackageStatus"]["Next"] == "IsPackageGone"
    choice = states["IsPackageGone"]
    assert choice["Type"] == "Choice"
    assert choice["Default"] == "WaitForDeletion"
    assert choice["Choices"] == [
        {"Variable": "$.packageStatus.status", "StringEquals": "DELETED", "Next": "PackageDeleted"}
    ]
    assert states["PackageDeleted"] == {"Type": "Succeed"}
    # Each task names a function of this service by its logical ID.
    for state, key in (
        ("DeletePackage", "package-delete"),
        ("CheckPackageStatus", "package-status"),
    ):
        assert key in service.functions
        assert states[state]["Resource"] == {
            "Fn::GetAtt": [logical_id(key, "LambdaFunction"), "Arn"]
        }


# --- alarms, layers, resources ----------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_alarms(stage: str) -> None:
    service = model(stage)
    alerts = service.custom.alerts
    assert alerts is not None
    assert alerts.stages == ["dev", "prod"]
    assert alerts.alarms == [
        "functionErrors",
        "functionThrottles",
        "functionInvocations",
        "functionDuration",
    ]
    topic = alerts.topics["alarm"]
    assert not isinstance(topic, dict)
    assert topic.topic == f"algorithms-{stage}-alerts"
    custom = alerts.definitions["durationAlarm"]
    assert (custom.namespace, custom.metric, custom.statistic) == (
        "AWS/Lambda",
        "Duration",
        "Maximum",
    )
    assert custom.name_template == "$[functionName]-MaxDuration-Alarm"
    thresholds = {}
    for key in ("objects-processor", "stream-processor"):
        [alarm] = service.functions[key].alarms
        assert not isinstance(alarm, str)
        assert alarm.name == "durationAlarm"
        thresholds[key] = alarm.threshold
    assert thresholds == {"objects-processor": 20000, "stream-processor": 90000}
    queue_alarm = service.resources.Resources["StreamFailureQueueAlarm"]
    assert queue_alarm.Type == "AWS::CloudWatch::Alarm"
    assert queue_alarm.Properties["AlarmActions"] == [{"Ref": "AwsAlertsAlarm"}]


@pytest.mark.parametrize("stage", STAGES)
def test_layers(stage: str) -> None:
    service = model(stage)
    # layer key → (folder under layers/, Python package inside it)
    expected = {
        "customLogging": ("custom-logging", "custom_logging"),
        "ssmCache": ("ssm-cache", "ssm_cache"),
    }
    assert set(service.layers) == set(expected)
    for key, layer in service.layers.items():
        folder, package = expected[key]
        assert layer.path == f"layers/{folder}"
        assert layer.name == f"algorithms-{stage}-{folder}"
        assert layer.compatible_runtimes == ["python3.11"]
        assert (EXAMPLE / layer.path / "python" / package / "__init__.py").is_file()
    # Functions refer to layers by the logical IDs the Framework gives them.
    references = {
        reference["Ref"]
        for function in service.functions.values()
        for reference in function.layers or []
    }
    assert references == {logical_id(key, "LambdaLayer") for key in service.layers}


@pytest.mark.parametrize("stage", STAGES)
def test_resources_merged_from_their_files(stage: str) -> None:
    service = loaded(stage)
    resources = service.model.resources
    assert {name: resource.Type for name, resource in resources.Resources.items()} == {
        "StreamFailureQueue": "AWS::SQS::Queue",
        "PackageDeleteLogGroup": "AWS::Logs::LogGroup",
        "StreamFailureQueueAlarm": "AWS::CloudWatch::Alarm",
    }
    assert {name: output["Export"]["Name"] for name, output in resources.Outputs.items()} == {
        "StreamFailureQueueUrl": f"algorithms-{stage}-StreamFailureQueueUrl",
        "AlertsTopicArn": f"algorithms-{stage}-AlertsTopicArn",
    }
    # Each merged resource is still located in the file it came from.
    for name, file in (
        ("StreamFailureQueue", "queues.yml"),
        ("PackageDeleteLogGroup", "logs.yml"),
        ("StreamFailureQueueAlarm", "alarms.yml"),
    ):
        where = service.document.location(("resources", "Resources", name))
        assert where is not None
        assert Path(where.file).parts[-2:] == ("resources", file)
    where = service.document.location(("resources", "Outputs", "AlertsTopicArn"))
    assert where is not None
    assert Path(where.file).name == "outputs.yml"


@pytest.mark.parametrize(("stage", "protected"), [("dev", False), ("prod", True)])
def test_static_stack(stage: str, protected: bool) -> None:
    static = load_service(EXAMPLE / "static", Options(stage=stage), environ={})
    assert static.warnings == ()
    resources = static.model.resources.Resources
    assert set(resources) == {"UploadsTable", "PackagesBucket"}
    for resource in resources.values():
        assert (resource.DeletionPolicy, resource.UpdateReplacePolicy) == ("Retain", "Retain")
    table = resources["UploadsTable"].Properties
    assert table["TableName"] == f"algorithms-uploads-{stage}"
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": protected}
    assert table["DeletionProtectionEnabled"] is protected
    # Every value the service imports is exported by the static stack.
    exports = {output["Export"]["Name"] for output in static.model.resources.Outputs.values()}
    service_imports = _imports(loaded(stage).data)
    assert service_imports
    assert service_imports <= exports


def _imports(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"Fn::ImportValue"} and isinstance(node["Fn::ImportValue"], str):
            return {node["Fn::ImportValue"]}
        return {name for value in node.values() for name in _imports(value)}
    if isinstance(node, list):
        return {name for value in node for name in _imports(value)}
    return set()
