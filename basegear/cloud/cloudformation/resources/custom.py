"""Custom resources (``Custom::*`` and AWS::CloudFormation::CustomResource) served by a Lambda
function, as the CloudFormation User Guide's "Custom resources" and "Custom resource request
and response reference" describe them:

- CloudFormation sends the function a request: RequestType (Create, Update or Delete),
  ResponseURL, StackId, RequestId, ResourceType, LogicalResourceId, ResourceProperties (with
  ServiceToken), and PhysicalResourceId and OldResourceProperties where they apply. Property
  values arrive as strings (numbers and booleans converted).
- The provider answers by PUTting JSON to the ResponseURL, a presigned S3 URL: Status
  (SUCCESS or FAILED), Reason, PhysicalResourceId, StackId, RequestId, LogicalResourceId,
  Data (the Fn::GetAtt values) and NoEcho.
- A FAILED answer fails the resource: "Received response status [FAILED] from custom resource.
  Message returned: <Reason>". An Update answered with another PhysicalResourceId replaces the
  resource: the old one gets a Delete request in the cleanup phase.

Here the ResponseURL is presigned for a bucket of the local S3 that the provider creates
(``basegear-cfn-responses-<account>-<region>``); the function is invoked RequestResponse, and
the answer is read back once the invocation returns (or, for a function that answers later,
polled for until ServiceTimeout, capped by the provider's ``custom_timeout``). A function that
fails without answering fails the resource at once with its error, instead of after the hour
AWS waits. Only Lambda service tokens are served; an SNS topic token fails the resource."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
    text,
)
from basegear.cloud.cloudformation.resources.registry import CUSTOM, handles


@dataclass(frozen=True)
class CustomSettings:
    """Given to the provider: how long to wait for an answer, how often to look for it."""

    timeout: float = 120.0
    poll: float = 0.05


def strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [strings(item) for item in value]
    return text(value)


@handles
class CustomResource(Handler):
    type_name = CUSTOM
    replace_on = frozenset({"ServiceToken"})

    def create(self, ctx: Context, props: Properties) -> Created:
        return self._request(ctx, "Create", props)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        return self._request(ctx, "Update", new, physical_id=current.physical_id, old=old)

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        self._request(ctx, "Delete", props, physical_id=current.physical_id)

    def _request(
        self,
        ctx: Context,
        request_type: str,
        props: Properties,
        *,
        physical_id: str | None = None,
        old: Properties | None = None,
    ) -> Created:
        token = str(required(props, "ServiceToken", "Custom resource"))
        if ":lambda:" not in token:
            raise ResourceError(
                f"ServiceToken {token}: the local CloudFormation serves custom resources "
                "through Lambda functions only"
            )
        settings = ctx.services.get("custom")
        if not isinstance(settings, CustomSettings):
            settings = CustomSettings()
        s3 = ctx.client("s3")
        bucket = _response_bucket(ctx, s3)
        request_id = str(uuid.uuid4())
        key = f"{ctx.stack_name}/{ctx.logical_id}/{request_id}"
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": token,
            "ResponseURL": s3.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=7200
            ),
            "StackId": ctx.stack_id,
            "RequestId": request_id,
            "ResourceType": ctx.resource_type or CUSTOM,
            "LogicalResourceId": ctx.logical_id,
            "ResourceProperties": strings(props),
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old is not None:
            event["OldResourceProperties"] = strings(old)
        invoked = ctx.client("lambda").invoke(
            FunctionName=token, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        error = invoked.get("FunctionError")
        payload = invoked["Payload"].read().decode(errors="replace")
        limit = min(float(props.get("ServiceTimeout", settings.timeout)), settings.timeout)
        answer = _answer(s3, bucket, key, 0.0 if error else limit, settings.poll)
        if answer is None:
            if error:
                raise ResourceError(
                    f"Custom resource function {token} failed without responding: {payload[:500]}"
                )
            raise ResourceError(
                f"CloudFormation did not receive a response from your Custom Resource within "
                f"{limit:g} seconds (RequestId: {request_id})"
            )
        if answer.get("Status") != "SUCCESS":
            raise ResourceError(
                "Received response status [FAILED] from custom resource. Message returned: "
                f"{answer.get('Reason', '')} (RequestId: {request_id})"
            )
        new_id = answer.get("PhysicalResourceId") or physical_id
        if not new_id:
            raise ResourceError(
                "Invalid PhysicalResourceId: the custom resource's response did not give one"
            )
        data = answer.get("Data") or {}
        return Created(str(new_id), data if isinstance(data, dict) else {})


def _response_bucket(ctx: Context, s3: Any) -> str:
    bucket = f"basegear-cfn-responses-{ctx.account}-{ctx.region}"[:63]
    try:
        s3.head_bucket(Bucket=bucket)
    except Exception:
        if ctx.region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": ctx.region}
            )
    return bucket


def _answer(s3: Any, bucket: str, key: str, limit: float, poll: float) -> dict[str, Any] | None:
    deadline = time.monotonic() + limit
    while True:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception:
            body = None
        if body is not None:
            s3.delete_object(Bucket=bucket, Key=key)
            try:
                answer = json.loads(body)
            except ValueError:
                raise ResourceError("The custom resource's response is not JSON") from None
            return answer if isinstance(answer, dict) else None
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)
