"""moto's S3 bucket policies with their conditions (basegear/cloud/motoshim/s3.py): the patched
method is still where moto calls it, the Serverless Framework's deployment-bucket policy lets
uploads to the local cloud through, and a policy that should deny still denies."""

from __future__ import annotations

import importlib
import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from basegear.cloud.motoshim import s3
from basegear.testing import CloudClients


@pytest.mark.parametrize(("owner", "attribute"), s3.PATCHED)
def test_the_patched_moto_method_is_still_where_moto_calls_it(owner: str, attribute: str) -> None:
    module, _, name = owner.rpartition(".")
    assert callable(getattr(getattr(importlib.import_module(module), name), attribute, None))
    s3.check_moto()  # the signature and moto's call site


def _bucket_with_policy(local_cloud: CloudClients, *statements: dict[str, Any]) -> str:
    client = local_cloud.client("s3")
    bucket = f"policy-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    arn = f"arn:aws:s3:::{bucket}"
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Principal": "*", "Resource": [arn, f"{arn}/*"], **s} for s in statements],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
    return bucket


def test_the_deployment_bucket_policy_lets_local_uploads_through(
    local_cloud: CloudClients,
) -> None:
    # The statement the Serverless Framework (and our compiler) puts on the deployment bucket.
    deny_plain_http = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": False}},
    }
    bucket = _bucket_with_policy(local_cloud, deny_plain_http)
    client = local_cloud.client("s3")

    client.put_object(Bucket=bucket, Key="code/a.zip", Body=b"zip")

    assert client.get_object(Bucket=bucket, Key="code/a.zip")["Body"].read() == b"zip"


@pytest.mark.parametrize(
    "condition",
    [None, {"Bool": {"aws:SecureTransport": "true"}}, {"Null": {"aws:SourceVpce": "true"}}],
    ids=["unconditional", "secure-transport", "no-vpc-endpoint"],
)
def test_a_deny_whose_condition_holds_still_denies(
    local_cloud: CloudClients, condition: dict[str, Any] | None
) -> None:
    statement: dict[str, Any] = {"Effect": "Deny", "Action": "s3:PutObject"}
    if condition:
        statement["Condition"] = condition
    bucket = _bucket_with_policy(local_cloud, statement)

    with pytest.raises(ClientError) as denied:
        local_cloud.client("s3").put_object(Bucket=bucket, Key="k", Body=b"x")

    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"Bool": {"aws:SecureTransport": False}}, False),
        ({"Bool": {"aws:SecureTransport": [True, False]}}, True),
        ({"StringEquals": {"aws:SourceVpce": "vpce-1"}}, False),
        ({"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, True),
        ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, True),
        ({"StringLike": {"aws:SecureTransport": "t*"}}, True),
        ({"Null": {"aws:SecureTransport": "false"}}, True),
        ({"Null": {"aws:SourceIp": "false"}}, False),
        ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, False),
        ({"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:SourceVpce": "v"}}, False),
    ],
)
def test_conditions_as_iam_evaluates_them(condition: dict[str, Any], holds: bool) -> None:
    assert s3.condition_holds(condition, s3.CONTEXT) is holds
