"""What one deployed stage serves, read once from the cloud's API Gateway API and kept until the
API changes.

A ``Stage`` is plain data: its routes in a :class:`~basegear.cloud.apigateway.paths.PathTable`,
each route's method settings, integration, integration responses and authorizer, the stage
variables and the API key values that a usage plan binds to the stage. It is read through the
API Gateway API (GetStage, GetResources, GetAuthorizers, GetUsagePlans, … for REST APIs;
GetStages, GetRoutes, GetIntegrations, GetAuthorizer for HTTP APIs), answered in-process.

:class:`StageCache` keeps one per stage. Any write to the API Gateway API (a redeployment, a
changed method, a new API key) empties it: :class:`ApiGatewayWrites` sees every such request
on its way to moto. The stage then serves the API as it is when it is next read — a deviation
from AWS, where a stage serves the snapshot its deployment took and edits show only after
the next deployment (API Gateway developer guide, "Deploying a REST API").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from basegear.cloud.apigateway.cors import Cors, cors_of
from basegear.cloud.apigateway.paths import Match, PathTable
from basegear.cloud.protocol import AwsRequest

Kind = Literal["REST", "HTTP"]
Clients = Callable[[str, str], Any]
"""``(service, region) → boto3 client`` answered by the cloud (``InProcessClients.client``)."""

ANY = "ANY"
DEFAULT_ROUTE = "$default"
_PAGE = 500


@dataclass(frozen=True)
class IntegrationResponse:
    status_code: str
    selection_pattern: str | None  # None or "": the default response
    templates: Mapping[str, str]  # content type → template
    parameters: Mapping[str, str]  # method.response.header.X → source


@dataclass(frozen=True)
class Integration:
    type: str  # AWS_PROXY, AWS, MOCK, HTTP, HTTP_PROXY
    uri: str
    http_method: str
    request_templates: Mapping[str, str] = field(default_factory=dict)
    passthrough: str = "WHEN_NO_MATCH"
    request_parameters: Mapping[str, str] = field(default_factory=dict)
    responses: tuple[IntegrationResponse, ...] = ()
    payload_format: str = "1.0"  # HTTP APIs: the Lambda event's version


@dataclass(frozen=True)
class Authorizer:
    """A JWT check — COGNITO_USER_POOLS (REST APIs) or JWT (HTTP APIs) — or a REST API's Lambda
    authorizer, TOKEN or REQUEST (``lambda_authorizers``)."""

    id: str
    name: str
    type: str
    header: str  # lower-case name of the header that carries the token
    issuers: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()  # empty: not checked (a user pool's app clients are not read)
    function_uri: str = ""  # Lambda authorizers: the authorizerUri
    identity_sources: tuple[str, ...] = ()  # method.request.header.X, …
    validation_expression: str | None = None  # TOKEN: the token must match it
    ttl: int | None = None  # seconds an answer is cached; None: the default


@dataclass(frozen=True)
class Method:
    """A REST API method or an HTTP API route."""

    http_method: str  # GET, …, ANY
    resource_path: str  # /items/{id}; for HTTP APIs the route key's path
    resource_id: str  # REST: the resource's ID; HTTP: the route's ID
    route_key: str  # HTTP APIs: "GET /items/{id}" or "$default"; REST: "GET /items/{id}"
    integration: Integration | None
    api_key_required: bool = False
    authorization_type: str = "NONE"
    authorizer: Authorizer | None = None
    scopes: tuple[str, ...] = ()


_ROUTED_PATHS = 1024


@dataclass(frozen=True)
class Stage:
    kind: Kind
    api_id: str
    name: str
    region: str
    account: str
    variables: Mapping[str, str]
    routes: PathTable[dict[str, Method]]
    default_route: Method | None = None  # HTTP APIs' $default route
    api_keys: Mapping[str, str] = field(default_factory=dict)  # usage plans' key value → ID
    binary_media_types: tuple[str, ...] = ()
    cors: Cors | None = None  # HTTP APIs' CorsConfiguration
    # method_for's answers by (HTTP method, path); a stage is read again after any write.
    routed: dict[tuple[str, str], tuple[Method, dict[str, str]] | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def method_for(self, http_method: str, path: str) -> tuple[Method, dict[str, str]] | None:
        """The method (route) that serves ``http_method path`` and its path parameters (shared
        by the requests to that path: not to be changed). Remembered for the last thousand or
        so paths asked about: clients call the same few paths again and again."""
        key = (http_method, path)
        routed = self.routed
        if key in routed:
            return routed[key]
        found = self._method_for(http_method, path)
        if len(routed) >= _ROUTED_PATHS:
            routed.clear()
        routed[key] = found
        return found

    def _method_for(self, http_method: str, path: str) -> tuple[Method, dict[str, str]] | None:
        match: Match[dict[str, Method]]
        for match in self.routes.find(path):
            method = match.value.get(http_method) or match.value.get(ANY)
            if method is not None:
                return method, match.parameters
        if self.default_route is not None:
            return self.default_route, {}
        return None


class StageCache:
    """Stages by (account, region, API ID, stage name), read when first asked for."""

    def __init__(self, clients: Clients) -> None:
        self._clients = clients
        self._stages: dict[tuple[str, str, str, str], Stage | None] = {}
        self._apis: dict[tuple[str, str, str], tuple[Kind, str] | None] = {}
        self._lock = threading.Lock()
        self._generation = 0

    @property
    def generation(self) -> int:
        """Counts the API Gateway writes: what was derived from the stages is stale once it
        changes."""
        return self._generation

    def api(self, account: str, region: str, api_id: str) -> tuple[Kind, str] | None:
        """``find_api``, remembered until the next API Gateway write."""
        key = (account, region, api_id)
        apis = self._apis
        if key in apis:
            return apis[key]
        generation = self._generation
        found = find_api(account, region, api_id)
        with self._lock:
            if generation == self._generation:
                self._apis[key] = found
        return found

    def cached(
        self, account: str, region: str, api_id: str, stage: str
    ) -> tuple[bool, Stage | None]:
        """(whether the stage has been read, the stage or None if it does not exist)."""
        key = (account, region, api_id, stage)
        stages = self._stages
        return (True, stages[key]) if key in stages else (False, None)

    def get(self, account: str, region: str, api_id: str, stage: str, kind: Kind) -> Stage | None:
        key = (account, region, api_id, stage)
        stages = self._stages
        if key in stages:
            return stages[key]
        generation = self._generation
        loaded = (load_rest_stage if kind == "REST" else load_http_stage)(
            self._clients, account, region, api_id, stage
        )
        with self._lock:
            if generation == self._generation:  # no write happened while reading
                self._stages[key] = loaded
        return loaded

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._stages = {}
            self._apis = {}


class ApiGatewayWrites:
    """A provider for the ``apigateway`` service (REST and HTTP APIs sign alike) that answers
    nothing: it empties the stage cache on every request that may change an API. It runs on
    the event loop and takes microseconds."""

    service = "apigateway"
    blocking = False

    def __init__(self, cache: StageCache) -> None:
        self._cache = cache

    def handle(self, request: AwsRequest) -> None:
        if request.method not in ("GET", "HEAD"):
            self._cache.invalidate()
        return None


def find_api(account: str, region: str, api_id: str) -> tuple[Kind, str] | None:
    """Whether ``api_id`` is a REST or an HTTP API and its region: ``region`` first, then any
    other region of the account (a ``/restapis/<id>/…`` URL names no region). moto's backend
    dicts are read directly: a lookup per request must not cost an API call."""
    from moto.apigateway.models import apigateway_backends
    from moto.apigatewayv2.models import apigatewayv2_backends

    sources: tuple[tuple[Any, Kind], ...] = (
        (apigateway_backends, "REST"),
        (apigatewayv2_backends, "HTTP"),
    )
    for backends, kind in sources:
        regions: Any = dict.get(backends, account)
        if not regions:
            continue
        backend = dict.get(regions, region)
        if backend is not None and api_id in backend.apis:
            return kind, region
        for other, backend in list(dict.items(regions)):
            if api_id in getattr(backend, "apis", {}):
                return kind, other
    return None


def http_stage_names(account: str, region: str, api_id: str) -> frozenset[str]:
    """The stage names of an HTTP API (to tell ``/<stage>/path`` from a ``$default`` path)."""
    from moto.apigatewayv2.models import apigatewayv2_backends

    regions: Any = dict.get(apigatewayv2_backends, account) or {}
    backend = dict.get(regions, region)
    api = backend.apis.get(api_id) if backend is not None else None
    return frozenset(getattr(api, "stages", {}) or ()) if api is not None else frozenset()


# -- REST APIs ---------------------------------------------------------------------------------


def load_rest_stage(
    clients: Clients, account: str, region: str, api_id: str, stage_name: str
) -> Stage | None:
    client = clients("apigateway", region)
    try:
        stage = client.get_stage(restApiId=api_id, stageName=stage_name)
        api = client.get_rest_api(restApiId=api_id)
    except client.exceptions.NotFoundException:
        return None
    authorizers = {
        item["id"]: _rest_authorizer(item)
        for item in client.get_authorizers(restApiId=api_id, limit=_PAGE).get("items", [])
    }
    table: PathTable[dict[str, Method]] = PathTable()
    resources = client.get_resources(restApiId=api_id, limit=_PAGE, embed=["methods"])
    for resource in resources.get("items", []):
        methods: dict[str, Method] = {}
        for verb, method in (resource.get("resourceMethods") or {}).items():
            methods[verb] = _rest_method(resource, verb, method, authorizers)
        table.add(resource["path"], methods)
    return Stage(
        kind="REST",
        api_id=api_id,
        name=stage_name,
        region=region,
        account=account,
        variables=dict(stage.get("variables") or {}),
        routes=table,
        api_keys=_stage_api_keys(client, api_id, stage_name),
        binary_media_types=tuple(api.get("binaryMediaTypes") or ()),
    )


def _rest_method(
    resource: Mapping[str, Any],
    verb: str,
    method: Mapping[str, Any],
    authorizers: Mapping[str, Authorizer],
) -> Method:
    integration = method.get("methodIntegration")
    authorizer_id = method.get("authorizerId")
    return Method(
        http_method=verb,
        resource_path=resource["path"],
        resource_id=resource["id"],
        route_key=f"{verb} {resource['path']}",
        integration=_rest_integration(integration) if integration else None,
        api_key_required=bool(method.get("apiKeyRequired")),
        authorization_type=method.get("authorizationType") or "NONE",
        authorizer=authorizers.get(authorizer_id) if authorizer_id else None,
        scopes=tuple(method.get("authorizationScopes") or ()),
    )


def _rest_integration(item: Mapping[str, Any]) -> Integration:
    responses = tuple(
        IntegrationResponse(
            status_code=str(response.get("statusCode", status)),
            selection_pattern=response.get("selectionPattern") or None,
            templates={k: v or "" for k, v in (response.get("responseTemplates") or {}).items()},
            parameters=dict(response.get("responseParameters") or {}),
        )
        for status, response in (item.get("integrationResponses") or {}).items()
    )
    return Integration(
        type=item.get("type", "MOCK"),
        uri=item.get("uri") or "",
        http_method=item.get("httpMethod") or "POST",
        request_templates={k: v or "" for k, v in (item.get("requestTemplates") or {}).items()},
        passthrough=item.get("passthroughBehavior") or "WHEN_NO_MATCH",
        request_parameters=dict(item.get("requestParameters") or {}),
        responses=responses,
    )


def _rest_authorizer(item: Mapping[str, Any]) -> Authorizer:
    """A COGNITO_USER_POOLS authorizer trusts the tokens of its user pools, whose issuer is
    ``https://cognito-idp.<region>.amazonaws.com/<pool id>`` (Cognito developer guide,
    "Verifying a JSON web token")."""
    issuers = []
    for arn in item.get("providerARNs") or ():
        parts = arn.split(":")
        if len(parts) >= 6 and parts[5].startswith("userpool/"):
            pool = parts[5].removeprefix("userpool/")
            issuers.append(f"https://cognito-idp.{parts[3]}.amazonaws.com/{pool}")
    source = item.get("identitySource") or "method.request.header.Authorization"
    ttl = item.get("authorizerResultTtlInSeconds")
    return Authorizer(
        id=item["id"],
        name=item.get("name", ""),
        type=item.get("type", ""),
        header=_header_of(source),
        issuers=tuple(issuers),
        function_uri=item.get("authorizerUri") or "",
        identity_sources=tuple(part.strip() for part in source.split(",") if part.strip()),
        validation_expression=item.get("identityValidationExpression") or None,
        ttl=None if ttl is None else int(ttl),
    )


def _header_of(identity_source: str) -> str:
    """``method.request.header.Authorization`` or ``$request.header.Authorization`` →
    ``authorization``."""
    return identity_source.split(",")[0].strip().rsplit(".", 1)[-1].lower()


def _stage_api_keys(client: Any, api_id: str, stage_name: str) -> dict[str, str]:
    """The values of the enabled API keys of every usage plan bound to this stage (API
    Gateway developer guide, "Usage plans and API keys")."""
    values: dict[str, str] = {}
    for plan in client.get_usage_plans(limit=_PAGE).get("items", []):
        stages = plan.get("apiStages") or ()
        if not any(s.get("apiId") == api_id and s.get("stage") == stage_name for s in stages):
            continue
        keys = client.get_usage_plan_keys(usagePlanId=plan["id"], limit=_PAGE).get("items", [])
        for key in keys:
            try:
                found = client.get_api_key(apiKey=key["id"], includeValue=True)
            except client.exceptions.NotFoundException:
                continue
            if found.get("enabled") and found.get("value"):
                values[found["value"]] = found["id"]
    return values


# -- HTTP APIs ---------------------------------------------------------------------------------


def load_http_stage(
    clients: Clients, account: str, region: str, api_id: str, stage_name: str
) -> Stage | None:
    client = clients("apigatewayv2", region)
    try:
        stage = client.get_stage(ApiId=api_id, StageName=stage_name)
        api = client.get_api(ApiId=api_id)
    except client.exceptions.NotFoundException:
        return None
    integrations = {
        item["IntegrationId"]: _http_integration(item)
        for item in client.get_integrations(ApiId=api_id, MaxResults=str(_PAGE)).get("Items", [])
    }
    authorizers: dict[str, Authorizer] = {}
    table: PathTable[dict[str, Method]] = PathTable()
    default_route: Method | None = None
    by_path: dict[str, dict[str, Method]] = {}
    for route in client.get_routes(ApiId=api_id, MaxResults=str(_PAGE)).get("Items", []):
        authorizer_id = route.get("AuthorizerId")
        if authorizer_id and authorizer_id not in authorizers:
            found = client.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
            authorizers[authorizer_id] = _http_authorizer(found)
        target = route.get("Target") or ""
        key = route["RouteKey"]
        verb, _, path = key.partition(" ")
        method = Method(
            http_method=verb.upper() if path else ANY,
            resource_path=path or "/",
            resource_id=route["RouteId"],
            route_key=key,
            integration=integrations.get(target.removeprefix("integrations/")),
            authorization_type=route.get("AuthorizationType") or "NONE",
            authorizer=authorizers.get(authorizer_id) if authorizer_id else None,
            scopes=tuple(route.get("AuthorizationScopes") or ()),
        )
        if key == DEFAULT_ROUTE:
            default_route = method
        else:
            by_path.setdefault(path, {})[method.http_method] = method
    for path, methods in by_path.items():
        table.add(path, methods)
    return Stage(
        kind="HTTP",
        api_id=api_id,
        name=stage_name,
        region=region,
        account=account,
        variables=dict(stage.get("StageVariables") or {}),
        routes=table,
        default_route=default_route,
        cors=cors_of(api.get("CorsConfiguration")),
    )


def _http_integration(item: Mapping[str, Any]) -> Integration:
    return Integration(
        type=item.get("IntegrationType", ""),
        uri=item.get("IntegrationUri") or "",
        http_method=item.get("IntegrationMethod") or "POST",
        request_parameters=dict(item.get("RequestParameters") or {}),
        # AWS_PROXY integrations default to 2.0 in the console, but the API requires the field
        # (ApiGatewayV2 API reference, Integration: payloadFormatVersion).
        payload_format=item.get("PayloadFormatVersion") or "2.0",
    )


def _http_authorizer(item: Mapping[str, Any]) -> Authorizer:
    jwt = item.get("JwtConfiguration") or {}
    sources = item.get("IdentitySource") or ["$request.header.Authorization"]
    return Authorizer(
        id=item["AuthorizerId"],
        name=item.get("Name", ""),
        type=item.get("AuthorizerType", "JWT"),
        header=_header_of(sources[0]),
        issuers=(jwt["Issuer"],) if jwt.get("Issuer") else (),
        audiences=tuple(jwt.get("Audience") or ()),
    )
