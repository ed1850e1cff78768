"""Publish each uploaded package as a new version of its algorithm function.

Triggered by the uploads table's stream, filtered to records whose new image has status
UPLOADED. For each record: load the package into the function
``<ALGORITHM_FUNCTION_PREFIX><algorithmId>``, wait for the update to finish, publish a version,
point the ALGORITHM_ALIAS alias at it, and mark the upload PUBLISHED (or FAILED when the
package can never be published, such as when the function does not exist).

Failures are reported per record (ReportBatchItemFailures). For a stream, Lambda checkpoints at
the lowest sequence number reported and retries every record from there (Lambda developer guide,
"Using Lambda with DynamoDB", reporting batch item failures), so processing stops at the first
failed record and reports only that one.
"""

from __future__ import annotations

import functools
import os
from datetime import UTC, datetime
from typing import Any, TypedDict

import boto3
from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError, WaiterError
from custom_logging import get_logger, inject_lambda_context

from src.packages import UploadStatus

LOG = get_logger(__name__)

# Lambda error codes that publishing the same package again cannot fix.
PERMANENT_ERRORS = frozenset(
    {
        "ResourceNotFoundException",
        "InvalidParameterValueException",
        "RequestEntityTooLargeException",
        "CodeStorageExceededException",
    }
)


class BatchItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[BatchItemFailure]


_deserializer = TypeDeserializer()


@functools.cache
def _lambda() -> Any:
    return boto3.client("lambda")


@functools.cache
def _table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ["UPLOADS_TABLE"])


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    records = event.get("Records", [])
    for index, record in enumerate(records):
        sequence_number: str = record["dynamodb"]["SequenceNumber"]
        image = record["dynamodb"]["NewImage"]
        upload = {name: _deserializer.deserialize(value) for name, value in image.items()}
        try:
            _publish_upload(upload)
        except (ClientError, WaiterError):
            LOG.exception(
                "Publishing failed; the batch is retried from this record",
                algorithmId=upload.get("algorithmId"),
                uploadVersion=upload.get("uploadVersion"),
                sequenceNumber=sequence_number,
                recordsNotProcessed=len(records) - index,
            )
            return {"batchItemFailures": [{"itemIdentifier": sequence_number}]}
    return {"batchItemFailures": []}


def _publish_upload(upload: dict[str, Any]) -> None:
    function_name = f"{os.environ['ALGORITHM_FUNCTION_PREFIX']}{upload['algorithmId']}"
    try:
        version = _publish_version(function_name, upload)
    except ClientError as exc:
        code = _error_code(exc)
        if code not in PERMANENT_ERRORS:
            raise
        LOG.error(
            "The package cannot be published",
            algorithmId=upload["algorithmId"],
            uploadVersion=upload["uploadVersion"],
            algorithmFunction=function_name,
            errorCode=code,
            errorMessage=str(exc),
        )
        _record_outcome(upload, UploadStatus.FAILED, failureReason=code)
        return

    LOG.info(
        "Published a new algorithm version",
        algorithmId=upload["algorithmId"],
        uploadVersion=upload["uploadVersion"],
        functionName=function_name,
        version=version,
    )
    _record_outcome(upload, UploadStatus.PUBLISHED, publishedVersion=version)


def _publish_version(function_name: str, upload: dict[str, Any]) -> str:
    client = _lambda()
    updated = client.update_function_code(
        FunctionName=function_name, S3Bucket=upload["bucket"], S3Key=upload["objectKey"]
    )
    # PublishVersion is refused while the code update is still in progress.
    client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 2, "MaxAttempts": 30}
    )
    # CodeSha256 makes PublishVersion fail if another update replaced this code meanwhile.
    published = client.publish_version(
        FunctionName=function_name,
        CodeSha256=updated["CodeSha256"],
        Description=f"upload {upload['uploadVersion']}",
    )
    version: str = published["Version"]

    alias = os.environ["ALGORITHM_ALIAS"]
    try:
        client.update_alias(FunctionName=function_name, Name=alias, FunctionVersion=version)
    except client.exceptions.ResourceNotFoundException:
        client.create_alias(FunctionName=function_name, Name=alias, FunctionVersion=version)
    return version


def _record_outcome(upload: dict[str, Any], status: UploadStatus, **attributes: str) -> None:
    """Store the outcome, unless the item changed since this upload was recorded."""
    assignments = ["#status = :status", "processedAt = :processedAt"]
    values: dict[str, Any] = {
        ":status": status.value,
        ":processedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        ":uploaded": UploadStatus.UPLOADED.value,
        ":uploadedAt": upload["uploadedAt"],
    }
    for name, value in attributes.items():
        assignments.append(f"{name} = :{name}")
        values[f":{name}"] = value
    try:
        _table().update_item(
            Key={"algorithmId": upload["algorithmId"], "uploadVersion": upload["uploadVersion"]},
            UpdateExpression="SET " + ", ".join(assignments),
            # Fails when the package was deleted or uploaded again while it was being published.
            ConditionExpression="#status = :uploaded AND uploadedAt = :uploadedAt",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if _error_code(exc) != "ConditionalCheckFailedException":
            raise
        LOG.info(
            "The upload changed while it was being published; keeping its newer state",
            algorithmId=upload["algorithmId"],
            uploadVersion=upload["uploadVersion"],
        )
