"""The SQS event source poller (basegear/cloud/events/queue_poller.py), through boto3 against
the local cloud on the manual clock, with real handlers: each test follows the Lambda developer
guide's "Using Lambda with Amazon SQS" (shared/reference/aws-semantics.md 1.9, 1.10, 4) section
named in its comment.

Handlers write what they were given to a file (one JSON line per invocation) named by their
``RESULTS`` environment variable; the test reads it back."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import json
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from basegear.cloud.clock import VirtualClock
from basegear.cloud.events.queue_poller import PartialResponseError, failed_message_ids
from basegear.testing import CloudClients, manual_clock

__all__ = ["manual_clock"]  # the fixture, registered for this module

ROLE = "arn:aws:iam::123456789012:role/x"

RECORDING = """
import json, os, time

def record(event, **extra):
    line = json.dumps({"records": event["Records"], "t": time.time(), "pid": os.getpid(), **extra})
    fd = os.open(os.environ["RESULTS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, (line + "\\n").encode())
    finally:
        os.close(fd)
"""


class Function:
    """A real function whose handler body is ``source`` (after the recording helper)."""

    def __init__(self, cloud: CloudClients, folder: Path, source: str, timeout: int = 10) -> None:
        ensure_role(cloud)
        self.name = f"sqs-fn-{uuid.uuid4().hex[:10]}"
        self.results = folder / f"{self.name}.jsonl"
        code = RECORDING + textwrap.dedent(source)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as bundle:
            bundle.writestr("handler.py", code)
        self.arn = cloud.client("lambda").create_function(
            FunctionName=self.name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": archive.getvalue()},
            Timeout=timeout,
            Environment={"Variables": {"RESULTS": str(self.results)}},
        )["FunctionArn"]

    def invocations(self) -> list[dict[str, Any]]:
        if not self.results.exists():
            return []
        return [json.loads(line) for line in self.results.read_text().splitlines() if line]

    def bodies(self) -> list[list[str]]:
        return [[record["body"] for record in call["records"]] for call in self.invocations()]

    def wait_for_calls(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        wait_until(lambda: len(self.invocations()) >= count, timeout)
        return self.invocations()


def ensure_role(cloud: CloudClients) -> None:
    iam = cloud.client("iam")
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="x", AssumeRolePolicyDocument="{}")


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def quiet_for(seconds: float, condition: Callable[[], bool]) -> bool:
    """True if ``condition`` stays false for ``seconds`` of real time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return False
        time.sleep(0.02)
    return True


class Queues:
    def __init__(self, cloud: CloudClients) -> None:
        self.sqs = cloud.client("sqs")

    def create(self, fifo: bool = False, **attributes: str) -> tuple[str, str]:
        name = f"src-{uuid.uuid4().hex[:12]}" + (".fifo" if fifo else "")
        if fifo:
            attributes.setdefault("FifoQueue", "true")
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def counts(self, url: str) -> tuple[int, int]:
        """(visible, in flight) messages."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        )

    def send(self, url: str, *bodies: str, **extra: Any) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=url, MessageBody=body, **extra)


@pytest.fixture
def queues(local_cloud: CloudClients) -> Queues:
    return Queues(local_cloud)


@pytest.fixture
def mappings(local_cloud: CloudClients) -> Iterator[Callable[..., str]]:
    """``mappings(queue_arn, function, **settings)`` creates an event source mapping through
    the Lambda API; every one is deleted after the test."""
    client = local_cloud.client("lambda")
    created: list[str] = []

    def create(queue_arn: str, function: Function, **settings: Any) -> str:
        mapping_id: str = client.create_event_source_mapping(
            EventSourceArn=queue_arn, FunctionName=function.name, **settings
        )["UUID"]
        created.append(mapping_id)
        return mapping_id

    yield create
    for mapping_id in created:
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_event_source_mapping(UUID=mapping_id)


def poller_status(cloud: CloudClients, mapping_id: str) -> Any:
    assert cloud.services is not None
    poller = cloud.services.events.poller(mapping_id)
    assert poller is not None
    return poller.status()


def test_a_batch_arrives_in_lambdas_record_shape_and_is_deleted(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS", example event (aws-semantics 1.9): attributes as strings,
    # message attributes in lower camel case, md5OfMessageAttributes null without attributes;
    # "Lambda deletes items from the queue after they're processed successfully".
    function = Function(local_cloud, tmp_path, "def handler(event, context):\n    record(event)\n")
    url, arn = queues.create()
    queues.send(url, "plain")
    queues.send(
        url,
        "with attributes",
        MessageAttributes={
            "count": {"DataType": "Number", "StringValue": "6"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    mapping_id = mappings(arn, function, BatchSize=10)

    [call] = function.wait_for_calls(1)
    wait_until(lambda: queues.counts(url) == (0, 0))
    plain, attributed = sorted(call["records"], key=lambda r: r["body"] != "plain")
    now_ms = str(int(manual_clock.now() * 1000))
    assert list(plain) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert plain["body"] == "plain"
    assert plain["attributes"] == {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": now_ms,
        "SenderId": plain["attributes"]["SenderId"],
        "ApproximateFirstReceiveTimestamp": now_ms,
    }
    assert plain["messageAttributes"] == {} and plain["md5OfMessageAttributes"] is None
    assert plain["md5OfBody"] == hashlib.md5(b"plain").hexdigest()
    assert (plain["eventSource"], plain["eventSourceARN"], plain["awsRegion"]) == (
        "aws:sqs",
        arn,
        "us-east-1",
    )
    assert attributed["messageAttributes"] == {
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
        "count": {
            "stringValue": "6",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Number",
        },
    }
    assert len(attributed["md5OfMessageAttributes"]) == 32
    status = poller_status(local_cloud, mapping_id)
    assert (status.processed, status.last_result, status.lag) == (2, "OK", 0.0)


def test_a_batch_closes_at_batch_size_or_when_the_window_ends(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Lambda event source mappings", batching behavior (aws-semantics 1.2): a batch is sent
    # when the batch size is met or the batching window reaches its maximum; a batch size over
    # 10 needs a window of at least 1 s.
    function = Function(local_cloud, tmp_path, "def handler(event, context):\n    record(event)\n")
    url, arn = queues.create()
    for start in range(0, 25, 10):
        entries = [
            {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(start + 10, 25))
        ]
        queues.sqs.send_message_batch(QueueUrl=url, Entries=entries)
    mappings(arn, function, BatchSize=25, MaximumBatchingWindowInSeconds=5)

    [full] = function.wait_for_calls(1)
    assert len(full["records"]) == 25  # closed by size: no clock advance needed

    queues.send(url, "a", "b", "c")
    assert quiet_for(0.4, lambda: len(function.invocations()) > 1)  # the window is open
    manual_clock.advance(4)
    assert quiet_for(0.2, lambda: len(function.invocations()) > 1)
    manual_clock.advance(1)
    calls = function.wait_for_calls(2)
    assert sorted(calls[1]["records"][i]["body"] for i in range(3)) == ["a", "b", "c"]


def test_without_a_window_each_receive_is_a_batch_of_up_to_ten(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS": "By default, Lambda polls up to 10 messages in your queue
    # at once"; BatchSize 3 caps the batch at 3.
    function = Function(local_cloud, tmp_path, "def handler(event, context):\n    record(event)\n")
    url, arn = queues.create()
    queues.send(url, *[f"m{i}" for i in range(7)])
    mappings(arn, function, BatchSize=3)
    wait_until(lambda: sum(len(b) for b in function.bodies()) == 7)
    assert max(len(b) for b in function.bodies()) <= 3
    wait_until(lambda: queues.counts(url) == (0, 0))


def test_a_function_error_returns_the_whole_batch_after_the_visibility_timeout(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS" (aws-semantics 1.10): messages read stay in the queue,
    # hidden for the queue's visibility timeout; after a function error "all messages in that
    # batch become visible in the queue again" once it ends.
    function = Function(
        local_cloud,
        tmp_path,
        """
        def handler(event, context):
            record(event)
            if event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
                raise RuntimeError("first attempt fails")
        """,
    )
    url, arn = queues.create(VisibilityTimeout="30")
    queues.send(url, "x", "y")
    mapping_id = mappings(arn, function, MaximumBatchingWindowInSeconds=0)

    function.wait_for_calls(1)
    wait_until(lambda: poller_status(local_cloud, mapping_id).last_result != "No records processed")
    assert poller_status(local_cloud, mapping_id).last_result == "PROBLEM: Function call failed"
    assert queues.counts(url) == (0, 2)
    manual_clock.advance(29)
    assert quiet_for(0.3, lambda: len(function.invocations()) > 1)
    manual_clock.advance(1)
    calls = function.wait_for_calls(2)
    assert sorted(calls[1]["records"][i]["body"] for i in range(2)) == ["x", "y"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in calls[1]["records"]} == {"2"}
    wait_until(lambda: queues.counts(url) == (0, 0))


PARTIAL = """
def handler(event, context):
    record(event)
    return {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("bad")
    ]}
"""


def test_report_batch_item_failures_leaves_only_the_failed_messages(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS", reporting batch item failures (aws-semantics 1.6): only
    # the messages named by messageId become visible again.
    function = Function(local_cloud, tmp_path, PARTIAL)
    url, arn = queues.create(VisibilityTimeout="20")
    queues.sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(["ok1", "bad", "ok2"])],
    )
    mapping_id = mappings(arn, function, FunctionResponseTypes=["ReportBatchItemFailures"])

    function.wait_for_calls(1)
    wait_until(lambda: queues.counts(url) == (0, 1))
    manual_clock.advance(20)
    calls = function.wait_for_calls(2)
    assert [r["body"] for r in calls[1]["records"]] == ["bad"]
    assert calls[1]["records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert poller_status(local_cloud, mapping_id).processed == 2


@pytest.mark.parametrize(
    "answer",
    [
        '{"batchItemFailures": [{"itemIdentifier": "not-a-message-of-the-batch"}]}',
        '{"batchItemFailures": [{"foo": "notvalid"}]}',
        '{"batchItemFailures": [{"itemIdentifier": ""}]}',
        '"not an object"',
    ],
    ids=["unknown-id", "bad-key", "empty-id", "not-an-object"],
)
def test_an_invalid_partial_response_fails_the_whole_batch(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
    answer: str,
) -> None:
    # "Using Lambda with Amazon SQS", reporting batch item failures: an itemIdentifier that is
    # empty, null, under a bad key name or not a message ID of the batch, or an invalid
    # response, is a complete failure (real AWS redelivers with ApproximateReceiveCount 2).
    function = Function(
        local_cloud,
        tmp_path,
        "import json\n"
        "def handler(event, context):\n"
        f"    record(event)\n    return json.loads({answer!r})\n",
    )
    url, arn = queues.create(VisibilityTimeout="10")
    queues.send(url, "one", "two")
    mappings(arn, function, FunctionResponseTypes=["ReportBatchItemFailures"])
    function.wait_for_calls(1)
    wait_until(lambda: queues.counts(url) == (0, 2))
    manual_clock.advance(10)
    calls = function.wait_for_calls(2)
    assert sorted(r["body"] for r in calls[1]["records"]) == ["one", "two"]


@pytest.mark.parametrize(
    ("payload", "failed"),
    [
        (b"", set()),
        (b"null", set()),
        (b"{}", set()),
        (b'{"batchItemFailures": null}', set()),
        (b'{"batchItemFailures": []}', set()),
        (
            b'{"batchItemFailures": [{"itemIdentifier": "id2"}, {"itemIdentifier": "id4"}]}',
            {"id2", "id4"},
        ),
    ],
)
def test_complete_success_cases_and_named_failures(payload: bytes, failed: set[str]) -> None:
    # "Using Lambda with Amazon SQS": "Lambda treats a batch as a complete success if your
    # function returns an empty batchItemFailures list, a null batchItemFailures list, an empty
    # EventResponse or a null EventResponse"; the id2/id4 example.
    assert failed_message_ids(payload, {"id1", "id2", "id3", "id4", "id5"}) == failed


@pytest.mark.parametrize(
    "payload",
    [
        b"{",
        b"[]",
        b'{"batchItemFailures": {}}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
    ],
)
def test_invalid_partial_responses(payload: bytes) -> None:
    # Same section: an invalid JSON response, or a null itemIdentifier, fails the whole batch.
    with pytest.raises(PartialResponseError):
        failed_message_ids(payload, {"id1"})


def test_the_queues_redrive_policy_moves_a_failing_message_to_its_dead_letter_queue(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS" (aws-semantics 1.10, 4): the dead-letter queue of an SQS
    # source is the queue's; a message whose ReceiveCount exceeds maxReceiveCount moves to it.
    function = Function(
        local_cloud,
        tmp_path,
        "def handler(event, context):\n    record(event)\n    raise ValueError('no')\n",
    )
    dlq_url, dlq_arn = queues.create()
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = queues.create(VisibilityTimeout="30", RedrivePolicy=redrive)
    queues.send(url, "poison")
    mappings(arn, function)

    function.wait_for_calls(1)
    manual_clock.advance(30)
    function.wait_for_calls(2)
    wait_until(lambda: queues.counts(url) == (0, 1))
    manual_clock.advance(30)
    wait_until(lambda: queues.counts(dlq_url)[0] == 1)
    assert queues.counts(url) == (0, 0)
    assert len(function.invocations()) == 2
    dead = queues.sqs.receive_message(QueueUrl=dlq_url, MessageSystemAttributeNames=["All"])
    [message] = dead["Messages"]
    assert message["Body"] == "poison"


FIFO_HANDLER = """
import time

def handler(event, context):
    started = time.time()
    bodies = [r["body"] for r in event["Records"]]
    if "A2" in bodies and event["Records"][0]["attributes"]["ApproximateReceiveCount"] == "1":
        record(event, failed=True, start=started, end=time.time())
        raise RuntimeError("A2 fails once")
    time.sleep(0.05)
    record(event, failed=False, start=started, end=time.time())
"""


def test_fifo_batches_go_in_order_one_at_a_time_per_message_group(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS", FIFO queues (aws-semantics 1.5): messages go in order per
    # message group ID, "Lambda sends only one batch at a time for a group", and the function
    # attempts all retries on the affected messages before Lambda receives more of the group.
    function = Function(local_cloud, tmp_path, FIFO_HANDLER)
    url, arn = queues.create(fifo=True, VisibilityTimeout="30", ContentBasedDeduplication="true")
    for i in range(1, 6):
        for group in "AB":
            queues.send(url, f"{group}{i}", MessageGroupId=group)
    mapping_id = mappings(arn, function, BatchSize=2)

    # A batch may hold several groups; the failed one holds back each group it holds.
    wait_until(lambda: any(call["failed"] for call in function.invocations()))
    assert quiet_for(0.3, lambda: "A3" in {b for call in function.bodies() for b in call})
    # The status's lag: the messages waiting (ApproximateNumberOfMessages), here behind the
    # failed batch (two done, two in flight).
    assert poller_status(local_cloud, mapping_id).lag == 6
    manual_clock.advance(30)
    wait_until(
        lambda: sum(not c["failed"] for c in function.invocations() for _ in c["records"]) == 10
    )

    calls = function.invocations()
    for group in "AB":
        ours = [c for c in calls if any(r["body"][0] == group for r in c["records"])]
        done = [r["body"] for c in ours if not c["failed"] for r in c["records"]]
        assert [body for body in done if body[0] == group] == [f"{group}{i}" for i in range(1, 6)]
        spans = sorted((c["start"], c["end"]) for c in ours)
        assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans))
    first = calls[0]["records"][0]
    assert set(first["attributes"]) >= {
        "SequenceNumber",
        "MessageGroupId",
        "MessageDeduplicationId",
    }
    wait_until(lambda: queues.counts(url) == (0, 0))


SLOW = """
import time

def handler(event, context):
    started = time.time()
    time.sleep(0.25)
    record(event, start=started, end=time.time())
"""


def _most_at_once(calls: list[dict[str, Any]]) -> int:
    edges = sorted([(c["start"], 1) for c in calls] + [(c["end"], -1) for c in calls])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_maximum_concurrency_limits_the_batches_invoked_at_once(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS", configuring maximum concurrency (aws-semantics 1.1,
    # ScalingConfig.MaximumConcurrency 2-1000); without it Lambda starts with five concurrent
    # batches (aws-semantics 1.10, scaling).
    limited = Function(local_cloud, tmp_path, SLOW)
    unlimited = Function(local_cloud, tmp_path, SLOW)
    limited_url, limited_arn = queues.create()
    unlimited_url, unlimited_arn = queues.create()
    queues.send(limited_url, *[f"m{i}" for i in range(6)])
    queues.send(unlimited_url, *[f"m{i}" for i in range(6)])
    mappings(limited_arn, limited, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2})
    mappings(unlimited_arn, unlimited, BatchSize=1)

    limited_calls = limited.wait_for_calls(6)
    unlimited_calls = unlimited.wait_for_calls(6)
    assert _most_at_once(limited_calls) == 2
    assert 2 < _most_at_once(unlimited_calls) <= 5


def test_messages_that_do_not_match_the_filter_are_deleted(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Control which events Lambda sends to your function" (aws-semantics 1.10, 1.11): "If an
    # Amazon SQS message doesn't satisfy your filter criteria, Lambda automatically removes the
    # message from the queue"; a plain-string body never matches a JSON body pattern.
    function = Function(local_cloud, tmp_path, "def handler(event, context):\n    record(event)\n")
    url, arn = queues.create()
    queues.send(
        url, '{"kind": "keep", "n": 1}', '{"kind": "drop"}', "kind keep", '{"kind": "keep", "n": 2}'
    )
    pattern = json.dumps({"body": {"kind": ["keep"]}})
    mappings(arn, function, FilterCriteria={"Filters": [{"Pattern": pattern}]})

    wait_until(lambda: queues.counts(url) == (0, 0))
    wait_until(lambda: sum(len(b) for b in function.bodies()) == 2)
    kept = sorted(body for call in function.bodies() for body in call)
    assert kept == ['{"kind": "keep", "n": 1}', '{"kind": "keep", "n": 2}']


def test_a_throttled_batch_returns_to_the_queue_and_the_poller_backs_off(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Using Lambda with Amazon SQS", scaling and throttling (aws-semantics 2.3): a throttled
    # invocation (reserved concurrency 0 → TooManyRequestsException) deletes nothing; the
    # messages show again after the visibility timeout and are processed once Lambda accepts.
    function = Function(local_cloud, tmp_path, "def handler(event, context):\n    record(event)\n")
    lambdas = local_cloud.client("lambda")
    lambdas.put_function_concurrency(FunctionName=function.name, ReservedConcurrentExecutions=0)
    url, arn = queues.create(VisibilityTimeout="30")
    queues.send(url, "held")
    mapping_id = mappings(arn, function)

    wait_until(lambda: "throttled" in poller_status(local_cloud, mapping_id).last_result)
    assert queues.counts(url) == (0, 1) and not function.invocations()
    lambdas.delete_function_concurrency(FunctionName=function.name)
    manual_clock.advance(30)
    [call] = function.wait_for_calls(1)
    assert call["records"][0]["attributes"]["ApproximateReceiveCount"] == "2"
    wait_until(lambda: queues.counts(url) == (0, 0))
    assert poller_status(local_cloud, mapping_id).last_result == "OK"


def test_a_batch_stays_under_the_six_megabyte_payload_limit(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Lambda event source mappings", batching behavior: a batch is also sent when "the payload
    # size reaches 6 MB".
    function = Function(
        local_cloud,
        tmp_path,
        """
        def handler(event, context):
            record({"Records": [{"body": len(r["body"])} for r in event["Records"]]})
        """,
    )
    url, arn = queues.create()
    body = "x" * 250_000
    queues.send(url, *[body] * 30)
    mappings(arn, function, BatchSize=100, MaximumBatchingWindowInSeconds=1)
    wait_until(lambda: len(function.invocations()) >= 1)
    manual_clock.advance(1)
    wait_until(lambda: sum(len(c["records"]) for c in function.invocations()) == 30)
    sizes = [len(c["records"]) for c in function.invocations()]
    assert all(size * 250_000 < 6 * 1024 * 1024 for size in sizes) and sizes[0] >= 20


def test_disabling_updating_and_deleting_a_mapping(
    local_cloud: CloudClients,
    manual_clock: VirtualClock,
    queues: Queues,
    mappings: Callable[..., str],
    tmp_path: Path,
) -> None:
    # "Lambda event source mappings": disabling a mapping pauses polling, enabling resumes it;
    # a deleted mapping takes no more messages.
    function = Function(local_cloud, tmp_path, "def handler(event, context):\n    record(event)\n")
    lambdas = local_cloud.client("lambda")
    url, arn = queues.create()
    mapping_id = mappings(arn, function, Enabled=False)
    queues.send(url, "while disabled")
    assert quiet_for(0.3, lambda: bool(function.invocations()))
    lambdas.update_event_source_mapping(UUID=mapping_id, Enabled=True, BatchSize=5)
    function.wait_for_calls(1)
    lambdas.delete_event_source_mapping(UUID=mapping_id)
    assert local_cloud.services is not None
    assert local_cloud.services.events.poller(mapping_id) is None
    queues.send(url, "after delete")
    assert quiet_for(0.3, lambda: len(function.invocations()) > 1)
    assert queues.counts(url) == (1, 0)
