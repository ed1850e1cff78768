"""``httpApi`` events of functions: an HTTP API (API Gateway v2) with a ``$default`` stage that
deploys every change itself, one Lambda proxy integration per function and one route per method
and path (Serverless Framework v3 docs, "HTTP API"). The common ``provider.httpApi`` settings are
compiled — id, name, payload, cors, authorizers, metrics, disableDefaultEndpoint — and any other
setting is an error rather than silently dropped.
"""

from __future__ import annotations

import re

from basegear.compile import apigateway, functions, naming
from basegear.compile.context import Context, Json
from basegear.compile.cors import CORS_HEADERS
from basegear.compile.event_support import event_path, invoke_permission
from basegear.errors import ConfigPath
from basegear.model.events import HttpApiEvent

HTTP_API = "HttpApi"
STAGE = "HttpApiStage"
SETTINGS = (
    "authorizers",
    "cors",
    "disableDefaultEndpoint",
    "id",
    "metrics",
    "name",
    "payload",
    "shouldStartNameWithService",
    "useProviderTags",
)
CORS_SETTINGS = (
    "allowCredentials",
    "allowedHeaders",
    "allowedMethods",
    "allowedOrigins",
    "exposedResponseHeaders",
    "maxAge",
)
AUTHORIZER_SETTINGS = (
    "audience",
    "enableSimpleResponses",
    "functionArn",
    "functionName",
    "identitySource",
    "issuerUrl",
    "managedExternally",
    "name",
    "payloadVersion",
    "resultTtlInSeconds",
    "type",
)
METHODS = ("GET", "POST", "PUT", "PATCH", "OPTIONS", "HEAD", "DELETE")
WHERE: ConfigPath = ("provider", "httpApi")


def compile_http_api(context: Context, key: str, index: int, event: HttpApiEvent) -> None:
    where = event_path(key, index, "httpApi")
    api = _api_id(context)
    route_key = _route_key(context, event, where)
    route_id = (
        "HttpApiRouteDefault"
        if route_key == "$default"
        else f"HttpApiRoute{apigateway.path_name(tuple(route_key.split('/')))}"
    )
    if route_id in context.template.resources:
        raise context.fail(
            f"route {route_key!r} is already an endpoint (logical ID {route_id}); each method "
            f"and path takes one",
            where,
        )
    integration = _integration(context, key, api)
    properties: dict[str, Json] = {
        "ApiId": api,
        "RouteKey": route_key,
        "Target": {"Fn::Join": ["/", ["integrations", {"Ref": integration}]]},
    }
    properties.update(_authorization(context, event, api, (*where, "authorizer")))
    context.template.add(route_id, "AWS::ApiGatewayV2::Route", properties)
    _allow_cors_method(context, "ANY" if route_key == "$default" else route_key.split(" ")[0])


def _settings(context: Context) -> dict[str, Json]:
    settings = context.service.provider.http_api or {}
    for name in settings:
        if name not in SETTINGS:
            raise context.fail(
                f"unknown httpApi setting {name!r}; BaseGear compiles {', '.join(SETTINGS)}",
                (*WHERE, name),
            )
    return settings


def _api_id(context: Context) -> Json:
    """The HTTP API: ``provider.httpApi.id``, else the one compiled here on first use."""
    settings = _settings(context)
    if settings.get("id") is not None:
        for name in ("cors", "authorizers"):
            if settings.get(name):
                raise context.fail(
                    f"{name} cannot be set up on an HTTP API this stack does not own (id)",
                    (*WHERE, name),
                )
        return settings["id"]
    if HTTP_API not in context.template.resources:
        _compile_api(context, settings)
    return {"Ref": HTTP_API}


def _compile_api(context: Context, settings: dict[str, Json]) -> None:
    service, stage = context.service.service, context.stage
    name = settings.get("name") or naming.api_name(
        service, stage, service_first=bool(settings.get("shouldStartNameWithService"))
    )
    properties: dict[str, Json] = {"Name": str(name), "ProtocolType": "HTTP"}
    if settings.get("disableDefaultEndpoint") is not None:
        properties["DisableExecuteApiEndpoint"] = bool(settings["disableDefaultEndpoint"])
    tags = context.service.provider.tags
    if tags:
        properties["Tags"] = dict(tags)
    cors = _cors(context, settings.get("cors"))
    if cors:
        properties["CorsConfiguration"] = cors
    context.template.add(HTTP_API, "AWS::ApiGatewayV2::Api", properties)
    stage_properties: dict[str, Json] = {
        "ApiId": {"Ref": HTTP_API},
        # $default is served at the API's root URL; AutoDeploy deploys each change (API Gateway
        # developer guide, "Working with stages for HTTP APIs").
        "StageName": "$default",
        "AutoDeploy": True,
        "DefaultRouteSettings": {"DetailedMetricsEnabled": bool(settings.get("metrics", False))},
    }
    if tags:
        stage_properties["Tags"] = dict(tags)
    context.template.add(STAGE, "AWS::ApiGatewayV2::Stage", stage_properties)
    context.template.output(
        "HttpApiId",
        {"Ref": HTTP_API},
        description="Id of the HTTP API",
        export=naming.export_name(service, stage, "HttpApiId"),
    )
    context.template.output(
        "HttpApiUrl",
        apigateway.execute_api_url({"Ref": HTTP_API}),
        description="URL of the HTTP API",
        export=naming.export_name(service, stage, "HttpApiUrl"),
    )


def _cors(context: Context, cors: Json) -> dict[str, Json] | None:
    """``cors: true`` or its mapping → CorsConfiguration. Without ``allowedMethods`` the methods
    of the routes are allowed, added as routes are compiled."""
    if not cors:
        return None
    where = (*WHERE, "cors")
    settings = {} if cors is True else cors
    if not isinstance(settings, dict):
        raise context.fail("expected true or a mapping of CORS settings", where)
    context.refuse_unknown(settings, CORS_SETTINGS, "cors setting", where)
    configuration: dict[str, Json] = {
        "AllowHeaders": _list(settings.get("allowedHeaders", list(CORS_HEADERS))),
        "AllowMethods": _list(settings.get("allowedMethods", ["OPTIONS"])),
        "AllowOrigins": _list(settings.get("allowedOrigins", ["*"])),
    }
    if settings.get("allowCredentials"):
        configuration["AllowCredentials"] = True
    if settings.get("exposedResponseHeaders"):
        configuration["ExposeHeaders"] = _list(settings["exposedResponseHeaders"])
    if settings.get("maxAge") is not None:
        configuration["MaxAge"] = settings["maxAge"]
    return configuration


def _list(value: Json) -> list[Json]:
    return list(value) if isinstance(value, list) else [value]


def _allow_cors_method(context: Context, method: str) -> None:
    cors = _settings(context).get("cors")
    api = context.template.resources.get(HTTP_API)
    if not cors or api is None or (isinstance(cors, dict) and "allowedMethods" in cors):
        return
    allowed = api["Properties"]["CorsConfiguration"]["AllowMethods"]
    for name in METHODS if method == "ANY" else (method,):
        if name not in allowed:
            allowed.append(name)


def _route_key(context: Context, event: HttpApiEvent, where: ConfigPath) -> str:
    """``GET /users/{id}``; ``*`` for both method and path is the catch-all ``$default`` route
    (API Gateway developer guide, "Working with routes for HTTP APIs")."""
    if event.path == "*":
        if event.method != "*":
            raise context.fail(
                "the catch-all path '*' takes every method: leave method out or set it to '*'",
                (*where, "method"),
            )
        return "$default"
    if not re.fullmatch(r"/\S*", event.path):
        raise context.fail(
            f"an HTTP API path starts with '/', got {event.path!r}", (*where, "path")
        )
    method = "ANY" if event.method == "*" else event.method
    return f"{method} {event.path}"


def _integration(context: Context, key: str, api: Json) -> str:
    """One Lambda proxy integration and invoke permission per function, shared by its routes."""
    logical_id = f"HttpApiIntegration{naming.normalized(key)}"
    if logical_id in context.template.resources:
        return logical_id
    # An alias (provisioned concurrency, SnapStart) is what API Gateway invokes, when there is one.
    function_arn = functions.function_arn(context, key)
    alias = functions.alias_id(context, key)
    payload = str(_settings(context).get("payload", "2.0"))
    if payload not in ("1.0", "2.0"):
        raise context.fail(f"payload is '1.0' or '2.0', got {payload!r}", (*WHERE, "payload"))
    context.template.add(
        logical_id,
        "AWS::ApiGatewayV2::Integration",
        {
            "ApiId": api,
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": function_arn,
            "PayloadFormatVersion": payload,
            # The most an HTTP API waits for an integration (API Gateway quotas for HTTP APIs).
            "TimeoutInMillis": 30000,
        },
        DependsOn=alias,
    )
    _add_permission(
        context, f"{naming.normalized(key)}LambdaPermissionHttpApi", function_arn, api, alias
    )
    return logical_id


def _authorization(
    context: Context, event: HttpApiEvent, api: Json, where: ConfigPath
) -> dict[str, Json]:
    authorizer = event.authorizer
    if authorizer is None:
        return {}
    given = authorizer.model_dump(exclude_none=True, by_alias=True)
    extra = sorted(set(given) - {"name", "scopes", "type"})
    if extra:
        raise context.fail(
            f"an httpApi authorizer has name, scopes and type; got {', '.join(extra)}", where
        )
    kind = (authorizer.type or "").lower()
    if kind == "aws_iam":
        if authorizer.name or authorizer.scopes:
            raise context.fail("an aws_iam authorizer takes no name or scopes", where)
        return {"AuthorizationType": "AWS_IAM"}
    if authorizer.name is None:
        raise context.fail("name the authorizer, from provider.httpApi.authorizers", where)
    definitions = _settings(context).get("authorizers") or {}
    if authorizer.name not in definitions:
        raise context.fail(
            f"authorizer {authorizer.name!r} is not in provider.httpApi.authorizers", where
        )
    logical_id, defined_type = _authorizer(context, authorizer.name, definitions, api)
    if kind and kind != defined_type:
        raise context.fail(
            f"authorizer {authorizer.name!r} is a {defined_type} authorizer, not {kind}",
            (*where, "type"),
        )
    properties: dict[str, Json] = {
        "AuthorizationType": "CUSTOM" if defined_type == "request" else "JWT",
        "AuthorizerId": {"Ref": logical_id},
    }
    if authorizer.scopes:
        properties["AuthorizationScopes"] = authorizer.scopes
    return properties


def _authorizer(
    context: Context, name: str, definitions: dict[str, Json], api: Json
) -> tuple[str, str]:
    """A JWT or Lambda (request) authorizer of ``provider.httpApi.authorizers``, compiled once."""
    where = (*WHERE, "authorizers", name)
    definition = definitions[name]
    if not isinstance(definition, dict):
        raise context.fail("expected a mapping of authorizer settings", where)
    context.refuse_unknown(definition, AUTHORIZER_SETTINGS, "authorizer setting", where)
    kind = str(definition.get("type", "jwt")).lower()
    logical_id = f"HttpApiAuthorizer{naming.normalized(name)}"
    if logical_id in context.template.resources:
        return logical_id, kind
    identity = definition.get("identitySource", [])
    properties: dict[str, Json] = {
        "ApiId": api,
        "Name": str(definition.get("name", name)),
        "IdentitySource": _list(identity) if identity else [],
    }
    if kind == "jwt":
        if not definition.get("issuerUrl") or not definition.get("audience"):
            raise context.fail("a JWT authorizer needs issuerUrl and audience", where)
        properties["AuthorizerType"] = "JWT"
        properties["JwtConfiguration"] = {
            "Audience": _list(definition["audience"]),
            "Issuer": definition["issuerUrl"],
        }
    elif kind == "request":
        properties.update(_request_authorizer(context, name, definition, api, where))
    else:
        raise context.fail(f"an authorizer's type is jwt or request, got {kind!r}", where)
    context.template.add(logical_id, "AWS::ApiGatewayV2::Authorizer", properties)
    return logical_id, kind


def _request_authorizer(
    context: Context, name: str, definition: dict[str, Json], api: Json, where: ConfigPath
) -> dict[str, Json]:
    function_name, function_arn = definition.get("functionName"), definition.get("functionArn")
    if (function_name is None) == (function_arn is None):
        raise context.fail("a request authorizer needs functionName or functionArn", where)
    if function_name is not None:
        if function_name not in context.service.functions:
            raise context.fail(
                f"authorizer function {function_name!r} is not a function of this service",
                (*where, "functionName"),
            )
        function_arn = functions.function_arn(context, function_name)
    ttl = definition.get("resultTtlInSeconds")
    if ttl and not definition.get("identitySource"):
        # Cached results are keyed by the identity source (API Gateway developer guide,
        # "Working with AWS Lambda authorizers for HTTP APIs").
        raise context.fail("a cached request authorizer needs identitySource", where)
    properties: dict[str, Json] = {
        "AuthorizerType": "REQUEST",
        "AuthorizerPayloadFormatVersion": str(definition.get("payloadVersion", "2.0")),
        "AuthorizerUri": apigateway.lambda_uri(function_arn),
    }
    if ttl is not None:
        properties["AuthorizerResultTtlInSeconds"] = ttl
    if definition.get("enableSimpleResponses") is not None:
        properties["EnableSimpleResponses"] = bool(definition["enableSimpleResponses"])
    if not definition.get("managedExternally"):
        alias = functions.alias_id(context, function_name) if function_name is not None else None
        permission = (
            f"{naming.alphanumeric(naming.normalized(name))}LambdaAuthorizerPermissionHttpApi"
        )
        _add_permission(context, permission, function_arn, api, alias)
    return properties


def _add_permission(
    context: Context, logical_id: str, function_arn: Json, api: Json, alias: str | None
) -> None:
    """Let the HTTP API invoke a function (Lambda developer guide, "Using Lambda with API
    Gateway"); ``alias`` is the alias ``function_arn`` names, if any."""
    source_arn = apigateway.execute_api_arn(api, "/*")
    context.template.add(
        logical_id,
        "AWS::Lambda::Permission",
        invoke_permission(function_arn, "apigateway.amazonaws.com", source_arn),
        DependsOn=alias,
    )
