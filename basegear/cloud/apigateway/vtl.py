"""API Gateway mapping templates (REST APIs): Velocity templates rendered with airspeed.

A request template turns the method request into the integration request; a response template
turns the integration's response into the method response (API Gateway developer guide,
"Mapping template transformations for REST APIs"). :func:`render` serves both: for a response
template, :attr:`VtlRequest.body` is the integration's response.

What a template sees ("API Gateway mapping template and access logging variable reference"):

- ``$input``: ``body``, ``json(path)`` (JSON text), ``path(path)`` (a value to work on),
  ``params()`` (``path``, ``querystring`` and ``header`` maps) and ``params(name)`` (path, then
  query string, then header);
- ``$util``: ``escapeJavaScript``, ``parseJson``, ``base64Encode``/``base64Decode``,
  ``urlEncode``/``urlDecode``;
- ``$context`` (what the caller passes, plus ``requestOverride``/``responseOverride`` maps to
  ``#set``) and ``$stageVariables``.

airspeed is a Python Velocity; API Gateway's is Java. :func:`install_java_semantics` replaces
the airspeed internals listed in :data:`PATCHED` so that templates see Java values
(``vtl_util``): nulls print as nothing, booleans as ``true``/``false``, strings have Java's
methods, ``#if`` and the operators follow Velocity 1.7 — and so that a template reaches nothing
of Python: every ``$x.name`` goes through :func:`vtl_util.java_member`, never ``getattr``.
``tests/cloud/apigateway/test_vtl.py`` checks :data:`PATCHED` against the installed airspeed.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import airspeed

from basegear.cloud.apigateway import vtl_util
from basegear.cloud.apigateway.vtl_util import (
    JAVA_OPERATORS,
    MAX_STRING,
    VtlObject,
    VtlRuntimeError,
    java_index,
    java_member,
    java_not,
    java_string,
    java_truth,
)
from basegear.errors import GearError

AIRSPEED_VERSION = "0.7.1"
MAX_FOREACH = 1000
"""Iterations of one ``#foreach`` (API Gateway quotas, REST API: "Number of iterations in a
#foreach ... #end loop in mapping templates: 1000"); like Velocity's
``directive.foreach.maxloops``, the loop stops there."""
MAX_ITERATIONS = 100_000
"""All ``#foreach`` iterations of one render together, so nested loops cannot run for ever."""
MAX_RANGE = 100_000
"""The most numbers a range literal ``[a..b]`` may hold."""


@dataclass(frozen=True)
class VtlRequest:
    """What a template renders from: the payload and the method request's parameters."""

    body: str
    path: Mapping[str, str]
    querystring: Mapping[str, str]
    header: Mapping[str, str]
    context: Mapping[str, Any]
    stage_variables: Mapping[str, str]


class TemplateError(GearError):
    """A mapping template that cannot be read or rendered. ``line`` and ``column`` (1-based)
    point into the template when the place is known."""

    def __init__(
        self, reason: str, *, source: str, line: int | None = None, column: int | None = None
    ) -> None:
        where = f"{source}, line {line}, column {column}" if line is not None else source
        super().__init__(
            f"{where}: {reason}",
            hint="API Gateway answers such a request with 500 Internal Server Error",
        )
        self.reason = reason
        self.source = source
        self.line = line
        self.column = column


def render(template: str, request: VtlRequest, *, source: str = "mapping template") -> str:
    """``template`` rendered for ``request``; ``source`` names the template in errors (e.g. the
    resource, method and content type)."""
    compiled = _compile(template, source)
    output = _BoundedStream()
    budget = _BUDGET.set(_Budget())
    try:
        compiled.merge_to(_namespace(request), output)
    except airspeed.TemplateExecutionError as exc:
        raise _runtime_error(exc, source) from exc.__cause__
    except RecursionError as exc:
        raise TemplateError(_TOO_DEEP, source=source) from exc
    finally:
        _BUDGET.reset(budget)
    text: str = output.getvalue()
    return text


# -- $input, $util, $context ---------------------------------------------------------------------


class InputVariable(VtlObject):
    """``$input``: the payload (request body, or the integration's response) and parameters."""

    def __init__(self, request: VtlRequest) -> None:
        self._request = request
        self._document: Any = _UNREAD

    def member(self, name: str, args: list[Any] | None) -> Any:
        if args is None:
            return self._body() if name == "body" else None
        if name in ("json", "path") and len(args) == 1 and isinstance(args[0], str):
            definite, matches = select(self._read(), parse_json_path(args[0]))
            if name == "path":
                found = matches[0] if definite and matches else None
                return vtl_util.from_json(found if definite else matches)
            if definite and not matches:
                return '""'  # no match: an empty JSON string, as API Gateway prints it
            return vtl_util.json_text(matches[0] if definite else matches)
        if name == "params" and not args:
            return {
                "path": dict(self._request.path),
                "querystring": dict(self._request.querystring),
                "header": dict(self._request.header),
            }
        if name == "params" and len(args) == 1 and isinstance(args[0], str):
            return self._param(args[0])
        return None

    def _body(self) -> str:
        # An empty payload reads as "{}" in a template (as observed on AWS: LocalStack's
        # AWS-validated tests, and $input.json('$') of an empty body printing {}).
        return self._request.body or "{}"

    def _param(self, name: str) -> str:
        """Path, then query string, then header ("$input.params(x)"); headers match without
        regard to case, as HTTP header names do. An absent parameter is an empty string."""
        for source in (self._request.path, self._request.querystring, self._request.header):
            if name in source:
                return source[name]
        wanted = name.lower()
        for header, value in self._request.header.items():
            if header.lower() == wanted:
                return value
        return ""

    def _read(self) -> Any:
        """The payload as API Gateway's JSON reader (json-smart, permissive) sees it: JSON, or
        text that does not start like an object or array read as a string."""
        if self._document is _UNREAD:
            text = self._body()
            try:
                self._document = json.loads(text)
            except (ValueError, RecursionError) as exc:
                if text.lstrip()[:1] in ("{", "["):
                    raise VtlRuntimeError(
                        f"the payload is not valid JSON ({exc}); API Gateway answers 400 "
                        "'Could not process payload'"
                    ) from exc
                self._document = text
        return self._document


_UNREAD = object()


class UtilVariable(VtlObject):
    """``$util``. A null argument gives null, as the Java utilities do; any other value is
    read as its string."""

    _FUNCTIONS = {
        "escapeJavaScript": vtl_util.escape_javascript,
        "parseJson": lambda text: _parse_json_argument(text),
        "urlEncode": vtl_util.url_encode,
        "urlDecode": vtl_util.url_decode,
        "base64Encode": vtl_util.base64_encode,
        "base64Decode": vtl_util.base64_decode,
    }

    def member(self, name: str, args: list[Any] | None) -> Any:
        function = self._FUNCTIONS.get(name)
        if function is None or args is None or len(args) != 1 or args[0] is None:
            return None
        return function(java_string(args[0]))


def _parse_json_argument(text: str) -> Any:
    try:
        return vtl_util.parse_json(text)
    except ValueError as exc:
        raise VtlRuntimeError(f"parseJson: {text[:40]!r} is not valid JSON: {exc}") from exc


class ClaimsVariable(VtlObject):
    """``$context.authorizer.claims``: each claim by name; the map itself prints as null
    (mapping template reference: "Calling $context.authorizer.claims returns null")."""

    def __init__(self, claims: Mapping[str, Any]) -> None:
        self._claims = dict(claims)

    def member(self, name: str, args: list[Any] | None) -> Any:
        return self._claims.get(name) if args is None else None


def _namespace(request: VtlRequest) -> dict[str, Any]:
    context = _template_value(request.context, ())
    # Overrides a template may #set (developer guide, "Override your API's request and
    # response parameters and status codes").
    context.setdefault("requestOverride", {"header": {}, "path": {}, "querystring": {}})
    context.setdefault("responseOverride", {"header": {}})
    return {
        "input": InputVariable(request),
        "util": UtilVariable(),
        "context": context,
        "stageVariables": dict(request.stage_variables),
    }


def _template_value(value: Any, path: tuple[str, ...]) -> Any:
    """A fresh template-side copy of a ``$context`` value (a template may ``#set`` into it)."""
    if isinstance(value, Mapping):
        converted = {
            str(key): _template_value(item, (*path, str(key))) for key, item in value.items()
        }
        return ClaimsVariable(converted) if path == ("authorizer", "claims") else converted
    if isinstance(value, list | tuple):
        return [_template_value(item, path) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# -- JSONPath ------------------------------------------------------------------------------------

_SEGMENT = re.compile(
    r"""\.\*|\[\s*\*\s*\]                  # every member or element
      |\.(?P<name>[^.\[\]]+)              # .name
      |\[\s*(?P<index>-?\d+)\s*\]         # [n], [-n] from the end
      |\[\s*'(?P<single>[^']*)'\s*\]      # ['name']
      |\[\s*"(?P<double>[^"]*)"\s*\]      # ["name"]
    """,
    re.VERBOSE,
)
Step = tuple[str, Any]


@functools.lru_cache(maxsize=1024)
def parse_json_path(text: str) -> tuple[Step, ...]:
    """The JSONPath subset of ``$input.json``/``$input.path``: ``$``, ``.name``, ``['name']``,
    ``[n]`` and ``[*]`` (Jayway JsonPath syntax; a path without ``$`` starts at the root)."""
    stripped = text.strip()
    rest = stripped[1:] if stripped.startswith("$") else ("." + stripped if stripped else "")
    steps: list[Step] = []
    position = 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if match is None:
            raise VtlRuntimeError(
                f"cannot read the JSONPath {text!r} at {rest[position:][:20]!r}: expected .name, "
                "['name'], [n], [*] or .* (filters and .. are not supported)"
            )
        if match["name"] is not None:
            steps.append(("key", match["name"]))
        elif match["index"] is not None:
            steps.append(("index", int(match["index"])))
        elif match["single"] is not None or match["double"] is not None:
            steps.append(("key", match["single"] if match["double"] is None else match["double"]))
        else:
            steps.append(("all", None))
        position = match.end()
    return tuple(steps)


def select(document: Any, steps: tuple[Step, ...]) -> tuple[bool, list[Any]]:
    """The values at ``steps``, and whether the path is definite (no wildcard): a definite path
    names at most one value; an indefinite one a list of every match (Jayway JsonPath)."""
    current = [document]
    definite = True
    for kind, argument in steps:
        found: list[Any] = []
        for node in current:
            if kind == "key" and isinstance(node, dict) and argument in node:
                found.append(node[argument])
            elif kind == "index" and isinstance(node, list):
                index = argument + len(node) if argument < 0 else argument
                if 0 <= index < len(node):
                    found.append(node[index])
            elif kind == "all":
                if isinstance(node, dict):
                    found.extend(node.values())
                elif isinstance(node, list):
                    found.extend(node)
        definite = definite and kind != "all"
        current = found
    return definite, current


# -- airspeed with Java semantics ----------------------------------------------------------------

PATCHED = (
    ("StringLiteral", "parse"),
    ("InterpolatedStringLiteral", "parse"),
    ("InterpolatedStringLiteral", "calculate"),
    ("NameOrCall", "calculate"),
    ("SubExpression", "calculate"),
    ("FormalReference", "evaluate_raw"),
    ("BinaryOperator", "parse"),
    ("UnaryOperatorValue", "OPERATORS"),
    ("IfDirective", "evaluate_raw"),
    ("ForeachDirective", "evaluate_raw"),
    ("Range", "calculate"),
    ("IncludeDirective", "evaluate_raw"),
    ("ParseDirective", "evaluate_raw"),
)
"""airspeed classes (module ``airspeed``) and the attributes :func:`install_java_semantics`
replaces."""
# airspeed internals read, not replaced (checked by check_airspeed too).
READ = (
    ("LocalNamespace", "__getitem__"),
    ("_FunctionDefinition", "execute_function"),
    ("StoppableStream", "write"),
    ("ArrayIndex", "calculate"),
    ("TemplateExecutionError", "__init__"),
    ("TemplateSyntaxError", "__init__"),
    ("Block", "evaluate"),
    ("NoMatch", "__init__"),
)

_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'", re.S)
_DOUBLE_QUOTED = re.compile(r'"((?:\\.|""|[^"\\])*)"', re.S)
_installed = False
_install_lock = threading.Lock()


def check_airspeed() -> None:
    """Fail loudly when the installed airspeed is not the one these patches were made for."""
    version = getattr(airspeed, "__version__", None) or _installed_version()
    if version != AIRSPEED_VERSION:
        raise GearError(f"airspeed {version} is installed; BaseGear needs {AIRSPEED_VERSION}")
    for owner, attribute in (*PATCHED, *READ):
        if not hasattr(getattr(airspeed, owner, None), attribute):
            raise GearError(
                f"airspeed {version} has no {owner}.{attribute}, which BaseGear patches"
            )


def _installed_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("airspeed")
    except PackageNotFoundError:
        return None


def install_java_semantics() -> None:
    """Replace the airspeed internals in :data:`PATCHED` (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        check_airspeed()
        airspeed.StringLiteral.parse = _parse_single_quoted
        airspeed.InterpolatedStringLiteral.parse = _parse_double_quoted
        airspeed.InterpolatedStringLiteral.calculate = _interpolate
        airspeed.NameOrCall.calculate = _name_or_call
        airspeed.SubExpression.calculate = _sub_expression
        airspeed.FormalReference.evaluate_raw = _print_reference
        airspeed.BinaryOperator.parse = _parse_binary_operator
        airspeed.UnaryOperatorValue.OPERATORS = {"!": java_not, "not": java_not}
        airspeed.IfDirective.evaluate_raw = _evaluate_if
        airspeed.ForeachDirective.evaluate_raw = _evaluate_foreach
        airspeed.Range.calculate = _range
        airspeed.IncludeDirective.evaluate_raw = _no_other_templates
        airspeed.ParseDirective.evaluate_raw = _no_other_templates
        _installed = True


class _NestedSyntaxError(Exception):
    """A syntax error inside a double-quoted string, at ``offset`` in the whole template."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def _parse_single_quoted(self: Any) -> None:
    # Velocity 1.7 string literals keep backslashes as they are ('\d' is a regex, "\\'" the
    # two characters the mapping template reference's replaceAll("\\'", "'") relies on);
    # a doubled quote stands for one.
    (raw,) = self.identity_match(_SINGLE_QUOTED)
    self.value = raw.replace("''", "'")


def _parse_double_quoted(self: Any) -> None:
    (raw,) = self.identity_match(_DOUBLE_QUOTED)
    self.value = raw.replace('""', '"')
    try:
        self.block = airspeed.Block(self.filename, self.value, 0)
    except airspeed.TemplateSyntaxError as exc:
        reason = re.sub(r"^line \d+, column \d+: ", "", str(exc))
        raise _NestedSyntaxError(self.start + 1 + exc.element.end, reason) from exc
    if self.block.end != len(self.value):
        raise _NestedSyntaxError(
            self.start + 1 + self.block.end,
            f"expected text or a reference in a string, got: {self.value[self.block.end :][:20]}",
        )


def _interpolate(self: Any, namespace: Any, loader: Any) -> str:
    output = _BoundedStream()
    try:
        self.block.evaluate(output, namespace, loader)
    except airspeed.TemplateExecutionError as exc:
        raise VtlRuntimeError(_reason(exc)) from exc.__cause__
    text: str = output.getvalue()
    return text


def _name_or_call(self: Any, current: Any, loader: Any, top_namespace: Any) -> Any:
    """``$name``, ``$name(...)``, ``$x.name``, ``$x.name(...)`` and ``[index]`` after it: a
    template's variables, macros defined with ``#define``, and members through java_member."""
    if isinstance(current, airspeed.LocalNamespace):
        try:
            value = current[self.name]
        except KeyError:
            value = None
        if isinstance(value, airspeed._FunctionDefinition):
            args = (
                [] if self.parameters is None else self.parameters.calculate(top_namespace, loader)
            )
            output = _BoundedStream()
            value.execute_function(output, top_namespace, args, loader)
            return output.getvalue()
        if self.parameters is not None:
            value = None
    else:
        args = None if self.parameters is None else self.parameters.calculate(top_namespace, loader)
        value = java_member(current, self.name, args)
    if self.index is not None:
        value = java_index(value, self.index.calculate(top_namespace, loader))
    return value


def _sub_expression(self: Any, current: Any, loader: Any, global_namespace: Any) -> Any:
    if not isinstance(self.expression, airspeed.ArrayIndex):
        return self.expression.calculate(current, loader, global_namespace)
    value = java_index(current, self.expression.calculate(global_namespace, loader))
    if self.subexpression is not None:
        value = self.subexpression.calculate(value, loader, global_namespace)
    return value


def _print_reference(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """A reference prints its value's ``toString()``; a null prints nothing (API Gateway
    renders an undefined or null reference as an empty string, quiet or not)."""
    if self.expression is None:
        stream.write(self.my_text())
        return
    value = self.expression.calculate(namespace, loader)
    if value is None and self.alternate is not None:
        value = self.alternate.calculate(namespace, loader)
    if value is not None:
        stream.write(java_string(value))


def _parse_binary_operator(self: Any) -> None:
    (operator,) = self.identity_match(self.BINARY_OP)
    if operator not in JAVA_OPERATORS:
        raise airspeed.NoMatch()
    self.apply_to = JAVA_OPERATORS[operator]
    self.precedence = self.PRECEDENCE[operator]


def _evaluate_if(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    if java_truth(self.condition.calculate(namespace, loader)):
        self.block.evaluate(stream, namespace, loader)
        return
    for elseif in self.elseifs:
        if java_truth(elseif.calculate(namespace, loader)):
            elseif.evaluate(stream, namespace, loader)
            return
    self.else_block.evaluate(stream, namespace, loader)


def _evaluate_foreach(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    """Velocity iterates a list's elements and a map's values; null or anything else is
    skipped. At most MAX_FOREACH iterations."""
    iterable = self.value.calculate(namespace, loader)
    if isinstance(iterable, dict):
        items = list(iterable.values())[:MAX_FOREACH]
    elif isinstance(iterable, list):
        items = iterable[:MAX_FOREACH]
    else:
        return
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(len(items))
    for count, item in enumerate(items, start=1):
        scope = airspeed.LocalNamespace(namespace)
        scope["velocityCount"] = count
        scope["velocityHasNext"] = count < len(items)
        scope["foreach"] = {
            "count": count,
            "index": count - 1,
            "hasNext": count < len(items),
            "first": count == 1,
            "last": count == len(items),
        }
        scope[self.loop_var_name] = item
        self.block.evaluate(stream, scope, loader)


def _range(self: Any, namespace: Any, loader: Any) -> list[int]:
    first = self.value1.calculate(namespace, loader)
    last = self.value2.calculate(namespace, loader)
    if not (vtl_util.is_number(first) and vtl_util.is_number(last)):
        raise VtlRuntimeError(f"a range [a..b] needs two integers, got {java_string(first)!r} and "
                         f"{java_string(last)!r}")  # fmt: skip
    first, last = int(first), int(last)
    if abs(last - first) >= MAX_RANGE:
        raise VtlRuntimeError(f"the range [{first}..{last}] holds more than {MAX_RANGE} numbers")
    step = 1 if last >= first else -1
    return list(range(first, last + step, step))


def _no_other_templates(self: Any, stream: Any, namespace: Any, loader: Any) -> None:
    raise VtlRuntimeError("#include and #parse cannot load other templates in a mapping template")


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ITERATIONS

    def spend(self, iterations: int) -> None:
        self.left -= iterations
        if self.left < 0:
            raise VtlRuntimeError(
                f"the template ran more than {MAX_ITERATIONS} #foreach iterations"
            )


_BUDGET: ContextVar[_Budget | None] = ContextVar("vtl_budget", default=None)


class _BoundedStream(airspeed.StoppableStream):  # type: ignore[misc]
    """airspeed's output stream, refusing output beyond MAX_STRING."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > MAX_STRING:
            raise VtlRuntimeError(f"the template's output is longer than {MAX_STRING} characters")
        super().write(text)
        return len(text)


# -- compiling and errors ------------------------------------------------------------------------

_TOO_DEEP = (
    "the template nests or recurses too deeply (deeply nested brackets, or a macro or #evaluate "
    "calling itself)"
)


@functools.lru_cache(maxsize=512)
def _compiled(template: str) -> Any:
    compiled = airspeed.Template(template)
    compiled.ensure_compiled()
    return compiled


def _compile(template: str, source: str) -> Any:
    install_java_semantics()
    try:
        return _compiled(template)
    except airspeed.TemplateSyntaxError as exc:
        reason = re.sub(r"^line \d+, column \d+: ", "", str(exc))
        raise TemplateError(reason, source=source, line=exc.line, column=exc.column) from exc
    except _NestedSyntaxError as exc:
        line, column = _position(template, exc.offset)
        raise TemplateError(exc.reason, source=source, line=line, column=column) from exc
    except RecursionError as exc:
        raise TemplateError(_TOO_DEEP, source=source) from exc
    except Exception as exc:  # airspeed's parser fails on some input with plain Python errors
        raise TemplateError(f"cannot read the template: {exc}", source=source) from exc


def _position(text: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _reason(exc: Any) -> str:
    cause = exc.__cause__
    if isinstance(cause, VtlRuntimeError):
        return str(cause)
    if isinstance(cause, RecursionError):
        return _TOO_DEEP
    snippet = " ".join(exc.element.my_text().split())[:60]
    if isinstance(cause, KeyError):  # #set($a.b = …) where $a is not a map
        return f"cannot evaluate {snippet!r}: there is no map named {cause.args[0]!r} to set into"
    return f"cannot evaluate {snippet!r}: {cause}"


def _runtime_error(exc: Any, source: str) -> TemplateError:
    line, column = _position(exc.element.full_text(), exc.start)
    return TemplateError(_reason(exc), source=source, line=line, column=column)
