"""Record each package uploaded to the packages bucket in the uploads table.

Triggered by ``s3:ObjectCreated:*`` on keys ``packages/*.zip``. A package larger than the limit
in the SSM parameter named by MAX_PACKAGE_SIZE_PARAMETER is recorded as REJECTED, any other as
UPLOADED, which the uploads stream hands to stream-processor for publishing.

S3 invokes this function asynchronously: when it raises, Lambda retries the event twice and
then sends it to the function's dead-letter queue.
"""

from __future__ import annotations

import functools
import os
from typing import Any
from urllib.parse import unquote_plus

import boto3
from custom_logging import get_logger, inject_lambda_context
from ssm_cache import ParameterNotFound, get_parameter

from src.packages import PackageRef, UploadStatus

LOG = get_logger(__name__)

# Used while the size parameter does not exist.
DEFAULT_MAX_PACKAGE_BYTES = 50 * 1024 * 1024


@functools.cache
def _table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ["UPLOADS_TABLE"])


def _max_package_bytes() -> int:
    try:
        return int(get_parameter(os.environ["MAX_PACKAGE_SIZE_PARAMETER"]))
    except ParameterNotFound:
        return DEFAULT_MAX_PACKAGE_BYTES


@inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    recorded = 0
    for record in event.get("Records", []):
        s3 = record["s3"]
        # Object keys arrive URL-encoded, with spaces as '+'.
        key = unquote_plus(s3["object"]["key"])
        package = PackageRef.from_object_key(key)
        if package is None:
            LOG.warning(
                "Ignoring an object outside packages/<algorithmId>/<uploadVersion>/", key=key
            )
            continue

        size = int(s3["object"].get("size", 0))
        limit = _max_package_bytes()
        status = UploadStatus.UPLOADED if size <= limit else UploadStatus.REJECTED
        item: dict[str, Any] = {
            **package.key,
            "status": status.value,
            "bucket": s3["bucket"]["name"],
            "objectKey": key,
            "sizeBytes": size,
            "uploadedAt": record["eventTime"],
        }
        if "eTag" in s3["object"]:
            item["eTag"] = s3["object"]["eTag"]
        _table().put_item(Item=item)
        recorded += 1

        if status is UploadStatus.REJECTED:
            LOG.warning(
                "Rejected a package over the size limit",
                **package.key,
                sizeBytes=size,
                limitBytes=limit,
            )
        else:
            LOG.info("Recorded an upload", **package.key, sizeBytes=size)
    return {"recorded": recorded}
