"""``http`` events of state machines (serverless-step-functions README, "Events", "API
Gateway"): a REST API method with an AWS integration that calls Step Functions directly —
``StartExecution`` unless the event names another ``action`` — with a role API Gateway assumes
to do so.

The request templates build the action's input; the integration responses answer it. For an AWS
service integration API Gateway matches each response's SelectionPattern against the HTTP status
code the service returned, and the response with an empty pattern is the default (API Gateway API
reference, IntegrationResponse, selectionPattern: "For all other HTTP and AWS back ends, the HTTP
status code is matched"). The plugin ignores ``response.statusCodes`` and declares method
responses for 200 and 400 only; BaseGear compiles ``responses`` and ``response.statusCodes``
alike, with a method response for every status code they use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from basegear.compile import apigateway, authorizers, http
from basegear.compile.context import Context, Json
from basegear.compile.cors import Cors, parse_cors
from basegear.errors import ConfigPath
from basegear.model.provider import IamRole
from basegear.model.stepfunctions import StepFunctionHttpEvent

ROLE = "ApigatewayToStepFunctionsRole"
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")
STATUS_CODE = re.compile(r"[1-5][0-9]{2}")
# Actions that act on an execution rather than on the state machine (Step Functions API
# reference, "Actions": DescribeExecution and StopExecution take an executionArn).
EXECUTION_ACTIONS = ("DescribeExecution", "StopExecution")

# StartExecution's input (Step Functions API reference, StartExecution: input, name,
# stateMachineArn): the request body as the execution's input, the request ID as its name.
DEFAULT_TEMPLATE = r"""#set($body = $util.escapeJavaScript($input.json('$')).replaceAll("\\'", "'"))
{"input": "$body", "name": "$context.requestId", "stateMachineArn": "${StateMachineArn}"}
"""
# `request.template: lambda_proxy`: the execution's input is the request in the shape of a Lambda
# proxy integration's event (API Gateway developer guide, "Input format of a Lambda function for
# proxy integration"). The body, as text, comes from the content type's $body.
_PROXY_EVENT = r"""#define($event)
{
  "resource": "$context.resourcePath",
  "path": "$context.path",
  "httpMethod": "$context.httpMethod",
  #set($map = $input.params().header)
  "headers": $pairs,
  #set($map = $input.params().querystring)
  "queryStringParameters": #if($map.size() == 0) null #else $pairs #end,
  #set($map = $input.params().path)
  "pathParameters": #if($map.size() == 0) null #else $pairs #end,
  #set($map = $stageVariables)
  "stageVariables": #if($map.size() == 0) null #else $pairs #end,
  "requestContext": {
    "resourceId": "$context.resourceId",
    "resourcePath": "$context.resourcePath",
    "httpMethod": "$context.httpMethod",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "path": "$context.path",
    "accountId": "$context.accountId",
    "protocol": "$context.protocol",
    "stage": "$context.stage",
    "domainPrefix": "$context.domainPrefix",
    "requestTimeEpoch": $context.requestTimeEpoch,
    "requestId": "$context.requestId",
    #set($map = $context.identity)
    "identity": $pairs,
    "domainName": "$context.domainName",
    #set($map = $context.authorizer)
    "authorizer": $pairs,
    "apiId": "$context.apiId"
  },
  "body": "$util.escapeJavaScript("$body").replaceAll("\\'", "'")",
  "isBase64Encoded": false
}
#end
#set($execution_input = $util.escapeJavaScript("$event").replaceAll("\\'", "'"))
{
  "input": "$execution_input",
  "name": "$context.requestId",
  "stateMachineArn": "${StateMachineArn}"
}
"""
PROXY_TEMPLATES = {
    "application/json": "#set($body = $input.body)\n" + http.PAIRS_MACRO + _PROXY_EVENT,
    "application/x-www-form-urlencoded": http.FORM_BODY_MACRO + http.PAIRS_MACRO + _PROXY_EVENT,
}


def compile_state_machine_http(
    context: Context, key: str, machine_id: str, index: int, event: StepFunctionHttpEvent
) -> None:
    """``key`` is the state machine's key under ``stepFunctions.stateMachines``, ``machine_id``
    its logical ID; ``index`` the event's place in its ``events`` list."""
    where: ConfigPath = ("stepFunctions", "stateMachines", key, "events", index, "http")
    if event.request is not None and event.request.headers:
        raise context.fail(
            "request.headers is not a setting of state machine http events; map headers in "
            "request.template",
            (*where, "request", "headers"),
        )
    parts = apigateway.path_parts(context, event.path, where)
    method = apigateway.rest_method(event.method)
    api = apigateway.rest_api_id(context)
    authorizer = authorizers.parse_authorizer(context, event.authorizer, (*where, "authorizer"))
    if authorizer is not None and authorizer.claims:
        raise context.fail(
            "claims go into a function's lambda integration request; a state machine event "
            "reads them from $context.authorizer.claims in its request template",
            (*where, "authorizer", "claims"),
        )
    cors = parse_cors(context, event.cors, event.method, where)
    responses = _responses(context, event, cors, where)
    explicit_action = "action" in event.model_fields_set
    integration: dict[str, Json] = {
        "IntegrationHttpMethod": "POST",
        "Type": "AWS",
        "Credentials": (
            event.iam_role
            if event.iam_role is not None
            else _role(context, machine_id, event.action)
        ),
        # arn:aws:apigateway:<region>:states:action/<Action>: an AWS service action (API Gateway
        # developer guide, "Set up an API integration request", AWS service URIs).
        "Uri": apigateway.service_uri(f":states:action/{event.action}"),
        # As the plugin: with an explicit action the request passes through when no template
        # is given; otherwise a content type without a template is refused with 415.
        "PassthroughBehavior": "WHEN_NO_TEMPLATES" if explicit_action else "NEVER",
    }
    templates = _request_templates(event, machine_id, explicit_action)
    if templates:
        integration["RequestTemplates"] = templates
    integration.update(apigateway.integration_timeout(context, event.timeout_in_millis))
    integration["IntegrationResponses"] = [response for response, _ in responses]
    properties: dict[str, Json] = {
        "HttpMethod": method,
        "RequestParameters": {},
        "ResourceId": apigateway.resource_for_path(context, parts, where),
        "RestApiId": api,
        # `private: true` always requires a key, whatever else guards the method.
        "ApiKeyRequired": event.private,
        **authorizers.method_authorization(context, authorizer, (*where, "authorizer")),
        "Integration": integration,
        "MethodResponses": [method_response for _, method_response in responses],
    }
    apigateway.add_method(context, parts, method, properties, where)


def _request_templates(
    event: StepFunctionHttpEvent, machine_id: str, explicit_action: bool
) -> dict[str, Json]:
    """The plugin's default templates (none when the event names its action), then the user's
    templates per content type, verbatim; or the Lambda-proxy-shaped ones."""
    template = event.request.template if event.request else None
    machine_arn = {"StateMachineArn": {"Ref": machine_id}}
    if template == "lambda_proxy":
        return {
            content_type: {"Fn::Sub": [text, machine_arn]}
            for content_type, text in PROXY_TEMPLATES.items()
        }
    templates: dict[str, Json] = (
        {}
        if explicit_action
        else {
            content_type: {"Fn::Sub": [DEFAULT_TEMPLATE, machine_arn]}
            for content_type in CONTENT_TYPES
        }
    )
    if isinstance(template, dict):
        templates.update(template)
    return templates


def _role(context: Context, machine_id: str, action: str) -> Json:
    """The role API Gateway assumes to call Step Functions, allowed each event's action on that
    event's state machine (or its executions) only."""
    if action in EXECUTION_ACTIONS:
        resource: Json = {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":states:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                    ":execution:",
                    {"Fn::GetAtt": [machine_id, "Name"]},
                    ":*",
                ],
            ]
        }
    else:
        resource = {"Ref": machine_id}
    statement = {"Effect": "Allow", "Action": [f"states:{action}"], "Resource": [resource]}
    role = context.template.resources.get(ROLE)
    if role is None:
        properties: dict[str, Json] = {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "apigateway.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": "apigatewaytostepfunctions",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                }
            ],
        }
        iam_role = context.service.provider.iam.role
        if isinstance(iam_role, IamRole) and iam_role.path:
            properties["Path"] = iam_role.path
        context.template.add(ROLE, "AWS::IAM::Role", properties)
    else:
        statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if statement not in statements:
            statements.append(statement)
    return {"Fn::GetAtt": [ROLE, "Arn"]}


# ---------------------------------------------------------------------------------------------
# Integration and method responses


@dataclass(frozen=True)
class _Response:
    """One integration response, before CORS headers are added."""

    code: str
    pattern: str  # "" is the default response
    parameters: dict[str, str]
    templates: dict[str, str]


def _responses(
    context: Context,
    event: StepFunctionHttpEvent,
    cors: Cors | None,
    where: ConfigPath,
) -> list[tuple[dict[str, Json], dict[str, Json]]]:
    """Integration responses with their method responses, from ``responses`` and
    ``response.statusCodes`` together, else the plugin's default pair: 200 (the default, with
    ``response.headers`` and ``response.template``) and 400 (selected by status 400)."""
    response = event.response
    headers = apigateway.header_parameters(response.headers if response else None)
    templates = http.response_templates(response.template if response else None)
    status_codes = (response.status_codes if response else None) or {}
    if event.responses and (headers or templates) and not status_codes:
        raise context.fail(
            "response.headers and response.template apply to response.statusCodes or to the "
            "default responses; with responses, set them per response",
            (*where, "response"),
        )
    found: dict[str, _Response] = {}

    def add(entry: _Response, path: ConfigPath) -> None:
        if not STATUS_CODE.fullmatch(entry.code):
            raise context.fail(f"expected an HTTP status code, got {entry.code!r}", path)
        if entry.code in found:
            raise context.fail(
                f"status code {entry.code} already has a response; give each status one", path
            )
        if entry.pattern == "" and any(other.pattern == "" for other in found.values()):
            raise context.fail("only one response can be the default (empty pattern)", path)
        found[entry.code] = entry

    for name, given in (event.responses or {}).items():
        code = name if given.status_code is None else str(given.status_code)
        pattern = name if given.selection_pattern is None else given.selection_pattern
        parameters, response_templates = given.response_parameters, given.response_templates
        add(_Response(code, pattern, parameters, response_templates), (*where, "responses", name))
    for code, settings in status_codes.items():
        path = (*where, "response", "statusCodes", code)
        add(_status_code(context, code, settings, headers, templates, path), path)
    if not found:
        add(_Response("200", "", headers, templates), where)
        add(_Response("400", "400", {}, {}), where)
    elif status_codes and all(entry.pattern for entry in found.values()):
        # As for functions' response.statusCodes: without a default, 200 is added as one.
        add(_Response("200", "", headers, templates), (*where, "response", "statusCodes"))
    built = []
    for code in sorted(found, key=int):
        entry = found[code]
        parameters = {**entry.parameters, **(cors.response_parameters() if cors else {})}
        integration_response = {
            "StatusCode": code,
            "SelectionPattern": entry.pattern,
            "ResponseParameters": parameters,
            "ResponseTemplates": dict(entry.templates),
        }
        built.append((integration_response, apigateway.method_response(code, parameters)))
    return built


def _status_code(
    context: Context,
    code: str,
    settings: dict[str, Json],
    headers: dict[str, str],
    templates: dict[str, str],
    path: ConfigPath,
) -> _Response:
    """One ``response.statusCodes`` entry, in the Serverless Framework's form: ``pattern`` (no
    pattern: the default), ``template`` and ``headers`` over ``response.template`` and
    ``response.headers``."""
    context.refuse_unknown(settings, http.STATUS_CODE_KEYS, "status code setting", path)
    pattern = settings.get("pattern") or ""
    if not isinstance(pattern, str):
        raise context.fail(f"a pattern is a regular expression, got {pattern!r}", path)
    return _Response(
        str(code),
        pattern,
        {**headers, **apigateway.header_parameters(settings.get("headers"))},
        {**templates, **http.response_templates(settings.get("template"))},
    )
