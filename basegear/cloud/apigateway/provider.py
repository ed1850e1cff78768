"""``ExecuteApiProvider``: the ``execute-api`` service, every deployed API stage of the local
cloud served over HTTP.

A stage is reached at

- ``http://<api id>.execute-api.<region>.localhost:<port>/<stage>/<path>`` — the invoke URL's
  shape (``*.localhost`` names this machine); an HTTP API's ``$default`` stage without the
  stage segment, as on AWS;
- ``http://127.0.0.1:<port>/restapis/<api id>/<stage>/_user_request_/<path>`` on any host.

One request, in the steps of the API Gateway developer guide ("Setting up REST API
integrations"): find the API and stage (``_target``), route (``Stage.method_for``: 403
``Missing Authentication Token`` for REST APIs, 404 for HTTP APIs when nothing matches), method
request (API key, authorizer: ``access``), integration (Lambda proxy here, the others in
``integrations``), response.

A Lambda proxy request is served on the gateway's event loop when the stage is cached and a
warm worker is idle (``MotoLambda.invoke_warm``), with no thread hop; everything else runs in
this provider's own thread pool.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from basegear.cloud.apigateway import access
from basegear.cloud.apigateway.cors import is_preflight, preflight, with_cors
from basegear.cloud.apigateway.incoming import Incoming, context_variables
from basegear.cloud.apigateway.integrations import (
    IntegrationError,
    internal_error,
    run_integration,
    template_inputs,
)
from basegear.cloud.apigateway.lambda_authorizers import LambdaAuthorizers, Principal
from basegear.cloud.apigateway.proxy_events import (
    INTERNAL_ERROR_V1,
    INTERNAL_ERROR_V2,
    MalformedResponseError,
    event_v1,
    event_v2,
    response_v1,
    response_v2,
)
from basegear.cloud.apigateway.stages import (
    ApiGatewayWrites,
    Clients,
    Method,
    Stage,
    StageCache,
    http_stage_names,
)
from basegear.cloud.apigateway.tokens import TokenIssuer
from basegear.cloud.apigateway.vtl import TemplateError
from basegear.cloud.lambdas.spec import InvokeError, InvokeResult
from basegear.cloud.motoshim.awslambda import LambdaApiError, MotoLambda, Resolved, backend_for
from basegear.cloud.protocol import AwsRequest, AwsResponse, Provider

LOG = logging.getLogger(__name__)

USER_REQUEST = "_user_request_"
DEFAULT_STAGE = "$default"
_JSON = "application/json"
_REMEMBERED_TARGETS = 1024
_JWT_CHECKS = frozenset({"NONE", "COGNITO_USER_POOLS", "JWT"})
_SERVED_AUTHORIZATION = {"REST": _JWT_CHECKS | {"CUSTOM"}, "HTTP": _JWT_CHECKS}
"""Authorization types served; CUSTOM: a REST API's Lambda authorizer (``lambda_authorizers``)."""


@dataclass(slots=True)
class Target:
    """Where a request goes: API, stage, and the path within the stage."""

    api_id: str
    stage: str
    path: str
    stage_path: str
    region: str
    domain_name: str
    kind: str


@dataclass(slots=True)
class Prepared:
    """A request routed and past its method request checks."""

    stage: Stage
    method: Method
    parameters: dict[str, str]
    incoming: Incoming
    api_key: tuple[str, str] | None
    claims: dict[str, Any] | None
    principal: Principal | None = None  # what a Lambda authorizer let in


class ExecuteApiProvider:
    """Register ``providers`` (this and the cache's invalidation on API Gateway writes).
    ``clients`` reads the APIs (``InProcessClients().client``), ``clock`` stamps requests and
    checks token expiry (the cloud's virtual clock)."""

    service = "execute-api"

    def __init__(
        self,
        plug: MotoLambda,
        *,
        clients: Clients,
        clock: Callable[[], float] = time.time,
        tokens: TokenIssuer | None = None,
        threads: int = 32,
    ) -> None:
        self._plug = plug
        self._clock = clock
        self.stages = StageCache(clients)
        self._targets: dict[tuple[str, str, str, str], Target] = {}
        self._targets_generation = -1
        self.tokens = tokens or TokenIssuer(clock=clock)
        self.authorizers = LambdaAuthorizers(self._invoke_authorizer, clock=clock)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="gear-execute-api")
        self.providers: tuple[Provider, ...] = (self, ApiGatewayWrites(self.stages))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- the two entry points ------------------------------------------------------------------

    def handle(self, request: AwsRequest) -> AwsResponse:
        """The answer, in the calling thread (blocks while a function runs)."""
        target = self._target(request)
        if isinstance(target, AwsResponse):
            return target
        stage = self.stages.get(
            request.account,
            target.region,
            target.api_id,
            target.stage,
            "REST" if target.kind == "REST" else "HTTP",
        )
        prepared = self._prepare(request, target, stage)
        assert prepared is not None  # not on the loop: a Lambda authorizer has run
        if isinstance(prepared, AwsResponse):
            return prepared
        return self._integrate(prepared)

    async def handle_async(self, request: AwsRequest) -> AwsResponse:
        """On the event loop when the stage is cached and the method is a Lambda proxy whose
        function has a warm worker idle; in the pool otherwise."""
        target = self._target(request)
        if isinstance(target, AwsResponse):
            return target
        read, stage = self.stages.cached(
            request.account, target.region, target.api_id, target.stage
        )
        if not read:
            answer: AwsResponse = await self._in_pool(self.handle, request)
            return answer
        prepared = self._prepare(request, target, stage, on_loop=True)
        if prepared is None:
            answer = await self._in_pool(self.handle, request)
            return answer
        if isinstance(prepared, AwsResponse):
            return prepared
        integration = prepared.method.integration
        if integration is None or integration.type != "AWS_PROXY":
            answer = await self._in_pool(self._integrate, prepared)
            return answer
        try:
            function, payload, version = self._proxy_call(prepared)
            result = await self._plug.invoke_warm(function, payload, payload_is_json=True)
            if result is None:
                result = await self._in_pool(self._plug.invoke, function, payload)
        except (LambdaApiError, InvokeError, LookupError) as failure:
            return self._invoke_failed(prepared, failure)
        return self._proxy_answer(prepared, result, version)

    def _invoke_authorizer(self, uri: str, event: bytes) -> InvokeResult:
        account, region, name, qualifier = function_of(uri, {})
        return self._plug.invoke(
            self._plug.resolve(backend_for(account, region), name, qualifier), event
        )

    def _in_pool(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        return loop.run_in_executor(self._executor, context.run, function, *args)

    # -- finding the API, stage and method ----------------------------------------------------

    def _target(self, request: AwsRequest) -> Target | AwsResponse:
        """``_find_target``, remembered per host and path (the last thousand or so) until the
        next API Gateway write."""
        generation = self.stages.generation
        if self._targets_generation != generation:
            self._targets, self._targets_generation = {}, generation
        key = (request.account, request.region, request.headers.get("host", ""), request.path)
        targets = self._targets
        known = targets.get(key)
        if known is not None:
            return known
        found = self._find_target(request)
        if isinstance(found, Target):
            if len(targets) >= _REMEMBERED_TARGETS:
                targets.clear()
            targets[key] = found
        return found

    def _find_target(self, request: AwsRequest) -> Target | AwsResponse:
        hostname = request.headers.get("host", "").rsplit(":", 1)[0].lower()
        labels = hostname.split(".")
        if len(labels) >= 3 and labels[1] == "execute-api":
            api_id, path = labels[0], request.path
            stage_segment, rest = _first_segment(path)
            on_host = True
        elif request.path.startswith("/restapis/"):
            parts = request.path.split("/", 5)
            if len(parts) < 5 or (len(parts) > 4 and parts[4] != USER_REQUEST):
                return access.missing_token()
            api_id, stage_segment = parts[2], parts[3]
            rest = "/" + (parts[5] if len(parts) > 5 else "")
            on_host = False
        else:
            return access.not_found()
        found = self.stages.api(request.account, request.region, api_id)
        if found is None:
            return AwsResponse(
                404,
                json.dumps({"message": f"No API with ID {api_id!r} is deployed"}).encode(),
                {"content-type": _JSON},
            )
        kind, region = found
        stage = stage_segment
        stage_path = f"/{stage_segment}{rest}" if stage_segment else "/"
        if kind == "HTTP" and on_host:
            names = http_stage_names(request.account, region, api_id)
            if stage_segment not in names or stage_segment == DEFAULT_STAGE:
                stage, rest, stage_path = DEFAULT_STAGE, request.path or "/", request.path or "/"
        if not stage:
            return access.missing_token() if kind == "REST" else access.not_found()
        return Target(api_id, stage, rest, stage_path, region, hostname, kind)

    def _prepare(
        self, request: AwsRequest, target: Target, stage: Stage | None, *, on_loop: bool = False
    ) -> Prepared | AwsResponse | None:
        """The request past its method request checks, or the answer that refuses it; None
        ``on_loop`` when a Lambda authorizer must run first (on a thread)."""
        if stage is None:
            return access.missing_token() if target.kind == "REST" else access.not_found()
        found = stage.method_for(request.method, target.path)
        if found is None:
            if stage.cors is not None and is_preflight(request.method, request.headers):
                return preflight(stage.cors, request.headers)
            return access.missing_token() if stage.kind == "REST" else access.not_found()
        method, parameters = found
        incoming = Incoming(
            method=request.method,
            path=target.path,
            stage_path=target.stage_path,
            query=request.query,
            headers=request.headers,
            body=request.body,
            api_id=target.api_id,
            stage=target.stage,
            region=target.region,
            account=request.account,
            domain_name=target.domain_name,
            epoch=self._clock(),
            repeated_headers=request.repeated_headers or {},
            source_ip=request.client_ip or "127.0.0.1",
        )
        key = access.api_key(method, stage, incoming)
        if isinstance(key, AwsResponse):
            return key
        claims = access.claims(method, stage, incoming, self.tokens)
        if isinstance(claims, AwsResponse):
            return claims
        if claims is not None and stage.kind == "HTTP":
            refused = access.http_scopes(method, claims)
            if refused is not None:
                return refused
        if method.authorization_type not in _SERVED_AUTHORIZATION[stage.kind]:
            return _unsupported(
                f"{method.route_key} of API {stage.api_id} uses {method.authorization_type} "
                "authorization, which the local cloud does not serve (NONE, COGNITO_USER_POOLS, "
                "JWT, and Lambda authorizers of REST APIs are served)"
            )
        principal = None
        if method.authorization_type == "CUSTOM" and method.authorizer is not None:
            if on_loop:  # the authorizer's function runs first, on a thread
                return None
            let_in = self.authorizers.authorize(method, stage, incoming, parameters)
            if isinstance(let_in, AwsResponse):
                return let_in
            principal = let_in
        return Prepared(stage, method, parameters, incoming, key, claims, principal)

    # -- integrations ----------------------------------------------------------------------------

    def _integrate(self, prepared: Prepared) -> AwsResponse:
        method, stage = prepared.method, prepared.stage
        integration = method.integration
        if integration is None:
            return _unsupported(f"{method.route_key} of API {stage.api_id} has no integration")
        if integration.type == "AWS_PROXY":
            try:
                function, payload, version = self._proxy_call(prepared)
                result = self._plug.invoke(function, payload)
            except (LambdaApiError, InvokeError, LookupError) as failure:
                return self._invoke_failed(prepared, failure)
            return self._proxy_answer(prepared, result, version)
        if integration.type in ("AWS", "MOCK") and stage.kind == "REST":
            context = context_variables(
                prepared.incoming,
                resource_path=method.resource_path,
                resource_id=method.resource_id,
                api_key=prepared.api_key[0] if prepared.api_key else None,
                claims=prepared.claims,
                authorizer=_authorizer_of(prepared),
            )
            inputs = template_inputs(
                prepared.incoming, prepared.parameters, context, stage.variables
            )
            try:
                response = run_integration(method, prepared.incoming, inputs, stage.region)
            except (IntegrationError, TemplateError) as failure:
                LOG.warning("%s of API %s: %s", method.route_key, stage.api_id, failure)
                return _stamped(internal_error(), prepared)
            except Exception as failure:  # a bug of ours: the client gets AWS's 500
                LOG.warning(
                    "%s of API %s failed: %s",
                    method.route_key,
                    stage.api_id,
                    failure,
                    exc_info=True,
                )
                return _stamped(internal_error(), prepared)
            return _stamped(response, prepared)
        return _unsupported(
            f"{method.route_key} of API {stage.api_id} has a {integration.type} integration, "
            "which the local cloud does not serve (AWS_PROXY, AWS and MOCK are served)"
        )

    def _proxy_call(self, prepared: Prepared) -> tuple[Resolved, bytes, str]:
        """The function to invoke, the event and its payload format version."""
        method, stage, incoming = prepared.method, prepared.stage, prepared.incoming
        integration = method.integration
        assert integration is not None
        account, region, name, qualifier = function_of(integration.uri, stage.variables)
        function = self._plug.resolve_remembered(backend_for(account, region), name, qualifier)
        version = "1.0" if stage.kind == "REST" else integration.payload_format
        if version == "2.0":
            event = event_v2(
                incoming,
                route_key=method.route_key,
                path_parameters=prepared.parameters,
                stage_variables=stage.variables,
                claims=prepared.claims,
                scopes=method.scopes,
            )
        else:
            event = event_v1(
                incoming,
                resource_path=method.resource_path,
                resource_id=method.resource_id,
                path_parameters=prepared.parameters,
                stage_variables=stage.variables,
                binary_media_types=stage.binary_media_types,
                api_key=prepared.api_key,
                claims=prepared.claims,
                authorizer=_authorizer_of(prepared),
            )
            if stage.kind == "HTTP":
                event = {"version": "1.0", **event}
        return function, orjson.dumps(event), version

    def _proxy_answer(self, prepared: Prepared, result: InvokeResult, version: str) -> AwsResponse:
        failed = INTERNAL_ERROR_V2 if version == "2.0" else INTERNAL_ERROR_V1
        failed_status = 500 if version == "2.0" else 502
        if result.function_error:
            LOG.info(
                "%s of API %s: the function failed: %s",
                prepared.method.route_key,
                prepared.stage.api_id,
                result.payload[:500].decode("utf-8", errors="replace"),
            )
            return _stamped(AwsResponse(failed_status, failed, {"content-type": _JSON}), prepared)
        try:
            if version == "2.0":
                response = response_v2(result.payload)
            else:
                response = response_v1(result.payload)
                response.headers.setdefault("content-type", _JSON)
        except MalformedResponseError as malformed:
            LOG.warning(
                "%s of API %s: malformed Lambda proxy response: %s",
                prepared.method.route_key,
                prepared.stage.api_id,
                malformed,
            )
            return _stamped(AwsResponse(failed_status, failed, {"content-type": _JSON}), prepared)
        return _stamped(response, prepared)

    def _invoke_failed(self, prepared: Prepared, failure: Exception) -> AwsResponse:
        LOG.warning(
            "%s of API %s: the function could not be invoked: %s",
            prepared.method.route_key,
            prepared.stage.api_id,
            failure,
        )
        body = INTERNAL_ERROR_V2 if prepared.stage.kind == "HTTP" else INTERNAL_ERROR_V1
        return _stamped(AwsResponse(500, body, {"content-type": _JSON}), prepared)


def function_of(
    uri: str, stage_variables: dict[str, str] | Any
) -> tuple[str, str, str, str | None]:
    """Account, region, name and qualifier of the function a Lambda integration URI names:
    ``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations``
    or, for HTTP APIs, the function ARN itself; ``${stageVariables.x}`` substituted."""
    if "${stageVariables." in uri:
        for name, value in stage_variables.items():
            uri = uri.replace(f"${{stageVariables.{name}}}", value)
    return _function_of(uri)


@functools.lru_cache(maxsize=1024)
def _function_of(uri: str) -> tuple[str, str, str, str | None]:
    """``function_of`` a URI without stage variables (remembered: every request to a method
    asks about the same URI)."""
    from basegear.cloud.events.invoker import split_function_arn

    arn = uri
    if "/functions/" in uri:
        arn = uri.split("/functions/", 1)[1].removesuffix("/invocations")
    return split_function_arn(arn)


def _first_segment(path: str) -> tuple[str, str]:
    """``/dev/items/1`` → (``dev``, ``/items/1``)."""
    stripped = path.lstrip("/")
    first, slash, rest = stripped.partition("/")
    return first, "/" + rest if slash else "/"


def _authorizer_of(prepared: Prepared) -> dict[str, Any] | None:
    principal = prepared.principal
    return None if principal is None else principal.as_authorizer()


def _stamped(response: AwsResponse, prepared: Prepared) -> AwsResponse:
    """The integration's answer as API Gateway sends it: with the request IDs it returns with
    every answer, and an HTTP API's CORS headers."""
    incoming = prepared.incoming
    response.headers.setdefault("x-amzn-requestid", incoming.request_id)
    response.headers.setdefault("x-amz-apigw-id", incoming.extended_request_id)
    cors = prepared.stage.cors
    return response if cors is None else with_cors(cors, incoming.headers, response)


def _unsupported(message: str) -> AwsResponse:
    LOG.warning("%s", message)
    return AwsResponse(501, json.dumps({"message": message}).encode(), {"content-type": _JSON})
