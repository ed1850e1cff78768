"""What a stream poller reads from a function's answer and writes to an on-failure destination
(basegear/cloud/events/records.py): the partial batch response rules of the Lambda developer
guide, "Configuring partial batch response with DynamoDB and Lambda", and the invocation record
of "Using AWS Lambda with Amazon DynamoDB", error handling (shared/reference/aws-semantics.md
1.6 and 1.7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basegear.cloud.events.records import (
    FAILURE,
    SUCCESS,
    Outcome,
    StreamRecord,
    invocation_payload,
    iso_millis,
    iso_seconds,
    on_failure_record,
    outcome_of,
    partial_outcome,
)
from basegear.cloud.lambdas.spec import InvokeResult

BATCH = [100000000000000000007, 100000000000000000009, 100000000000000000012]


def answer(document: Any) -> bytes:
    return json.dumps(document).encode()


# Lambda developer guide, partial batch response, "Success and failure conditions": complete
# success for an empty or null list, an empty or null response.
@pytest.mark.parametrize(
    "payload",
    [
        answer({"batchItemFailures": []}),
        answer({"batchItemFailures": None}),
        answer({}),
        answer(None),
        b"",
    ],
)
def test_complete_success_cases(payload: bytes) -> None:
    assert partial_outcome(payload, BATCH) == SUCCESS


# Same section: complete failure for an empty-string or null itemIdentifier, a bad key name;
# also invalid JSON and an identifier that names no record of the batch (an unknown id).
@pytest.mark.parametrize(
    "payload",
    [
        answer({"batchItemFailures": [{"itemIdentifier": ""}]}),
        answer({"batchItemFailures": [{"itemIdentifier": None}]}),
        answer({"batchItemFailures": [{"foo": str(BATCH[1])}]}),
        answer({"batchItemFailures": [{"itemIdentifier": "100000000000000000008"}]}),
        answer({"batchItemFailures": [{"itemIdentifier": BATCH[1]}]}),
        answer({"batchItemFailures": ["x"]}),
        answer({"batchItemFailures": "x"}),
        answer("not an object"),
        b"{not json",
    ],
)
def test_complete_failure_cases(payload: bytes) -> None:
    assert partial_outcome(payload, BATCH) == FAILURE


# Same page, "Reporting syntax": with several failures Lambda checkpoints at the lowest sequence
# number and retries every record from it.
def test_the_lowest_reported_sequence_number_is_where_retries_start() -> None:
    payload = answer(
        {
            "batchItemFailures": [
                {"itemIdentifier": str(BATCH[2])},
                {"itemIdentifier": str(BATCH[1])},
            ]
        }
    )
    assert partial_outcome(payload, BATCH) == Outcome("partial", BATCH[1])


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["batchItemFailures", "itemIdentifier", "x"]), inner)
        ),
        max_leaves=8,
    )
)
def test_any_answer_gives_one_of_the_three_outcomes(document: Any) -> None:
    # Whatever a handler returns, the batch is a success, a failure or a partial success whose
    # retry point is a record of the batch (never an exception in the poller).
    outcome = partial_outcome(answer(document), BATCH)
    assert outcome.kind in ("success", "failure", "partial")
    if outcome.kind == "partial":
        assert outcome.failed_from in BATCH


def result(payload: bytes = b"null", error: str | None = None) -> InvokeResult:
    return InvokeResult(200, payload, "req-1", "$LATEST", error)


def test_a_function_error_fails_the_batch_and_an_answer_counts_only_when_reported() -> None:
    # Lambda developer guide: "Lambda doesn't process these responses unless the
    # ReportBatchItemFailures feature is explicitly turned on for your event source mapping."
    failing = answer({"batchItemFailures": [{"itemIdentifier": str(BATCH[0])}]})
    assert outcome_of(result(error="Unhandled"), BATCH, report_failures=True) == FAILURE
    assert outcome_of(result(failing), BATCH, report_failures=False) == SUCCESS
    assert outcome_of(result(failing), BATCH, report_failures=True) == Outcome("partial", BATCH[0])


def test_the_on_failure_record_has_the_documented_shape() -> None:
    # Lambda developer guide, "Using AWS Lambda with Amazon DynamoDB", error handling: the
    # invocation record with DDBStreamBatchInfo and no record data, keys in the documented order.
    records = [
        StreamRecord(
            BATCH[0], 1573690399.2, 1, "INSERT", {"k": {"S": "a"}}, None, None, "KEYS_ONLY"
        ),
        StreamRecord(
            BATCH[1], 1573690401.9, 1, "MODIFY", {"k": {"S": "a"}}, None, None, "KEYS_ONLY"
        ),
    ]
    stream_arn = "arn:aws:dynamodb:us-east-2:123456789012:table/t/stream/2019-11-14T00:04:06.388"
    document = on_failure_record(
        function_arn="arn:aws:lambda:us-east-2:123456789012:function:f",
        condition="RetryAttemptsExhausted",
        invoke_count=2,
        last_result=result(b"{}", "Unhandled"),
        now=1573690429.717,
        shard_id="shardId-00000000000000000001-abcdef01",
        stream_arn=stream_arn,
        records=records,
    )
    assert list(document) == [
        "requestContext",
        "responseContext",
        "version",
        "timestamp",
        "DDBStreamBatchInfo",
    ]
    assert document["requestContext"] == {
        "requestId": "req-1",
        "functionArn": "arn:aws:lambda:us-east-2:123456789012:function:f",
        "condition": "RetryAttemptsExhausted",
        "approximateInvokeCount": 2,
    }
    assert document["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert document["version"] == "1.0"
    assert document["timestamp"] == "2019-11-14T00:13:49.717Z"
    assert document["DDBStreamBatchInfo"] == {
        "shardId": "shardId-00000000000000000001-abcdef01",
        "startSequenceNumber": str(BATCH[0]),
        "endSequenceNumber": str(BATCH[1]),
        "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:13:21Z",
        "batchSize": 2,
        "streamArn": stream_arn,
    }


def test_times_and_payload_envelope() -> None:
    assert iso_millis(0.5) == "1970-01-01T00:00:00.500Z"
    assert iso_seconds(59.9) == "1970-01-01T00:00:59Z"
    assert json.loads(invocation_payload([b'{"a":1}', b'{"b":2}'])) == {
        "Records": [{"a": 1}, {"b": 2}]
    }
