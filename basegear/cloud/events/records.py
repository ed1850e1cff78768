"""The shapes a DynamoDB stream poller deals in: a captured change and the record Lambda makes of
it (``StreamRecord``), the invocation payload, the function's partial batch response, and the
record an on-failure destination receives."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from basegear.cloud.lambdas.spec import InvokeResult

if TYPE_CHECKING:
    from basegear.cloud.events.streams import CapturedStream

Image = dict[str, Any]  # an item in DynamoDB JSON: {"attr": {"S": "x"}, …}

PAYLOAD_LIMIT = 6 * 1024 * 1024
"""A batch is sent once its payload would pass 6 MB (Lambda developer guide, "Lambda event
source mappings", batching behavior: "The payload size reaches 6 MB. You cannot modify this
limit.")."""
_ENVELOPE = (b'{"Records":[', b"]}")
ENVELOPE_SIZE = sum(len(part) for part in _ENVELOPE)


class StreamRecord:
    """One captured change. The images are never changed after capture (readers share them);
    ``lambda_record`` and ``payload`` are built once, by the first poller that reads them."""

    __slots__ = (
        "_json",
        "_record",
        "created",
        "event_name",
        "keys",
        "new_image",
        "old_image",
        "partition_hash",
        "sequence_number",
        "view_type",
    )

    def __init__(
        self,
        sequence_number: int,
        created: float,
        partition_hash: int,
        event_name: str,
        keys: Image,
        old_image: Image | None,
        new_image: Image | None,
        view_type: str,
    ) -> None:
        self.sequence_number = sequence_number
        self.created = created
        self.partition_hash = partition_hash
        self.event_name = event_name
        self.keys = keys
        self.old_image = old_image
        self.new_image = new_image
        self.view_type = view_type
        self._record: dict[str, Any] | None = None
        self._json: bytes | None = None

    def lambda_record(self, stream: CapturedStream) -> dict[str, Any]:
        """The record as Lambda delivers it to a function (Lambda developer guide, "Using AWS
        Lambda with Amazon DynamoDB", example DynamoDB record event; ``eventVersion`` 1.1 and
        ``ApproximateCreationDateTime`` as real AWS sends them today). Images follow the
        stream's ``StreamViewType``: ``KEYS_ONLY`` none, ``NEW_IMAGE`` the item after,
        ``OLD_IMAGE`` the item before, ``NEW_AND_OLD_IMAGES`` both where they exist."""
        record = self._record
        if record is None:
            dynamodb: dict[str, Any] = {
                "ApproximateCreationDateTime": int(self.created),
                "Keys": _as_json(self.keys),
            }
            view = self.view_type
            if self.new_image is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
                dynamodb["NewImage"] = _as_json(self.new_image)
            if self.old_image is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
                dynamodb["OldImage"] = _as_json(self.old_image)
            dynamodb["SequenceNumber"] = str(self.sequence_number)
            dynamodb["SizeBytes"] = sum(
                image_size(dynamodb[part])
                for part in ("Keys", "NewImage", "OldImage")
                if part in dynamodb
            )
            dynamodb["StreamViewType"] = view
            record = {
                "eventID": hashlib.md5(
                    f"{stream.arn}|{self.sequence_number}".encode(), usedforsecurity=False
                ).hexdigest(),
                "eventName": self.event_name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": stream.region,
                "dynamodb": dynamodb,
                "eventSourceARN": stream.arn,
            }
            self._record = record
        return record

    def payload(self, stream: CapturedStream) -> bytes:
        """``lambda_record`` as compact JSON: what goes into a batch's ``Records``."""
        data = self._json
        if data is None:
            data = self._json = json.dumps(
                self.lambda_record(stream), separators=(",", ":")
            ).encode()
        return data

    def saved(self) -> tuple[Any, ...]:
        return (
            self.sequence_number,
            self.created,
            self.partition_hash,
            self.event_name,
            self.keys,
            self.old_image,
            self.new_image,
            self.view_type,
        )


def _as_json(value: Any) -> Any:
    """DynamoDB JSON with binary values base64-encoded, as Lambda delivers them (moto keeps
    them as bytes)."""
    if isinstance(value, dict):
        return {name: _as_json(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def image_size(image: Image) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values, a number taking one
    byte per two significant digits plus one (DynamoDB developer guide, "Item sizes and
    formats"). ``SizeBytes`` of a stream record is the size of its keys and images."""
    return sum(len(name.encode()) + _value_size(value) for name, value in image.items())


def _value_size(value: Any) -> int:
    if not isinstance(value, dict) or len(value) != 1:
        return 0
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(str(data).encode())
    if kind == "N":
        return _number_size(str(data))
    if kind == "B":
        return len(data) * 3 // 4 if isinstance(data, str) else len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(item).encode()) for item in data)
    if kind == "NS":
        return sum(_number_size(str(item)) for item in data)
    if kind == "BS":
        return sum(_value_size({"B": item}) for item in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(item) for item in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(item) for name, item in data.items())
    return 0


def _number_size(text: str) -> int:
    try:
        digits = Decimal(text).normalize().as_tuple().digits
    except InvalidOperation:
        return len(text)
    return (len(digits) + 1) // 2 + 1


def invocation_payload(records: Sequence[bytes]) -> bytes:
    """``{"Records": [...]}`` from the records' JSON."""
    return _ENVELOPE[0] + b",".join(records) + _ENVELOPE[1]


@dataclass(frozen=True)
class Outcome:
    """How an invocation went for the batch: ``success``; ``failure`` (the function failed:
    the whole batch is retried, or bisected); ``partial``: every record before
    ``failed_from`` (a sequence number) succeeded, the rest is retried from there."""

    kind: Literal["success", "failure", "partial"]
    failed_from: int | None = None


SUCCESS = Outcome("success")
FAILURE = Outcome("failure")


def outcome_of(
    result: InvokeResult, sequence_numbers: Sequence[int], *, report_failures: bool
) -> Outcome:
    """The batch's outcome from the function's result. A function error (an exception, a
    timeout, a crash) fails the whole batch. Without ``ReportBatchItemFailures`` any other
    answer is a success: the function's response is ignored."""
    if result.function_error:
        return FAILURE
    if not report_failures:
        return SUCCESS
    return partial_outcome(result.payload, sequence_numbers)


def partial_outcome(payload: bytes, sequence_numbers: Sequence[int]) -> Outcome:
    """A partial batch response, read as Lambda does for streams (Lambda developer guide,
    "Configuring partial batch response with DynamoDB and Lambda"):

    - complete success: an empty or null ``batchItemFailures`` list, an empty response
      object, or a null response;
    - complete failure: a response that is not JSON or not an object, an entry that is not an
      object, an empty-string or null ``itemIdentifier``, one under another key name, or one
      naming no record of the batch;
    - otherwise Lambda checkpoints at the lowest sequence number reported and retries every
      record from it.
    """
    try:
        response = json.loads(payload) if payload.strip() else None
    except ValueError:
        return FAILURE
    if response is None:
        return SUCCESS
    if not isinstance(response, dict):
        return FAILURE
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return SUCCESS
    if not isinstance(failures, list):
        return FAILURE
    in_batch = {str(number): number for number in sequence_numbers}
    lowest: int | None = None
    for failure in failures:
        if not isinstance(failure, dict):
            return FAILURE
        identifier = failure.get("itemIdentifier")
        if not isinstance(identifier, str) or identifier not in in_batch:
            return FAILURE
        number = in_batch[identifier]
        lowest = number if lowest is None else min(lowest, number)
    return Outcome("partial", lowest)


def iso_millis(epoch: float) -> str:
    """``2019-11-14T00:13:49.717Z``"""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds(epoch: float) -> str:
    """``2019-11-14T00:13:19Z``"""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def on_failure_record(
    *,
    function_arn: str,
    condition: Literal["RetryAttemptsExhausted", "RecordAgeExceeded"],
    invoke_count: int,
    last_result: InvokeResult | None,
    now: float,
    shard_id: str,
    stream_arn: str,
    records: Sequence[StreamRecord],
) -> dict[str, Any]:
    """What an on-failure destination receives for discarded stream records (Lambda developer
    guide, "Using AWS Lambda with Amazon DynamoDB", error handling: an invocation record with
    ``DDBStreamBatchInfo``; the records themselves are not included). ``approximateInvokeCount``
    counts the invocations that included them, so ``MaximumRetryAttempts`` 1 gives 2."""
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if last_result is not None:
        response = {
            "statusCode": last_result.status,
            "executedVersion": last_result.executed_version,
        }
        if last_result.function_error:
            response["functionError"] = last_result.function_error
    return {
        "requestContext": {
            "requestId": last_result.request_id if last_result is not None else str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": iso_millis(now),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": str(records[0].sequence_number),
            "endSequenceNumber": str(records[-1].sequence_number),
            "approximateArrivalOfFirstRecord": iso_seconds(records[0].created),
            "approximateArrivalOfLastRecord": iso_seconds(records[-1].created),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
