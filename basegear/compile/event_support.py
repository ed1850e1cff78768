"""What the function event families share, so that each imports it from here rather than from
another family.

Every family: where an event sits in serverless.yml (``event_path``), the properties of the
``AWS::Lambda::Permission`` that lets an AWS service invoke the function (``invoke_permission``)
and JSON written compactly, as the Serverless Framework writes it (``compact_json``).

Event source mappings (``stream`` and ``sqs`` events, which Lambda polls): the logical ID of the
n-th mapping on one source (``mapping_id``), what a mapping waits for
(``mapping_dependencies``), ``filterPatterns`` (``filter_criteria``) and the name a source given
by a CloudFormation function has in a logical ID (``intrinsic_name``).
"""

from __future__ import annotations

import json

from basegear.compile.context import Context, Json
from basegear.compile.functions import alias_id
from basegear.compile.role import role_logical_id
from basegear.errors import ConfigPath


def event_path(key: str, index: int, kind: str) -> ConfigPath:
    return ("functions", key, "events", index, kind)


def invoke_permission(function_arn: Json, principal: str, source_arn: Json) -> dict[str, Json]:
    """The properties of an ``AWS::Lambda::Permission`` that lets the service ``principal``
    invoke the function on behalf of the resource ``source_arn`` only (CloudFormation User
    Guide, AWS::Lambda::Permission, SourceArn)."""
    return {
        "FunctionName": function_arn,
        "Action": "lambda:InvokeFunction",
        "Principal": principal,
        "SourceArn": source_arn,
    }


def compact_json(value: Json) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Event source mappings.


def mapping_id(context: Context, base: str, earlier: list[str], path: ConfigPath) -> str:
    """``base`` for the first event that compiles to it; ``<base>Mapping<n>`` for the n-th.
    A name taken by another resource is a located error rather than an overwrite."""
    count = earlier.count(base)
    logical_id = base if count == 0 else f"{base}Mapping{count + 1}"
    if logical_id in context.template.resources:
        raise context.fail(
            f"this event compiles to the logical ID {logical_id}, which another resource "
            "already has",
            path,
        )
    return logical_id


def mapping_dependencies(context: Context, key: str) -> list[str]:
    """What a mapping waits for: the role that lets Lambda read the source (a mapping created
    before its permissions fails its first poll), and the alias it invokes."""
    dependencies = []
    role = role_logical_id(context.service, key)
    if role is not None:
        dependencies.append(role)
    alias = alias_id(context, key)
    if alias is not None:
        dependencies.append(alias)
    return dependencies


def filter_criteria(patterns: list[dict[str, Json]]) -> dict[str, Json]:
    """``filterPatterns`` → FilterCriteria: each pattern a JSON string, written compactly as the
    Serverless Framework writes it (Lambda developer guide, "Control which events Lambda sends
    to your function")."""
    return {"Filters": [{"Pattern": compact_json(pattern)} for pattern in patterns]}


def intrinsic_name(value: Json) -> str | None:
    """The name an intrinsic function points at: ``Fn::GetAtt [X, …]`` → X, ``Ref X`` → X,
    ``Fn::ImportValue X`` → X, ``Fn::Join`` → its last part, ``Fn::Sub`` → its template."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((function, argument),) = value.items()
    if function == "Fn::GetAtt":
        return str(argument[0] if isinstance(argument, list) else argument).split(".")[0]
    if function == "Ref" and isinstance(argument, str):
        return argument
    if function == "Fn::ImportValue":
        return argument if isinstance(argument, str) else intrinsic_name(argument)
    if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
        last = argument[1][-1] if isinstance(argument[1], list) and argument[1] else None
        return last if isinstance(last, str) else None
    if function == "Fn::Sub":
        template = argument[0] if isinstance(argument, list) else argument
        return template if isinstance(template, str) else None
    return None
