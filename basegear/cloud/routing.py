"""Which AWS service, region, account and action an HTTP request is for.

A request names its service in one of these ways, tried in this order:

1. the SigV4 ``Authorization`` header's credential scope,
   ``AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/dynamodb/aws4_request, …``
   (AWS General Reference, "Signature Version 4: create a canonical request / credential
   scope"); SigV4a's scope ``AKID/20240101/s3/aws4_request`` has no region;
2. the same scope in a presigned URL's ``X-Amz-Credential`` query parameter (S3 developer
   guide, "Authenticating requests: using query parameters");
3. a SigV2 signature, ``Authorization: AWS AKID:sig`` or the query's ``AWSAccessKeyId`` and
   ``Signature``, which only S3 still accepts;
4. for unsigned calls, the JSON protocols' ``X-Amz-Target: <prefix>.<Operation>`` header, whose
   prefix names the service (``DynamoDB_20120810``, ``AmazonSQS``, …);
5. an API Gateway invoke host, ``{api-id}.execute-api.{region}.amazonaws.com`` or locally
   ``{api-id}.execute-api.{region}.localhost``, or a path
   ``/restapis/{api-id}/{stage}/_user_request_/…`` on any host: ``execute-api``, tried
   first, since a request to a deployed API carries the API's own ``Authorization`` header
   (a bearer token, say), not a signature.

The service is the signing name (``monitoring`` for CloudWatch, ``states`` for Step Functions,
``events`` for EventBridge), except ``dynamodbstreams``: DynamoDB Streams signs as
``dynamodb`` and is told apart by its ``DynamoDBStreams_20120810`` target prefix.

The action is the operation after the last dot of ``X-Amz-Target`` or the query protocol's
``Action`` parameter (query string or form body); REST protocols (S3, Lambda) carry none.

An S3 request may name its bucket in the host, virtual-hosted style (S3 user guide, "Virtual
hosting of buckets"): ``bucket.s3.eu-west-1.amazonaws.com``, and locally ``bucket.localhost``
or ``bucket.s3.localhost``; ``Route.bucket`` holds it.

Every account is :data:`DEFAULT_ACCOUNT`, moto's default account id: moto maps unknown access
keys to it, so ARNs built by moto and by BaseGear agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

DEFAULT_ACCOUNT = "123456789012"
"""The account of every request: moto's ``DEFAULT_ACCOUNT_ID``."""

DEFAULT_REGION = "us-east-1"
"""The region of requests that name none (SigV2, SigV4a, unsigned), as AWS's global endpoints."""

# X-Amz-Target prefixes of the JSON-protocol services (botocore service models,
# metadata.targetPrefix), for unsigned requests; signed ones name their service in the scope.
TARGET_PREFIXES: dict[str, str] = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
    "AmazonSQS": "sqs",
    "AWSStepFunctions": "states",
    "Logs_20140328": "logs",
    "AWSEvents": "events",
    "AmazonSSM": "ssm",
    "GraniteServiceVersion20100801": "monitoring",
    "secretsmanager": "secretsmanager",
    "TrentService": "kms",
    "Kinesis_20131202": "kinesis",
    "AWSCognitoIdentityService": "cognito-identity",
    "AWSCognitoIdentityProviderService": "cognito-idp",
}

_STREAMS_PREFIX = "DynamoDBStreams_20120810."
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{0,62}\Z")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,39}\Z")
_AWS_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+\Z")
_ACTION = re.compile(r"[A-Za-z0-9_]{1,128}\Z")
_S3_AWS_HOST = re.compile(r"(?P<bucket>.+)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com\Z")
_FORM = "application/x-www-form-urlencoded"
USER_REQUEST = "_user_request_"


class RoutingError(Exception):
    """The request names no service we can tell, or names it wrongly (AWS "Common errors")."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(slots=True)
class Route:
    service: str
    region: str
    account: str = DEFAULT_ACCOUNT
    action: str | None = None
    bucket: str | None = None  # an S3 bucket named in the host (virtual-hosted style)


def route(
    method: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
    *,
    path: str = "",
) -> Route:
    """The route of one request; ``headers`` have lower-case names, ``query`` is the parsed
    query string, ``path`` the request path. Raises :class:`RoutingError` when no service can
    be told."""
    execute_api = _execute_api_region(headers.get("host", ""), path)
    if execute_api is not None:
        return Route(service="execute-api", region=execute_api)
    service, region = _service_and_region(query, headers)
    target = headers.get("x-amz-target", "")
    if service == "dynamodb" and target.startswith(_STREAMS_PREFIX):
        service = "dynamodbstreams"
    action = _action(target, query, headers, body) if method == "POST" or query else None
    bucket = _virtual_host_bucket(headers.get("host", "")) if service == "s3" else None
    return Route(service=service, region=region, action=action, bucket=bucket)


def parse_query(query_string: str) -> dict[str, list[str]]:
    """``a=1&a=2&b`` → ``{"a": ["1", "2"], "b": [""]}``; invalid escapes are kept as written."""
    if not query_string:
        return {}
    return parse_qs(query_string, keep_blank_values=True)


def _service_and_region(
    query: Mapping[str, list[str]], headers: Mapping[str, str]
) -> tuple[str, str]:
    authorization = headers.get("authorization", "")
    if authorization.startswith("AWS4-"):
        return _credential_scope(_credential_of(authorization))
    if authorization.startswith("AWS "):
        return "s3", DEFAULT_REGION
    if authorization:
        raise RoutingError(
            400,
            "IncompleteSignature",
            "The request signature does not conform to AWS standards: "
            "unknown Authorization scheme.",
        )
    credential = _first(query, "X-Amz-Credential")
    if credential is not None:
        return _credential_scope(credential)
    if _first(query, "AWSAccessKeyId") is not None and _first(query, "Signature") is not None:
        return "s3", DEFAULT_REGION
    target = headers.get("x-amz-target", "")
    if target:
        service = TARGET_PREFIXES.get(target.split(".", 1)[0])
        if service is not None:
            return service, DEFAULT_REGION
    raise RoutingError(
        403,
        "MissingAuthenticationToken",
        "The request must contain either a valid (registered) AWS access key ID or X.509 "
        "certificate: it names no service.",
    )


def _credential_of(authorization: str) -> str:
    # "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, SignedHeaders=…"
    for part in authorization.split(" ", 1)[-1].split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            return value
    raise RoutingError(
        400,
        "IncompleteSignature",
        "The request signature does not conform to AWS standards: "
        "the Authorization header has no Credential.",
    )


def _credential_scope(credential: str) -> tuple[str, str]:
    parts = credential.split("/")
    if len(parts) == 5 and parts[4] == "aws4_request":
        region, service = parts[2], parts[3].lower()
    elif len(parts) == 4 and parts[3] == "aws4_request":  # SigV4a: no region in the scope
        region, service = DEFAULT_REGION, parts[2].lower()
    else:
        raise RoutingError(
            400,
            "IncompleteSignature",
            "The request signature does not conform to AWS standards: the credential scope "
            "must be <key>/<date>/<region>/<service>/aws4_request.",
        )
    if not _NAME.match(service) or not _REGION.match(region):
        raise RoutingError(
            400,
            "IncompleteSignature",
            "The request signature does not conform to AWS standards: "
            "invalid region or service in the credential scope.",
        )
    return service, region


def _action(
    target: str, query: Mapping[str, list[str]], headers: Mapping[str, str], body: bytes
) -> str | None:
    if target:
        operation = target.rsplit(".", 1)[-1]
        return operation if _ACTION.match(operation) else None
    action = _first(query, "Action")
    if action is None and body and headers.get("content-type", "").startswith(_FORM):
        try:
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return None
        action = _first(form, "Action")
    return action if action is not None and _ACTION.match(action) else None


def _first(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _hostname(host: str) -> str:
    """``Bucket.localhost:4566`` → ``bucket.localhost``; ``[::1]:4566`` → ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def _virtual_host_bucket(host: str) -> str | None:
    hostname = _hostname(host)
    if hostname.endswith(".localhost"):
        bucket = hostname.removesuffix(".localhost").removesuffix(".s3")
        return bucket if bucket and bucket != "s3" else None
    match = _S3_AWS_HOST.match(hostname)
    return match.group("bucket") if match else None


def _execute_api_region(host: str, path: str) -> str | None:
    """The region of a request to a deployed API (invoke host or ``_user_request_`` path);
    None for any other request."""
    labels = _hostname(host).split(".")
    if len(labels) >= 3 and labels[1] == "execute-api" and labels[0]:
        region = labels[2]
        return region if _AWS_REGION.match(region) else DEFAULT_REGION
    if path.startswith("/restapis/") and path.split("/", 5)[4:5] == [USER_REQUEST]:
        return DEFAULT_REGION  # the API's own region is found by its ID
    return None
