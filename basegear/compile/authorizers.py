"""REST API authorizers (Serverless Framework v3 docs, "API Gateway", "HTTP Endpoints with
Custom Authorizers"), shared by the ``http`` events of functions and state machines: AWS_IAM, an
existing authorizer by ID, a Lambda authorizer (TOKEN or REQUEST) given by function name or ARN,
or a Cognito user pool authorizer given by its pool's ARN. Each authorizer is compiled once, the
first time a method uses it, with the permission API Gateway needs to invoke a Lambda authorizer.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from basegear.compile import apigateway, functions, naming
from basegear.compile.context import Context, Json
from basegear.errors import ConfigPath
from basegear.model.events import Authorizer

COGNITO_ARN = re.compile(r"arn:[A-Za-z-]+:cognito-idp:")
LAMBDA_AUTHORIZER_TYPES = ("TOKEN", "REQUEST")


def parse_authorizer(context: Context, value: Json, where: ConfigPath) -> Authorizer | None:
    """An ``authorizer`` given as free data (state machine events) → the Authorizer model."""
    if value is None:
        return None
    try:
        return Authorizer.model_validate({"name": value} if isinstance(value, str) else value)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(str(step) for step in first["loc"])
        raise context.fail(first["msg"], (*where, *location)) from error


def method_authorization(
    context: Context, authorizer: Authorizer | None, where: ConfigPath
) -> dict[str, Json]:
    """AuthorizationType, AuthorizerId and AuthorizationScopes of a method; compiles the
    authorizer (and its permission to invoke a Lambda function) the first time it is used."""
    if authorizer is None:
        return {"AuthorizationType": "NONE"}
    kind = (authorizer.type or "").upper()
    name, arn = authorizer.name, authorizer.arn
    if kind == "AWS_IAM" or (arn is None and (name or "").upper() == "AWS_IAM"):
        return {"AuthorizationType": "AWS_IAM"}
    alias = None  # the alias of a function of this service, which API Gateway then invokes
    if authorizer.authorizer_id is not None:
        if not kind:
            raise context.fail("authorizerId needs the authorizer's type", where)
        return _existing_authorizer(authorizer, kind)
    if arn is None and name is not None and ":" in name:
        name, arn = None, name  # `authorizer: arn:…` names a function by its ARN
    cognito = kind == "COGNITO_USER_POOLS" or (
        isinstance(arn, str) and COGNITO_ARN.match(arn) is not None
    )
    if arn is None:
        if cognito:
            raise context.fail("a Cognito authorizer needs the user pool's arn", where)
        if name is None:
            raise context.fail("an authorizer needs the name of a function, or an arn", where)
        if name not in context.service.functions:
            raise context.fail(
                f"authorizer {name!r} is not a function of this service; give its arn instead",
                where,
            )
        arn = functions.function_arn(context, name)
        alias = functions.alias_id(context, name)
    elif name is None:
        if not isinstance(arn, str):
            raise context.fail("an authorizer whose arn is computed needs a name", where)
        # The name the Serverless Framework derives from an ARN (naming.js
        # extractAuthorizerNameFromArn): the last '-'-separated part of its last ':' part.
        name = arn.split(":")[-1].split("-")[-1]
    if authorizer.scopes and not cognito:
        raise context.fail("scopes apply to Cognito user pool authorizers only", (*where, "scopes"))
    logical_id = _authorizer(context, authorizer, (name, arn, alias), cognito, where)
    properties: dict[str, Json] = {
        "AuthorizationType": "COGNITO_USER_POOLS" if cognito else "CUSTOM",
        "AuthorizerId": {"Ref": logical_id},
    }
    if authorizer.scopes:
        properties["AuthorizationScopes"] = authorizer.scopes
    return properties


def _existing_authorizer(authorizer: Authorizer, kind: str) -> dict[str, Json]:
    # A Lambda authorizer's methods have AuthorizationType CUSTOM (API Gateway API reference,
    # Method, authorizationType).
    properties: dict[str, Json] = {
        "AuthorizationType": "CUSTOM" if kind in LAMBDA_AUTHORIZER_TYPES else kind,
        "AuthorizerId": authorizer.authorizer_id,
    }
    if kind == "COGNITO_USER_POOLS" and authorizer.scopes:
        properties["AuthorizationScopes"] = authorizer.scopes
    return properties


def _authorizer(
    context: Context,
    authorizer: Authorizer,
    target: tuple[str, Json, str | None],
    cognito: bool,
    where: ConfigPath,
) -> str:
    """``target``: the authorizer's name, the ARN it invokes and that ARN's alias, if any."""
    name, arn, alias = target
    api = apigateway.rest_api_id(context)
    kind = "COGNITO_USER_POOLS" if cognito else (authorizer.type or "TOKEN").upper()
    if kind not in (*LAMBDA_AUTHORIZER_TYPES, "COGNITO_USER_POOLS"):
        raise context.fail(
            f"a Lambda authorizer's type is token or request, got {authorizer.type!r}",
            (*where, "type"),
        )
    ttl = 300 if authorizer.result_ttl_in_seconds is None else authorizer.result_ttl_in_seconds
    properties: dict[str, Json] = {"Name": name, "RestApiId": api, "Type": kind}
    # Caching is keyed by the identity source, so a cached REQUEST authorizer needs one; without
    # caching it may have none (API Gateway developer guide, "Use API Gateway Lambda
    # authorizers").
    if authorizer.identity_source is not None:
        properties["IdentitySource"] = authorizer.identity_source
    elif not (kind == "REQUEST" and ttl == 0):
        properties["IdentitySource"] = "method.request.header.Authorization"
    properties["AuthorizerResultTtlInSeconds"] = ttl
    if authorizer.identity_validation_expression is not None:
        properties["IdentityValidationExpression"] = authorizer.identity_validation_expression
    if cognito:
        properties["ProviderARNs"] = [arn]
    else:
        properties["AuthorizerUri"] = apigateway.lambda_uri(arn)
        permission = apigateway.permission_id(name)
        apigateway.add_permission(context, permission, arn, api, where, depends_on=alias)
    logical_id = f"{naming.alphanumeric(naming.normalized(name))}ApiGatewayAuthorizer"
    existing = context.template.resources.get(logical_id)
    if existing is None:
        context.template.add(logical_id, "AWS::ApiGateway::Authorizer", properties, DependsOn=alias)
    elif existing["Properties"] != properties:
        raise context.fail(
            f"authorizer {name!r} is configured differently by another event; give both the "
            "same settings or different names",
            where,
        )
    return logical_id
