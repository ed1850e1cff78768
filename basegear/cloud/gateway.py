"""The local cloud's front door: an ASGI app that speaks the AWS wire protocol.

One request's path, one line per step (docs/local-cloud.md draws it):

1. read the HTTP request (``Gateway.__call__``);
2. route it — service, region, account, action (``routing.route``); S3 virtual-hosted requests
   become path-style here, so nothing downstream sees two addressing styles;
3. offer it to the providers registered for the service, in registration order; the first that
   answers (does not return ``None``) wins (``Router``);
4. else moto answers it in-process (``moto_backend.MotoBackend``);
5. any failure on the way becomes an AWS-shaped error in the service's protocol
   (``error_responses``) — the gateway answers every request and never stops serving.

Threads: the event loop only parses, routes and writes. A provider's ``handle`` runs in the
gateway's thread pool unless the provider declares ``blocking = False`` (then it runs on the
loop and must return in microseconds, without I/O or locks held by other requests). A provider
may also define ``async def handle_async(request)``, which the gateway awaits on the loop instead
of calling ``handle``: for waiting on I/O the loop can watch (a worker's pipe) without the thread
hop, which costs ~90 µs of CPU per request (bench/gateway.py). In-process callers
(``Router.dispatch``) always call ``handle``.

moto answers on the loop for the services in :data:`INLINE_MOTO_SERVICES` — in-memory work that
never calls a function or the network — and in the pool for everything else: an SNS publish may
run a Lambda function whose handler calls back into this gateway, which must then be free to
answer.

Durable state (``basegear/cloud/state``) sees the request path through one seam, the router's
:class:`Recorder`: every routed request is offered to it before it is answered; for a request it
records, the answer is handed back to it, and the response is sent (or returned to an in-process
caller) only once the recording is durable. The pool runs each call in a copy of the request's
``contextvars`` context, so what the recorder puts there is seen in whichever thread answers.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from basegear.cloud.error_responses import aws_error, error_response, protocol_of
from basegear.cloud.moto_backend import MotoBackend
from basegear.cloud.motoshim import dynamodb
from basegear.cloud.protocol import AwsRequest, AwsResponse, Provider
from basegear.cloud.routing import (
    DEFAULT_ACCOUNT,
    DEFAULT_REGION,
    RoutingError,
    parse_query,
    route,
)

CONTROL_PREFIX = "/_gear/"

LOG = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Services moto answers on the event loop: in-memory work that never invokes a function, sleeps
# or opens a socket. Everything else (SNS, SQS, S3, Lambda, Logs, EventBridge, Step Functions, …)
# may run a function or long-poll, and runs in the pool.
INLINE_MOTO_SERVICES = frozenset({"dynamodb", "dynamodbstreams", "iam", "sts", "ssm", "monitoring"})
# DynamoDB writes run a function inside the write when moto holds an event source mapping for
# the table (motoshim/dynamodb.py); then they go to the pool too.
DYNAMODB_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)


_T = TypeVar("_T")


class Recording(Protocol):
    """One request the recorder keeps (``basegear/cloud/state/recorder.py``)."""

    def finish(self, response: AwsResponse | None) -> None:
        """The answer (None if answering failed), in the thread or task that began it."""

    async def durable(self) -> None:
        """Return once the recorded answer survives a crash; raise if it cannot."""

    def wait_durable(self) -> None:
        """``durable`` for a thread."""


class Recorder(Protocol):
    def begin(self, request: AwsRequest) -> Recording | None:
        """Called before ``request`` is answered; None: not recorded."""


def moto_runs_inline(request: AwsRequest) -> bool:
    """Whether moto answers ``request`` on the event loop rather than in the pool."""
    if request.service not in INLINE_MOTO_SERVICES:
        return False
    if request.service == "dynamodb" and request.action in DYNAMODB_WRITES:
        return not dynamodb.holds_event_source_mappings(request.account, request.region)
    return True


def _call_provider(provider: Provider, request: AwsRequest) -> AwsResponse | None:
    try:
        return provider.handle(request)
    except Exception as error:
        return _provider_failed(provider, request, error)


def _provider_failed(provider: Provider, request: AwsRequest, error: Exception) -> AwsResponse:
    LOG.error(
        "provider %r failed on %s.%s",
        provider,
        request.service,
        request.action,
        exc_info=error,
    )
    return aws_error(
        request,
        500,
        "InternalFailure",
        f"The local cloud failed to process the request: {type(error).__name__}: {error}",
    )


class Router:
    """Providers first, by service and in registration order, then moto."""

    def __init__(self, providers: Iterable[Provider] = (), *, moto: MotoBackend | None = None):
        self.moto = moto if moto is not None else MotoBackend()
        self._providers: dict[str, tuple[Provider, ...]] = {}
        self._lock = threading.Lock()
        self.recorder: Recorder | None = None  # set by durable state while it records
        for provider in providers:
            self.add(provider)

    def add(self, provider: Provider) -> None:
        """Route ``provider.service`` to ``provider`` after the providers already added; takes
        effect for the next request, also while serving."""
        with self._lock:
            current = self._providers.get(provider.service, ())
            self._providers = {**self._providers, provider.service: (*current, provider)}

    def remove(self, provider: Provider) -> None:
        with self._lock:
            current = self._providers.get(provider.service, ())
            kept = tuple(p for p in current if p is not provider)
            self._providers = {**self._providers, provider.service: kept}

    def providers_for(self, service: str) -> tuple[Provider, ...]:
        return self._providers.get(service, ())

    def all_providers(self) -> tuple[Provider, ...]:
        """Every registered provider, each once (durable state looks for its components)."""
        found = [p for providers in self._providers.values() for p in providers]
        return tuple({id(p): p for p in found}.values())

    def dispatch(self, request: AwsRequest) -> AwsResponse:
        """The answer to ``request`` in the calling thread (for in-process callers); a recorded
        answer is returned once it is durable."""
        recorder = self.recorder
        recording = recorder.begin(request) if recorder is not None else None
        if recording is None:
            return self._dispatch(request)
        try:
            response = self._dispatch(request)
        except BaseException:
            recording.finish(None)
            raise
        recording.finish(response)
        try:
            recording.wait_durable()
        except Exception as error:
            return _not_durable(request, error)
        return response

    def _dispatch(self, request: AwsRequest) -> AwsResponse:
        for provider in self.providers_for(request.service):
            response = _call_provider(provider, request)
            if response is not None:
                return response
        return self.moto.handle(request)

    def dispatch_raw(
        self, method: str, path: str, query_string: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """``dispatch`` for a raw HTTP request (``motoshim.inprocess.Dispatcher``)."""
        parsed = build_request(method, path, query_string, headers, body)
        response = parsed if isinstance(parsed, AwsResponse) else self.dispatch(parsed)
        return response.status, response.headers, response.body


def build_request(
    method: str, raw_path: str, query_string: str, headers: Mapping[str, str], body: bytes
) -> AwsRequest | AwsResponse:
    """The routed request, or the AWS error for a request that names no service we can tell.
    ``headers`` have lower-case names; ``raw_path`` is percent-encoded as sent."""
    query = parse_query(query_string)
    if raw_path.startswith(CONTROL_PREFIX):  # BaseGear's own control API (cloud/control.py)
        return AwsRequest(
            method=method,
            path=raw_path,
            query=query,
            headers=dict(headers),
            body=body,
            service="gear",
            region=DEFAULT_REGION,
            account=DEFAULT_ACCOUNT,
            action=None,
        )
    try:
        found = route(method, query, headers, body, path=raw_path)
    except RoutingError as error:
        protocol = protocol_of(None, headers)
        return error_response(protocol, error.status, error.code, error.message)
    path = raw_path or "/"
    if found.bucket is not None:  # virtual-hosted style → path style
        path = f"/{quote(found.bucket)}" + ("" if path == "/" else path)
    return AwsRequest(
        method=method,
        path=path,
        query=query,
        headers=dict(headers),
        body=body,
        service=found.service,
        region=found.region,
        account=found.account,
        action=found.action,
    )


class Gateway:
    """The ASGI application (HTTP and lifespan scopes)."""

    def __init__(self, router: Router, *, executor: ThreadPoolExecutor) -> None:
        self.router = router
        self._executor = executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await _lifespan(receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        method: str = scope["method"]
        try:
            headers, repeated = _headers(scope["headers"])
            raw_path = scope.get("raw_path")
            path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
            query_string = scope["query_string"].decode("latin-1")
            parsed = build_request(method, path, query_string, headers, body)
            if isinstance(parsed, AwsResponse):
                response = parsed
            else:
                parsed.repeated_headers = repeated
                parsed.client_ip = _client_ip(scope)
                recorder = self.router.recorder
                recording = recorder.begin(parsed) if recorder is not None else None
                if recording is None:
                    response = await self._answer(parsed)
                else:
                    response = await self._recorded(parsed, recording)
        except Exception as error:  # a bug of ours: answer it and keep serving
            LOG.exception("gateway failed on %s %s", method, scope.get("path"))
            response = error_response(
                "json", 500, "InternalFailure", f"The local cloud failed: {error!r}"
            )
        await _send_response(send, response, head=method == "HEAD")

    async def _recorded(self, request: AwsRequest, recording: Recording) -> AwsResponse:
        """The answer to a request that writes: returned once it is durable."""
        try:
            response = await self._answer(request)
        except BaseException:
            recording.finish(None)
            raise
        recording.finish(response)
        try:
            await recording.durable()
        except Exception as error:
            return _not_durable(request, error)
        return response

    async def _answer(self, request: AwsRequest) -> AwsResponse:
        for provider in self.router.providers_for(request.service):
            handle_async = getattr(provider, "handle_async", None)
            answer: AwsResponse | None
            if handle_async is not None:
                try:
                    answer = await handle_async(request)
                except Exception as error:
                    answer = _provider_failed(provider, request, error)
            elif getattr(provider, "blocking", True):
                answer = await self._in_pool(_call_provider, provider, request)
            else:
                answer = _call_provider(provider, request)
            if answer is not None:
                return answer
        if moto_runs_inline(request):
            return self.router.moto.handle(request)
        return await self._in_pool(self.router.moto.handle, request)

    def _in_pool(self, function: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        """``function(*args)`` in the pool, in a copy of this task's context."""
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._executor, context.run, function, *args)


def _not_durable(request: AwsRequest, error: Exception) -> AwsResponse:
    """The write happened but could not be made durable: the client must not take it as
    acknowledged (a 500 leaves the outcome open, as AWS's InternalFailure does)."""
    LOG.error(
        "a %s.%s answer could not be made durable: %s", request.service, request.action, error
    )
    return aws_error(
        request, 500, "InternalFailure", f"The local cloud could not save the write: {error}"
    )


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _client_ip(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _headers(
    raw: Iterable[tuple[bytes, bytes]],
) -> tuple[dict[str, str], dict[str, list[str]] | None]:
    """Lower-case names to values, a repeated header's values joined with commas (RFC 9110
    §5.3); and each repeated header's values apart, None when none repeats."""
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] | None = None
    for name_bytes, value_bytes in raw:
        name = name_bytes.decode("latin-1").lower()
        value = value_bytes.decode("latin-1")
        if name in headers:
            repeated = repeated or {}
            repeated.setdefault(name, [headers[name]]).append(value)
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    return headers, repeated


async def _send_response(send: Send, response: AwsResponse, *, head: bool) -> None:
    headers: list[tuple[bytes, bytes]] = []
    length: str | None = None
    for name, value in response.headers.items():
        encoded = _header_name(name)
        if encoded == b"content-length":
            length = value
        elif encoded != b"date":  # uvicorn writes the Date header
            headers.append((encoded, _header_value(value)))
    if not head or length is None:
        length = str(len(response.body))
    headers.append((b"content-length", length.encode("latin-1")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


@functools.lru_cache(maxsize=1024)
def _header_name(name: str) -> bytes:
    """The lower-case name, as bytes (remembered: responses repeat the same few names)."""
    return _header_value(name.lower())


def _header_value(value: str) -> bytes:
    # HTTP header values are latin-1 (RFC 9110 §5.5); anything else is sent as UTF-8 bytes. A
    # line break (an echoed client value, say) would end the header: it becomes a space.
    value = value.replace("\r", " ").replace("\n", " ")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
