"""moto, called in-process: one routed request in, moto's response out, no HTTP and no werkzeug
server in between.

moto's own in-process entry (the botocore stubber in ``moto/core/botocore_stubber.py``) scans
about 150 service URL patterns for every request and then each pattern of the service's
``urls`` dict. We already know the service, so :class:`MotoBackend` does the cheap part of the
same thing:

1. once per service: the AWS host of its endpoint (``dynamodb.{region}.amazonaws.com``), the moto
   backend whose URL pattern (``moto.backend_index``) matches it, and that backend's ``urls``
   (regex → response handler, e.g. ``DynamoHandler.dispatch``) compiled in moto's order;
2. per request: the URL the client would have sent to AWS
   (``https://dynamodb.eu-west-1.amazonaws.com/``, path-style for S3), the first handler whose
   regex matches it, a ``moto.core.request.Request`` built straight from a WSGI environ, and
   ``handler(request, url, headers)`` — the call the stubber makes.

moto sees the AWS host in both the URL and the ``Host`` header, so every id and URL it builds is
the one AWS would return (an SQS ``QueueUrl`` is ``https://sqs.{region}.amazonaws.com/{account}/
{name}``); clients keep sending every call to the local endpoint, never to those hosts.

moto's state is its module-level backends: one per process, shared by every ``LocalCloud``.
"""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote, unquote_to_bytes, urlencode

from botocore.model import OperationNotFoundError
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, Request

from basegear.cloud import motoshim
from basegear.cloud.error_responses import aws_error, protocol_of
from basegear.cloud.protocol import AwsRequest, AwsResponse

LOG = logging.getLogger(__name__)

Handler = Callable[[Any, str, Any], Any]

# Endpoint prefixes that differ from the signing name (botocore models, metadata.endpointPrefix).
_ENDPOINT_PREFIXES = {
    "dynamodbstreams": "streams.dynamodb",
    "ses": "email",
}
# Services with one global endpoint and no region in the host (AWS General Reference,
# "Service endpoints and quotas").
_GLOBAL_HOSTS = {"iam": "iam.amazonaws.com"}
# Signing names that are not moto services of their own: API Gateway invoke URLs are served by
# BaseGear's API Gateway engine or not at all.
_NOT_MOTO = frozenset({"execute-api"})

# Request headers that describe the HTTP message rather than the AWS call; the body has
# already been de-chunked by the HTTP server.
_HOP_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding"})
# Response headers the gateway sets itself; moto's "status" is its status code in disguise.
_DROPPED_RESPONSE_HEADERS = frozenset({"status", "content-length", "transfer-encoding"})
_UNIMPLEMENTED = re.compile(r"The \S+ action has not been implemented")


_Handlers = tuple[tuple[re.Pattern[str], Handler], ...]


class MotoBackend:
    """Answers routed requests from moto's in-memory backends; thread-safe as moto is."""

    def __init__(self) -> None:
        motoshim.install()
        self._services: dict[str, _Handlers | None] = {}
        self._lock = threading.Lock()

    def handle(self, request: AwsRequest) -> AwsResponse:
        """moto's answer to ``request``, or an AWS-shaped error; never raises."""
        try:
            return self._handle(request)
        except Exception as error:  # moto failing on input it did not expect
            return _failure(request, error)

    def _handle(self, request: AwsRequest) -> AwsResponse:
        handlers = self._handlers(request.service)
        if handlers is None:
            return aws_error(
                request,
                501,
                "NotImplemented",
                f"The local cloud does not serve the AWS service '{request.service}'.",
            )
        host = _aws_host(request.service, request.region)
        url = f"https://{host}{request.path}"
        handler = next((h for pattern, h in handlers if pattern.match(url)), None)
        if handler is None:
            return _unknown_operation(request)
        query = _query_string(request)
        moto_request = _moto_request(request, host, query)
        full_url = f"{url}?{query}" if query else url
        try:
            status, headers, body = handler(moto_request, full_url, moto_request.headers)
        except OperationNotFoundError:  # moto looked the action up in botocore's model
            return _unknown_operation(request)
        except NotImplementedError as error:
            if _UNIMPLEMENTED.match(str(error)):
                return _unknown_operation(request)
            return aws_error(request, 501, "NotImplemented", str(error))
        return _response(status, headers, body, request)

    def _handlers(self, service: str) -> _Handlers | None:
        try:
            return self._services[service]
        except KeyError:
            pass
        with self._lock:
            if service not in self._services:
                self._services[service] = _load_handlers(service)
            return self._services[service]


def _aws_host(service: str, region: str) -> str:
    if service in _GLOBAL_HOSTS:
        return _GLOBAL_HOSTS[service]
    return f"{_ENDPOINT_PREFIXES.get(service, service)}.{region}.amazonaws.com"


def _load_handlers(service: str) -> _Handlers | None:
    """moto's handlers for ``service``, in moto's order; None if moto has no such service."""
    if service in _NOT_MOTO:
        return None
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core.base_backend import BackendDict
    from moto.core.models import DEFAULT_ACCOUNT_ID

    probe = f"https://{_aws_host(service, 'us-east-1')}"
    name = next((n for n, p in backend_index.backend_url_patterns if p.match(probe)), None)
    if name is None:
        return None
    try:
        backend_dict: Any = backends.get_backend(cast(Any, name))
    except Exception:  # e.g. a moto service whose optional dependencies are not installed
        LOG.warning("moto cannot load the %s backend", name, exc_info=True)
        return None
    # As moto's botocore stubber does: any one backend instance lists the service's URLs.
    if isinstance(backend_dict, BackendDict):
        regions = backend_dict[DEFAULT_ACCOUNT_ID]
        backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
    else:
        backend = backend_dict["global"]
    return tuple((re.compile(url), handler) for url, handler in backend.urls.items())


def _query_string(request: AwsRequest) -> str:
    if not request.query:
        return ""
    pairs = [(name, value) for name, values in request.query.items() for value in values]
    return urlencode(pairs, quote_via=quote)


def _moto_request(request: AwsRequest, host: str, query: str) -> Any:
    """A ``moto.core.request.Request`` over a WSGI environ (PEP 3333) built directly: what
    ``Request.from_primitives`` makes through werkzeug's ``EnvironBuilder``, in a tenth of the
    time."""
    body = request.body
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        # PATH_INFO is the percent-decoded path, its bytes as latin-1 (PEP 3333); RAW_URI keeps
        # the path as sent, which moto matches S3 keys against.
        "PATH_INFO": unquote_to_bytes(request.path).decode("latin-1"),
        "RAW_URI": f"{request.path}?{query}" if query else request.path,
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": host,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    content_type = request.headers.get("content-type")
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    preserved: dict[str, str] = {}
    for name, value in request.headers.items():
        if name in _HOP_HEADERS:
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        if "_" in name and name.startswith("x-amz-meta-"):
            preserved[key] = name  # S3 metadata names keep their underscores
        environ[key] = value
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    return Request(environ)


def _response(status: Any, headers: Any, body: Any, request: AwsRequest) -> AwsResponse:
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, bytes | bytearray):
        body = b"".join(
            part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in body
        )
    response_headers: dict[str, str] = {}
    for name, value in dict(headers or {}).items():
        lower = str(name).lower()
        if lower in _DROPPED_RESPONSE_HEADERS and not (
            lower == "content-length" and request.method == "HEAD"
        ):
            continue
        response_headers[lower] = str(value)
    code = int(status)
    if code == 403 and not body and request.method != "HEAD":
        # moto's S3 answers a request its bucket policy denies with an empty 403.
        return aws_error(request, 403, "AccessDenied", "Access Denied")
    if code >= 400 and not body and request.method != "HEAD":
        # moto answers a request that names no operation with an empty 404 (BaseResponse
        # .call_action); AWS names the error.
        return _unknown_operation(request)
    return AwsResponse(code, bytes(body), response_headers)


def _unknown_operation(request: AwsRequest) -> AwsResponse:
    """AWS's answer to an operation the service does not have: ``UnknownOperationException``
    for the JSON protocols, ``InvalidAction``/``MissingAction`` for the query protocol (AWS
    "Common errors"), ``NotImplemented`` for S3's REST API (S3 API reference, "Error codes")."""
    protocol = protocol_of(request.service, request.headers)
    action = request.action
    if protocol == "query":
        if action is None:
            return aws_error(
                request,
                400,
                "MissingAction",
                "The request is missing an action or a required parameter.",
            )
        return aws_error(
            request, 400, "InvalidAction", f"The action {action} is not valid for this web service."
        )
    if protocol == "rest-xml":
        return aws_error(
            request,
            501,
            "NotImplemented",
            f"{request.method} {request.path} is not implemented by the local cloud.",
        )
    status = 400 if protocol == "json" else 404
    what = action if action is not None else f"{request.method} {request.path}"
    return aws_error(request, status, "UnknownOperationException", f"Unknown operation {what}.")


def _failure(request: AwsRequest, error: Exception) -> AwsResponse:
    """moto raised. A body the protocol cannot read is the client's fault: for the JSON
    protocols one that is no JSON object (``SerializationException``, as AWS JSON services
    answer), for the query protocol one that is no UTF-8 (``MalformedQueryString``, AWS
    "Common errors", HTTP 404). Anything else is ours: ``InternalFailure``."""
    protocol = protocol_of(request.service, request.headers)
    if protocol == "json" and not _is_json_object(request.body):
        return aws_error(
            request, 400, "SerializationException", "The request body is not a JSON object."
        )
    if protocol == "query" and isinstance(error, UnicodeDecodeError):
        return aws_error(
            request, 404, "MalformedQueryString", "The query string contains a syntax error."
        )
    LOG.warning(
        "moto failed on %s %s (%s.%s): %r",
        request.method,
        request.path,
        request.service,
        request.action,
        error,
    )
    LOG.debug("moto traceback", exc_info=error)
    return aws_error(
        request,
        500,
        "InternalFailure",
        f"The local cloud failed to process the request: {type(error).__name__}: {error}",
    )


def _is_json_object(body: bytes) -> bool:
    if not body:
        return True  # an empty body stands for {} in the JSON protocols
    try:
        return isinstance(json.loads(body), dict)
    except ValueError:
        return False
