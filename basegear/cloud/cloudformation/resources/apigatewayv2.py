"""AWS::ApiGatewayV2::Api, Stage, Integration, Route and Authorizer (HTTP APIs).

The template's properties carry the ApiGatewayV2 API's own names, so each type passes them
through. CloudFormation resource reference: an Api's Ref is its ID, Fn::GetAtt ApiEndpoint and
ApiId; a Stage's Ref is its name; an Integration's, Route's and Authorizer's Ref is its ID.
ApiId requires replacement everywhere; ProtocolType on the Api and StageName on the Stage too.
Body/BodyS3Location (OpenAPI import) are refused rather than ignored."""

from __future__ import annotations

from typing import Any, ClassVar

from basegear.cloud.cloudformation.errors import ResourceError
from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    required,
    tag_map,
)
from basegear.cloud.cloudformation.resources.registry import handles

INTEGERS = frozenset({"TimeoutInMillis", "AuthorizerResultTtlInSeconds"})


def _fields(props: Properties, skip: frozenset[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in props.items():
        if key in skip:
            continue
        if key == "Tags":
            fields["Tags"] = tag_map(value)
        elif key in INTEGERS:
            fields[key] = int(value)
        else:
            fields[key] = value
    return fields


class _Child(Handler):
    """A part of an HTTP API, named by ApiId and its own ID."""

    noun: ClassVar[str]
    id_key: ClassVar[str]

    def create(self, ctx: Context, props: Properties) -> Created:
        client = ctx.client("apigatewayv2")
        created = getattr(client, f"create_{self.noun}")(
            ApiId=required(props, "ApiId", self.type_name), **_fields(props, frozenset({"ApiId"}))
        )
        return Created(created[self.id_key], {self.id_key: created[self.id_key]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        client = ctx.client("apigatewayv2")
        skip = frozenset({"ApiId", "Tags"})
        getattr(client, f"update_{self.noun}")(
            ApiId=new["ApiId"], **{self.id_key: current.physical_id}, **_fields(new, skip)
        )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        getattr(ctx.client("apigatewayv2"), f"delete_{self.noun}")(
            ApiId=props["ApiId"], **{self.id_key: current.physical_id}
        )


@handles
class Api(Handler):
    type_name = "AWS::ApiGatewayV2::Api"
    attributes = frozenset({"ApiEndpoint", "ApiId"})
    replace_on = frozenset({"ProtocolType"})

    def create(self, ctx: Context, props: Properties) -> Created:
        if "Body" in props or "BodyS3Location" in props:
            raise ResourceError("AWS::ApiGatewayV2::Api Body (OpenAPI import) is not supported")
        api = ctx.client("apigatewayv2").create_api(
            Name=required(props, "Name", self.type_name), **_fields(props, frozenset({"Name"}))
        )
        return Created(api["ApiId"], {"ApiId": api["ApiId"], "ApiEndpoint": api["ApiEndpoint"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        ctx.client("apigatewayv2").update_api(
            ApiId=current.physical_id, **_fields(new, frozenset({"Tags", "ProtocolType"}))
        )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigatewayv2").delete_api(ApiId=current.physical_id)


@handles
class Stage(_Child):
    type_name = "AWS::ApiGatewayV2::Stage"
    replace_on = frozenset({"ApiId", "StageName"})
    noun = "stage"
    id_key = "StageName"

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        ctx.client("apigatewayv2").update_stage(
            ApiId=new["ApiId"], **_fields(new, frozenset({"ApiId", "Tags"}))
        )
        return current

    def create(self, ctx: Context, props: Properties) -> Created:
        ctx.client("apigatewayv2").create_stage(
            ApiId=required(props, "ApiId", self.type_name), **_fields(props, frozenset({"ApiId"}))
        )
        return Created(props["StageName"])


@handles
class Integration(_Child):
    type_name = "AWS::ApiGatewayV2::Integration"
    attributes = frozenset({"IntegrationId"})
    replace_on = frozenset({"ApiId"})
    noun = "integration"
    id_key = "IntegrationId"


@handles
class Route(_Child):
    type_name = "AWS::ApiGatewayV2::Route"
    attributes = frozenset({"RouteId"})
    replace_on = frozenset({"ApiId"})
    noun = "route"
    id_key = "RouteId"


@handles
class Authorizer(_Child):
    type_name = "AWS::ApiGatewayV2::Authorizer"
    attributes = frozenset({"AuthorizerId"})
    replace_on = frozenset({"ApiId"})
    noun = "authorizer"
    id_key = "AuthorizerId"
