"""API keys and usage plans of the REST API: ``provider.apiGateway.apiKeys`` and ``usagePlan``
(Serverless Framework v3 docs, "API Gateway", "Setting API keys for your Rest API"). API Gateway
accepts a key for a ``private`` method only when a usage plan of the method's stage holds the key
(API Gateway developer guide, "Usage plans and API keys for REST APIs").

A plain list of keys goes with the single default plan, ``ApiGatewayUsagePlan``; named plans
(``usagePlan`` as a list) take their keys grouped under the plan's name. The framework also
accepts a mix of the two and then refers to a plan that does not exist; BaseGear refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

from basegear.compile import naming
from basegear.compile.context import Context, Json
from basegear.errors import ConfigPath
from basegear.model.provider import ApiKey

USAGE_PLAN = "ApiGatewayUsagePlan"
PLAN_SETTINGS = {
    "quota": {"limit": "Limit", "offset": "Offset", "period": "Period"},
    "throttle": {"burstLimit": "BurstLimit", "rateLimit": "RateLimit"},
}


@dataclass(frozen=True)
class Stage:
    """The deployed stage the keys and plans belong to."""

    api: Json  # the REST API's ID
    name: str
    deployment: str  # the deployment's logical ID: the stage exists once it does


@dataclass(frozen=True)
class _Plan:
    logical_id: str
    name: str | None  # None: the single default plan
    settings: dict[str, Json]


def compile_api_keys(context: Context, stage: Stage) -> None:
    gateway = context.service.provider.api_gateway
    if not gateway.api_keys and gateway.usage_plan is None:
        return
    plans = _usage_plans(context)
    for plan in plans:
        _add_usage_plan(context, plan, stage)
    named = {plan.name: plan for plan in plans if plan.name is not None}
    plain_number = 0
    for index, entry in enumerate(gateway.api_keys):
        where: ConfigPath = ("provider", "apiGateway", "apiKeys", index)
        if isinstance(entry, ApiKey):
            if named:
                raise context.fail(
                    f"with named usage plans, list each key under its plan's name "
                    f"({', '.join(named)})",
                    where,
                )
            plain_number += 1
            _add_api_key(context, entry, "", plain_number, USAGE_PLAN, stage, where)
            continue
        for group, keys in entry.items():
            grouped = named.get(group)
            if grouped is None:
                raise context.fail(
                    f"API keys grouped under {group!r} need a usage plan of that name in "
                    "provider.apiGateway.usagePlan",
                    (*where, group),
                )
            for number, key in enumerate(keys, start=1):
                _add_api_key(
                    context,
                    key,
                    naming.upper_first(group),
                    number,
                    grouped.logical_id,
                    stage,
                    (*where, group, number - 1),
                )


def _usage_plans(context: Context) -> list[_Plan]:
    where: ConfigPath = ("provider", "apiGateway", "usagePlan")
    usage_plan = context.service.provider.api_gateway.usage_plan
    if not isinstance(usage_plan, list):
        return [_Plan(USAGE_PLAN, None, _plan_settings(context, usage_plan or {}, where))]
    plans = []
    for index, entry in enumerate(usage_plan):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise context.fail(
                "each named usage plan is a mapping of one name to its quota and throttle",
                (*where, index),
            )
        ((name, settings),) = entry.items()
        plans.append(
            _Plan(
                USAGE_PLAN + naming.upper_first(str(name)),
                str(name),
                _plan_settings(context, settings or {}, (*where, index, name)),
            )
        )
    return plans


def _plan_settings(context: Context, settings: Json, where: ConfigPath) -> dict[str, Json]:
    """``quota`` and ``throttle`` → the UsagePlan's Quota and Throttle properties."""
    if not isinstance(settings, dict):
        raise context.fail("expected a mapping with quota and throttle", where)
    properties: dict[str, Json] = {}
    for section, values in settings.items():
        keys = PLAN_SETTINGS.get(section)
        if keys is None or not isinstance(values, dict):
            raise context.fail(
                f"a usage plan has quota and throttle mappings, got {section!r}", (*where, section)
            )
        context.refuse_unknown(values, keys, f"{section} setting", (*where, section))
        properties[section.capitalize()] = {keys[key]: value for key, value in values.items()}
    return properties


def _add_usage_plan(context: Context, plan: _Plan, stage: Stage) -> None:
    service = context.service.service
    if plan.name is None:
        name = f"{service}-{stage.name}"
        description = f"Usage plan for {service} {stage.name} stage"
    else:
        name = f"{service}-{plan.name}-{stage.name}"
        description = f'Usage plan "{plan.name}" for {service} {stage.name} stage'
    context.template.add(
        plan.logical_id,
        "AWS::ApiGateway::UsagePlan",
        {
            "ApiStages": [{"ApiId": stage.api, "Stage": stage.name}],
            "Description": description,
            "UsagePlanName": name,
            **plan.settings,
        },
        DependsOn=stage.deployment,
    )


def _add_api_key(
    context: Context,
    key: ApiKey,
    group: str,
    number: int,
    plan: str,
    stage: Stage,
    where: ConfigPath,
) -> None:
    # An API key's value has 20 to 128 characters (API Gateway developer guide, "Usage plans and
    # API keys for REST APIs").
    if isinstance(key.value, str) and not 20 <= len(key.value) <= 128:
        raise context.fail(
            f"an API key's value has 20 to 128 characters, got {len(key.value)}", (*where, "value")
        )
    properties: dict[str, Json] = {"Enabled": key.enabled}
    for name, value in (
        ("Name", key.name),
        ("Value", key.value),
        ("Description", key.description),
        ("CustomerId", key.customer_id),
    ):
        if value is not None:
            properties[name] = value
    properties["StageKeys"] = [{"RestApiId": stage.api, "StageName": stage.name}]
    key_id = f"ApiGatewayApiKey{group}{number}"
    context.template.add(key_id, "AWS::ApiGateway::ApiKey", properties, DependsOn=stage.deployment)
    context.template.add(
        f"ApiGatewayUsagePlanKey{group}{number}",
        "AWS::ApiGateway::UsagePlanKey",
        {"KeyId": {"Ref": key_id}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": plan}},
    )
