"""``http`` events of functions: REST API methods that invoke the function (Serverless Framework
v3 docs, "API Gateway"). Each event adds, in this order: the function's invoke permission (once
per function), its path's resources, its authorizer, request validation, and the method with its
integration — Lambda proxy (``AWS_PROXY``, the default) or the ``lambda`` integration (``AWS``)
with request templates and integration responses selected by pattern.
"""

from __future__ import annotations

import re
from typing import Any

from basegear.compile import apigateway, authorizers, functions, naming
from basegear.compile.context import Context, Json
from basegear.compile.cors import Cors, parse_cors
from basegear.compile.event_support import event_path
from basegear.errors import ConfigPath
from basegear.model.events import Authorizer, HttpEvent, HttpRequest

# `integration:` spellings the Serverless Framework accepts, by the integration type they mean.
INTEGRATIONS = {
    "LAMBDA_PROXY": "AWS_PROXY",
    "AWS_PROXY": "AWS_PROXY",
    "LAMBDA": "AWS",
    "AWS": "AWS",
}
PARAMETER_LOCATIONS = {"querystrings": "querystring", "headers": "header", "paths": "path"}
STATUS_CODE_KEYS = ("pattern", "template", "headers")
# The Serverless Framework's integration responses for the lambda integration when none are
# given: the function reports an HTTP status by putting "[<status>]" in its error message; the
# selection pattern is matched against that message (API Gateway developer guide, "Handle Lambda
# errors in API Gateway").
DEFAULT_PATTERNS = {
    "200": "",
    **{code: rf"[\s\S]*\[{code}\][\s\S]*" for code in ("400", "401", "403", "404", "422", "502")},
    "500": r"[\s\S]*(Process\s?exited\s?before\s?completing\s?request|\[500\])[\s\S]*",
    "504": r"([\s\S]*\[504\][\s\S]*)|(.*Task timed out after \d+\.\d+ seconds$)",
}

# The request the lambda integration passes to the function, in the shape the Serverless
# Framework's default templates give it (body, method, principalId, stage, cognitoPoolClaims,
# enhancedAuthContext, headers, query, path, identity, stageVariables, requestPath). VTL reference:
# API Gateway developer guide, "API Gateway mapping template and access logging variable
# reference".
# $map as a JSON object of strings.
PAIRS_MACRO = r"""#define($pairs)
{
#foreach($name in $map.keySet())
  #set($value = $util.escapeJavaScript($map.get($name)).replaceAll("\\'", "'"))
  "$util.escapeJavaScript($name)": "$value"#if($foreach.hasNext),#end
#end
}
#end
"""
# A form body (application/x-www-form-urlencoded) as a JSON object of its URL-decoded fields.
FORM_BODY_MACRO = r"""#define($body)
{
#foreach($field in $input.path('$').split('&'))
  #set($pair = $field.split('='))
  #set($value = '')
  #if($pair.size() > 1)
    #set($value = $util.escapeJavaScript($util.urlDecode($pair[1])).replaceAll("\\'", "'"))
  #end
  "$util.escapeJavaScript($util.urlDecode($pair[0]))": "$value"#if($foreach.hasNext),#end
#end
}
#end
"""
_EVENT = """{
  "body": $body,
  "method": "$context.httpMethod",
  "principalId": "$context.authorizer.principalId",
  "stage": "$context.stage",
  "cognitoPoolClaims": {
    @CLAIMS@"sub": "$context.authorizer.claims.sub"
  },
  #set($map = $context.authorizer)
  "enhancedAuthContext": $pairs,
  #set($map = $input.params().header)
  "headers": $pairs,
  #set($map = $input.params().querystring)
  "query": $pairs,
  #set($map = $input.params().path)
  "path": $pairs,
  #set($map = $context.identity)
  "identity": $pairs,
  #set($map = $stageVariables)
  "stageVariables": $pairs,
  "requestPath": "$context.resourcePath"
}
"""
JSON_REQUEST_TEMPLATE = "#set($body = $input.json('$'))\n" + PAIRS_MACRO + _EVENT
FORM_REQUEST_TEMPLATE = FORM_BODY_MACRO + PAIRS_MACRO + _EVENT


def compile_http(context: Context, key: str, index: int, event: HttpEvent) -> None:
    where = event_path(key, index, "http")
    kind = _integration_type(context, event, where)
    parts = apigateway.path_parts(context, event.path, where)
    method = apigateway.rest_method(event.method)
    api = apigateway.rest_api_id(context)
    # An alias (provisioned concurrency, SnapStart) is what API Gateway invokes, when there is one.
    function_arn = functions.function_arn(context, key)
    alias = functions.alias_id(context, key)
    permission = apigateway.add_permission(
        context, apigateway.permission_id(key), function_arn, api, where, depends_on=alias
    )
    authorizer = event.authorizer
    claims = _claims(context, authorizer, kind, where)
    parameters = _request_parameters(context, event.request, where)
    properties: dict[str, Json] = {
        "HttpMethod": method,
        "RequestParameters": {name: required for name, required, _ in parameters},
        "ResourceId": apigateway.resource_for_path(context, parts, where),
        "RestApiId": api,
        # `private: true` always requires a key, whatever else guards the method.
        "ApiKeyRequired": event.private,
        **authorizers.method_authorization(context, authorizer, (*where, "authorizer")),
    }
    if event.operation_id:
        properties["OperationName"] = event.operation_id
    properties.update(_request_validation(context, event, parts, parameters, where))
    integration: dict[str, Json] = {
        "IntegrationHttpMethod": "POST",
        "Type": kind,
        "Uri": apigateway.lambda_uri(function_arn),
        **apigateway.integration_timeout(context, None),
    }
    if kind == "AWS_PROXY":
        properties["Integration"] = integration
        properties["MethodResponses"] = []
    else:
        cors = parse_cors(context, event.cors, event.method, where)
        responses = _responses(context, event, cors, where)
        integration.update(_lambda_request(event, parameters, claims))
        integration["IntegrationResponses"] = [response for response, _ in responses]
        properties["Integration"] = integration
        properties["MethodResponses"] = [method_response for _, method_response in responses]
    depends_on = [permission] if alias is None else [permission, alias]
    apigateway.add_method(context, parts, method, properties, where, depends_on=depends_on)


def _integration_type(context: Context, event: HttpEvent, where: ConfigPath) -> str:
    if event.integration is None:
        # An async event is invoked with X-Amz-Invocation-Type: Event, which only the lambda
        # integration can set (API Gateway developer guide, "Set up asynchronous invocation of
        # the backend Lambda function").
        kind = "AWS" if event.async_ else "AWS_PROXY"
    else:
        kind = INTEGRATIONS.get(event.integration.upper().replace("-", "_"), "")
    if not kind:
        raise context.fail(
            f"BaseGear compiles the lambda-proxy and lambda integrations; got "
            f"{event.integration!r}",
            (*where, "integration"),
        )
    request = event.request or HttpRequest()
    for key, value in (
        (("request", "uri"), request.uri),
        (("connectionId",), event.connection_id),
        (("connectionType",), event.connection_type),
    ):
        if value is not None:
            raise context.fail(
                f"{'.'.join(key)} is a setting of HTTP integrations, which BaseGear does not "
                "compile yet",
                (*where, *key),
            )
    if kind == "AWS_PROXY":
        # With a proxy integration API Gateway passes the request and the function's response
        # through unchanged: templates and response mappings would be silently ignored.
        ignored = [
            key
            for key, value in (
                (("async",), event.async_),
                (("response",), event.response),
                (("request", "template"), request.template),
                (("request", "passThrough"), request.pass_through),
                (("request", "contentHandling"), request.content_handling),
            )
            if value
        ]
        if ignored:
            raise context.fail(
                f"{'.'.join(ignored[0])} needs integration: lambda; the lambda-proxy "
                "integration passes requests and responses through unchanged",
                (*where, *ignored[0]),
            )
    return kind


# ---------------------------------------------------------------------------------------------
# Request parameters, validation and templates


def _request_parameters(
    context: Context, request: HttpRequest | None, where: ConfigPath
) -> list[tuple[str, bool, Json]]:
    """``request.parameters`` → ``(method.request.<location>.<name>, required, mapped value)``."""
    if request is None or not request.parameters:
        return []
    found: list[tuple[str, bool, Json]] = []
    for location, names in request.parameters.items():
        path = (*where, "request", "parameters", location)
        singular = PARAMETER_LOCATIONS.get(location)
        if singular is None or not isinstance(names, dict):
            raise context.fail(
                f"request parameters are mappings under {', '.join(PARAMETER_LOCATIONS)}; "
                f"got {location!r}",
                path,
            )
        for name, setting in names.items():
            required, mapped = setting, None
            if isinstance(setting, dict):
                unknown = set(setting) - {"required", "mappedValue"}
                if unknown:
                    raise context.fail(
                        f"a request parameter has required and mappedValue, got "
                        f"{', '.join(sorted(unknown))}",
                        (*path, name),
                    )
                required, mapped = setting.get("required", True), setting.get("mappedValue")
            if not isinstance(required, bool):
                raise context.fail(
                    f"expected true or false (is the parameter required?), got {required!r}",
                    (*path, name),
                )
            found.append((f"method.request.{singular}.{name}", required, mapped))
    return found


def _request_validation(
    context: Context,
    event: HttpEvent,
    parts: tuple[str, ...],
    parameters: list[tuple[str, bool, Json]],
    where: ConfigPath,
) -> dict[str, Json]:
    """A request validator when a parameter is required or a body has a schema: API Gateway
    checks neither without one (API Gateway developer guide, "Request validation for REST
    APIs"). Schemas become models: inline ones per method and content type, named ones from
    ``provider.apiGateway.request.schemas`` once."""
    schemas = (event.request.schemas if event.request else None) or {}
    if not schemas and not any(required for _, required, _ in parameters):
        return {}
    properties: dict[str, Json] = {"RequestValidatorId": {"Ref": _request_validator(context)}}
    models = {}
    for content_type, schema in schemas.items():
        path = (*where, "request", "schemas", content_type)
        models[content_type] = {"Ref": _model(context, parts, event, content_type, schema, path)}
    if models:
        properties["RequestModels"] = models
    return properties


def _request_validator(context: Context) -> str:
    service = context.service.service
    logical_id = f"ApiGateway{naming.alphanumeric(service)}RequestValidator"
    if logical_id not in context.template.resources:
        context.template.add(
            logical_id,
            "AWS::ApiGateway::RequestValidator",
            {
                "RestApiId": apigateway.rest_api_id(context),
                "ValidateRequestBody": True,
                "ValidateRequestParameters": True,
                "Name": f"{service}-{context.stage} | Validate request body and querystring "
                "parameters",
            },
        )
    return logical_id


def _model(
    context: Context,
    parts: tuple[str, ...],
    event: HttpEvent,
    content_type: str,
    schema: Json,
    where: ConfigPath,
) -> str:
    shared = (context.service.provider.api_gateway.request or {}).get("schemas") or {}
    if isinstance(schema, str) and schema in shared:
        logical_id = f"ApiGateway{naming.upper_first(_camel_case(schema))}Model"
        if logical_id not in context.template.resources:
            definition = shared[schema]
            where = ("provider", "apiGateway", "request", "schemas", schema)
            context.template.add(
                logical_id,
                "AWS::ApiGateway::Model",
                _model_properties(context, "application/json", definition, where),
            )
        return logical_id
    method = apigateway.rest_method(event.method)
    logical_id = (
        apigateway.method_id(parts, method)
        + "".join(map(naming.upper_first, _words(content_type)))
        + "Model"
    )
    context.template.add(
        logical_id,
        "AWS::ApiGateway::Model",
        _model_properties(context, content_type, schema, where),
    )
    return logical_id


def _model_properties(
    context: Context, content_type: str, definition: Json, where: ConfigPath
) -> dict[str, Json]:
    """A schema, or ``{schema, name, description}``."""
    properties: dict[str, Json] = {
        "RestApiId": apigateway.rest_api_id(context),
        "ContentType": content_type,
    }
    if isinstance(definition, dict) and "schema" in definition:
        unknown = set(definition) - {"schema", "name", "description"}
        if unknown:
            raise context.fail(
                f"a named schema has schema, name and description; got "
                f"{', '.join(sorted(unknown))}",
                where,
            )
        properties["Schema"] = definition["schema"]
        for key in ("name", "description"):
            if definition.get(key) is not None:
                properties[key.capitalize()] = definition[key]
    else:
        properties["Schema"] = definition
    return properties


def _words(text: str) -> list[str]:
    """Words as lodash splits them: ``application/json`` → ``application``, ``json``."""
    return re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", text)


def _camel_case(text: str) -> str:
    words = [word.lower() for word in _words(text)]
    return words[0] + "".join(map(naming.upper_first, words[1:])) if words else ""


def _lambda_request(
    event: HttpEvent, parameters: list[tuple[str, bool, Json]], claims: str
) -> dict[str, Json]:
    """The lambda integration's request side: templates (the defaults, then the user's per
    content type), pass-through behaviour and parameter mappings."""
    request = event.request or HttpRequest()
    templates = {
        "application/json": JSON_REQUEST_TEMPLATE.replace("@CLAIMS@", claims),
        "application/x-www-form-urlencoded": FORM_REQUEST_TEMPLATE.replace("@CLAIMS@", claims),
        **(request.template or {}),
    }
    settings: dict[str, Json] = {
        # NEVER: a content type without a template is refused with 415 rather than passed on
        # (API Gateway developer guide, "Method request behavior for payloads without mapping
        # templates").
        "PassthroughBehavior": request.pass_through or "NEVER",
        "RequestTemplates": templates,
    }
    if request.content_handling:
        settings["ContentHandling"] = request.content_handling
    mapped = {
        "integration." + name.removeprefix("method."): (value if value is not None else name)
        for name, _, value in parameters
    }
    if event.async_:
        mapped["integration.request.header.X-Amz-Invocation-Type"] = "'Event'"
    if mapped:
        settings["RequestParameters"] = mapped
    return settings


# ---------------------------------------------------------------------------------------------
# Integration and method responses of the lambda integration


def _responses(
    context: Context, event: HttpEvent, cors: Cors | None, where: ConfigPath
) -> list[tuple[dict[str, Json], dict[str, Json]]]:
    """``response.statusCodes`` (or the framework's defaults) → integration responses and the
    method responses they need; ``response.headers`` and ``response.template`` apply to each."""
    response = event.response
    codes: dict[str, Any] = dict((response.status_codes if response else None) or {})
    if not codes:
        codes = {code: {"pattern": pattern} for code, pattern in DEFAULT_PATTERNS.items()}
    where = (*where, "response", "statusCodes")
    for code, settings in codes.items():
        if not re.fullmatch(r"[1-5][0-9]{2}", str(code)) or not isinstance(settings, dict):
            raise context.fail(
                f"statusCodes maps an HTTP status code to pattern, template and headers; "
                f"got {code!r}",
                (*where, code),
            )
        context.refuse_unknown(settings, STATUS_CODE_KEYS, "status code setting", (*where, code))
    defaults = [code for code, settings in codes.items() if not settings.get("pattern")]
    if len(defaults) > 1:
        raise context.fail(
            f"only one status code can be the default (no pattern); got {', '.join(defaults)}",
            where,
        )
    if not defaults:
        if "200" in codes:
            raise context.fail("give one status code an empty pattern: the default", where)
        codes["200"] = {"pattern": ""}
    headers = {
        **(cors.response_parameters() if cors else {}),
        **apigateway.header_parameters(response.headers if response else None),
    }
    common_templates = (
        {"application/json": response.template} if response and response.template else {}
    )
    built = []
    for code in sorted(codes, key=int):
        settings = codes[code]
        templates = {**common_templates, **response_templates(settings.get("template"))}
        parameters = {**headers, **apigateway.header_parameters(settings.get("headers"))}
        built.append(
            (
                {
                    "StatusCode": str(code),
                    "SelectionPattern": settings.get("pattern") or "",
                    "ResponseParameters": parameters,
                    "ResponseTemplates": templates,
                },
                apigateway.method_response(str(code), parameters),
            )
        )
    return built


def response_templates(template: str | dict[str, str] | None) -> dict[str, str]:
    """A status code's ``template``: one for application/json, or one per content type."""
    if isinstance(template, str):
        return {"application/json": template}
    return dict(template or {})


def _claims(context: Context, authorizer: Authorizer | None, kind: str, where: ConfigPath) -> str:
    """Cognito ``claims`` → entries of the lambda integration's ``cognitoPoolClaims``; a
    ``namespace:claim`` is read with bracket notation and keyed by ``claim``."""
    if authorizer is None or not authorizer.claims:
        return ""
    if kind != "AWS":
        raise context.fail(
            "claims are passed to the function by the lambda integration's request template; "
            "the lambda-proxy integration has them in requestContext.authorizer.claims",
            (*where, "authorizer", "claims"),
        )
    entries = []
    for claim in authorizer.claims:
        if ":" in claim:
            name, value = claim.split(":", 1)[1], f"$context.authorizer.claims['{claim}']"
        else:
            name, value = claim, f"$context.authorizer.claims.{claim}"
        entries.append(f'"{name}": "{value}",\n    ')
    return "".join(entries)
