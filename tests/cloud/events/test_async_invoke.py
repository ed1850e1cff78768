"""Asynchronous invocation (basegear/cloud/events/async_invoke.py) through boto3, on the manual
clock, against the Lambda developer guide: "Asynchronous invocation", "How Lambda handles
errors and retries with asynchronous invocation", "Configuring error handling for asynchronous
invocation", "Capturing records of Lambda asynchronous invocations", "Adding a dead-letter
queue", "Configuring reserved concurrency" and "Types of metrics for Lambda functions"; the
facts of shared/reference/aws-semantics.md 2.1-2.3.

Each function appends one JSON line per run to the file named by its ``RUNS`` variable, so a
test counts runs and sees the request id and event of each."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from event_helpers import create_function, unique

from basegear.cloud.clock import VirtualClock
from basegear.cloud.events.async_invoke import AsyncInvocations
from basegear.testing import CloudClients

HANDLER = """
import json
import os
import time


def handler(event, context):
    with open(os.environ["RUNS"], "a") as runs:
        runs.write(json.dumps({"requestId": context.aws_request_id, "event": event}) + "\\n")
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise Exception(event.get("message", "intentional failure"))
    return {"echo": event}
"""
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Async:
    """One test's view: a function, the queue of asynchronous invocations, the clock."""

    def __init__(self, cloud: CloudClients, clock: VirtualClock, tmp_path: Path) -> None:
        assert cloud.services is not None
        self.cloud = cloud
        self.clock = clock
        self.lambdas = cloud.client("lambda")
        self.sqs = cloud.client("sqs")
        invocations = cloud.services.async_invocations
        assert isinstance(invocations, AsyncInvocations)
        self.invocations = invocations
        self.runs_file = tmp_path / f"{unique('runs')}.jsonl"
        self.runs_file.touch()
        self.name = unique("async")

    def create(self, **settings: Any) -> str:
        env = {"Variables": {"RUNS": str(self.runs_file)}}
        return create_function(self.lambdas, HANDLER, name=self.name, Environment=env, **settings)

    def configure(self, **settings: Any) -> None:
        self.lambdas.put_function_event_invoke_config(FunctionName=self.name, **settings)

    def invoke(self, event: dict[str, Any]) -> str:
        """InvocationType Event; returns the request id."""
        answer = self.lambdas.invoke(
            FunctionName=self.name, InvocationType="Event", Payload=json.dumps(event).encode()
        )
        assert answer["StatusCode"] == 202
        request_id: str = answer["ResponseMetadata"]["RequestId"]
        return request_id

    def settle(self) -> None:
        """Until every event due on the clock has run and its results are delivered."""
        assert self.invocations.wait_idle(30), "asynchronous invocations still running"

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.settle()

    def runs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.runs_file.read_text().splitlines()]

    def queue(self) -> tuple[str, str]:
        """A new queue: URL and ARN."""
        url = self.sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, attributes["Attributes"]["QueueArn"]

    def topic_to(self, queue_arn: str) -> str:
        """A new SNS topic delivering to the queue ``queue_arn``."""
        sns = self.cloud.client("sns")
        topic: str = sns.create_topic(Name=unique("t"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        return topic

    def messages(self, url: str, count: int = 1) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while len(found) < count and time.monotonic() < deadline:
            answer = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            found += answer.get("Messages", [])
        assert len(found) == count, found
        return found

    def no_messages(self, url: str) -> None:
        assert not self.sqs.receive_message(QueueUrl=url).get("Messages")

    def record(self, url: str) -> dict[str, Any]:
        """The invocation record in the queue ``url`` (sent there, or through SNS)."""
        body = json.loads(self.messages(url)[0]["Body"])
        if body.get("Type") == "Notification":
            body = json.loads(body["Message"])
        assert isinstance(body, dict)
        return body


@pytest.fixture
def env(local_cloud: CloudClients, manual_clock: VirtualClock, tmp_path: Path) -> Async:
    return Async(local_cloud, manual_clock, tmp_path)


def test_event_invocation_answers_202_and_runs_the_event_once(env: Async) -> None:
    # Lambda API reference, Invoke: InvocationType Event queues the event and answers 202 with
    # no payload; the function runs it with the request id of that answer.
    env.create()
    answer = env.lambdas.invoke(FunctionName=env.name, InvocationType="Event", Payload=b'{"a": 1}')
    assert answer["StatusCode"] == 202
    assert answer["Payload"].read() == b""
    env.settle()
    assert env.runs() == [{"requestId": answer["ResponseMetadata"]["RequestId"], "event": {"a": 1}}]
    assert env.invocations.pending(env.name) == 0


@pytest.mark.parametrize("retries", [None, 0, 1, 2])
def test_function_error_is_retried_with_the_documented_delays(
    env: Async, retries: int | None
) -> None:
    # "How Lambda handles errors and retries with asynchronous invocation": on a function
    # error Lambda runs the event two more times by default, one minute before the first
    # retry and two minutes before the second; MaximumRetryAttempts (0-2) sets how many.
    env.create()
    failures_url, failures_arn = env.queue()
    on_failure = {"OnFailure": {"Destination": failures_arn}}
    if retries is None:
        env.configure(DestinationConfig=on_failure)
    else:
        env.configure(MaximumRetryAttempts=retries, DestinationConfig=on_failure)
    expected = 2 if retries is None else retries
    request_id = env.invoke({"fail": True})
    env.settle()
    assert len(env.runs()) == 1
    for retry, delay in enumerate((60, 120)[:expected], start=1):
        env.advance(delay - 1)
        assert len(env.runs()) == retry, f"retry {retry} ran before {delay} s"
        env.no_messages(failures_url)
        env.advance(1)
        assert len(env.runs()) == retry + 1
    record = env.record(failures_url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == expected + 1
    assert {run["requestId"] for run in env.runs()} == {request_id}
    env.advance(600)
    assert len(env.runs()) == expected + 1
    assert env.invocations.pending(env.name) == 0


@pytest.mark.parametrize(("maximum_age", "runs"), [(60, 1), (120, 2)])
def test_event_older_than_the_maximum_age_is_discarded(
    env: Async, maximum_age: int, runs: int
) -> None:
    # "Configuring error handling for asynchronous invocation": MaximumEventAgeInSeconds is
    # how long Lambda keeps an event; a retry that would come later is not made and the
    # record says EventAgeExceeded (approximateInvokeCount 1 or 2 on AWS).
    env.create()
    failures_url, failures_arn = env.queue()
    env.configure(
        MaximumEventAgeInSeconds=maximum_age,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    env.invoke({"fail": True})
    env.settle()
    if runs == 2:
        env.no_messages(failures_url)
        env.advance(60)
    record = env.record(failures_url)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == runs
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert len(env.runs()) == runs
    assert env.invocations.pending(env.name) == 0


@pytest.mark.parametrize("target", ["sqs", "sns"])
def test_dead_letter_queue_gets_the_event_as_sent_with_its_attributes(
    env: Async, target: str
) -> None:
    # "Adding a dead-letter queue": Lambda sends the event as-is to the queue or topic, with
    # the attributes RequestID, ErrorCode (the HTTP status: 200 for a function error) and
    # ErrorMessage (the first 1 KB of the error message).
    url, queue_arn = env.queue()
    dead_letters = queue_arn if target == "sqs" else env.topic_to(queue_arn)
    env.create(DeadLetterConfig={"TargetArn": dead_letters})
    env.configure(MaximumRetryAttempts=0)
    payload = {"fail": True, "message": "é" + "x" * 2000}
    request_id = env.invoke(payload)
    env.settle()
    message = env.messages(url)[0]
    if target == "sqs":
        assert json.loads(message["Body"]) == payload
        attributes = {
            name: (value["DataType"], value["StringValue"])
            for name, value in message["MessageAttributes"].items()
        }
    else:
        envelope = json.loads(message["Body"])
        assert json.loads(envelope["Message"]) == payload
        attributes = {
            name: (value["Type"], value["Value"])
            for name, value in envelope["MessageAttributes"].items()
        }
    error_message = attributes.pop("ErrorMessage")
    assert attributes == {"RequestID": ("String", request_id), "ErrorCode": ("Number", "200")}
    assert error_message[0] == "String"
    assert len(error_message[1].encode()) <= 1024
    assert error_message[1] == payload["message"].encode()[:1024].decode("utf-8", "ignore")


def test_destinations_get_the_invocation_record(env: Async) -> None:
    # "Capturing records of Lambda asynchronous invocations": OnSuccess and OnFailure
    # destinations (here an SQS queue, and an SNS topic delivering to a queue) get the
    # invocation record: version, timestamp, requestContext (condition Success or
    # RetriesExhausted), requestPayload, responseContext and responsePayload.
    env.create()
    successes_url, successes_arn = env.queue()
    failures_url, failures_arn = env.queue()
    env.configure(
        MaximumRetryAttempts=0,
        DestinationConfig={
            "OnSuccess": {"Destination": successes_arn},
            "OnFailure": {"Destination": env.topic_to(failures_arn)},
        },
    )
    function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{env.name}:$LATEST"
    succeeded = env.invoke({"n": 1})
    env.settle()
    record = env.record(successes_url)
    assert list(record) == [
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    ]
    assert record["version"] == "1.0"
    assert TIMESTAMP.match(record["timestamp"])
    assert record["requestContext"] == {
        "requestId": succeeded,
        "functionArn": function_arn,
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"n": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"echo": {"n": 1}}

    failed = env.invoke({"fail": True, "message": "no good"})
    env.settle()
    record = env.record(failures_url)
    assert record["requestContext"] == {
        "requestId": failed,
        "functionArn": function_arn,
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 1,
    }
    assert record["requestPayload"] == {"fail": True, "message": "no good"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorMessage"] == "no good"
    assert record["responsePayload"]["errorType"] == "Exception"
    env.no_messages(successes_url)


def test_zero_reserved_concurrency_sends_events_on_without_running_them(env: Async) -> None:
    # "Configuring reserved concurrency": with reserved concurrency 0, Lambda sends new events
    # to the dead-letter queue or the on-failure destination without any retries; the function
    # never runs (aws-semantics.md 2.1).
    dead_url, dead_arn = env.queue()
    failures_url, failures_arn = env.queue()
    env.create(DeadLetterConfig={"TargetArn": dead_arn})
    env.lambdas.put_function_concurrency(FunctionName=env.name, ReservedConcurrentExecutions=0)
    env.configure(DestinationConfig={"OnFailure": {"Destination": failures_arn}})
    request_id = env.invoke({"n": 2})
    env.settle()
    record = env.record(failures_url)
    assert record["requestContext"]["condition"] == "ZeroReservedConcurrency"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert record["requestContext"]["requestId"] == request_id
    assert "responseContext" not in record
    message = env.messages(dead_url)[0]
    assert json.loads(message["Body"]) == {"n": 2}
    assert message["MessageAttributes"]["ErrorCode"]["StringValue"] == "429"
    assert env.runs() == []


def _occupy(env: Async, seconds: float) -> threading.Thread:
    """Run the function synchronously for ``seconds`` (real time) on a thread, and return
    once it is running: with reserved concurrency 1, it is then busy."""
    payload = json.dumps({"sleep": seconds}).encode()
    thread = threading.Thread(
        target=env.lambdas.invoke, kwargs={"FunctionName": env.name, "Payload": payload}
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not env.runs() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert env.runs(), "the synchronous invocation did not start"
    return thread


def test_throttled_event_is_retried_without_counting_an_attempt(env: Async) -> None:
    # "How Lambda handles errors and retries with asynchronous invocation": a throttled event
    # (429) returns to the queue and is retried, one second after the first throttle; a
    # throttle is not one of the MaximumRetryAttempts.
    env.create()
    env.lambdas.put_function_concurrency(FunctionName=env.name, ReservedConcurrentExecutions=1)
    successes_url, successes_arn = env.queue()
    env.configure(
        MaximumRetryAttempts=0, DestinationConfig={"OnSuccess": {"Destination": successes_arn}}
    )
    busy = _occupy(env, 2.0)
    env.invoke({"n": 3})
    env.settle()  # throttled, waiting for its retry
    assert env.invocations.pending(env.name) == 1
    busy.join(10)
    env.advance(1)
    assert [run["event"] for run in env.runs()] == [{"sleep": 2.0}, {"n": 3}]
    record = env.record(successes_url)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_throttled_event_expires_at_the_maximum_age(env: Async) -> None:
    # "How Lambda handles errors and retries with asynchronous invocation": throttled events
    # are retried until they are older than MaximumEventAgeInSeconds; then the event goes to
    # the dead-letter queue (ErrorCode 429) and the on-failure destination (EventAgeExceeded).
    dead_url, dead_arn = env.queue()
    failures_url, failures_arn = env.queue()
    env.create(DeadLetterConfig={"TargetArn": dead_arn})
    env.lambdas.put_function_concurrency(FunctionName=env.name, ReservedConcurrentExecutions=1)
    env.configure(
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    busy = _occupy(env, 2.0)
    env.invoke({"n": 4})
    env.settle()
    env.advance(60)
    busy.join(10)
    record = env.record(failures_url)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    attributes = env.messages(dead_url)[0]["MessageAttributes"]
    assert attributes["ErrorCode"]["StringValue"] == "429"
    assert attributes["ErrorMessage"]["StringValue"] == "Rate Exceeded."
    assert [run["event"] for run in env.runs()] == [{"sleep": 2.0}]


def test_failed_deliveries_are_counted_in_the_metrics(env: Async) -> None:
    # "Types of metrics for Lambda functions": DeadLetterErrors counts events the dead-letter
    # queue could not take, DestinationDeliveryFailures records a destination could not take;
    # AsyncEventsReceived, AsyncEventAge and AsyncEventsDropped describe the queue.
    dead_url, dead_arn = env.queue()
    failures_url, failures_arn = env.queue()
    env.create(DeadLetterConfig={"TargetArn": dead_arn})
    env.configure(
        MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": failures_arn}}
    )
    env.sqs.delete_queue(QueueUrl=dead_url)
    env.sqs.delete_queue(QueueUrl=failures_url)
    env.invoke({"fail": True})
    env.settle()
    assert len(env.runs()) == 1
    assert env.invocations.pending(env.name) == 0
    sums = _metric_sums(env)
    assert sums["DeadLetterErrors"] == 1
    assert sums["DestinationDeliveryFailures"] == 1
    assert sums["AsyncEventsReceived"] == 1
    assert sums["AsyncEventsDropped"] == 1
    assert "AsyncEventAge" in sums


def _metric_sums(env: Async) -> dict[str, float]:
    cloudwatch = env.cloud.client("cloudwatch")
    now = datetime.fromtimestamp(env.clock.now(), UTC)
    sums = {}
    for name in (
        "DeadLetterErrors",
        "DestinationDeliveryFailures",
        "AsyncEventsReceived",
        "AsyncEventsDropped",
        "AsyncEventAge",
    ):
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=name,
            Dimensions=[{"Name": "FunctionName", "Value": env.name}],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        if points:
            sums[name] = sum(point["Sum"] for point in points)
    return sums


def test_event_bus_and_function_destinations(env: Async, tmp_path: Path) -> None:
    # "Capturing records of Lambda asynchronous invocations": to an EventBridge event bus the
    # record is the event's detail, with source "lambda" and detail-type "Lambda Function
    # Invocation Result - Success" (or "- Failure"); a function destination is invoked
    # asynchronously with the record as its event.
    env.create()
    bus_url, bus_queue = env.queue()
    events = env.cloud.client("events")
    bus = events.create_event_bus(Name=unique("bus"))["EventBusArn"]
    rule = unique("rule")
    events.put_rule(
        Name=rule,
        EventBusName=bus.rsplit("/", 1)[1],
        EventPattern=json.dumps({"source": ["lambda"]}),
    )
    events.put_targets(
        Rule=rule, EventBusName=bus.rsplit("/", 1)[1], Targets=[{"Id": "q", "Arn": bus_queue}]
    )
    receiver = Async(env.cloud, env.clock, tmp_path)
    receiver_arn = receiver.create()
    env.configure(
        MaximumRetryAttempts=0,
        DestinationConfig={
            "OnSuccess": {"Destination": bus},
            "OnFailure": {"Destination": receiver_arn},
        },
    )
    succeeded = env.invoke({"n": 5})
    env.settle()
    delivered = json.loads(env.messages(bus_url)[0]["Body"])
    assert delivered["source"] == "lambda"
    assert delivered["detail-type"] == "Lambda Function Invocation Result - Success"
    assert delivered["detail"]["requestContext"]["requestId"] == succeeded
    assert delivered["detail"]["responsePayload"] == {"echo": {"n": 5}}

    failed = env.invoke({"fail": True})
    env.settle()
    (run,) = receiver.runs()
    assert run["event"]["requestContext"]["requestId"] == failed
    assert run["event"]["requestContext"]["condition"] == "RetriesExhausted"
