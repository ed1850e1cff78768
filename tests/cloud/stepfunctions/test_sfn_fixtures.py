"""State machines from ``tests/fixtures/statemachines/*.yml``, one case a file, run through
boto3 against the local cloud on the manual clock.

A case holds:

- ``definition``: the Amazon States Language definition; a task ``Resource`` written
  ``handler:<name>`` is the ARN of the case's function ``<name>``;
- ``input`` (default ``{}``); a string ``{{clock+N}}`` in it becomes the RFC 3339 time N
  seconds after the clock's time when the case starts;
- ``handlers`` (optional): function name → Python source of a module whose ``handler`` runs;
- ``advance`` (optional): clock advances in seconds, made one by one once the execution has
  nothing left to do before the clock moves; before each one the execution must still be
  running, so each advance is needed;
- the outcome: ``output``, or ``error`` with ``cause`` or ``cause_contains``, or ``status``
  alone (e.g. ``TIMED_OUT``); optional ``history``, the execution history's event types in
  order.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from basegear.cloud.clock import VirtualClock
from basegear.cloud.motoshim import stepfunctions as shim
from basegear.cloud.stepfunctions import StepFunctionsProvider, settled
from basegear.testing import CloudClients

CASES = sorted((Path(__file__).parents[2] / "fixtures" / "statemachines").glob("*.yml"))
REGION = "us-east-1"
CLOCK_MARK = re.compile(r"^\{\{clock\+(\d+)\}\}$")
FINISH_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def sfn_cloud(local_cloud: CloudClients) -> Iterator[CloudClients]:
    """The session's cloud with Step Functions on its clock and StartSyncExecution served
    (what ``StandardServices`` wires; installing again nests)."""
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


def role_arn(cloud: CloudClients) -> str:
    iam = cloud.client("iam")
    try:
        return str(iam.get_role(RoleName="sfn-fixtures")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        created = iam.create_role(RoleName="sfn-fixtures", AssumeRolePolicyDocument="{}")
        return str(created["Role"]["Arn"])


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def create_functions(cloud: CloudClients, prefix: str, handlers: dict[str, str]) -> dict[str, str]:
    lam = cloud.client("lambda")
    arns = {}
    for name, source in handlers.items():
        function = f"{prefix}-{name}"[:64]
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=function)
        created = lam.create_function(
            FunctionName=function,
            Runtime="python3.11",
            Role=role_arn(cloud),
            Handler="handler.handler",
            Code={"ZipFile": zipped(source)},
        )
        arns[name] = created["FunctionArn"]
    return arns


def resolved(value: Any, arns: dict[str, str], now: float) -> Any:
    """``handler:<name>`` resources → ARNs; ``{{clock+N}}`` → a timestamp."""
    if isinstance(value, dict):
        return {key: resolved(item, arns, now) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, arns, now) for item in value]
    if isinstance(value, str):
        if value.startswith("handler:"):
            return arns[value.removeprefix("handler:")]
        mark = CLOCK_MARK.match(value)
        if mark:
            moment = datetime.fromtimestamp(int(now) + int(mark[1]), UTC)
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def finished(sfn: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + FINISH_TIMEOUT
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.005)


def history_types(sfn: Any, execution_arn: str) -> list[str]:
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [event["type"] for event in events]


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_state_machine_case(
    path: Path, sfn_cloud: CloudClients, manual_clock: VirtualClock
) -> None:
    case = yaml.safe_load(path.read_text())
    prefix = f"sfnfx-{path.stem.replace('_', '-')}"
    arns = create_functions(sfn_cloud, prefix, case.get("handlers") or {})
    now = manual_clock.now()
    definition = resolved(case["definition"], arns, now)
    sfn = sfn_cloud.client("stepfunctions")
    machine = f"{prefix}-{int(time.time() * 1000)}"[:80]
    machine_arn = sfn.create_state_machine(
        name=machine, definition=json.dumps(definition), roleArn=role_arn(sfn_cloud)
    )["stateMachineArn"]
    execution_input = resolved(case.get("input", {}), arns, now)
    execution_arn = sfn.start_execution(
        stateMachineArn=machine_arn, input=json.dumps(execution_input)
    )["executionArn"]

    for seconds in case.get("advance", []):
        assert settled(FINISH_TIMEOUT), f"{path.name}: the execution did not settle"
        status = sfn.describe_execution(executionArn=execution_arn)["status"]
        assert status == "RUNNING", f"{path.name}: ended before the advance of {seconds} s"
        manual_clock.advance(seconds)
    described = finished(sfn, execution_arn)

    if "output" in case:
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == case["output"]
    elif "error" in case:
        assert described["status"] == "FAILED", described
        assert described.get("error") == case["error"]
        if "cause" in case:
            assert described.get("cause") == case["cause"]
        if "cause_contains" in case:
            assert case["cause_contains"] in described.get("cause", ""), described
    else:
        assert described["status"] == case["status"], described
    if "history" in case:
        assert history_types(sfn, execution_arn) == case["history"]
