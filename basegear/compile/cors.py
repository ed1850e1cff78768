"""CORS settings of REST API ``http`` events (Serverless Framework v3 docs, "API Gateway",
"Enabling CORS"), for functions and state machines alike: each event's ``cors`` parsed with the
framework's defaults, and the preflight response of a path merged from all its events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from basegear.compile.context import Context, Json
from basegear.compile.event_support import event_path
from basegear.errors import ConfigPath

# The Serverless Framework's default CORS headers (its api-gateway validate.js getCors).
CORS_HEADERS = (
    "Content-Type",
    "X-Amz-Date",
    "Authorization",
    "X-Api-Key",
    "X-Amz-Security-Token",
    "X-Amz-User-Agent",
    "X-Amzn-Trace-Id",
)
CORS_KEYS = (
    "allowCredentials",
    "cacheControl",
    "headers",
    "maxAge",
    "methods",
    "origin",
    "origins",
)
ANY_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")

CorsSetting = bool | dict[str, Json]


@dataclass(frozen=True)
class Cors:
    """One event's CORS settings, defaults filled in as the Serverless Framework does."""

    origins: tuple[str, ...] = ("*",)
    headers: tuple[str, ...] = CORS_HEADERS
    methods: tuple[str, ...] = ("OPTIONS",)
    allow_credentials: bool = False
    max_age: int | None = None
    cache_control: str | None = None

    def response_parameters(self) -> dict[str, str]:
        """The CORS headers of an actual (not preflight) response of a non-proxy integration;
        a proxy integration's function sets its own."""
        origin = ",".join(self.origins)
        parameters = {"method.response.header.Access-Control-Allow-Origin": f"'{origin}'"}
        if self.allow_credentials:
            parameters["method.response.header.Access-Control-Allow-Credentials"] = "'true'"
        return parameters


def parse_cors(
    context: Context, cors: CorsSetting, http_method: str, where: ConfigPath
) -> Cors | None:
    """``cors: true`` or the ``cors`` mapping of one event; None when CORS is off."""
    if cors is False:
        return None
    method = "ANY" if http_method == "*" else http_method
    if cors is True:
        return Cors(methods=("OPTIONS", method))
    where = (*where, "cors")
    context.refuse_unknown(cors, CORS_KEYS, "cors setting", where)
    if "origin" in cors and "origins" in cors:
        raise context.fail("give origin or origins, not both", where)
    origins = _strings(context, cors.get("origins", cors.get("origin", "*")), (*where, "origin"))
    # `origin: 'https://a.com,https://b.com'` lists several, as the framework reads it.
    origins = tuple(part.strip() for origin in origins for part in origin.split(","))
    headers = _strings(context, cors.get("headers", list(CORS_HEADERS)), (*where, "headers"))
    methods = _strings(context, cors.get("methods", []), (*where, "methods"))
    max_age = cors.get("maxAge")
    if max_age is not None and (not isinstance(max_age, int) or max_age < 1):
        raise context.fail(
            f"maxAge is a number of seconds from 1, got {max_age!r}", (*where, "maxAge")
        )
    cache_control = cors.get("cacheControl")
    return Cors(
        origins=origins,
        headers=headers,
        methods=_union(tuple(name.upper() for name in methods), ("OPTIONS", method)),
        allow_credentials=bool(cors.get("allowCredentials", False)),
        max_age=max_age,
        cache_control=None if cache_control is None else str(cache_control),
    )


def _strings(context: Context, value: Json, where: ConfigPath) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(item, str) for item in values):
        raise context.fail(f"expected a string or a list of strings, got {value!r}", where)
    return tuple(values)


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def cors_events(context: Context) -> list[tuple[ConfigPath, str, str, CorsSetting]]:
    """Every REST API event's location, path, method and ``cors``: functions' first, then
    state machines'."""
    events: list[tuple[ConfigPath, str, str, CorsSetting]] = []
    for key, function in context.service.functions.items():
        for index, event in enumerate(function.events):
            if event.http is not None:
                path = event_path(key, index, "http")
                events.append((path, event.http.path, event.http.method, event.http.cors))
    machines = context.service.step_functions
    for key, machine in (machines.state_machines if machines else {}).items():
        for index, machine_event in enumerate(machine.events):
            http = machine_event.http
            if http is not None:
                path = ("stepFunctions", "stateMachines", key, "events", index, "http")
                events.append((path, http.path, http.method, http.cors))
    return events


def preflight(settings: list[Cors]) -> tuple[dict[str, str], str]:
    """The preflight response's headers (as static mapping values) and response template for a
    path whose events have ``settings``: headers, methods and named origins joined, credentials
    allowed if any event allows them, the last maxAge and cacheControl winning."""
    # An event that names its origins restricts the path to them (with those of other such
    # events); events allowing any origin ("*") do not widen it.
    origins = tuple(o for o in _union(*(cors.origins for cors in settings)) if o != "*") or ("*",)
    methods = ",".join(
        _union(*(ANY_METHODS if m == "ANY" else (m,) for cors in settings for m in cors.methods))
    )
    headers = {
        "Access-Control-Allow-Origin": f"'{origins[0]}'",
        "Access-Control-Allow-Headers": f"'{','.join(_union(*(c.headers for c in settings)))}'",
        "Access-Control-Allow-Methods": f"'{methods}'",
    }
    if any(cors.allow_credentials for cors in settings):
        headers["Access-Control-Allow-Credentials"] = "'true'"
    max_age = next((c.max_age for c in reversed(settings) if c.max_age is not None), None)
    if max_age is not None:
        headers["Access-Control-Max-Age"] = f"'{max_age}'"
    cache_control = next((c.cache_control for c in reversed(settings) if c.cache_control), None)
    if cache_control:
        headers["Cache-Control"] = f"'{cache_control}'"
    # Several origins: the static header carries the first; the template answers with the
    # caller's Origin when it is one of them (API Gateway developer guide, "Override a REST API's
    # request and response parameters and status codes": $context.responseOverride.header).
    return headers, _origin_override(origins) if len(origins) > 1 else ""


def _origin_override(origins: tuple[str, ...]) -> str:
    """VTL answering with the request's Origin when it matches one of ``origins`` (``*`` in an
    origin matches any text), as a Java regular expression."""
    patterns = [re.escape(origin).replace(r"\*", ".+") for origin in origins]
    test = " || ".join(f'$origin.matches("{pattern}")' for pattern in patterns)
    return (
        '#set($origin = $input.params("Origin"))\n'
        '#if($origin == "") #set($origin = $input.params("origin")) #end\n'
        f"#if({test}) #set($context.responseOverride.header.Access-Control-Allow-Origin = "
        "$origin) #end"
    )
