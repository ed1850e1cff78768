"""AWS::ApiGateway::RestApi, Resource, Method, Deployment, Stage, ApiKey, UsagePlan,
UsagePlanKey, Authorizer, Model and RequestValidator, through the API Gateway API.

CloudFormation resource reference, per type:
- RestApi: Ref is the API ID; Fn::GetAtt RootResourceId and RestApiId.
- Resource: Ref is the resource ID; ParentId, PathPart and RestApiId require replacement.
- Method: HttpMethod, ResourceId and RestApiId require replacement; Integration,
  IntegrationResponses and MethodResponses are put with the method (PutMethod,
  PutIntegration, PutIntegrationResponse, PutMethodResponse).
- Deployment: Ref is the deployment ID; a StageName creates that stage with the deployment,
  StageDescription configures it.
- Stage: Ref is the stage name. ApiKey: Ref is the key ID. UsagePlan: Ref is its ID.
  Authorizer: Ref is its ID. Model: Ref is its name. RequestValidator: Ref is its ID.

Updates in place use PATCH operations where moto accepts them; Deployment, UsagePlanKey,
Authorizer and UsagePlan's stages, throttle and quota are replaced instead (a deviation: AWS
updates them in place; the IDs change)."""

from __future__ import annotations

from typing import Any

from basegear.cloud.cloudformation.resources.base import (
    Context,
    Created,
    Handler,
    Properties,
    as_json,
    not_found,
    required,
    tag_map,
    text,
)
from basegear.cloud.cloudformation.resources.registry import handles


def camel(name: str) -> str:
    """``RestApiId`` → ``restApiId``: the API Gateway API's parameter names."""
    return name[:1].lower() + name[1:]


def _pick(props: Properties, names: tuple[str, ...]) -> dict[str, Any]:
    return {camel(name): props[name] for name in names if name in props}


def _patch(path: str, value: Any) -> dict[str, str]:
    return {"op": "replace", "path": path, "value": text(value)}


def _changed_patches(
    old: Properties, new: Properties, paths: tuple[tuple[str, str], ...]
) -> list[dict[str, str]]:
    """A replace operation for each ``(property, path)`` whose property changed and is still
    set; a property taken out of the template keeps its value."""
    return [
        _patch(path, new[key]) for key, path in paths if old.get(key) != new.get(key) and key in new
    ]


@handles
class RestApi(Handler):
    type_name = "AWS::ApiGateway::RestApi"
    attributes = frozenset({"RootResourceId", "RestApiId"})

    def create(self, ctx: Context, props: Properties) -> Created:
        extra = _pick(props, ("Description", "BinaryMediaTypes", "DisableExecuteApiEndpoint"))
        if "EndpointConfiguration" in props:
            extra["endpointConfiguration"] = {
                camel(key): value for key, value in props["EndpointConfiguration"].items()
            }
        if "MinimumCompressionSize" in props:
            extra["minimumCompressionSize"] = int(props["MinimumCompressionSize"])
        if "ApiKeySourceType" in props:
            extra["apiKeySource"] = props["ApiKeySourceType"]
        if "Policy" in props:
            extra["policy"] = as_json(props["Policy"])
        if props.get("Tags"):
            extra["tags"] = tag_map(props["Tags"])
        api = ctx.client("apigateway").create_rest_api(
            name=props.get("Name") or ctx.physical_name(128), **extra
        )
        return Created(api["id"], {"RootResourceId": api["rootResourceId"], "RestApiId": api["id"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        operations = _changed_patches(
            old,
            new,
            (
                ("Name", "/name"),
                ("Description", "/description"),
                ("ApiKeySourceType", "/apiKeySource"),
                ("MinimumCompressionSize", "/minimumCompressionSize"),
            ),
        )
        if old.get("Policy") != new.get("Policy") and "Policy" in new:
            operations.append(_patch("/policy", as_json(new["Policy"])))
        if operations:
            ctx.client("apigateway").update_rest_api(
                restApiId=current.physical_id, patchOperations=operations
            )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_rest_api(restApiId=current.physical_id)


@handles
class Resource(Handler):
    type_name = "AWS::ApiGateway::Resource"
    attributes = frozenset({"ResourceId"})
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        resource = ctx.client("apigateway").create_resource(
            restApiId=required(props, "RestApiId", self.type_name),
            parentId=required(props, "ParentId", self.type_name),
            pathPart=required(props, "PathPart", self.type_name),
        )
        return Created(resource["id"], {"ResourceId": resource["id"]})

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_resource(
            restApiId=props["RestApiId"], resourceId=current.physical_id
        )


METHOD_FIELDS = (
    "AuthorizationType",
    "AuthorizerId",
    "ApiKeyRequired",
    "OperationName",
    "RequestParameters",
    "RequestModels",
    "RequestValidatorId",
    "AuthorizationScopes",
)
INTEGRATION_FIELDS = (
    "Type",
    "IntegrationHttpMethod",
    "Uri",
    "Credentials",
    "RequestParameters",
    "RequestTemplates",
    "PassthroughBehavior",
    "ContentHandling",
    "CacheNamespace",
    "CacheKeyParameters",
    "ConnectionType",
    "ConnectionId",
)


@handles
class Method(Handler):
    type_name = "AWS::ApiGateway::Method"
    replace_on = frozenset({"HttpMethod", "ResourceId", "RestApiId"})

    def create(self, ctx: Context, props: Properties) -> Created:
        self._put(ctx, props)
        return Created(ctx.physical_name(128))

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        self._put(ctx, new)
        return current

    def _put(self, ctx: Context, props: Properties) -> None:
        client = ctx.client("apigateway")
        where = {
            "restApiId": required(props, "RestApiId", self.type_name),
            "resourceId": required(props, "ResourceId", self.type_name),
            "httpMethod": required(props, "HttpMethod", self.type_name),
        }
        method = _pick(props, METHOD_FIELDS)
        method.setdefault("authorizationType", "NONE")
        if "apiKeyRequired" in method:
            method["apiKeyRequired"] = text(method["apiKeyRequired"]) == "true"
        if "requestParameters" in method:
            method["requestParameters"] = {
                key: text(value) == "true" for key, value in method["requestParameters"].items()
            }
        client.put_method(**where, **method)
        integration = props.get("Integration")
        if integration:
            fields = _pick(integration, INTEGRATION_FIELDS)
            if "TimeoutInMillis" in integration:
                fields["timeoutInMillis"] = int(integration["TimeoutInMillis"])
            client.put_integration(**where, **fields)
            for response in integration.get("IntegrationResponses", []):
                client.put_integration_response(
                    **where,
                    statusCode=str(response["StatusCode"]),
                    **_pick(
                        response,
                        (
                            "SelectionPattern",
                            "ResponseParameters",
                            "ResponseTemplates",
                            "ContentHandling",
                        ),
                    ),
                )
        for response in props.get("MethodResponses", []):
            extra = _pick(response, ("ResponseModels",))
            if "ResponseParameters" in response:
                extra["responseParameters"] = {
                    key: text(value) == "true"
                    for key, value in response["ResponseParameters"].items()
                }
            client.put_method_response(**where, statusCode=str(response["StatusCode"]), **extra)

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_method(
            restApiId=props["RestApiId"],
            resourceId=props["ResourceId"],
            httpMethod=props["HttpMethod"],
        )


def _stage_patches(description: dict[str, Any]) -> list[dict[str, str]]:
    """StageDescription / Stage settings that CreateStage does not take, as PATCH operations."""
    operations = []
    for key, value in (description.get("Variables") or {}).items():
        operations.append(_patch(f"/variables/{key}", value))
    if "TracingEnabled" in description:
        operations.append(_patch("/tracingEnabled", description["TracingEnabled"]))
    for setting in description.get("MethodSettings", []):
        prefix = f"/{setting.get('ResourcePath', '/*').lstrip('/').replace('/', '~1') or '*'}"
        prefix += f"/{setting.get('HttpMethod', '*')}"
        for key, path in (
            ("LoggingLevel", "logging/loglevel"),
            ("MetricsEnabled", "metrics/enabled"),
            ("DataTraceEnabled", "logging/dataTrace"),
            ("ThrottlingBurstLimit", "throttling/burstLimit"),
            ("ThrottlingRateLimit", "throttling/rateLimit"),
        ):
            if key in setting:
                operations.append(_patch(f"{prefix}/{path}", setting[key]))
    return operations


@handles
class Deployment(Handler):
    type_name = "AWS::ApiGateway::Deployment"
    attributes = frozenset({"DeploymentId"})
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        client = ctx.client("apigateway")
        api = required(props, "RestApiId", self.type_name)
        extra = _pick(props, ("Description", "StageName"))
        description = props.get("StageDescription") or {}
        if "Description" in description:
            extra["stageDescription"] = description["Description"]
        deployment = client.create_deployment(restApiId=api, **extra)
        stage = props.get("StageName")
        if stage:
            operations = _stage_patches(description)
            if operations:
                client.update_stage(restApiId=api, stageName=stage, patchOperations=operations)
            if description.get("Tags"):
                arn = f"arn:{ctx.partition}:apigateway:{ctx.region}::/restapis/{api}/stages/{stage}"
                client.tag_resource(resourceArn=arn, tags=tag_map(description["Tags"]))
        return Created(deployment["id"], {"DeploymentId": deployment["id"]})

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        client = ctx.client("apigateway")
        api = props["RestApiId"]
        if props.get("StageName"):
            try:
                client.delete_stage(restApiId=api, stageName=props["StageName"])
            except Exception as exc:
                if not not_found(exc):
                    raise
        client.delete_deployment(restApiId=api, deploymentId=current.physical_id)


@handles
class Stage(Handler):
    type_name = "AWS::ApiGateway::Stage"
    replace_on = frozenset({"RestApiId", "StageName"})

    def create(self, ctx: Context, props: Properties) -> Created:
        client = ctx.client("apigateway")
        api = required(props, "RestApiId", self.type_name)
        name = required(props, "StageName", self.type_name)
        extra = _pick(props, ("Description", "CacheClusterSize"))
        if "CacheClusterEnabled" in props:
            extra["cacheClusterEnabled"] = text(props["CacheClusterEnabled"]) == "true"
        if props.get("Tags"):
            extra["tags"] = tag_map(props["Tags"])
        client.create_stage(
            restApiId=api,
            stageName=name,
            deploymentId=required(props, "DeploymentId", self.type_name),
            **extra,
        )
        operations = _stage_patches(props)
        if operations:
            client.update_stage(restApiId=api, stageName=name, patchOperations=operations)
        return Created(name)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        operations = _stage_patches(new) + _changed_patches(
            old, new, (("DeploymentId", "/deploymentId"), ("Description", "/description"))
        )
        for key in (old.get("Variables") or {}).keys() - (new.get("Variables") or {}).keys():
            operations.append({"op": "remove", "path": f"/variables/{key}"})
        if operations:
            ctx.client("apigateway").update_stage(
                restApiId=new["RestApiId"],
                stageName=current.physical_id,
                patchOperations=operations,
            )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_stage(
            restApiId=props["RestApiId"], stageName=current.physical_id
        )


@handles
class ApiKey(Handler):
    type_name = "AWS::ApiGateway::ApiKey"
    attributes = frozenset({"APIKeyId"})
    replace_on = frozenset({"Name", "Value", "GenerateDistinctId"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        extra = _pick(props, ("Description", "Value", "CustomerId"))
        extra["enabled"] = text(props.get("Enabled", False)) == "true"
        if "StageKeys" in props:
            extra["stageKeys"] = [
                {camel(key): value for key, value in item.items()} for item in props["StageKeys"]
            ]
        if props.get("Tags"):
            extra["tags"] = tag_map(props["Tags"])
        key = ctx.client("apigateway").create_api_key(
            name=props.get("Name") or ctx.physical_name(128), **extra
        )
        return Created(key["id"], {"APIKeyId": key["id"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        operations = []
        if old.get("Enabled") != new.get("Enabled"):
            operations.append(_patch("/enabled", new.get("Enabled", False)))
        if old.get("Description") != new.get("Description"):
            operations.append(_patch("/description", new.get("Description", "")))
        if operations:
            ctx.client("apigateway").update_api_key(
                apiKey=current.physical_id, patchOperations=operations
            )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_api_key(apiKey=current.physical_id)


def _usage_plan_fields(props: Properties) -> dict[str, Any]:
    extra = _pick(props, ("Description",))
    if "ApiStages" in props:
        extra["apiStages"] = [
            {camel(key): value for key, value in stage.items()} for stage in props["ApiStages"]
        ]
    if "Throttle" in props:
        throttle = props["Throttle"]
        extra["throttle"] = {
            "burstLimit": int(throttle.get("BurstLimit", 0)),
            "rateLimit": float(throttle.get("RateLimit", 0)),
        }
    if "Quota" in props:
        quota = props["Quota"]
        extra["quota"] = {
            key: value
            for key, value in (
                ("limit", int(quota["Limit"]) if "Limit" in quota else None),
                ("offset", int(quota["Offset"]) if "Offset" in quota else None),
                ("period", quota.get("Period")),
            )
            if value is not None
        }
    if props.get("Tags"):
        extra["tags"] = tag_map(props["Tags"])
    return extra


@handles
class UsagePlan(Handler):
    type_name = "AWS::ApiGateway::UsagePlan"
    attributes = frozenset({"Id"})
    replace_on = frozenset({"ApiStages", "Throttle", "Quota"})

    def create(self, ctx: Context, props: Properties) -> Created:
        plan = ctx.client("apigateway").create_usage_plan(
            name=props.get("UsagePlanName") or ctx.physical_name(128),
            **_usage_plan_fields(props),
        )
        return Created(plan["id"], {"Id": plan["id"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        operations = _changed_patches(old, new, (("UsagePlanName", "/name"),))
        if old.get("Description") != new.get("Description"):
            operations.append(_patch("/description", new.get("Description", "")))
        if operations:
            ctx.client("apigateway").update_usage_plan(
                usagePlanId=current.physical_id, patchOperations=operations
            )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_usage_plan(usagePlanId=current.physical_id)


@handles
class UsagePlanKey(Handler):
    type_name = "AWS::ApiGateway::UsagePlanKey"
    attributes = frozenset({"Id"})
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        key = ctx.client("apigateway").create_usage_plan_key(
            usagePlanId=required(props, "UsagePlanId", self.type_name),
            keyId=required(props, "KeyId", self.type_name),
            keyType=required(props, "KeyType", self.type_name),
        )
        return Created(key["id"], {"Id": key["id"]})

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_usage_plan_key(
            usagePlanId=props["UsagePlanId"], keyId=current.physical_id
        )


@handles
class Authorizer(Handler):
    type_name = "AWS::ApiGateway::Authorizer"
    attributes = frozenset({"AuthorizerId"})
    immutable = True

    def create(self, ctx: Context, props: Properties) -> Created:
        extra = _pick(
            props,
            (
                "ProviderARNs",
                "AuthType",
                "AuthorizerUri",
                "AuthorizerCredentials",
                "IdentitySource",
                "IdentityValidationExpression",
            ),
        )
        if "AuthorizerResultTtlInSeconds" in props:
            extra["authorizerResultTtlInSeconds"] = int(props["AuthorizerResultTtlInSeconds"])
        authorizer = ctx.client("apigateway").create_authorizer(
            restApiId=required(props, "RestApiId", self.type_name),
            name=required(props, "Name", self.type_name),
            type=required(props, "Type", self.type_name),
            **extra,
        )
        return Created(authorizer["id"], {"AuthorizerId": authorizer["id"]})

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_authorizer(
            restApiId=props["RestApiId"], authorizerId=current.physical_id
        )


@handles
class Model(Handler):
    type_name = "AWS::ApiGateway::Model"
    replace_on = frozenset({"ContentType", "Name", "RestApiId"})
    name_property = "Name"

    def create(self, ctx: Context, props: Properties) -> Created:
        name = props.get("Name") or ctx.physical_name(64).replace("-", "")
        extra = _pick(props, ("Description",))
        if "Schema" in props:
            extra["schema"] = as_json(props["Schema"])
        ctx.client("apigateway").create_model(
            restApiId=required(props, "RestApiId", self.type_name),
            name=name,
            contentType=props.get("ContentType", "application/json"),
            **extra,
        )
        return Created(name)

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        operations = [_patch("/schema", as_json(new.get("Schema", {})))]
        if "Description" in new:
            operations.append(_patch("/description", new["Description"]))
        ctx.client("apigateway").update_model(
            restApiId=new["RestApiId"], modelName=current.physical_id, patchOperations=operations
        )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_model(
            restApiId=props["RestApiId"], modelName=current.physical_id
        )


@handles
class RequestValidator(Handler):
    type_name = "AWS::ApiGateway::RequestValidator"
    attributes = frozenset({"RequestValidatorId"})
    replace_on = frozenset({"Name", "RestApiId"})

    def create(self, ctx: Context, props: Properties) -> Created:
        validator = ctx.client("apigateway").create_request_validator(
            restApiId=required(props, "RestApiId", self.type_name),
            name=props.get("Name") or ctx.physical_name(128),
            validateRequestBody=text(props.get("ValidateRequestBody", False)) == "true",
            validateRequestParameters=text(props.get("ValidateRequestParameters", False)) == "true",
        )
        return Created(validator["id"], {"RequestValidatorId": validator["id"]})

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        operations = [
            _patch("/validateRequestBody", new.get("ValidateRequestBody", False)),
            _patch("/validateRequestParameters", new.get("ValidateRequestParameters", False)),
        ]
        ctx.client("apigateway").update_request_validator(
            restApiId=new["RestApiId"],
            requestValidatorId=current.physical_id,
            patchOperations=operations,
        )
        return current

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        ctx.client("apigateway").delete_request_validator(
            restApiId=props["RestApiId"], requestValidatorId=current.physical_id
        )
