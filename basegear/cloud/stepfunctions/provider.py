"""``StartSyncExecution``, which moto's Step Functions does not serve: runs an Express state
machine with moto's interpreter in the request's thread and answers with how it ended (Step
Functions API reference, StartSyncExecution):

- only an ``EXPRESS`` state machine: a ``STANDARD`` one answers
  ``StateMachineTypeNotSupported``;
- the answer carries ``executionArn`` (``arn:aws:states:<region>:<account>:express:<machine>:
  <name>:<id>``), ``stateMachineArn``, ``name``, ``startDate``, ``stopDate``, ``status``
  (``SUCCEEDED``, ``FAILED`` or ``TIMED_OUT``), ``input`` and, by status, ``output`` or
  ``error`` and ``cause``, plus ``billingDetails``;
- like every Express execution it is not listed by ListExecutions nor described by
  DescribeExecution (the API reference: "not supported by EXPRESS state machines").

boto3 sends StartSyncExecution to the host ``sync-<endpoint host>`` (the operation's
``hostPrefix``), which does not resolve for ``127.0.0.1``; local clients set
``inject_host_prefix=False`` in their botocore ``Config``.

``GetExecutionHistory`` is answered in pages (``history.py``). Every other Step Functions
action goes on to moto.
"""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime
from typing import Any

from basegear.cloud.error_responses import aws_error
from basegear.cloud.moto_backend import MotoBackend
from basegear.cloud.protocol import AwsRequest, AwsResponse
from basegear.cloud.stepfunctions.history import paged_history

EXPRESS = "EXPRESS"
BILLED_MEMORY_MB = 64
"""Express workflows bill memory in 64 MB steps; the local interpreter reports the first."""
BILLED_DURATION_STEP_MS = 100
"""Express workflows bill duration in 100 ms steps (Step Functions pricing)."""


class StepFunctionsProvider:
    """The Step Functions actions served by BaseGear itself (routing order: before moto)."""

    service = "states"

    def __init__(self) -> None:
        self._moto = MotoBackend()

    def handle(self, request: AwsRequest) -> AwsResponse | None:
        if request.action == "StartSyncExecution":
            return self.start_sync_execution(request)
        if request.action == "GetExecutionHistory":
            return paged_history(request, self._moto.handle)
        return None

    def start_sync_execution(self, request: AwsRequest) -> AwsResponse:
        from moto.core.exceptions import JsonRESTError

        try:
            params = json.loads(request.body or b"{}")
        except ValueError:
            return aws_error(request, 400, "SerializationException", "the body is not JSON")
        machine_arn = params.get("stateMachineArn")
        if not isinstance(machine_arn, str) or not machine_arn:
            return aws_error(request, 400, "ValidationException", "stateMachineArn is required")
        try:
            output = run_sync(
                request.account,
                request.region,
                machine_arn,
                name=params.get("name"),
                execution_input=params.get("input"),
                trace_header=params.get("traceHeader"),
            )
        except SyncExecutionRefusedError as refused:
            return aws_error(request, 400, refused.code, str(refused))
        except JsonRESTError as error:
            return aws_error(request, int(error.code), error.error_type, error.message)
        return AwsResponse(
            200,
            json.dumps(output).encode(),
            {"content-type": request.headers.get("content-type", "application/x-amz-json-1.0")},
        )


class SyncExecutionRefusedError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def run_sync(
    account: str,
    region: str,
    machine_arn: str,
    *,
    name: str | None,
    execution_input: str | None,
    trace_header: str | None,
) -> dict[str, Any]:
    """Run the Express state machine ``machine_arn`` to its end; StartSyncExecution's answer."""
    from moto.stepfunctions.parser.backend.execution import SyncExecution
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend: Any = stepfunctions_parser_backends[account][region]
    machine = backend.describe_state_machine(machine_arn)
    # moto keeps the type CreateStateMachine was given in ``type`` (its ``sm_type`` always
    # says STANDARD).
    machine_type = getattr(machine, "type", None) or machine.sm_type
    if machine_type != EXPRESS:
        raise SyncExecutionRefusedError(
            "StateMachineTypeNotSupported",
            f"StartSyncExecution runs EXPRESS state machines only; {machine_arn} is "
            f"{machine_type}: use StartExecution",
        )
    text = "{}" if execution_input is None else execution_input
    try:
        json.loads(text)
    except ValueError as error:
        raise SyncExecutionRefusedError(
            "InvalidExecutionInput", f"the execution input is not JSON: {error}"
        ) from error
    if name:
        backend._validate_name(name)
    execution_name = name or str(uuid.uuid4())
    execution_arn = (
        f"arn:aws:states:{region}:{account}:express:{machine.name}:{execution_name}:{uuid.uuid4()}"
    )
    execution = SyncExecution(
        name=execution_name,
        sm_type=machine_type,
        role_arn=machine.roleArn,
        exec_arn=execution_arn,
        account_id=account,
        region_name=region,
        state_machine=machine,
        start_date=datetime.now(),  # replaced by the clock's time when it starts
        cloud_watch_logging_session=None,
        activity_store={},
        input_data=text,
        trace_header=trace_header,
    )
    execution.start()  # runs to the end in this thread (moto's SyncExecutionWorker)
    return sync_output(execution)


def sync_output(execution: Any) -> dict[str, Any]:
    """StartSyncExecution's answer for a finished ``SyncExecution``."""
    status = execution.sync_execution_status
    status_text = getattr(status, "value", status)
    start: datetime = execution.start_date
    stop: datetime = execution.stop_date or start
    elapsed_ms = max(0.0, (stop - start).total_seconds() * 1000.0)
    billed_ms = max(1, math.ceil(elapsed_ms / BILLED_DURATION_STEP_MS)) * BILLED_DURATION_STEP_MS
    output: dict[str, Any] = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "startDate": start.timestamp(),
        "stopDate": stop.timestamp(),
        "status": status_text,
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "inputDetails": {"included": True},
        "billingDetails": {
            "billedMemoryUsedInMB": BILLED_MEMORY_MB,
            "billedDurationInMilliseconds": billed_ms,
        },
    }
    if status_text == "SUCCEEDED":
        result = execution.output  # JSON text already when it is a string (motoshim)
        output["output"] = (
            result if isinstance(result, str) else json.dumps(result, separators=(",", ":"))
        )
        output["outputDetails"] = {"included": True}
    if execution.error is not None:
        output["error"] = execution.error
    if execution.cause is not None:
        output["cause"] = execution.cause
    if execution.trace_header is not None:
        output["traceHeader"] = execution.trace_header
    return output
