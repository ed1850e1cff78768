"""Rules that span sections: what pydantic cannot see field by field.

They read the resolved configuration itself, not the model, so that they run even when the
schema found mistakes elsewhere: one run reports every problem. A value of the wrong type is the
schema's to report; these rules pass over it rather than report the same mistake twice."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from typing import Any

from pydantic import ValidationError

from basegear.config import asl
from basegear.config.suggest import closest, did_you_mean
from basegear.errors import ConfigPath, Problem
from basegear.model.plugins import DEFAULT_ALARMS, NATIVE_PLUGINS, AlarmDefinition

# "The total size of the set doesn't exceed 4 KB" (Lambda developer guide, "Working with
# Lambda environment variables"). Lambda measures the variables as one compact JSON object:
# its InvalidParameterValueException quotes the "String measured", e.g. {"A":"x","B":"y"}.
ENVIRONMENT_LIMIT_BYTES = 4096
# Lambda API reference, CreateFunction: FunctionName is 1 to 64 letters, digits, '-' or '_'.
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
# The Serverless Framework v3 schema keys functions by ^[a-zA-Z0-9-_]+$ (the schema reports others).
FUNCTION_KEY = re.compile(r"[a-zA-Z0-9_-]+")


def check_service(data: Any, reported: Collection[ConfigPath] = ()) -> list[Problem]:
    """The cross-section problems of resolved configuration ``data``. ``reported`` are the paths
    the schema already reported: a required key that is missing because it is misspelt there
    (``handlr``) is not reported a second time."""
    if not isinstance(data, dict):
        return []
    return [
        *_handlers(data, reported),
        *_function_names(data),
        *_environment_sizes(data),
        *_alarm_names(data),
        *_state_machines(data),
        *_plugins(data),
    ]


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _functions(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each function whose key is valid and whose settings are a mapping."""
    for key, function in _mapping(data.get("functions")).items():
        if isinstance(key, str) and FUNCTION_KEY.fullmatch(key) and isinstance(function, dict):
            yield key, function


def _misspelt(reported: Collection[ConfigPath], mapping: ConfigPath, keys: list[str]) -> bool:
    """Whether the schema reported a key of ``mapping`` that is one of ``keys`` misspelt."""
    return any(
        len(path) == len(mapping) + 1
        and path[: len(mapping)] == mapping
        and isinstance(path[-1], str)
        and closest(path[-1], keys) is not None
        for path in reported
    )


def _handlers(data: dict[str, Any], reported: Collection[ConfigPath]) -> Iterator[Problem]:
    for key, function in _functions(data):
        path: ConfigPath = ("functions", key)
        missing = function.get("handler") is None and function.get("image") is None
        if missing and not _misspelt(reported, path, ["handler", "image"]):
            yield Problem("a function needs a handler (or an image)", None, path)


def _function_names(data: dict[str, Any]) -> Iterator[Problem]:
    """The deployed name (``name``, else ``<service>-<stage>-<key>``) must suit Lambda."""
    service = data.get("service")
    if isinstance(service, dict):  # the older form `service: {name: x}`
        service = service.get("name")
    stage = _mapping(data.get("provider")).get("stage", "dev")
    for key, function in _functions(data):
        own = function.get("name")
        path: ConfigPath
        if own is None and isinstance(service, str) and isinstance(stage, str):
            name, path = f"{service}-{stage}-{key}", ("functions", key)
        elif isinstance(own, str) and own:
            name, path = own, ("functions", key, "name")
        else:
            continue
        if FUNCTION_NAME.fullmatch(name):
            continue
        if len(name) > 64:
            message = (
                f"the deployed function name '{name}' is {len(name)} characters long; Lambda "
                "allows at most 64 (set a shorter name, or shorten the service name or the "
                "function key)"
            )
        else:
            message = (
                f"the deployed function name '{name}' may contain only letters, digits, '-' and '_'"
            )
        yield Problem(message, None, path)


def _variable_text(value: Any) -> str:
    """A variable's value as Lambda receives it. A number or boolean becomes its text (as the
    model makes it); a value CloudFormation computes (Ref, Fn::…) counts as empty: its size is
    unknown until deployment, and this check must not reject what AWS might accept."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return ""


def _environment_sizes(data: dict[str, Any]) -> Iterator[Problem]:
    shared = _mapping(_mapping(data.get("provider")).get("environment"))
    for key, function in _functions(data):
        merged = {**shared, **_mapping(function.get("environment"))}
        measured = {str(name): _variable_text(value) for name, value in merged.items()}
        size = len(json.dumps(measured, separators=(",", ":"), ensure_ascii=False).encode())
        if size > ENVIRONMENT_LIMIT_BYTES:
            yield Problem(
                f"the environment variables (the provider's and the function's together) take "
                f"{size} bytes as Lambda measures them, as one JSON object; Lambda allows at "
                f"most {ENVIRONMENT_LIMIT_BYTES}",
                None,
                ("functions", key, "environment"),
            )


def _definition(value: Any) -> AlarmDefinition | None:
    """An alarm definition, or None when the schema reports it as wrong."""
    if not isinstance(value, dict):
        return None
    try:
        return AlarmDefinition.model_validate(value)
    except ValidationError:
        return None


def _alarm_names(data: dict[str, Any]) -> Iterator[Problem]:
    """An alarm named in ``alarms`` must be a default of the aws-alerts plugin or one of
    ``custom.alerts.definitions``; an inline alarm that is neither needs its own metric."""
    alerts = _mapping(_mapping(data.get("custom")).get("alerts"))
    definitions = {
        name: value
        for name, value in _mapping(alerts.get("definitions")).items()
        if isinstance(name, str)
    }
    known = [*DEFAULT_ALARMS, *definitions]
    lists: list[tuple[ConfigPath, Any]] = [(("custom", "alerts", "alarms"), alerts.get("alarms"))]
    lists += [
        (("functions", key, "alarms"), function.get("alarms")) for key, function in _functions(data)
    ]
    for path, alarms in lists:
        for index, alarm in enumerate(alarms if isinstance(alarms, list) else []):
            where: ConfigPath = (*path, index)
            if isinstance(alarm, str) and alarm and alarm not in known:
                yield Problem(
                    f"unknown alarm '{alarm}'{did_you_mean(alarm, known)}; expected a default of "
                    f"serverless-plugin-aws-alerts ({', '.join(DEFAULT_ALARMS)}) or a name "
                    f"defined in custom.alerts.definitions ({', '.join(definitions) or 'none'})",
                    None,
                    where,
                )
                continue
            inline = _definition(alarm)
            if inline is None:
                continue
            if inline.name is None:
                yield Problem("an inline alarm needs a name", None, where)
            elif inline.name not in known and not inline.metric:
                yield Problem(f"alarm '{inline.name}' needs a metric", None, where)
    for name, value in definitions.items():
        definition = _definition(value)
        if name not in DEFAULT_ALARMS and definition is not None and not definition.metric:
            yield Problem(
                f"alarm definition '{name}' needs a metric (only the plugin's defaults "
                f"{', '.join(DEFAULT_ALARMS)} have one already)",
                None,
                ("custom", "alerts", "definitions", name),
            )


def _state_machines(data: dict[str, Any]) -> Iterator[Problem]:
    machines = _mapping(_mapping(data.get("stepFunctions")).get("stateMachines"))
    for name, machine in machines.items():
        definition = _mapping(machine).get("definition")
        if isinstance(definition, dict):  # else the schema reports it
            path: ConfigPath = ("stepFunctions", "stateMachines", name, "definition")
            yield from asl.check_definition(definition, path)


def _plugins(data: dict[str, Any]) -> Iterator[Problem]:
    """``plugins`` is a list of names, or ``{localPath: …, modules: [names]}``."""
    plugins = data.get("plugins")
    base: ConfigPath = ("plugins",) if isinstance(plugins, list) else ("plugins", "modules")
    names = plugins if isinstance(plugins, list) else _mapping(plugins).get("modules")
    for index, name in enumerate(names if isinstance(names, list) else []):
        if isinstance(name, str) and name not in NATIVE_PLUGINS:
            yield Problem(
                f"plugin '{name}' is not built into BaseGear: its settings are kept but "
                "nothing acts on them",
                None,
                (*base, index),
                severity="warning",
            )
