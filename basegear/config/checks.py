"""Rules that span sections of a valid model: what pydantic cannot see field by field."""

from __future__ import annotations

import json
from collections.abc import Iterator

from basegear.config import asl
from basegear.config.suggest import did_you_mean
from basegear.errors import ConfigPath, Problem
from basegear.model import Service
from basegear.model.plugins import DEFAULT_ALARMS, NATIVE_PLUGINS, AlarmDefinition

# "The total size of the set doesn't exceed 4 KB" (Lambda developer guide, "Working with
# Lambda environment variables").
ENVIRONMENT_LIMIT_BYTES = 4096


def check_service(service: Service) -> list[Problem]:
    return [
        *_handlers(service),
        *_environment_sizes(service),
        *_alarm_names(service),
        *_state_machines(service),
        *_plugins(service),
    ]


def _handlers(service: Service) -> Iterator[Problem]:
    for key, function in service.functions.items():
        if function.handler is None and function.image is None:
            yield Problem("a function needs a handler (or an image)", None, ("functions", key))


def _environment_sizes(service: Service) -> Iterator[Problem]:
    for key, function in service.functions.items():
        merged = {**service.provider.environment, **function.environment}
        size = sum(
            len(name.encode())
            + len(value.encode() if isinstance(value, str) else json.dumps(value).encode())
            for name, value in merged.items()
        )
        if size > ENVIRONMENT_LIMIT_BYTES:
            yield Problem(
                f"environment variables take {size} bytes (provider's and the function's "
                f"together); Lambda allows at most {ENVIRONMENT_LIMIT_BYTES}",
                None,
                ("functions", key, "environment"),
            )


def _alarm_names(service: Service) -> Iterator[Problem]:
    """An alarm named in ``alarms`` must be a default of the aws-alerts plugin or one of
    ``custom.alerts.definitions``; an inline alarm that is neither needs its own metric."""
    alerts = service.custom.alerts
    definitions = dict(alerts.definitions) if alerts else {}
    known = [*DEFAULT_ALARMS, *definitions]
    lists: list[tuple[ConfigPath, list[str | AlarmDefinition]]] = []
    if alerts:
        lists.append((("custom", "alerts", "alarms"), list(alerts.alarms)))
    for key, function in service.functions.items():
        lists.append((("functions", key, "alarms"), list(function.alarms)))
    for path, alarms in lists:
        for index, alarm in enumerate(alarms):
            name = alarm if isinstance(alarm, str) else alarm.name
            if name is None:
                yield Problem("an inline alarm needs a name", None, (*path, index))
            elif isinstance(alarm, str) and name not in known:
                yield Problem(
                    f"unknown alarm '{name}'{did_you_mean(name, known)} (expected one of "
                    f"{', '.join(known)}, or a definition in custom.alerts.definitions)",
                    None,
                    (*path, index),
                )
            elif isinstance(alarm, AlarmDefinition) and name not in known and not alarm.metric:
                yield Problem(f"alarm '{name}' needs a metric", None, (*path, index))
    for name, definition in definitions.items():
        if name not in DEFAULT_ALARMS and not definition.metric:
            yield Problem(
                f"alarm definition '{name}' needs a metric (only the plugin's defaults "
                f"{', '.join(DEFAULT_ALARMS)} have one already)",
                None,
                ("custom", "alerts", "definitions", name),
            )


def _state_machines(service: Service) -> Iterator[Problem]:
    if service.step_functions is None:
        return
    for name, machine in service.step_functions.state_machines.items():
        path: ConfigPath = ("stepFunctions", "stateMachines", name, "definition")
        yield from asl.check_definition(machine.definition, path)


def _plugins(service: Service) -> Iterator[Problem]:
    names = (
        service.plugins
        if isinstance(service.plugins, list)
        else list(service.plugins.get("modules") or [])
    )
    for index, name in enumerate(names):
        if name not in NATIVE_PLUGINS:
            yield Problem(
                f"plugin '{name}' is not built into BaseGear: its settings are kept but "
                "nothing acts on them",
                None,
                ("plugins", index),
                severity="warning",
            )
