"""DynamoDB stream event source mappings (basegear/cloud/events/stream_poller.py) through boto3
against the local cloud, with real handlers, on the manual clock. AWS references: Lambda
developer guide, "Using AWS Lambda with Amazon DynamoDB" and "Lambda event source mappings"
(shared/reference/aws-semantics.md section 1); each test names the part it follows."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from event_helpers import create_function, unique

from basegear.cloud.clock import VirtualClock
from basegear.cloud.cloudformation.resources.mappings import (
    EventSourceMappingStore,
    validated_settings,
)
from basegear.cloud.events.context import EventContext
from basegear.cloud.events.invoker import LambdaInvoker
from basegear.cloud.events.mappings import EventSources
from basegear.cloud.events.stream_poller import StreamPoller
from basegear.cloud.events.streams import StreamCapture
from basegear.cloud.motoshim.inprocess import InProcessClients
from basegear.testing import CloudClients

T = TypeVar("T")

PREAMBLE = """
import json, os, time

OUT = os.environ["OUT"]

def log(event, **extra):
    with open(OUT, "a") as out:
        out.write(json.dumps({"records": event["Records"], **extra}) + "\\n")

def values(event):
    return [int(r["dynamodb"]["NewImage"]["v"]["N"]) for r in event["Records"]]

def sequence_of(event, value):
    return next(r["dynamodb"]["SequenceNumber"] for r in event["Records"]
                if int(r["dynamodb"]["NewImage"]["v"]["N"]) == value)

def first_time(name):
    marker = OUT + "." + str(name)
    if os.path.exists(marker):
        return False
    open(marker, "w").close()
    return True
"""


def eventually(
    check: Callable[[], T],
    *,
    clock: VirtualClock | None = None,
    step: float = 0.0,
    timeout: float = 10.0,
) -> T:
    """``check()`` once it is true; on the way, moves the manual ``clock`` by ``step``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"still {found!r} after {timeout} s")
        if clock is not None and step:
            clock.advance(step)
        time.sleep(0.02)


class Stream:
    """A table keyed by ``pk`` and ``sk`` with a stream, a function whose handler is
    ``PREAMBLE`` + ``body``, logging batches to a file, and mappings of the two (deleted at the
    end of the test)."""

    def __init__(
        self,
        cloud: CloudClients,
        folder: Path,
        body: str,
        *,
        view: str = "NEW_AND_OLD_IMAGES",
        mappings: EventSourceMappingStore | None = None,
    ) -> None:
        self.cloud = cloud
        self.ddb = cloud.client("dynamodb")
        self.lambdas = cloud.client("lambda")
        self.out = folder / f"{unique('log')}.jsonl"
        self.out.touch()
        self.table = unique("stream")
        created = self.ddb.create_table(
            TableName=self.table,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        )
        self.arn: str = created["TableDescription"]["LatestStreamArn"]
        self.function_arn = create_function(
            self.lambdas,
            PREAMBLE + body,
            Environment={"Variables": {"OUT": str(self.out)}},
            Timeout=5,
        )
        self.own_store = mappings
        self.mappings: list[str] = []

    def map(self, **settings: Any) -> str:
        settings.setdefault("StartingPosition", "TRIM_HORIZON")
        if self.own_store is not None:
            mapping_id = unique("mapping")
            self.own_store.put(
                {
                    "UUID": mapping_id,
                    "EventSourceArn": self.arn,
                    "FunctionArn": self.function_arn,
                    **validated_settings(settings, "dynamodb"),
                    "State": "Enabled",
                }
            )
        else:
            mapping_id = self.lambdas.create_event_source_mapping(
                EventSourceArn=self.arn, FunctionName=self.function_arn, **settings
            )["UUID"]
        self.mappings.append(mapping_id)
        return mapping_id

    def put(self, value: int, pk: str = "key", **attributes: Any) -> None:
        item = {"pk": {"S": pk}, "sk": {"N": str(value)}, "v": {"N": str(value)}}
        item.update({name: {"S": str(text)} for name, text in attributes.items()})
        self.ddb.put_item(TableName=self.table, Item=item)

    def invocations(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def batches(self) -> list[list[int]]:
        """The ``v`` of each record, per invocation."""
        return [
            [int(r["dynamodb"]["NewImage"]["v"]["N"]) for r in invocation["records"]]
            for invocation in self.invocations()
        ]

    def close(self) -> None:
        for mapping_id in self.mappings:
            if self.own_store is not None:
                self.own_store.remove(mapping_id)
            else:
                self.lambdas.delete_event_source_mapping(UUID=mapping_id)


@pytest.fixture
def streams(local_cloud: CloudClients, tmp_path: Path) -> Iterator[Callable[..., Stream]]:
    made: list[Stream] = []

    def make(body: str, **options: Any) -> Stream:
        made.append(Stream(local_cloud, tmp_path, body, **options))
        return made[-1]

    yield make
    for stream in made:
        stream.close()


def queue(cloud: CloudClients) -> tuple[str, str]:
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("failed"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def received(cloud: CloudClients, url: str) -> list[dict[str, Any]]:
    messages = cloud.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(message["Body"]) for message in messages.get("Messages", [])]


SUCCEEDS = """
def handler(event, context):
    log(event)
"""


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", starting position: LATEST
# processes new records only, TRIM_HORIZON every record in the stream; a new mapping has no
# checkpoint of its own.
def test_latest_and_trim_horizon(
    streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(SUCCEEDS)
    stream.put(1)
    latest = stream.map(StartingPosition="LATEST")
    stream.put(2)
    eventually(stream.batches)
    assert stream.batches() == [[2]]
    stream.lambdas.delete_event_source_mapping(UUID=latest)
    stream.mappings.remove(latest)
    stream.map(StartingPosition="TRIM_HORIZON")
    eventually(lambda: len(stream.batches()) == 2)
    assert stream.batches()[1] == [1, 2]


# Lambda API reference, CreateEventSourceMapping, StartingPositionTimestamp: with AT_TIMESTAMP
# reading starts at the first record written at or after that time.
def test_at_timestamp(streams: Callable[..., Stream], manual_clock: VirtualClock) -> None:
    stream = streams(SUCCEEDS)
    stream.put(1)
    manual_clock.advance(100)
    middle = manual_clock.now() - 50
    stream.put(2)
    stream.map(StartingPosition="AT_TIMESTAMP", StartingPositionTimestamp=middle)
    eventually(stream.batches)
    assert stream.batches() == [[2]]


# Lambda developer guide, "Lambda event source mappings", batching behavior: a batch is sent
# when the batching window ends (it begins when the previous invocation completes) or when the
# batch size is reached, whichever is first.
def test_batching_window_and_batch_size(
    streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(SUCCEEDS)
    stream.map(BatchSize=5, MaximumBatchingWindowInSeconds=30)
    for value in (1, 2, 3):
        stream.put(value)
    time.sleep(0.3)
    assert stream.batches() == []
    manual_clock.advance(29)
    time.sleep(0.2)
    assert stream.batches() == []
    manual_clock.advance(1)
    eventually(stream.batches)
    assert stream.batches() == [[1, 2, 3]]
    for value in range(4, 10):  # five reach the batch size before the window's end
        stream.put(value)
    eventually(lambda: len(stream.batches()) == 2)
    assert stream.batches()[1] == [4, 5, 6, 7, 8]

    # The next window starts when that invocation has completed, which may be a moment after
    # the handler noted its batch: advance until the window that holds [9] has passed.
    def window_passed() -> bool:
        manual_clock.advance(30)
        time.sleep(0.05)
        return len(stream.batches()) == 3

    eventually(window_passed)
    assert stream.batches()[2] == [9]


# Lambda developer guide, "Lambda event source mappings", batching behavior: "The payload size
# reaches 6 MB. You cannot modify this limit."
def test_a_batch_stops_short_of_6_mb(
    streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(
        """
def handler(event, context):
    log({"Records": []}, size=len(json.dumps(event)), count=len(event["Records"]))
""",
        view="NEW_IMAGE",
    )
    stream.map(BatchSize=100, MaximumBatchingWindowInSeconds=60)
    for value in range(25):
        stream.put(value, blob="x" * 300_000)
    first = eventually(stream.invocations)[0]
    assert first["size"] <= 6 * 1024 * 1024
    assert 18 <= first["count"] < 25
    # The next window begins when the first invocation has completed, which may be just after
    # the handler's log line is seen: the clock moves on until the rest has gone too.
    eventually(
        lambda: sum(i["count"] for i in stream.invocations()) == 25, clock=manual_clock, step=60
    )


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", error handling: a failing
# batch is retried until MaximumRetryAttempts, then its records are discarded and described to
# the on-failure destination (the record of section 1.7, approximateInvokeCount = retries + 1);
# processing then continues with the next records.
def test_retries_then_on_failure_queue(
    local_cloud: CloudClients, streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(
        """
def handler(event, context):
    log(event)
    if 1 in values(event):
        raise RuntimeError("record 1 is bad")
"""
    )
    url, arn = queue(local_cloud)
    stream.map(MaximumRetryAttempts=2, DestinationConfig={"OnFailure": {"Destination": arn}})
    stream.put(1)
    eventually(stream.batches)
    stream.put(2)
    failures = eventually(lambda: received(local_cloud, url), clock=manual_clock, step=10)
    eventually(lambda: stream.batches()[-1] == [2])
    assert stream.batches() == [[1], [1], [1], [2]]
    (failure,) = failures
    record = stream.invocations()[0]["records"][0]
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"] == stream.function_arn
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["version"] == "1.0"
    info = failure["DDBStreamBatchInfo"]
    assert info["shardId"].startswith("shardId-")
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["startSequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream.arn
    # The records the batch info names can be read again (what ``gear redrive`` does).
    assert local_cloud.services is not None
    again = local_cloud.services.streams.records_between(
        info["streamArn"],
        info["shardId"],
        int(info["startSequenceNumber"]),
        int(info["endSequenceNumber"]),
    )
    assert again == [record]


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB": MaximumRecordAgeInSeconds
# discards records older than that (condition RecordAgeExceeded); an SNS topic as the on-failure
# destination receives the same record as its Message.
def test_record_age_to_an_sns_destination(
    local_cloud: CloudClients, streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(
        """
def handler(event, context):
    log(event)
    raise RuntimeError("always")
"""
    )
    url, queue_arn = queue(local_cloud)
    sns = local_cloud.client("sns")
    topic = sns.create_topic(Name=unique("failed"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    stream.map(
        MaximumRecordAgeInSeconds=60, DestinationConfig={"OnFailure": {"Destination": topic}}
    )
    stream.put(1)
    eventually(stream.batches)
    manual_clock.advance(61)
    (envelope,) = eventually(lambda: received(local_cloud, url))
    failure = json.loads(envelope["Message"])
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] >= 1
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", error handling:
# BisectBatchOnFunctionError splits a failed batch in two before retrying, and "splitting a
# batch does not count towards the retry quota": with no retries at all, only the bad record
# is discarded.
def test_bisect_isolates_the_bad_record(
    local_cloud: CloudClients, streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(
        """
def handler(event, context):
    log(event)
    if 3 in values(event):
        raise RuntimeError("record 3 is bad")
"""
    )
    url, arn = queue(local_cloud)
    stream.map(
        BatchSize=4,
        MaximumBatchingWindowInSeconds=10,
        MaximumRetryAttempts=0,
        BisectBatchOnFunctionError=True,
        DestinationConfig={"OnFailure": {"Destination": arn}},
    )
    for value in (1, 2, 3, 4):
        stream.put(value)
    (failure,) = eventually(lambda: received(local_cloud, url))
    eventually(lambda: len(stream.batches()) == 5)
    assert stream.batches() == [[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]]
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1
    assert failure["requestContext"]["approximateInvokeCount"] == 3


# Lambda developer guide, "Configuring partial batch response with DynamoDB and Lambda": with
# ReportBatchItemFailures, Lambda checkpoints at the lowest failed sequence number and retries
# every record from it.
def test_partial_batch_response_retries_from_the_lowest_failure(
    streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(
        """
def handler(event, context):
    log(event)
    if first_time("partial"):
        return {"batchItemFailures": [{"itemIdentifier": sequence_of(event, 5)},
                                      {"itemIdentifier": sequence_of(event, 3)}]}
    return {"batchItemFailures": []}
"""
    )
    stream.map(
        BatchSize=5,
        MaximumBatchingWindowInSeconds=10,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    for value in range(1, 6):
        stream.put(value)
    eventually(lambda: len(stream.batches()) == 2, clock=manual_clock, step=5)
    assert stream.batches() == [[1, 2, 3, 4, 5], [3, 4, 5]]


# Same page, "Success and failure conditions": an empty or null list, an empty or null response
# are complete successes; an empty-string or null itemIdentifier, a bad key name, or an
# identifier of no record in the batch are complete failures (the whole batch is retried).
def test_partial_batch_response_success_and_failure_cases(
    streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(
        """
SUCCESSES = {1: {}, 2: None, 3: {"batchItemFailures": []}, 4: {"batchItemFailures": None}}
FAILURES = {5: [{"itemIdentifier": ""}], 6: [{"itemIdentifier": None}],
            7: [{"id": "x"}], 8: [{"itemIdentifier": "100"}]}

def handler(event, context):
    log(event)
    (value,) = values(event)
    if value in SUCCESSES:
        return SUCCESSES[value]
    if first_time(value):
        return {"batchItemFailures": FAILURES[value]}
    return None
"""
    )
    stream.map(BatchSize=1, FunctionResponseTypes=["ReportBatchItemFailures"])
    for value in range(1, 9):
        stream.put(value)
    eventually(lambda: len(stream.batches()) == 12, clock=manual_clock, step=5)
    manual_clock.advance(60)
    time.sleep(0.2)
    assert stream.batches() == [[1], [2], [3], [4], [5], [5], [6], [6], [7], [7], [8], [8]]


# Lambda developer guide, "Control which events Lambda sends to your function" (DynamoDB): only
# records matching a filter are sent; the others are skipped and the shard checkpointed past
# them.
def test_filter_criteria(
    local_cloud: CloudClients, streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(SUCCEEDS)
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["keep"]}}}}
    mapping_id = stream.map(FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    for value in range(1, 7):
        stream.put(value, kind="keep" if value % 2 else "drop")
    stream.put(1, kind="drop")  # a MODIFY: no INSERT
    stream.put(7, kind="drop")
    eventually(lambda: sorted(v for b in stream.batches() for v in b) == [1, 3, 5])
    assert local_cloud.services is not None
    checkpoints = local_cloud.services.context.checkpoints
    shard = local_cloud.services.streams.stream(stream.arn).shards
    last = max(int(s.records[-1].sequence_number) for s in shard if s.records)

    def checkpointed() -> bool:
        return any((checkpoints.get(mapping_id, s.shard_id) or 0) >= last for s in shard)

    eventually(checkpointed, timeout=5)


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", error handling: throttles
# are retried until the records expire, and the retry limit does not apply to them ("This
# doesn't apply to service errors or throttles where the batch didn't reach the function").
def test_throttles_are_retried_without_counting(
    local_cloud: CloudClients, streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(SUCCEEDS)
    url, arn = queue(local_cloud)
    stream.lambdas.put_function_concurrency(
        FunctionName=stream.function_arn, ReservedConcurrentExecutions=0
    )
    mapping_id = stream.map(
        MaximumRetryAttempts=0, DestinationConfig={"OnFailure": {"Destination": arn}}
    )
    stream.put(1)
    assert local_cloud.services is not None
    events = local_cloud.services.events

    def throttled() -> bool:
        status = events.poller(mapping_id)
        return status is not None and "throttled" in status.status().last_result

    eventually(throttled)
    for _ in range(5):
        manual_clock.advance(30)
        time.sleep(0.05)
    assert stream.batches() == []
    stream.lambdas.delete_function_concurrency(FunctionName=stream.function_arn)
    eventually(stream.batches, clock=manual_clock, step=30)
    assert stream.batches() == [[1]]
    assert received(local_cloud, url) == []


# Lambda developer guide, "Lambda event source mappings": an updated mapping and a disabled
# then enabled one resume from the checkpoint ("re-enabling resumes from where it was"):
# nothing is processed twice and nothing written meanwhile is missed.
def test_update_and_reenable_resume_from_the_checkpoint(
    streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(SUCCEEDS)
    mapping_id = stream.map(StartingPosition="LATEST")
    stream.put(1)
    eventually(stream.batches)
    stream.lambdas.update_event_source_mapping(UUID=mapping_id, BatchSize=50)
    stream.put(2)
    eventually(lambda: len(stream.batches()) == 2)
    stream.lambdas.update_event_source_mapping(UUID=mapping_id, Enabled=False)
    stream.put(3)
    time.sleep(0.3)
    assert stream.batches() == [[1], [2]]
    stream.lambdas.update_event_source_mapping(UUID=mapping_id, Enabled=True)
    eventually(lambda: len(stream.batches()) == 3)
    assert stream.batches() == [[1], [2], [3]]


# Lambda developer guide, "Working with Lambda function metrics": IteratorAge is the age of the
# last record of each batch, in milliseconds; the mapping's status shows its progress.
def test_iterator_age_and_status(
    local_cloud: CloudClients, streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(SUCCEEDS)
    mapping_id = stream.map(BatchSize=10, MaximumBatchingWindowInSeconds=20)
    stream.put(1)
    time.sleep(0.1)
    manual_clock.advance(20)
    eventually(stream.batches)
    name = stream.function_arn.split(":")[-1]
    cloudwatch = local_cloud.client("cloudwatch")

    def iterator_age() -> list[float]:
        datapoints = cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName="IteratorAge",
            Dimensions=[{"Name": "FunctionName", "Value": name}],
            StartTime=manual_clock.now() - 3600,
            EndTime=manual_clock.now() + 3600,
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        return [point["Maximum"] for point in datapoints]

    assert eventually(iterator_age) == [20_000.0]
    assert local_cloud.services is not None
    poller = local_cloud.services.events.poller(mapping_id)
    assert poller is not None
    status = eventually(lambda: poller.status().processed == 1 and poller.status())
    assert (status.lag, status.last_result, status.in_flight) == (0.0, "OK", 0)
    rows = [r for r in local_cloud.services.events.status() if r["UUID"] == mapping_id]
    assert rows[0]["LastProcessingResult"] == "OK"


# DynamoDB developer guide, "Change data capture for DynamoDB Streams": deleting the table ends
# its stream; the mapping's pollers read what is left and stop.
def test_the_pollers_stop_once_the_table_is_deleted(
    streams: Callable[..., Stream], manual_clock: VirtualClock
) -> None:
    stream = streams(SUCCEEDS)
    mapping_id = stream.map()
    stream.put(1)
    eventually(stream.batches)
    prefix = f"stream-poller-{mapping_id[:8]}"

    def pollers() -> int:
        return sum(1 for thread in threading.enumerate() if thread.name.startswith(prefix))

    assert pollers() == 4
    stream.ddb.delete_table(TableName=stream.table)
    eventually(lambda: pollers() == 0, timeout=5)
    assert stream.batches() == [[1]]


@pytest.fixture
def own_sources(
    local_cloud: CloudClients,
) -> Iterator[tuple[StreamCapture, EventSourceMappingStore]]:
    """Event sources of this test's own, beside the cloud's: a capture with one shard kept 10
    minutes, on the cloud's clock; mappings go into their own store."""
    assert local_cloud.services is not None
    services = local_cloud.services
    capture = StreamCapture(services.clock, shards=1, retention_seconds=600)
    store = EventSourceMappingStore()
    context = EventContext(services.clock, LambdaInvoker(services.lambdas.plug), InProcessClients())
    sources = EventSources(
        store, context, {"dynamodb": lambda config, ctx: StreamPoller(config, ctx, capture)}
    )
    capture.install()
    sources.start()
    try:
        yield capture, store
    finally:
        sources.close()
        capture.uninstall()


# Lambda developer guide, "Lambda event source mappings" (parallelization factor): up to ten
# batches of one shard in flight at once, "in-order processing is still guaranteed for each
# partition key" (here a stream of one shard, three batches at a time).
def test_parallelization_keeps_each_keys_order(
    streams: Callable[..., Stream],
    own_sources: tuple[StreamCapture, EventSourceMappingStore],
) -> None:
    _, store = own_sources
    stream = streams(
        """
def handler(event, context):
    started = time.time()
    time.sleep(0.3)
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
    log(event, started=started, ended=time.time(), keys=keys)
""",
        mappings=store,
    )
    stream.map(BatchSize=2, ParallelizationFactor=3)
    keys = [f"key-{n}" for n in range(6)]
    for value in range(1, 5):
        for key in keys:
            stream.put(value, pk=key)
    eventually(lambda: sum(len(b) for b in stream.batches()) == 24, timeout=20)
    invocations = sorted(stream.invocations(), key=lambda i: i["started"])
    overlapping = max(
        sum(1 for o in invocations if o["started"] < i["ended"] and o["ended"] > i["started"])
        for i in invocations
    )
    assert overlapping >= 2
    for key in keys:
        seen = [
            int(r["dynamodb"]["NewImage"]["v"]["N"])
            for i in invocations
            for r in i["records"]
            if r["dynamodb"]["Keys"]["pk"]["S"] == key
        ]
        assert seen == [1, 2, 3, 4]


# Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", error handling: with the
# default -1 retries, "failed records are retried until the record expires" — here the test's
# stream keeps records 10 minutes; then they are discarded as RecordAgeExceeded.
def test_infinite_retries_last_until_the_record_expires(
    local_cloud: CloudClients,
    streams: Callable[..., Stream],
    own_sources: tuple[StreamCapture, EventSourceMappingStore],
    manual_clock: VirtualClock,
) -> None:
    _, store = own_sources
    stream = streams(
        """
def handler(event, context):
    log(event)
    raise RuntimeError("always")
""",
        mappings=store,
    )
    url, arn = queue(local_cloud)
    stream.map(DestinationConfig={"OnFailure": {"Destination": arn}})
    stream.put(1)
    eventually(lambda: len(stream.batches()) >= 3, clock=manual_clock, step=30)
    assert received(local_cloud, url) == []
    manual_clock.advance(600)
    (failure,) = eventually(lambda: received(local_cloud, url))
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"
    assert failure["requestContext"]["approximateInvokeCount"] == len(stream.batches())
