"""The REST API (API Gateway v1) shared by the ``http`` events of functions and state machines.

Events add their methods through the helpers here: ``rest_api_id`` creates the RestApi the first
time an event needs it (or names the existing one, ``provider.apiGateway.restApiId``), and
``resource_for_path`` creates one AWS::ApiGateway::Resource per path segment, shared by every
event below it. Once every method exists, ``compile_api_deployment`` adds, in order: the CORS
preflight methods (settings merged by ``cors``), the deployment and its stage settings, API keys
and usage plans (``apikeys``), and the ServiceEndpoint output.

Logical IDs and names follow the Serverless Framework v3 (lib/plugins/aws/lib/naming.js), except
the deployment's: the framework suffixes a timestamp, BaseGear a hash of the deployed API, so the
same input gives the same template and any change to the API gives a new deployment.
"""

from __future__ import annotations

import hashlib
import json
import re

from basegear.compile import apikeys, cors, naming
from basegear.compile.context import Context, Json
from basegear.compile.event_support import invoke_permission
from basegear.errors import ConfigPath

REST_API = "ApiGatewayRestApi"
DEPLOYMENT_PREFIX = "ApiGatewayDeployment"
# What a deployment is a snapshot of: a change to any of these needs a new deployment
# (API Gateway developer guide, "Deploy REST APIs": changes reach clients only when deployed).
DEPLOYED_TYPES = (
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::GatewayResponse",
)
# A path part is text (RFC 3986 path segment characters) or one {variable}; a greedy {variable+}
# only at the end (API Gateway developer guide, "Set up a proxy integration with a proxy
# resource").
PATH_PART = re.compile(r"[A-Za-z0-9._~:@!$&'()*+,;=-]+|\{[A-Za-z0-9._-]+\+?\}")
# "Stage names can only contain alphanumeric characters, hyphens, and underscores" (API Gateway
# developer guide, "Set up a stage for a REST API").
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]+")


# ---------------------------------------------------------------------------------------------
# The REST API and its resources


def rest_api_id(context: Context) -> Json:
    """The REST API's ID: the configured ``restApiId``, else a Ref to the compiled RestApi."""
    gateway = context.service.provider.api_gateway
    if gateway.rest_api_id is not None:
        return gateway.rest_api_id
    if REST_API not in context.template.resources:
        _compile_rest_api(context)
    return {"Ref": REST_API}


def stage_name(context: Context) -> str:
    """The API's stage: ``provider.apiGateway.stage``, else the service's stage."""
    return context.service.provider.api_gateway.stage or context.stage


def _compile_rest_api(context: Context) -> None:
    provider = context.service.provider
    gateway = provider.api_gateway
    where: ConfigPath = ("provider", "apiGateway")
    if gateway.rest_api_root_resource_id is not None or gateway.rest_api_resources:
        raise context.fail(
            "restApiRootResourceId and restApiResources name parts of an existing REST API; "
            "give its restApiId too",
            where,
        )
    endpoint_type = (provider.endpoint_type or "EDGE").upper()
    endpoint: dict[str, Json] = {"Types": [endpoint_type]}
    if provider.vpc_endpoint_ids:
        if endpoint_type != "PRIVATE":
            raise context.fail(
                "vpcEndpointIds apply to PRIVATE APIs only (endpointType: PRIVATE)",
                ("provider", "vpcEndpointIds"),
            )
        endpoint["VpcEndpointIds"] = provider.vpc_endpoint_ids
    name = provider.api_name or naming.api_name(
        context.service.service, context.stage, service_first=gateway.should_start_name_with_service
    )
    properties: dict[str, Json] = {"Name": name, "EndpointConfiguration": endpoint}
    if gateway.binary_media_types:
        properties["BinaryMediaTypes"] = gateway.binary_media_types
    if gateway.disable_default_endpoint:
        properties["DisableExecuteApiEndpoint"] = True
    if gateway.resource_policy:
        properties["Policy"] = {"Version": "2012-10-17", "Statement": gateway.resource_policy}
    if gateway.api_key_source_type:
        properties["ApiKeySourceType"] = gateway.api_key_source_type
    if gateway.minimum_compression_size is not None:
        properties["MinimumCompressionSize"] = gateway.minimum_compression_size
    if gateway.description:
        properties["Description"] = gateway.description
    context.template.add(REST_API, "AWS::ApiGateway::RestApi", properties)


def path_parts(context: Context, path: str, where: ConfigPath) -> tuple[str, ...]:
    """``/v1/algorithm/`` → ``("v1", "algorithm")``; the root path ``/`` has no parts."""
    stripped = path.strip()
    stripped = stripped[1:] if stripped.startswith("/") else stripped
    stripped = stripped[:-1] if stripped.endswith("/") else stripped
    parts = tuple(stripped.split("/")) if stripped else ()
    for position, part in enumerate(parts):
        if not PATH_PART.fullmatch(part) or (part.endswith("+}") and position < len(parts) - 1):
            raise context.fail(
                f"invalid path {path!r}: each part is text or one {{variable}}, and a greedy "
                f"{{variable+}} only comes last; got {part!r}",
                (*where, "path"),
            )
    return parts


def path_name(parts: tuple[str, ...]) -> str:
    """A path in logical IDs: ``v1/{algorithmId}`` → ``V1AlgorithmidVar`` (naming.js
    normalizePath: each part capitalised, ``-`` → Dash, ``{x}`` → ``xVar``)."""
    return "".join(_path_part_name(part) for part in parts)


def _path_part_name(part: str) -> str:
    text = part[:1].upper() + part[1:].lower()
    text = text.replace("-", "Dash")
    text = re.sub(r"\{(.*)\}", r"\1Var", text)
    return naming.upper_first(re.sub(r"[^0-9A-Za-z]", "", text))


def resource_for_path(context: Context, parts: tuple[str, ...], where: ConfigPath) -> Json:
    """The ID of the API resource at ``parts``, creating the missing ones along the way; parts
    listed in ``restApiResources`` are taken as they are."""
    gateway = context.service.provider.api_gateway
    api = rest_api_id(context)
    existing = {
        "/".join(path_parts(context, path, ("provider", "apiGateway", "restApiResources"))): rid
        for path, rid in (gateway.rest_api_resources or {}).items()
    }
    if gateway.rest_api_id is not None and gateway.rest_api_root_resource_id is None:
        raise context.fail(
            "restApiId needs restApiRootResourceId, the ID of the API's root resource",
            ("provider", "apiGateway", "restApiId"),
        )
    parent: Json = (
        gateway.rest_api_root_resource_id
        if gateway.rest_api_id is not None
        else {"Fn::GetAtt": [REST_API, "RootResourceId"]}
    )
    for depth in range(1, len(parts) + 1):
        path = "/".join(parts[:depth])
        if path in existing:
            parent = existing[path]
            continue
        if any(other.startswith(f"{path}/") for other in existing):
            # The shared API has /path already (it holds a listed resource), so creating it
            # again would fail in CloudFormation with a conflict.
            raise context.fail(
                f"/{path} exists in the shared REST API: list its ID under "
                f"provider.apiGateway.restApiResources",
                (*where, "path"),
            )
        parent = {"Ref": _add_resource(context, api, parent, parts[:depth], where)}
    return parent


def _add_resource(
    context: Context, api: Json, parent: Json, parts: tuple[str, ...], where: ConfigPath
) -> str:
    logical_id = f"ApiGatewayResource{path_name(parts)}"
    properties = {"ParentId": parent, "PathPart": parts[-1], "RestApiId": api}
    resources = context.template.resources
    if logical_id in resources:
        if resources[logical_id]["Properties"] != properties:
            raise context.fail(
                f"path /{'/'.join(parts)} gives the logical ID {logical_id}, which another "
                f"path already has; rename one of them",
                (*where, "path"),
            )
        return logical_id
    if parts[-1].startswith("{"):
        # "A sibling ... already has a variable path part -- only one is allowed" (API Gateway
        # CreateResource error): one {variable} per level.
        for other in resources.values():
            sibling = other["Properties"]
            if (
                other["Type"] == "AWS::ApiGateway::Resource"
                and sibling.get("ParentId") == parent
                and str(sibling.get("PathPart", "")).startswith("{")
            ):
                raise context.fail(
                    f"path /{'/'.join(parts)}: {sibling['PathPart']} is already the variable "
                    f"at this level, and API Gateway allows only one",
                    (*where, "path"),
                )
    return context.template.add(logical_id, "AWS::ApiGateway::Resource", properties)


# ---------------------------------------------------------------------------------------------
# Methods and what they share


def method_id(parts: tuple[str, ...], http_method: str) -> str:
    """``ApiGatewayMethod<Path><Method>`` (naming.js getMethodLogicalId)."""
    return f"ApiGatewayMethod{path_name(parts)}{http_method.lower().capitalize()}"


def rest_method(http_method: str) -> str:
    """A REST API method; ``*`` is the catch-all ``ANY``."""
    return "ANY" if http_method == "*" else http_method


def add_method(
    context: Context,
    parts: tuple[str, ...],
    http_method: str,
    properties: dict[str, Json],
    where: ConfigPath,
    depends_on: list[str] | None = None,
) -> str:
    """Add a method; a second endpoint for the same path and method is an error at its line."""
    logical_id = method_id(parts, http_method)
    if logical_id in context.template.resources:
        raise context.fail(
            f"{http_method} /{'/'.join(parts)} is already an endpoint (logical ID {logical_id})"
            f"; each path and method takes one",
            where,
        )
    context.template.add(
        logical_id, "AWS::ApiGateway::Method", properties, DependsOn=depends_on or None
    )
    context.api_methods.append(logical_id)
    return logical_id


def header_parameters(headers: dict[str, str] | None) -> dict[str, str]:
    """Response headers and their values → ``method.response.header.<name>`` parameters."""
    return {f"method.response.header.{name}": value for name, value in (headers or {}).items()}


def method_response(code: str, parameters: dict[str, str]) -> dict[str, Json]:
    """The method response an integration response maps to: API Gateway only returns headers a
    method response declares (API Gateway developer guide, "Set up a method response")."""
    return {
        "StatusCode": code,
        "ResponseParameters": {
            name: True for name in parameters if name.startswith("method.response.header.")
        },
        "ResponseModels": {},
    }


def integration_timeout(context: Context, event_timeout: int | None) -> dict[str, Json]:
    """``TimeoutInMillis`` from the event, else ``provider.apiGateway.timeoutInMillis``."""
    timeout = event_timeout or context.service.provider.api_gateway.timeout_in_millis
    return {"TimeoutInMillis": timeout} if timeout else {}


def service_uri(*path: Json) -> Json:
    """``arn:<partition>:apigateway:<region><path>``: the URI of an AWS service integration
    (API Gateway API reference, Integration, uri)."""
    parts = ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"}, *path]
    return {"Fn::Join": ["", parts]}


def lambda_uri(function_arn: Json) -> Json:
    """The integration URI that invokes a Lambda function (API Gateway developer guide, "Set up
    a Lambda integration": ``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/
    <function ARN>/invocations``)."""
    return service_uri(":lambda:path/2015-03-31/functions/", function_arn, "/invocations")


def execute_api_url(api: Json, *path: str) -> Json:
    """``https://<api id>.execute-api.<region>.<url suffix><path>``: the URL an API (REST or
    HTTP) is served at."""
    region, suffix = {"Ref": "AWS::Region"}, {"Ref": "AWS::URLSuffix"}
    return {"Fn::Join": ["", ["https://", api, ".execute-api.", region, ".", suffix, *path]]}


def execute_api_arn(api: Json, suffix: str) -> Json:
    """``arn:aws:execute-api:<region>:<account>:<api id><suffix>``: the source ARN of requests
    API Gateway makes to Lambda (Lambda developer guide, "Using Lambda with API Gateway")."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":execute-api:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":",
                api,
                suffix,
            ],
        ]
    }


def permission_id(name: str) -> str:
    """``<Name>LambdaPermissionApiGateway``: a function's (or a Lambda authorizer's) permission
    for API Gateway to invoke it."""
    return f"{naming.alphanumeric(naming.normalized(name))}LambdaPermissionApiGateway"


def add_permission(
    context: Context,
    logical_id: str,
    function_arn: Json,
    api: Json,
    where: ConfigPath,
    depends_on: str | None = None,
) -> str:
    """Let API Gateway invoke a function; one permission per logical ID, shared by events.
    ``depends_on`` is the alias ``function_arn`` names, if any."""
    properties = invoke_permission(
        function_arn, "apigateway.amazonaws.com", execute_api_arn(api, "/*/*")
    )
    existing = context.template.resources.get(logical_id)
    if existing is None:
        context.template.add(
            logical_id, "AWS::Lambda::Permission", properties, DependsOn=depends_on
        )
    elif existing["Properties"] != properties:
        raise context.fail(
            f"the permission {logical_id} would let API Gateway invoke two different functions; "
            "rename the authorizer or the function",
            where,
        )
    return logical_id


# ---------------------------------------------------------------------------------------------
# CORS preflight


def _compile_preflights(context: Context) -> None:
    """One OPTIONS method per path with CORS, answering the browser's preflight request from a
    MOCK integration (API Gateway developer guide, "Enabling CORS for a REST API resource"),
    with the settings of every event on the path merged."""
    preflights: dict[tuple[str, ...], tuple[ConfigPath, list[cors.Cors]]] = {}
    for where, path, method, setting in cors.cors_events(context):
        parsed = cors.parse_cors(context, setting, method, where)
        if parsed is not None:
            parts = path_parts(context, path, where)
            preflights.setdefault(parts, (where, []))[1].append(parsed)
    for parts, (where, settings) in preflights.items():
        if method_id(parts, "OPTIONS") in context.template.resources:
            raise context.fail(
                f"cors needs the OPTIONS method of /{'/'.join(parts)} for the browser's "
                "preflight request, and another event defines it",
                (*where, "cors"),
            )
        headers, template = cors.preflight(settings)
        parameters = header_parameters(headers)
        properties = {
            "AuthorizationType": "NONE",
            "HttpMethod": "OPTIONS",
            "MethodResponses": [method_response("200", parameters)],
            "RequestParameters": {},
            "Integration": {
                "Type": "MOCK",
                "RequestTemplates": {"application/json": "{statusCode:200}"},
                "ContentHandling": "CONVERT_TO_TEXT",
                "IntegrationResponses": [
                    {
                        "StatusCode": "200",
                        "ResponseParameters": parameters,
                        "ResponseTemplates": {"application/json": template},
                    }
                ],
            },
            "ResourceId": resource_for_path(context, parts, where),
            "RestApiId": rest_api_id(context),
        }
        add_method(context, parts, "OPTIONS", properties, where)


# ---------------------------------------------------------------------------------------------
# Deployment, stage, API keys and usage plans


def compile_api_deployment(context: Context) -> None:
    """The deployment step, once every method exists: preflights, deployment and stage, keys
    and usage plans, the ServiceEndpoint output."""
    if not context.api_methods:
        return
    _compile_preflights(context)
    deployment = _compile_deployment(context)
    api = rest_api_id(context)
    apikeys.compile_api_keys(context, apikeys.Stage(api, stage_name(context), deployment))
    context.template.output(
        "ServiceEndpoint",
        execute_api_url(api, f"/{stage_name(context)}"),
        description="URL of the service endpoint",
        export=naming.export_name(context.service.service, context.stage, "ServiceEndpoint"),
    )


def _compile_deployment(context: Context) -> str:
    provider = context.service.provider
    gateway = provider.api_gateway
    logs = (provider.logs or {}).get("restApi")
    if logs:
        raise context.fail(
            "BaseGear does not compile REST API logs yet (they need the account's API Gateway "
            "CloudWatch role); remove provider.logs.restApi",
            ("provider", "logs", "restApi"),
        )
    if gateway.rest_api_id is not None and provider.tracing.api_gateway:
        raise context.fail(
            "tracing.apiGateway cannot reach a REST API this stack does not own (restApiId)",
            ("provider", "tracing", "apiGateway"),
        )
    if not STAGE_NAME.fullmatch(stage_name(context)):
        raise context.fail(
            f"a REST API stage name may contain only letters, digits, '-' and '_', "
            f"got {stage_name(context)!r}",
            ("provider", "apiGateway", "stage") if gateway.stage else ("provider", "stage"),
        )
    properties: dict[str, Json] = {
        "RestApiId": rest_api_id(context),
        "StageName": stage_name(context),
    }
    if gateway.description:
        properties["Description"] = gateway.description
    # The stage is created by the deployment (StageName), as the Serverless Framework does, so a
    # stack it deployed moves over without a stage conflict. Stage settings the framework applies
    # through the SDK after deploying go into StageDescription, which CloudFormation applies.
    stage: dict[str, Json] = {}
    if provider.tracing.api_gateway:
        stage["TracingEnabled"] = True
    if gateway.metrics:
        stage["MetricsEnabled"] = True
    tags = {**provider.stack_tags, **provider.tags}
    if tags:
        stage["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
    if stage:
        properties["StageDescription"] = stage
    # Methods of this API that the user's `resources` define are deployed too: the deployment
    # snapshots only the methods that exist when it is created.
    api = rest_api_id(context)
    user_methods = [
        logical_id
        for logical_id, resource in _user_resources(context).items()
        if isinstance(resource, dict)
        and resource.get("Type") == "AWS::ApiGateway::Method"
        and (resource.get("Properties") or {}).get("RestApiId") == api
        and logical_id not in context.api_methods
    ]
    logical_id = DEPLOYMENT_PREFIX + _api_digest(context)
    context.template.add(
        logical_id,
        "AWS::ApiGateway::Deployment",
        properties,
        DependsOn=[*context.api_methods, *user_methods],
    )
    return logical_id


def _user_resources(context: Context) -> dict[str, Json]:
    """``resources.Resources`` as written, merged into the template after this step."""
    resources = (context.loaded.data.get("resources") or {}).get("Resources")
    return resources if isinstance(resources, dict) else {}


def _api_digest(context: Context) -> str:
    """A hash of everything the deployment snapshots: the compiled API resources, plus any API
    resource the user's ``resources`` add or override (merged after this step)."""
    resources = context.template.resources
    deployed = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if resource["Type"] in DEPLOYED_TYPES
    }
    overrides = {
        logical_id: resource
        for logical_id, resource in _user_resources(context).items()
        if logical_id in deployed
        or (isinstance(resource, dict) and resource.get("Type") in DEPLOYED_TYPES)
    }
    content = json.dumps([deployed, overrides], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()[:16]
