"""moto's Lambda (``moto/awslambda``) keeping what asynchronous invocation needs: a function's
dead-letter queue and its event invoke configurations, per version and alias.

What moto 5.2.5 gets wrong, and what this module does instead:

- ``DeadLetterConfig`` is dropped by CreateFunction and UpdateFunctionConfiguration and never
  returned. Kept here on moto's function object (``dead_letter_config``), copied with it when a
  version is published (the dead-letter queue is part of the version-specific configuration:
  Lambda developer guide, "Adding a dead-letter queue"), and returned by GetFunction,
  GetFunctionConfiguration and every other answer built from the configuration, as AWS does:
  ``{"TargetArn": arn}`` when set, absent otherwise. An empty ``TargetArn`` removes it.
- The event invoke configuration ignores the ``Qualifier``; PutFunctionEventInvokeConfig appends
  to a list of which Get reads the first, so a second Put is never seen; Update is a Put; the
  ``FunctionArn`` returned is unqualified; List returns one item. Here each configuration
  belongs to one qualifier (unqualified means ``$LATEST``), and (Lambda API reference):

  - Put overwrites the whole configuration ("If you exclude any settings, they are removed");
  - Update changes only the settings given, and fails when there is no configuration;
  - Get and Delete answer 404 "The function <qualified ARN> doesn't have an EventInvokeConfig";
  - List returns every qualifier's configuration, paged with ``Marker``/``MaxItems`` (1-50);
  - ``MaximumRetryAttempts`` is 0-2 and ``MaximumEventAgeInSeconds`` 60-21600, checked here
    (botocore checks only the lower bounds, and only for its own clients), with AWS's
    ValidationException text; at least one setting must be given;
  - a destination is an SQS queue, SNS topic, Lambda function (not the function itself) or
    EventBridge event bus, or for ``OnFailure`` an S3 bucket;
  - the answer carries the qualified ``FunctionArn``, ``LastModified`` as epoch seconds, and
    ``DestinationConfig`` with both ``OnSuccess`` and ``OnFailure`` (empty when unset).

The configurations are moto's own ``EventInvokeConfig`` objects on the ``$LATEST`` function
object (``event_invoke_config``), so they are saved and restored with moto's state.

:func:`async_settings` is what the asynchronous invocation queue reads for each event.

Private moto attributes replaced are listed in ``PATCHED``; ``check_moto()`` fails loudly when a
moto upgrade moves one of them.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from moto.awslambda import models, responses
from moto.awslambda.exceptions import (
    InvalidParameterValueException,
    UnknownEventConfig,
    ValidationException,
)

from basegear.cloud.lambdas.spec import LATEST
from basegear.cloud.motoshim.awslambda import split_function_name

PATCHED = (
    ("moto.awslambda.models.LambdaFunction", "__init__"),
    ("moto.awslambda.models.LambdaFunction", "get_configuration"),
    ("moto.awslambda.models.LambdaFunction", "update_configuration"),
    ("moto.awslambda.responses.LambdaResponse", "put_function_event_invoke_config"),
    ("moto.awslambda.responses.LambdaResponse", "get_function_event_invoke_config"),
    ("moto.awslambda.responses.LambdaResponse", "update_function_event_invoke_config"),
    ("moto.awslambda.responses.LambdaResponse", "delete_function_event_invoke_config"),
    ("moto.awslambda.responses.LambdaResponse", "list_function_event_invoke_configs"),
)

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 2
DEFAULT_MAXIMUM_EVENT_AGE = 21600
"""Without a configuration, Lambda retries a failed event twice and keeps an event for up to six
hours (Lambda developer guide, "Configuring error handling for asynchronous invocation")."""

_RANGES = {
    "MaximumRetryAttempts": ("maximumRetryAttempts", 0, 2),
    "MaximumEventAgeInSeconds": ("maximumEventAgeInSeconds", 60, 21600),
}
_PAGE_SIZE = 50
_DESTINATION = re.compile(
    r"^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-]+):([a-z]{2}(-gov)?-[a-z]+-\d)?:(\d{12})?:(.+)$"
)
_DESTINATION_SERVICES = {"OnSuccess": ("sqs", "sns", "lambda", "events"), "OnFailure": ("s3",)}
_saved: dict[tuple[type, str], Any] = {}
_installs = 0  # every cloud of the process installs; the last uninstall restores moto
_install_lock = threading.Lock()


@dataclass(frozen=True)
class AsyncSettings:
    """What asynchronous invocation of one function version needs to know."""

    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age: int = DEFAULT_MAXIMUM_EVENT_AGE  # seconds
    on_success: str | None = None  # destination ARNs
    on_failure: str | None = None
    dead_letter_target: str | None = None  # the version's DeadLetterConfig.TargetArn
    reserved_concurrency: int | None = None  # the function's


def check_moto() -> None:
    """Raise if moto no longer has what this module replaces or reads."""
    for owner, attribute in PATCHED:
        class_name = owner.rpartition(".")[2]
        cls = getattr(responses if ".responses." in owner else models, class_name, None)
        if not callable(getattr(cls, attribute, None)):
            raise RuntimeError(f"moto moved {owner}.{attribute}: update {__name__}")
    if not callable(getattr(models, "EventInvokeConfig", None)):
        raise RuntimeError(f"moto moved awslambda.models.EventInvokeConfig: update {__name__}")
    init = _saved.get((models.LambdaFunction, "__init__"), models.LambdaFunction.__init__)
    if "event_invoke_config" not in init.__code__.co_names:  # where the configurations live
        raise RuntimeError(f"moto's LambdaFunction lost event_invoke_config: update {__name__}")


def install() -> None:
    """Replace moto's handling of DeadLetterConfig and event invoke configurations, until as
    many ``uninstall`` calls (moto's classes are shared by every cloud of the process)."""
    global _installs
    check_moto()
    with _install_lock:
        _installs += 1
        if _installs == 1:
            _replace()


def uninstall() -> None:
    global _installs
    with _install_lock:
        if _installs == 0:
            return
        _installs -= 1
        if _installs == 0:
            for (cls, name), original in _saved.items():
                setattr(cls, name, original)
            _saved.clear()


def _replace() -> None:
    function = models.LambdaFunction
    replacements: list[tuple[type, str, Callable[..., Any]]] = [
        (function, "__init__", _wrap_init(function.__dict__["__init__"])),
        (function, "get_configuration", _wrap_get_configuration(function.get_configuration)),
        (function, "update_configuration", _wrap_update(function.update_configuration)),
        (responses.LambdaResponse, "put_function_event_invoke_config", _put_response),
        (responses.LambdaResponse, "get_function_event_invoke_config", _get_response),
        (responses.LambdaResponse, "update_function_event_invoke_config", _update_response),
        (responses.LambdaResponse, "delete_function_event_invoke_config", _delete_response),
        (responses.LambdaResponse, "list_function_event_invoke_configs", _list_response),
    ]
    for cls, name, replacement in replacements:
        if (cls, name) in _saved:
            continue
        _saved[(cls, name)] = cls.__dict__[name]
        setattr(cls, name, replacement)


# -- DeadLetterConfig ---------------------------------------------------------------------------


def dead_letter_target(function: Any) -> str | None:
    """The ``DeadLetterConfig.TargetArn`` of one of moto's function versions, if any."""
    config = getattr(function, "dead_letter_config", None)
    target = config.get("TargetArn") if isinstance(config, dict) else None
    return str(target) if target else None


def _dead_letter_config(value: Any) -> dict[str, str] | None:
    if not isinstance(value, dict):
        return None
    target = value.get("TargetArn")
    return {"TargetArn": str(target)} if target else None


def _wrap_init(original: Callable[..., None]) -> Callable[..., None]:
    def init(function: Any, account_id: str, spec: dict[str, Any], *args: Any, **kw: Any) -> None:
        original(function, account_id, spec, *args, **kw)
        function.dead_letter_config = _dead_letter_config(spec.get("DeadLetterConfig"))

    return init


def _wrap_get_configuration(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def get_configuration(function: Any, *args: Any, **kw: Any) -> dict[str, Any]:
        config = original(function, *args, **kw)
        target = dead_letter_target(function)
        if target is not None:
            config["DeadLetterConfig"] = {"TargetArn": target}
        return config

    return get_configuration


def _wrap_update(original: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    def update_configuration(function: Any, updates: dict[str, Any]) -> dict[str, Any]:
        if "DeadLetterConfig" in updates:
            function.dead_letter_config = _dead_letter_config(updates["DeadLetterConfig"])
        return original(function, updates)

    return update_configuration


# -- what the asynchronous invocation queue reads -----------------------------------------------


def async_settings(backend: Any, name: str, qualifier: str | None, version: str) -> AsyncSettings:
    """The settings for one event of function ``name`` invoked with ``qualifier`` (None:
    unqualified) and run as ``version``: the event invoke configuration of the qualifier, or
    else of the unqualified function; the dead-letter queue of the executed version. Raises
    ``LookupError`` when the function or the version no longer exists."""
    try:
        latest = backend.get_function(name)
        executed = latest if version == LATEST else backend.get_function(name, version)
    except Exception as exc:
        raise LookupError(f"function {name}:{version} not found") from exc
    config = _find(latest, qualifier or LATEST)
    if config is None and qualifier not in (None, LATEST):
        config = _find(latest, LATEST)
    settings = dict(config.config) if config is not None else {}
    reserved = latest.reserved_concurrency
    destinations = settings.get("DestinationConfig") or {}
    return AsyncSettings(
        maximum_retry_attempts=int(
            settings.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)
        ),
        maximum_event_age=int(settings.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE)),
        on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
        on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
        dead_letter_target=dead_letter_target(executed),
        reserved_concurrency=None if reserved is None else int(reserved),
    )


# -- the event invoke configuration API ---------------------------------------------------------


def _target(response: Any, name_index: int) -> tuple[Any, str, str]:
    """moto's ``$LATEST`` function named in the path, and the qualifier (``$LATEST`` when none
    is given, in the query or appended to the name). Raises 404 for an unknown function,
    version or alias."""
    segment = unquote(response.path.split("?")[0].rstrip("/").split("/")[name_index])
    name, named_qualifier = split_function_name(segment)
    query = response.querystring.get("Qualifier") or [None]
    qualifier = query[0] or named_qualifier or LATEST
    backend = response.backend
    latest = backend.get_function(name)
    if qualifier != LATEST:
        backend.get_function(name, qualifier)  # 404 for an unknown version or alias
    return latest, name, qualifier


def _qualified_arn(latest: Any, qualifier: str) -> str:
    prefix = str(latest.function_arn).split(":function:", 1)[0]
    return f"{prefix}:function:{latest.function_name}:{qualifier}"


def _find(latest: Any, qualifier: str) -> Any:
    suffix = f":{qualifier}"
    for config in list(getattr(latest, "event_invoke_config", None) or ()):
        if str(config.arn).endswith(suffix):
            return config
    return None


def _store(latest: Any, qualifier: str, config: Any | None) -> None:
    """Replace (or with None remove) the qualifier's configuration; the list is replaced, not
    changed in place, as published versions share it with ``$LATEST`` (a shallow copy)."""
    suffix = f":{qualifier}"
    kept = [c for c in latest.event_invoke_config or () if not str(c.arn).endswith(suffix)]
    latest.event_invoke_config = kept if config is None else [*kept, config]


def _answer(config: Any) -> dict[str, Any]:
    settings = dict(config.config)
    answer: dict[str, Any] = {"FunctionArn": config.arn, "LastModified": config.last_modified}
    for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
        if key in settings:
            answer[key] = settings[key]
    answer["DestinationConfig"] = settings.get("DestinationConfig") or _destinations(None)
    return answer


def _destinations(value: Any) -> dict[str, dict[str, str]]:
    value = value if isinstance(value, dict) else {}
    normalized: dict[str, dict[str, str]] = {}
    for kind in ("OnSuccess", "OnFailure"):
        destination = (value.get(kind) or {}).get("Destination")
        normalized[kind] = {"Destination": str(destination)} if destination else {}
    return normalized


def _settings(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The request's settings, validated (Lambda API reference, PutFunctionEventInvokeConfig)."""
    settings: dict[str, Any] = {}
    for key, (member, low, high) in _RANGES.items():
        if body.get(key) is None:
            continue
        value = body[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidParameterValueException(f"{key} must be an integer")
        if value < low:
            raise ValidationException(
                str(value), member, f"Member must have value greater than or equal to {low}"
            )
        if value > high:
            raise ValidationException(
                str(value), member, f"Member must have value less than or equal to {high}"
            )
        settings[key] = value
    if body.get("DestinationConfig") is not None:
        destinations = _destinations(body["DestinationConfig"])
        for kind, destination in destinations.items():
            if destination:
                _check_destination(kind, destination["Destination"], name)
        settings["DestinationConfig"] = destinations
    if not settings:
        raise InvalidParameterValueException(
            "You must specify at least one of error handling or destination setting."
        )
    return settings


def _check_destination(kind: str, arn: str, name: str) -> None:
    match = _DESTINATION.match(arn)
    allowed = _DESTINATION_SERVICES["OnSuccess"] + (
        _DESTINATION_SERVICES["OnFailure"] if kind == "OnFailure" else ()
    )
    if match is None or match[2] not in allowed:
        raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
    if match[2] == "lambda" and split_function_name(arn)[0] == name:
        raise InvalidParameterValueException(
            "You can't specify the function as a destination for itself."
        )


def _saved_config(latest: Any, qualifier: str, settings: dict[str, Any]) -> Any:
    config: Any = models.EventInvokeConfig(_qualified_arn(latest, qualifier), "", settings)
    config.last_modified = round(time.time(), 3)
    return config


def _json(status: int, document: object) -> tuple[int, dict[str, str], str]:
    return status, {"status": str(status)}, json.dumps(document)


def _put_response(response: Any) -> tuple[int, dict[str, str], str]:
    """PutFunctionEventInvokeConfig: overwrites the qualifier's whole configuration."""
    latest, name, qualifier = _target(response, -2)
    config = _saved_config(latest, qualifier, _settings(response.json_body, name))
    _store(latest, qualifier, config)
    return _json(200, _answer(config))


def _update_response(response: Any) -> tuple[int, dict[str, str], str]:
    """UpdateFunctionEventInvokeConfig: the settings given replace those kept."""
    latest, name, qualifier = _target(response, -2)
    current = _find(latest, qualifier)
    changes = _settings(response.json_body, name)
    if current is None:
        raise UnknownEventConfig(_qualified_arn(latest, qualifier))
    config = _saved_config(latest, qualifier, {**current.config, **changes})
    _store(latest, qualifier, config)
    return _json(200, _answer(config))


def _get_response(response: Any) -> tuple[int, dict[str, str], str]:
    latest, _, qualifier = _target(response, -2)
    config = _find(latest, qualifier)
    if config is None:
        raise UnknownEventConfig(_qualified_arn(latest, qualifier))
    return _json(200, _answer(config))


def _delete_response(response: Any) -> tuple[int, dict[str, str], str]:
    latest, _, qualifier = _target(response, -2)
    if _find(latest, qualifier) is None:
        raise UnknownEventConfig(_qualified_arn(latest, qualifier))
    _store(latest, qualifier, None)
    return 204, {"status": "204"}, ""


def _list_response(response: Any) -> tuple[int, dict[str, str], str]:
    """ListFunctionEventInvokeConfigs: every qualifier's configuration, at most ``MaxItems``
    (1-50, default 50) a page, ``NextMarker`` while more remain."""
    latest, _, _ = _target(response, -3)
    configs = list(latest.event_invoke_config or ())
    marker = (response.querystring.get("Marker") or [None])[0]
    size = (response.querystring.get("MaxItems") or [None])[0]
    try:
        start = int(marker) if marker else 0
        limit = int(size) if size else _PAGE_SIZE
    except ValueError as exc:
        raise InvalidParameterValueException("Invalid Marker or MaxItems") from exc
    if not 1 <= limit <= _PAGE_SIZE:
        raise ValidationException(
            str(limit), "maxItems", f"Member must have value between 1 and {_PAGE_SIZE}"
        )
    page = configs[start : start + limit]
    document: dict[str, Any] = {"FunctionEventInvokeConfigs": [_answer(c) for c in page]}
    if start + limit < len(configs):
        document["NextMarker"] = str(start + limit)
    return _json(200, document)
