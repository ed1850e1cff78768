"""boto3 clients answered by the local cloud's router in the calling thread, with no socket.

A botocore ``before-send`` hook (:func:`before_send`) hands each request to the router of the
most recently started ``LocalCloud`` (moto's state is per process, so every cloud in one process
is the same cloud) and returns its answer as the HTTP response; with none running it answers
503 rather than let the request leave the process.

moto's Step Functions gets its task clients from :class:`InProcessClients` (see
``stepfunctions.py``); BaseGear's own code that runs inside the cloud may use it too, e.g. a
provider that creates resources through other services' APIs before the cloud listens.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from basegear.cloud.motoshim.attached import Attached

Dispatcher = Callable[[str, str, str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes]]
"""``(method, path, query_string, headers, body) → (status, headers, body)``."""

_dispatchers: Attached[Dispatcher] = Attached()
attach = _dispatchers.attach
detach = _dispatchers.detach
current = _dispatchers.current
_NEVER_DIALLED = "http://in-process.invalid"  # the hook answers before any connection


class InProcessClients:
    """boto3 clients, one per service and region, made once (boto3 clients are thread-safe)
    with dummy credentials and answered in-process. ``client()`` takes ``boto3.client``'s
    keyword arguments, so that it can stand in for the ``boto3`` module."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._session: Any = None

    def client(self, service_name: str, region_name: str, **kwargs: Any) -> Any:
        key = (service_name, region_name)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._new_client(service_name, region_name, kwargs)
        return client

    def _new_client(self, service_name: str, region_name: str, kwargs: dict[str, Any]) -> Any:
        from basegear.awsdata import boto3_session

        if self._session is None:
            # Explicit dummy credentials: nothing from the environment or a profile is used.
            self._session = boto3_session(
                aws_access_key_id="basegear", aws_secret_access_key="basegear"
            )
        kwargs.pop("aws_access_key_id", None)
        kwargs.pop("aws_secret_access_key", None)
        kwargs["endpoint_url"] = _NEVER_DIALLED
        client = self._session.client(service_name, region_name=region_name, **kwargs)
        client.meta.events.register_first("before-send", before_send)
        return client


class _RawBody(io.BytesIO):
    """What botocore reads a response body from (``AWSResponse.raw``)."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(65536):
            yield chunk


def before_send(request: Any, **_: Any) -> Any:
    """The hook: ``request`` is a botocore ``AWSPreparedRequest``; returns an ``AWSResponse``."""
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    headers: dict[str, str]
    dispatcher = current()
    if dispatcher is None:
        status, headers, body = 503, {}, b"No local cloud is running in this process."
    else:
        parts = urlsplit(request.url)
        request_headers = {
            str(name).lower(): value.decode("latin-1") if isinstance(value, bytes) else str(value)
            for name, value in request.headers.items()
        }
        status, headers, body = dispatcher(
            request.method, parts.path or "/", parts.query, request_headers, _body(request.body)
        )
    response_headers = HTTPHeaders()
    for name, value in headers.items():
        response_headers[name] = value
    return AWSResponse(request.url, status, response_headers, _RawBody(body))


def _body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    data = body.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)
