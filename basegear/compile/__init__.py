"""Service model → CloudFormation template. One module per resource family; this module runs
them in order, one line per stage, and ``events`` dispatches each function event to its family
through an explicit registry."""

from __future__ import annotations

import json
from collections.abc import Callable

from basegear.compile import (
    alarms,
    apigateway,
    deployment,
    events,
    functions,
    pseudo,
    resources,
    stepfunctions,
)
from basegear.compile.context import Context, Json
from basegear.config.service import LoadedService
from basegear.package.artifact import Artifacts

Step = Callable[[Context], None]

PIPELINE: tuple[Step, ...] = (
    deployment.compile_deployment_bucket,
    functions.compile_layers,
    functions.compile_functions,  # log groups, functions, versions, async config, dead letters
    events.compile_events,
    stepfunctions.compile_state_machines,  # before the API: their http events add methods
    apigateway.compile_api_deployment,  # after every method exists: it depends on all of them
    alarms.compile_alerts,
    functions.compile_role,  # after every family that adds statements to the execution role
    resources.merge_user_resources,  # last, so that the user's resources win
    resources.protect_stateful,
    pseudo.substitute_pseudo_parameters,  # over everything, as serverless-pseudo-parameters does
)


def compile_service(loaded: LoadedService, artifacts: Artifacts) -> dict[str, Json]:
    context = Context(loaded, artifacts)
    for step in PIPELINE:
        step(context)
    return context.template.to_dict()


def to_json(template: dict[str, Json]) -> str:
    """The template as written to disk: same input, same bytes."""
    return json.dumps(template, indent=2, ensure_ascii=False) + "\n"
