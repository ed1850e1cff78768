"""Non-proxy integrations of REST APIs — AWS service (``AWS``), Lambda without proxy and
``MOCK`` — following the steps of the API Gateway developer guide ("Setting up REST API
integrations"): integration request (a mapping template chosen by Content-Type), the
integration itself, integration response (chosen by selection pattern), method response
(response template and header mappings).

AWS service calls are made the way API Gateway makes them, as raw requests to the service's
API: ``action/<Action>`` URIs as a POST of the rendered template to the service's JSON protocol
(``X-Amz-Target``) or, for query-protocol services, its ``Action`` form; ``path/<path>`` URIs as
a request of the integration's HTTP method to that path. They are answered in-process by the
cloud's own router, so Step Functions, SQS and DynamoDB see them as any client's calls.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote

from basegear.cloud.apigateway.incoming import Incoming, title_case
from basegear.cloud.apigateway.stages import Integration, IntegrationResponse, Method
from basegear.cloud.motoshim import inprocess
from basegear.cloud.protocol import AwsResponse

LOG = logging.getLogger(__name__)


def internal_error() -> AwsResponse:
    return AwsResponse(
        500, b'{"message": "Internal server error"}', {"content-type": "application/json"}
    )


def unsupported_media_type() -> AwsResponse:
    return AwsResponse(
        415, b'{"message": "Unsupported Media Type"}', {"content-type": "application/json"}
    )


# X-Amz-Target prefix and JSON protocol version of the JSON services (botocore service
# models, metadata.targetPrefix and jsonVersion).
JSON_SERVICES: dict[str, tuple[str, str]] = {
    "states": ("AWSStepFunctions", "1.0"),
    "dynamodb": ("DynamoDB_20120810", "1.0"),
    "sqs": ("AmazonSQS", "1.0"),
    "events": ("AWSEvents", "1.1"),
    "kinesis": ("Kinesis_20131202", "1.1"),
    "logs": ("Logs_20140328", "1.1"),
}
# API versions of query-protocol services (botocore service models, metadata.apiVersion).
QUERY_SERVICES = {"sns": "2010-03-31", "sqs": "2012-11-05"}
_URI = re.compile(r"arn:aws[a-z-]*:apigateway:(?P<region>[^:]*):(?P<service>[^:]+):(?P<rest>.+)")


@dataclass(frozen=True)
class TemplateInputs:
    """What a mapping template sees besides the body: the method request's parameters (header
    names as the REST event shows them), ``$context`` and ``$stageVariables``."""

    path: Mapping[str, str]
    querystring: Mapping[str, str]
    header: Mapping[str, str]
    context: Mapping[str, Any]
    stage_variables: Mapping[str, str]


def template_inputs(
    incoming: Incoming,
    path_parameters: Mapping[str, str],
    context: Mapping[str, Any],
    stage_variables: Mapping[str, str],
) -> TemplateInputs:
    return TemplateInputs(
        path=path_parameters,
        querystring={name: values[-1] for name, values in incoming.query.items()},
        header={title_case(name): value for name, value in incoming.headers.items()},
        context=context,
        stage_variables=stage_variables,
    )


def render(template: str, body: str, inputs: TemplateInputs, *, source: str) -> str:
    """``template`` rendered by the VTL engine; a template with no ``$`` and no ``#`` is its own
    output (VTL leaves plain text alone), which spares MOCK and static templates the engine."""
    if "$" not in template and "#" not in template:
        return template
    from basegear.cloud.apigateway.vtl import VtlRequest
    from basegear.cloud.apigateway.vtl import render as vtl_render

    request = VtlRequest(
        body=body,
        path=inputs.path,
        querystring=inputs.querystring,
        header=inputs.header,
        context=inputs.context,
        stage_variables=inputs.stage_variables,
    )
    return vtl_render(template, request, source=source)


def request_template(integration: Integration, content_type: str) -> str | AwsResponse | None:
    """The request template for ``content_type``; None to pass the body through; 415 when the
    passthrough behaviour refuses (API Gateway developer guide, "Integration passthrough
    behaviors": WHEN_NO_MATCH passes an unmatched type through, WHEN_NO_TEMPLATES only when
    no template is defined at all, NEVER never)."""
    templates = integration.request_templates
    if content_type in templates:
        return templates[content_type]
    behaviour = integration.passthrough.upper()
    if behaviour == "WHEN_NO_MATCH" or (behaviour == "WHEN_NO_TEMPLATES" and not templates):
        return None
    return unsupported_media_type()


@lru_cache(maxsize=512)
def _pattern(selection_pattern: str) -> re.Pattern[str] | None:
    # Java's Pattern and Python's re agree on the syntax selection patterns use (classes,
    # quantifiers, alternation, anchors); one Python cannot compile matches nothing.
    try:
        return re.compile(selection_pattern)
    except re.error:
        LOG.warning("selectionPattern %r is not a regular expression", selection_pattern)
        return None


def select_response(
    responses: tuple[IntegrationResponse, ...], key: str | None
) -> IntegrationResponse | None:
    """The integration response whose selectionPattern matches all of ``key`` (the status code
    of an AWS or MOCK integration, a Lambda function error's ``errorMessage``), else the
    default one (no pattern); None if there is none (API Gateway API reference,
    IntegrationResponse, selectionPattern)."""
    default = None
    for response in responses:
        pattern = response.selection_pattern
        if not pattern:
            default = response
            continue
        compiled = _pattern(pattern)
        if key is not None and compiled is not None and compiled.fullmatch(key):
            return response
    return default


def method_response(
    chosen: IntegrationResponse,
    body: str,
    headers: Mapping[str, str],
    inputs: TemplateInputs,
    accept: str,
    *,
    source: str,
) -> AwsResponse:
    """The method response: the chosen integration response's template (by ``Accept``, else
    ``application/json``, else the first) over the integration's output, its status and its
    header mappings."""
    templates = chosen.templates
    content_type = "application/json"
    output = body
    if templates:
        wanted = [part.split(";")[0].strip() for part in accept.split(",") if part.strip()]
        content_type = next(
            (kind for kind in wanted if kind in templates),
            "application/json" if "application/json" in templates else next(iter(templates)),
        )
        template = templates[content_type]
        where = f"response template {content_type} ({chosen.status_code}) of {source}"
        output = render(template, body, inputs, source=where) if template else body
    out_headers = {"content-type": content_type}
    for target, source in chosen.parameters.items():
        if target.startswith("method.response.header."):
            value = _response_parameter(source, body, headers, inputs)
            if value is not None:
                out_headers[target.removeprefix("method.response.header.").lower()] = value
    return AwsResponse(int(chosen.status_code), output.encode("utf-8"), out_headers)


def _response_parameter(
    source: str, body: str, headers: Mapping[str, str], inputs: TemplateInputs
) -> str | None:
    """A response parameter's value (API Gateway developer guide, "Parameter mapping source
    reference for REST APIs"): a quoted literal, an integration response header or body field,
    a context or stage variable."""
    if len(source) >= 2 and source[0] == source[-1] == "'":
        return source[1:-1]
    if source.startswith("integration.response.header."):
        name = source.removeprefix("integration.response.header.").lower()
        return next((v for k, v in headers.items() if k.lower() == name), None)
    if source == "integration.response.body":
        return body
    if source.startswith("integration.response.body."):
        try:
            value: Any = json.loads(body)
        except ValueError:
            return None
        for step in source.removeprefix("integration.response.body.").split("."):
            value = value.get(step) if isinstance(value, dict) else None
        return None if value is None else value if isinstance(value, str) else json.dumps(value)
    return _request_source(source, inputs)


def _request_source(source: str, inputs: TemplateInputs) -> str | None:
    if len(source) >= 2 and source[0] == source[-1] == "'":
        return source[1:-1]
    prefix, _, name = source.rpartition(".")
    if prefix == "method.request.path":
        return inputs.path.get(name)
    if prefix == "method.request.querystring":
        return inputs.querystring.get(name)
    if prefix == "method.request.header":
        lower = name.lower()
        return next((v for k, v in inputs.header.items() if k.lower() == lower), None)
    if prefix == "stageVariables":
        return inputs.stage_variables.get(name)
    if source.startswith("context."):
        value: Any = inputs.context
        for step in source.removeprefix("context.").split("."):
            value = value.get(step) if isinstance(value, Mapping) else None
        return None if value is None else str(value)
    return None


# -- calling the service ---------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceAnswer:
    status: int
    headers: Mapping[str, str]
    body: str
    function_error: str | None = None  # a Lambda function's errorMessage


def call_service(
    integration: Integration, request_body: str, inputs: TemplateInputs, region: str
) -> ServiceAnswer:
    """The raw AWS request an ``AWS`` integration makes, answered by the cloud's router."""
    match = _URI.match(_substitute(integration.uri, inputs.stage_variables))
    if match is None:
        raise IntegrationError(f"integration URI {integration.uri!r} is not an AWS service URI")
    service = match["service"].split(".")[-1]  # "<subdomain>.<service>" names the service
    region = match["region"] or region
    rest = match["rest"]
    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    for target, source in integration.request_parameters.items():
        value = _request_source(source, inputs)
        if value is None:
            continue
        if target.startswith("integration.request.header."):
            headers[target.removeprefix("integration.request.header.").lower()] = value
        elif target.startswith("integration.request.querystring."):
            query[target.removeprefix("integration.request.querystring.")] = value
    if rest.startswith("action/"):
        action, _, extra = rest.removeprefix("action/").partition("&")
        method, path, body = "POST", "/", request_body
        if service in JSON_SERVICES and not _is_form(headers):
            prefix, version = JSON_SERVICES[service]
            headers["x-amz-target"] = f"{prefix}.{action}"
            headers["content-type"] = f"application/x-amz-json-{version}"
        else:
            form = f"Action={quote(action)}&Version={QUERY_SERVICES.get(service, '')}"
            pairs = [form, extra, *(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())]
            body = "&".join(part for part in (*pairs, request_body) if part)
            query = {}
            headers["content-type"] = "application/x-www-form-urlencoded"
    elif rest.startswith("path/"):
        method, path, body = integration.http_method, "/" + rest.removeprefix("path/"), request_body
    else:
        raise IntegrationError(f"integration URI {integration.uri!r} names no action or path")
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=apigateway/20200101/{region}/{service}/aws4_request, "
        "SignedHeaders=host, Signature=0"
    )
    headers["host"] = f"{service}.{region}.amazonaws.com"
    dispatcher = inprocess.current()
    if dispatcher is None:
        raise IntegrationError("no local cloud is running in this process")
    query_string = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in query.items())
    status, answer_headers, answer = dispatcher(
        method, quote(unquote(path), safe="/"), query_string, headers, body.encode("utf-8")
    )
    text = answer.decode("utf-8", errors="replace")
    function_error = None
    lowered = {k.lower(): v for k, v in answer_headers.items()}
    if service == "lambda" and lowered.get("x-amz-function-error"):
        function_error = _error_message(text)
    return ServiceAnswer(status, lowered, text, function_error)


def _is_form(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


def _error_message(payload: str) -> str:
    try:
        answer = json.loads(payload)
    except ValueError:
        return payload
    if isinstance(answer, dict) and "errorMessage" in answer:
        return str(answer["errorMessage"])
    return payload


def _substitute(text: str, stage_variables: Mapping[str, str]) -> str:
    """``${stageVariables.name}`` in an integration URI (API Gateway developer guide, "Using
    stage variables")."""
    if "${stageVariables." not in text:
        return text
    return re.sub(
        r"\$\{stageVariables\.([A-Za-z0-9_]+)\}",
        lambda m: stage_variables.get(m.group(1), ""),
        text,
    )


class IntegrationError(Exception):
    """An integration that cannot be called as configured (a 500 to the client)."""


def run_integration(
    method: Method, incoming: Incoming, inputs: TemplateInputs, region: str
) -> AwsResponse:
    """An ``AWS`` or ``MOCK`` integration, request to method response."""
    integration = method.integration
    assert integration is not None
    chosen_template = request_template(integration, incoming.content_type())
    if isinstance(chosen_template, AwsResponse):
        return chosen_template
    body_in = incoming.body_text()
    source = f"{method.route_key} of API {incoming.api_id}"
    if chosen_template is None:
        request_body = body_in
    else:
        where = f"request template {incoming.content_type()} of {source}"
        request_body = render(chosen_template, body_in, inputs, source=where)
    key: str | None
    if integration.type == "MOCK":
        key = _mock_status(request_body)
        answer = ServiceAnswer(int(key) if key.isdigit() else 200, {}, "")
    else:
        answer = call_service(integration, request_body, inputs, region)
        key = answer.function_error if _is_lambda(integration) else str(answer.status)
    chosen = select_response(integration.responses, key)
    if chosen is None:
        LOG.warning(
            "%s %s of API %s: no integration response matches %r and none is the default",
            method.http_method,
            method.resource_path,
            incoming.api_id,
            key,
        )
        return internal_error()
    return method_response(
        chosen,
        answer.body,
        answer.headers,
        inputs,
        incoming.headers.get("accept", ""),
        source=source,
    )


def _is_lambda(integration: Integration) -> bool:
    match = _URI.match(integration.uri)
    return match is not None and match["service"] == "lambda"


def _mock_status(rendered: str) -> str:
    """A MOCK integration answers with the ``statusCode`` its request template names
    (API Gateway developer guide, "Set up mock integrations")."""
    try:
        value = json.loads(rendered)
    except ValueError:
        found = re.search(r"statusCode\W*(\d{3})", rendered)
        return found.group(1) if found else "200"
    if isinstance(value, dict) and "statusCode" in value:
        return str(value["statusCode"])
    return "200"
