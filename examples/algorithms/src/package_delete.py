"""Delete a package's objects from the packages bucket, then its upload record.

Called by the DeletePackage task of the PackageDelete state machine with
``{"algorithmId": ..., "uploadVersion": ...}``. The state machine catches the errors below by
their names, which Lambda reports as the exception's class name.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from custom_logging import get_logger, inject_lambda_context

from src.packages import PackageRef

LOG = get_logger(__name__)


class PackageNotFound(Exception):
    """The uploads table has no record of the package."""


class ObjectsNotDeleted(Exception):
    """S3 reported some objects as not deleted; the state machine retries the task."""


@functools.cache
def _s3() -> Any:
    return boto3.client("s3")


@functools.cache
def _table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ["UPLOADS_TABLE"])


@inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    package = PackageRef.from_event(event)
    found = _table().get_item(
        Key=package.key, ConsistentRead=True, ProjectionExpression="algorithmId"
    )
    if "Item" not in found:
        raise PackageNotFound(
            f"No upload {package.upload_version} of algorithm {package.algorithm_id} is recorded"
        )

    # Objects first and the record last: if this fails halfway, a retry still finds the record.
    deleted = _delete_objects(os.environ["PACKAGES_BUCKET"], package.prefix)
    _table().delete_item(Key=package.key)
    LOG.info("Deleted a package", **package.key, deletedObjects=deleted)
    return {**package.key, "deletedObjects": deleted}


def _delete_objects(bucket: str, prefix: str) -> int:
    s3 = _s3()
    deleted = 0
    # A listing page holds at most 1,000 keys, the most one DeleteObjects call accepts.
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if not objects:
            continue
        response = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:
            first = errors[0]
            raise ObjectsNotDeleted(
                f"{len(errors)} objects under {prefix} were not deleted, "
                f"first {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )
        deleted += len(objects)
    return deleted
