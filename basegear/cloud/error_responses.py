"""AWS-shaped error responses, one shape per wire protocol, so that boto3 and the AWS CLI raise
a ``ClientError`` with the right code (botocore's ``parsers.py`` reads exactly these shapes):

- ``json`` (DynamoDB, SQS, Logs, Step Functions, …): status 4xx/5xx, header
  ``x-amzn-ErrorType: Code``, body ``{"__type": "Code", "message": "…"}``
  (AWS JSON 1.0/1.1 protocol, "Operation error serialization");
- ``rest-json`` (Lambda, API Gateway): the same header and body, ``application/json``;
- ``query`` (SNS, IAM, STS, CloudFormation): ``<ErrorResponse><Error><Type>Sender</Type>
  <Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId></ErrorResponse>``
  (AWS query protocol, "Operation error serialization");
- ``rest-xml`` (S3): ``<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId>
  </Error>`` (S3 API reference, "Error responses").

Providers may use :func:`aws_error` to answer in their service's protocol.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Literal
from xml.sax.saxutils import escape

from basegear.cloud.protocol import AwsRequest, AwsResponse

WireProtocol = Literal["json", "rest-json", "query", "rest-xml"]

# The protocol each service's botocore model names (metadata.protocol). A service missing here
# is judged by the request's Content-Type.
SERVICE_PROTOCOLS: dict[str, WireProtocol] = {
    "dynamodb": "json",
    "dynamodbstreams": "json",
    "sqs": "json",
    "logs": "json",
    "states": "json",
    "events": "json",
    "ssm": "json",
    "monitoring": "json",  # botocore 1.44 speaks JSON (query-compatible) to CloudWatch
    "secretsmanager": "json",
    "kms": "json",
    "kinesis": "json",
    "cognito-identity": "json",
    "cognito-idp": "json",
    "lambda": "rest-json",
    "apigateway": "rest-json",
    "execute-api": "rest-json",
    "scheduler": "rest-json",
    "pipes": "rest-json",
    "sns": "query",
    "iam": "query",
    "sts": "query",
    "cloudformation": "query",
    "s3": "rest-xml",
}

_JSON_CONTENT = "application/x-amz-json-1.0"


def protocol_of(service: str | None, headers: Mapping[str, str]) -> WireProtocol:
    """The protocol to answer an error in: the request's own (a query-protocol client of a
    JSON service still gets XML), else the service's, else JSON."""
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/x-amz-json-"):
        return "json"
    if content_type.startswith("application/x-www-form-urlencoded") and service != "s3":
        return "query"
    known = SERVICE_PROTOCOLS.get(service or "")
    if known is not None:
        return known
    return "json"


def error_response(
    protocol: WireProtocol,
    status: int,
    code: str,
    message: str,
    *,
    content_type: str | None = None,
) -> AwsResponse:
    """One error in ``protocol``'s shape, with a fresh request id."""
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json"):
        default_type = _JSON_CONTENT if protocol == "json" else "application/json"
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = {
            "content-type": content_type or default_type,
            "x-amzn-errortype": code,
            "x-amzn-requestid": request_id,
        }
        return AwsResponse(status, body, headers)
    if protocol == "query":
        fault = "Sender" if status < 500 else "Receiver"
        xml = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return AwsResponse(
            status, xml.encode(), {"content-type": "text/xml", "x-amzn-requestid": request_id}
        )
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
        f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId></Error>"
    )
    return AwsResponse(
        status, xml.encode(), {"content-type": "application/xml", "x-amz-request-id": request_id}
    )


def aws_error(request: AwsRequest, status: int, code: str, message: str) -> AwsResponse:
    """An error answering ``request`` in its service's protocol."""
    protocol = protocol_of(request.service, request.headers)
    content_type = request.headers.get("content-type", "")
    echoed = content_type if content_type.startswith("application/x-amz-json-") else None
    return error_response(protocol, status, code, message, content_type=echoed)
