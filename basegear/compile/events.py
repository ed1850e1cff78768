"""Function events → their resource families, through an explicit registry: an event type with
no compiler is an error at its line, never silently skipped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from basegear.compile import http, httpapi, notifications, queues, schedules, streams
from basegear.compile.context import Context
from basegear.compile.event_support import event_path
from basegear.model.events import Event

# (context, function key, index of the event in the function's list, the event's settings)
EventCompiler = Callable[[Context, str, int, Any], None]

EVENT_COMPILERS: dict[str, EventCompiler] = {
    "http": http.compile_http,
    "httpApi": httpapi.compile_http_api,
    "stream": streams.compile_stream,
    "sqs": queues.compile_sqs,
    "s3": notifications.compile_s3,
    "sns": notifications.compile_sns,
    "schedule": schedules.compile_schedule,
    "eventBridge": schedules.compile_event_bridge,
}


def compile_events(context: Context) -> None:
    for key, function in context.service.functions.items():
        for index, event in enumerate(function.events):
            kind = event.kind
            compiler = EVENT_COMPILERS.get(kind)
            if compiler is None:
                raise context.fail(
                    f"BaseGear does not compile {kind} events yet; supported: "
                    + ", ".join(EVENT_COMPILERS),
                    event_path(key, index, kind),
                )
            compiler(context, key, index, _settings(event, kind))


def _settings(event: Event, kind: str) -> Any:
    """The one event type's settings: ``kind`` is the YAML key, the field its snake_case twin."""
    for name, field in Event.model_fields.items():
        if (field.alias or name) == kind:
            return getattr(event, name)
    raise KeyError(kind)
