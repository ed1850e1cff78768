"""Report whether a package is gone: no objects under its prefix and no upload record.

Called by the CheckPackageStatus task of the PackageDelete state machine with
``{"algorithmId": ..., "uploadVersion": ...}``; the state machine waits and asks again until
the status is DELETED.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal, TypedDict

import boto3
from custom_logging import get_logger, inject_lambda_context

from src.packages import PackageRef

LOG = get_logger(__name__)


class PackageStatus(TypedDict):
    status: Literal["DELETED", "DELETING"]
    objectsRemain: bool
    recordRemains: bool


@functools.cache
def _s3() -> Any:
    return boto3.client("s3")


@functools.cache
def _table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ["UPLOADS_TABLE"])


@inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> PackageStatus:
    package = PackageRef.from_event(event)
    listing = _s3().list_objects_v2(
        Bucket=os.environ["PACKAGES_BUCKET"], Prefix=package.prefix, MaxKeys=1
    )
    objects_remain = listing.get("KeyCount", 0) > 0
    record = _table().get_item(
        Key=package.key, ConsistentRead=True, ProjectionExpression="algorithmId"
    )
    record_remains = "Item" in record

    gone = not objects_remain and not record_remains
    LOG.debug("Checked a package", **package.key, gone=gone)
    return {
        "status": "DELETED" if gone else "DELETING",
        "objectsRemain": objects_remain,
        "recordRemains": record_remains,
    }
