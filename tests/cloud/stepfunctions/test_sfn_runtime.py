"""Step Functions on the local cloud through boto3: a Task → Wait → Choice loop on the manual
clock, StartSyncExecution, execution history, the AWS/States metrics, the example's
PackageDelete state machine with stub handlers, and the interpreter's speed."""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from basegear.cloud.clock import VirtualClock
from basegear.cloud.motoshim import stepfunctions as shim
from basegear.cloud.stepfunctions import StepFunctionsProvider, settled
from basegear.cloud.stepfunctions.choice import string_matches
from basegear.cloud.stepfunctions.intrinsics import ESCAPABLE, prepare, render_format
from basegear.testing import CloudClients

EXAMPLE = Path(__file__).parents[3] / "examples" / "algorithms"
TIMEOUT = 10.0

COUNTER = """
def handler(event, context):
    n = event.get("n", 0) + 1
    return {"n": n, "rounds": event["rounds"], "done": n >= event["rounds"]}
"""


@pytest.fixture(scope="module")
def cloud(local_cloud: CloudClients) -> Iterator[CloudClients]:
    """The session's cloud with Step Functions on its clock (as StandardServices wires it)."""
    services = local_cloud.services
    assert services is not None
    shim.install_clock(services.clock, services.lambdas.sink)
    provider = StepFunctionsProvider()
    local_cloud.cloud.add_provider(provider)
    try:
        yield local_cloud
    finally:
        local_cloud.cloud.remove_provider(provider)
        shim.uninstall_clock(services.clock)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def role(cloud: CloudClients) -> str:
    iam = cloud.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="sfn-runtime", AssumeRolePolicyDocument="{}")
    return str(iam.get_role(RoleName="sfn-runtime")["Role"]["Arn"])


def function(cloud: CloudClients, name: str, source: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    created = cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role(cloud),
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    return str(created["FunctionArn"])


def machine(cloud: CloudClients, definition: dict[str, Any], **options: Any) -> str:
    created = cloud.client("stepfunctions").create_state_machine(
        name=unique("sfn"), definition=json.dumps(definition), roleArn=role(cloud), **options
    )
    return str(created["stateMachineArn"])


def finished(sfn: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.005)


def events(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def count(sfn: Any, execution_arn: str, event_type: str) -> int:
    return sum(1 for event in events(sfn, execution_arn) if event["type"] == event_type)


def loop_definition(task_arn: str, wait: int = 30) -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": task_arn, "Next": "Hold"},
            "Hold": {"Type": "Wait", "Seconds": wait, "Next": "Enough"},
            "Enough": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Done"}],
                "Default": "Work",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def test_a_task_wait_choice_loop_moves_only_with_the_clock(
    cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    task = function(cloud, unique("sfn-counter"), COUNTER)
    sfn = cloud.client("stepfunctions")
    arn = machine(cloud, loop_definition(task))
    execution = sfn.start_execution(stateMachineArn=arn, input='{"rounds": 4}')["executionArn"]

    assert settled(TIMEOUT)
    time.sleep(0.05)  # real time passes; the manual clock does not
    assert count(sfn, execution, "WaitStateExited") == 0
    manual_clock.advance(29)
    assert settled(TIMEOUT)
    assert count(sfn, execution, "WaitStateExited") == 0
    manual_clock.advance(1)
    assert settled(TIMEOUT)
    assert count(sfn, execution, "WaitStateExited") == 1
    manual_clock.advance(60)  # two more waits fall within these 60 s, and only two
    assert settled(TIMEOUT)
    assert count(sfn, execution, "WaitStateExited") == 3
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
    manual_clock.advance(30)
    described = finished(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"n": 4, "rounds": 4, "done": True}
    # Start and stop dates are the execution's time: four waits of 30 s.
    assert described["stopDate"] - described["startDate"] == timedelta(seconds=120)


def test_the_history_records_each_step_in_order(
    cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    task = function(cloud, unique("sfn-history"), COUNTER)
    sfn = cloud.client("stepfunctions")
    arn = machine(cloud, loop_definition(task, wait=10))
    execution = sfn.start_execution(stateMachineArn=arn, input='{"rounds": 1}')["executionArn"]
    assert settled(TIMEOUT)
    manual_clock.advance(10)
    assert finished(sfn, execution)["status"] == "SUCCEEDED"

    history = events(sfn, execution)
    assert [event["type"] for event in history] == [
        "ExecutionStarted",
        "TaskStateEntered",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "LambdaFunctionSucceeded",
        "TaskStateExited",
        "WaitStateEntered",
        "WaitStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [event["id"] for event in history] == list(range(1, len(history) + 1))
    # Each event names the one it follows; the first state's entry follows none (0), as AWS
    # records it.
    assert all(0 <= event["previousEventId"] < event["id"] for event in history)
    entered, exited = (e["timestamp"] for e in history if e["type"].startswith("WaitState"))
    assert exited - entered == timedelta(seconds=10)
    scheduled = next(e for e in history if e["type"] == "LambdaFunctionScheduled")
    assert scheduled["lambdaFunctionScheduledEventDetails"]["resource"] == task
    assert json.loads(history[-1]["executionSucceededEventDetails"]["output"])["n"] == 1


# Step Functions API reference, GetExecutionHistory: at most maxResults events a call (default
# 100, at most 1,000), nextToken while more remain, reverseOrder, includeExecutionData.
def test_the_history_comes_in_pages_of_100_by_default(cloud: CloudClients) -> None:
    sfn = cloud.client("stepfunctions")
    counting = {
        "StartAt": "Count",
        "States": {
            "Count": {
                "Type": "Pass",
                "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                "Next": "Done?",
            },
            "Done?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.n", "NumericGreaterThanEquals": 60, "Next": "End"}],
                "Default": "Count",
            },
            "End": {"Type": "Succeed"},
        },
    }
    execution = sfn.start_execution(stateMachineArn=machine(cloud, counting), input='{"n": 0}')
    arn = execution["executionArn"]
    assert finished(sfn, arn)["status"] == "SUCCEEDED"

    whole = sfn.get_execution_history(executionArn=arn, maxResults=1000)
    assert len(whole["events"]) == 244 and "nextToken" not in whole
    first = sfn.get_execution_history(executionArn=arn)
    assert first["events"] == whole["events"][:100] and first["nextToken"]
    assert events(sfn, arn) == whole["events"]
    newest = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3)
    assert newest["events"] == whole["events"][-1:-4:-1]
    bare = sfn.get_execution_history(executionArn=arn, includeExecutionData=False)["events"]
    assert "input" not in bare[0]["executionStartedEventDetails"]
    assert bare[0]["executionStartedEventDetails"]["roleArn"] == role(cloud)

    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
    with pytest.raises(sfn.exceptions.InvalidToken):  # a token of the other order
        sfn.get_execution_history(executionArn=arn, reverseOrder=True, nextToken=first["nextToken"])
    with pytest.raises(sfn.exceptions.ClientError, match="ValidationException"):
        sfn.get_execution_history(executionArn=arn, maxResults=1001)


def test_an_execution_without_a_name_gets_a_uuid(cloud: CloudClients) -> None:
    sfn = cloud.client("stepfunctions")
    arn = machine(cloud, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    assert first != second
    name = sfn.describe_execution(executionArn=first)["name"]
    assert str(uuid.UUID(name)) == name and first.endswith(f":{name}")
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.start_execution(stateMachineArn=arn, name="has space")


def sync_client(cloud: CloudClients) -> Any:
    # StartSyncExecution's host prefix ("sync-") does not resolve for 127.0.0.1.
    return cloud.client("stepfunctions", inject_host_prefix=False)


def test_start_sync_execution_answers_with_the_outcome(cloud: CloudClients) -> None:
    sfn = sync_client(cloud)
    express = machine(
        cloud,
        {
            "StartAt": "Greet",
            "States": {
                "Greet": {
                    "Type": "Pass",
                    "Parameters": {"greeting.$": "States.Format('Hello, {}!', $.who)"},
                    "Next": "Check",
                },
                "Check": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.greeting", "StringMatches": "*Nobody*", "Next": "No"}
                    ],
                    "Default": "Yes",
                },
                "Yes": {"Type": "Succeed"},
                "No": {"Type": "Fail", "Error": "NoOne", "Cause": "nobody to greet"},
            },
        },
        type="EXPRESS",
    )
    answer = sfn.start_sync_execution(stateMachineArn=express, input='{"who": "Ada"}')
    assert answer["status"] == "SUCCEEDED"
    assert json.loads(answer["output"]) == {"greeting": "Hello, Ada!"}
    assert answer["input"] == '{"who":"Ada"}'
    assert ":express:" in answer["executionArn"] and answer["stateMachineArn"] == express
    assert answer["billingDetails"]["billedDurationInMilliseconds"] >= 100

    failed = sfn.start_sync_execution(stateMachineArn=express, input='{"who": "Nobody"}')
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "NoOne",
        "nobody to greet",
    )
    assert "output" not in failed

    standard = machine(cloud, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.start_sync_execution(stateMachineArn=standard)


def metric_sum(cloud: CloudClients, name: str, machine_arn: str, now: float) -> float:
    services = cloud.services
    assert services is not None
    services.lambdas.sink.flush()
    statistics = cloud.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/States",
        MetricName=name,
        Dimensions=[{"Name": "StateMachineArn", "Value": machine_arn}],
        StartTime=now - 3600,
        EndTime=now + 3600,
        Period=86400,
        Statistics=["Sum"],
    )
    return float(sum(point["Sum"] for point in statistics["Datapoints"]))


def test_executions_report_the_aws_states_metrics(
    cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    sfn = cloud.client("stepfunctions")
    arn = machine(
        cloud,
        {
            "TimeoutSeconds": 100,
            "StartAt": "Route",
            "States": {
                "Route": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.end", "StringEquals": "fail", "Next": "Fail"},
                        {"Variable": "$.end", "StringEquals": "wait", "Next": "Hold"},
                    ],
                    "Default": "Hold20",
                },
                "Hold20": {"Type": "Wait", "Seconds": 20, "End": True},
                "Hold": {"Type": "Wait", "Seconds": 500, "End": True},
                "Fail": {"Type": "Fail", "Error": "Asked", "Cause": "asked to fail"},
            },
        },
    )
    now = manual_clock.now()
    succeeded = sfn.start_execution(stateMachineArn=arn, input='{"end": "ok"}')["executionArn"]
    failed = sfn.start_execution(stateMachineArn=arn, input='{"end": "fail"}')["executionArn"]
    timed_out = sfn.start_execution(stateMachineArn=arn, input='{"end": "wait"}')["executionArn"]
    aborted = sfn.start_execution(stateMachineArn=arn, input='{"end": "wait"}')["executionArn"]
    assert settled(TIMEOUT)
    sfn.stop_execution(executionArn=aborted, error="Stopped", cause="by the test")
    assert finished(sfn, aborted)["status"] == "ABORTED"
    manual_clock.advance(20)
    assert finished(sfn, succeeded)["status"] == "SUCCEEDED"
    assert finished(sfn, failed)["status"] == "FAILED"
    assert settled(TIMEOUT)
    manual_clock.advance(80)
    assert finished(sfn, timed_out)["status"] == "TIMED_OUT"

    def total(name: str) -> float:
        return metric_sum(cloud, name, arn, now)

    assert total("ExecutionsStarted") == 4
    assert total("ExecutionsSucceeded") == 1
    assert total("ExecutionsFailed") == 1
    assert total("ExecutionsTimedOut") == 1
    assert total("ExecutionsAborted") == 1
    # ExecutionTime, in ms of the executions' time: 20 s, 0 s, 100 s and the abort at once.
    assert total("ExecutionTime") == pytest.approx(120_000, abs=50)


def package_delete_definition(delete_arn: str, status_arn: str) -> dict[str, Any]:
    """The example's PackageDelete definition with its two functions' ARNs in place of
    ``Fn::GetAtt`` (what CloudFormation resolves)."""
    definition = yaml.safe_load((EXAMPLE / "statemachines" / "package-delete.yml").read_text())
    arns = {
        "PackageDashdeleteLambdaFunction": delete_arn,
        "PackageDashstatusLambdaFunction": status_arn,
    }
    for state in definition["States"].values():
        resource = state.get("Resource")
        if isinstance(resource, dict):
            state["Resource"] = arns[resource["Fn::GetAtt"][0]]
    return dict(definition)


PACKAGE_DELETE = """
class PackageNotFound(Exception):
    pass

def handler(event, context):
    if event["algorithmId"].startswith("missing"):
        raise PackageNotFound("no upload record for " + event["algorithmId"])
    return {"deleting": event["algorithmId"]}
"""

PACKAGE_STATUS = """
import os

def handler(event, context):
    # Gone on the third check: the objects are deleted in the background.
    marker = os.path.join("/tmp", "checks-" + event["algorithmId"])
    checks = (int(open(marker).read()) if os.path.exists(marker) else 0) + 1
    open(marker, "w").write(str(checks))
    return {"status": "DELETED" if checks >= 3 else "DELETING", "checks": checks}
"""


def test_the_examples_package_delete_loop_runs_with_stub_handlers(
    cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    delete_arn = function(cloud, unique("package-delete"), PACKAGE_DELETE)
    status_arn = function(cloud, unique("package-status"), PACKAGE_STATUS)
    sfn = cloud.client("stepfunctions")
    arn = machine(cloud, package_delete_definition(delete_arn, status_arn))
    algorithm = unique("algo")
    execution = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps({"algorithmId": algorithm, "uploadVersion": "3"})
    )["executionArn"]

    for _ in range(3):  # Task → Wait(5 s) → Task → Choice, three times
        assert settled(TIMEOUT)
        assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
        manual_clock.advance(5)
    described = finished(sfn, execution)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["deletion"] == {"deleting": algorithm}
    assert output["packageStatus"] == {"status": "DELETED", "checks": 3}
    assert count(sfn, execution, "WaitStateEntered") == 3
    assert count(sfn, execution, "ChoiceStateEntered") == 3

    missing = sfn.start_execution(
        stateMachineArn=arn, input=json.dumps({"algorithmId": "missing-1", "uploadVersion": "1"})
    )["executionArn"]
    failed = finished(sfn, missing)
    assert (failed["status"], failed["error"]) == ("FAILED", "PackageNotFound")
    assert failed["cause"] == "The uploads table has no record of this package"


CHOICE_LOOP_ROUNDS = 1000


def test_a_thousand_round_choice_loop_runs_quickly(
    cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    """Pass → Choice back to the Pass, 1,000 rounds: 2,000 state transitions (the figure in
    the issue's benchmarks)."""
    sfn = cloud.client("stepfunctions")
    arn = machine(
        cloud,
        {
            "StartAt": "Count",
            "States": {
                "Count": {
                    "Type": "Pass",
                    "Parameters": {"n.$": "States.MathAdd($.n, 1)"},
                    "Next": "More",
                },
                "More": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Variable": "$.n",
                            "NumericLessThan": CHOICE_LOOP_ROUNDS,
                            "Next": "Count",
                        }
                    ],
                    "Default": "Done",
                },
                "Done": {"Type": "Succeed"},
            },
        },
    )
    began = time.perf_counter()
    execution = sfn.start_execution(stateMachineArn=arn, input='{"n": 0}')["executionArn"]
    described = finished(sfn, execution)
    elapsed = time.perf_counter() - began
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"n": CHOICE_LOOP_ROUNDS}
    transitions = 2 * CHOICE_LOOP_ROUNDS
    print(f"\n{transitions / elapsed:.0f} state transitions/s ({elapsed:.2f} s)")


# -- the parsers behind them, fed arbitrary text --------------------------------------------


def escaped(text: str) -> str:
    return "".join("\\" + char if char in ESCAPABLE else char for char in text)


@given(st.text(max_size=40))
def test_an_escaped_string_argument_reads_back_as_written(text: str) -> None:
    prepared = prepare(f"States.Array('{escaped(text)}')")
    assert prepared.source == "States.Array('s0')"
    assert prepared.values["s0"] == text


@given(st.lists(st.text(max_size=10), max_size=4), st.lists(st.integers(), max_size=4))
def test_format_fills_each_slot_and_keeps_escaped_braces(
    literals: list[str], values: list[int]
) -> None:
    count = min(len(literals), len(values))
    parts = [*literals[:count], ""]
    template_value = "{}".join(parts) if count else "x"
    written = "{}".join(escaped(part) for part in parts) if count else "x"
    call = prepare(f"States.Format('{written}')")
    template = call.values["s0"]
    assert str(template) == template_value
    rendered = render_format(template, values[:count], str)
    expected = "".join(
        part + str(value) for part, value in zip(literals[:count], values[:count], strict=True)
    )
    assert rendered == (expected if count else "x")


@given(st.text(alphabet=st.characters(blacklist_characters="*\\"), max_size=20))
def test_string_matches_treats_only_the_star_as_a_wildcard(text: str) -> None:
    assert string_matches(text, text)
    assert string_matches(text, "*")
    assert string_matches("a*b" + text, "a\\*b*")
    assert not string_matches("axb" + text, "a\\*b*")
