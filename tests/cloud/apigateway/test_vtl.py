"""Tests for basegear.cloud.apigateway.vtl (API Gateway mapping templates).

Each file in tests/fixtures/vtl holds one case: ``template``, ``request`` (``body``, ``path``,
``querystring``, ``header``, ``context``, ``stageVariables``; each optional) and either
``expected`` (the exact output), ``expected_json`` (the output read as JSON, for templates whose
indentation Velocity's whitespace handling decides) or ``error`` (a substring of the
TemplateError's message). Property tests check the sandbox, the JSONPath subset and the $util
functions.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import airspeed
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basegear.cloud.apigateway import vtl
from basegear.cloud.apigateway.vtl import TemplateError, VtlRequest, render
from basegear.cloud.apigateway.vtl_util import (
    escape_javascript,
    java_double,
    java_member,
    url_decode,
    url_encode,
)
from basegear.errors import GearError

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "vtl"
CASES = {path.stem: yaml.safe_load(path.read_text()) for path in sorted(FIXTURES.glob("*.yml"))}
# Python reprs that would betray a template reaching Python objects.
LEAKS = (
    "<class",
    "<function",
    "<bound",
    "<built-in",
    "<module",
    "<method",
    " at 0x",
    "mappingproxy",
)


def request_of(spec: dict[str, Any] | None) -> VtlRequest:
    spec = spec or {}
    return VtlRequest(
        body=spec.get("body", ""),
        path=spec.get("path", {}),
        querystring=spec.get("querystring", {}),
        header=spec.get("header", {}),
        context=spec.get("context", {}),
        stage_variables=spec.get("stageVariables", {}),
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture(name: str) -> None:
    case = CASES[name]
    assert set(case) <= {"template", "request", "expected", "expected_json", "error"}, name
    outcomes = [key for key in ("expected", "expected_json", "error") if key in case]
    assert len(outcomes) == 1, f"{name}: give exactly one of expected, expected_json, error"
    request = request_of(case.get("request"))
    if "error" in case:
        with pytest.raises(TemplateError) as caught:
            render(case["template"], request)
        assert case["error"] in str(caught.value)
        return
    output = render(case["template"], request)
    if "expected_json" in case:
        assert json.loads(output) == case["expected_json"]
    else:
        assert output == case["expected"]


def test_there_are_enough_fixtures() -> None:
    assert len(CASES) >= 30


class _IgnoreTags(yaml.SafeLoader):
    """serverless.yml's CloudFormation tags (!ImportValue, !Ref …) read as None."""


_IgnoreTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def example_templates() -> dict[str, str]:
    """The DELETE /v1/algorithm templates of examples/algorithms, resolved for stage dev."""
    text = (ROOT / "examples" / "algorithms" / "serverless.yml").read_text()
    definition = yaml.load(text, Loader=_IgnoreTags)  # a SafeLoader subclass
    machine = definition["stepFunctions"]["stateMachines"]["packageDelete"]
    http = machine["events"][0]["http"]
    templates = {
        "example_delete_request": http["request"]["template"]["application/json"],
        "example_delete_response_200": http["responses"][200]["responseTemplates"][
            "application/json"
        ],
        "example_delete_response_400": http["responses"][400]["responseTemplates"][
            "application/json"
        ],
    }
    resolved = {"#{AWS::Region}": "eu-west-1", "#{AWS::AccountId}": "123456789012"}
    resolved["${sls:stage}"] = "dev"
    for name, template in templates.items():
        for placeholder, value in resolved.items():
            template = template.replace(placeholder, value)
        templates[name] = template
    return templates


def test_example_fixtures_hold_the_example_services_templates() -> None:
    for name, template in example_templates().items():
        assert CASES[name]["template"] == template, name
    request = CASES["example_delete_request"]["template"]
    for variant in ("example_delete_request_escaped", "example_delete_request_missing_parameters"):
        assert CASES[variant]["template"] == request


def test_example_request_template_output_is_a_start_execution_request() -> None:
    case = CASES["example_delete_request"]
    output = json.loads(render(case["template"], request_of(case["request"])))
    assert json.loads(output["input"]) == {"algorithmId": "sorting", "uploadVersion": "3"}
    assert output["name"] == case["request"]["context"]["requestId"]


def test_template_error_names_source_line_and_column() -> None:
    with pytest.raises(TemplateError) as caught:
        render("ok\n\n  #foreach($i on $l)#end", request_of(None), source="DELETE /v1/algorithm")
    error = caught.value
    assert isinstance(error, GearError)
    assert (error.line, error.column) == (3, 14)
    assert str(error).startswith("DELETE /v1/algorithm, line 3, column 14: expected in")


def test_each_render_starts_from_the_request() -> None:
    """#set into $context or maps from the payload does not carry over to the next render."""
    template = "#set($context.stage = 'changed')#set($m = $input.path('$'))#set($o = $m.put('k', 2))$context.stage $input.path('$.k')"  # noqa: E501
    request = request_of({"body": '{"k": 1}', "context": {"stage": "dev"}})
    assert render(template, request) == "changed 1"
    assert render("$context.stage", request) == "dev"
    assert dict(request.context) == {"stage": "dev"}


def test_runaway_templates_stop_with_an_error() -> None:
    nested = "#foreach($a in [1..1000])#foreach($b in [1..1000])#end#end"
    with pytest.raises(TemplateError, match="more than 100000 #foreach iterations"):
        render(nested, request_of(None))
    doubling = "#set($s = 'xx')#foreach($i in [1..40])#set($s = \"$s$s\")#end"
    with pytest.raises(TemplateError, match="longer than"):
        render(doubling, request_of(None))
    with pytest.raises(TemplateError, match="recurses too deeply"):
        render("#set($t = '#evaluate($t)')#evaluate($t)", request_of(None))


def test_patched_airspeed_internals_exist() -> None:
    vtl.check_airspeed()
    vtl.install_java_semantics()
    vtl.install_java_semantics()  # idempotent
    for owner, attribute in vtl.PATCHED:
        assert hasattr(getattr(airspeed, owner), attribute), (owner, attribute)
    assert airspeed.NameOrCall.calculate is vtl._name_or_call


def test_rendering_is_fast_once_compiled() -> None:
    case = CASES["example_delete_request"]
    request = request_of(case["request"])
    render(case["template"], request)
    started = time.perf_counter()
    for _ in range(200):
        render(case["template"], request)
    assert (time.perf_counter() - started) / 200 < 0.005


# -- sandbox -------------------------------------------------------------------------------------

INTERNAL_NAMES = [
    "__class__", "__init__", "__globals__", "__dict__", "__subclasses__", "__mro__", "__base__",
    "__builtins__", "__getattribute__", "__reduce__", "_request", "_document", "_claims",
    "_FUNCTIONS", "_key", "format", "format_map", "mro", "items", "keys", "pop", "clear",
    "encode", "join", "update", "copy", "setdefault", "member", "java_string", "f_globals",
    "gi_frame", "func_globals", "tb_frame", "append", "sort",
]  # fmt: skip
PUBLIC_NAMES = [
    "body", "json", "path", "params", "get", "size", "toString", "keySet", "entrySet", "key",
    "value", "escapeJavaScript", "parseJson", "base64Decode", "requestId", "substring", "split",
    "replaceAll", "values", "add", "put", "count", "authorizer", "claims", "sub",
]  # fmt: skip
ROOTS = ["$input", "$util", "$context", "$stageVariables", "$x", "$s", "$l", "$m", "$foreach"]
ARGUMENTS = ["", "'$'", "'$.a'", "'$.l'", "0", "1", "-1", "'x'", "$x", "'{0.__class__}'", "$input"]


@st.composite
def references(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(ROOTS))
    for _ in range(draw(st.integers(0, 4))):
        text += "." + draw(st.sampled_from(INTERNAL_NAMES + PUBLIC_NAMES))
        if draw(st.booleans()):
            arguments = draw(st.lists(st.sampled_from(ARGUMENTS), max_size=2))
            text += "(" + ", ".join(argument for argument in arguments if argument) + ")"
    if draw(st.booleans()):
        text += "[" + draw(st.sampled_from(["0", "'a'", "$x", "'__class__'"])) + "]"
    return text


@st.composite
def templates(draw: st.DrawFn) -> str:
    pieces: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        reference = draw(references())
        piece = draw(
            st.sampled_from(
                [
                    reference,
                    f"$!{{{reference[1:]}}}",
                    f"#set($x = {reference})",
                    f'#set($s = "[{reference}]")',
                    "#set($l = [1, 'a', true])",
                    "#set($m = {'k': $input})",
                    f"#foreach($i in {reference}){reference}#end",
                    f"#if({reference})a#{{else}}b#end",
                    f"#set($x = {reference} + 1)",
                    f"#evaluate('{reference}')",
                    f'"{reference}"',
                    "$",
                    "#",
                    "(",
                    ")",
                    "'",
                    "\n",
                ]
            )
        )
        pieces.append(piece)
    return "".join(pieces)


SANDBOX_REQUEST = request_of(
    {
        "body": '{"a": {"b": [1, "two", null, true]}, "l": ["x"], "s": "text"}',
        "path": {"id": "1"},
        "querystring": {"q": "v"},
        "header": {"Accept": "application/json"},
        "context": {"requestId": "r", "authorizer": {"claims": {"sub": "u"}}},
        "stageVariables": {"alias": "prod"},
    }
)


def assert_renders_safely(template: str, request: VtlRequest = SANDBOX_REQUEST) -> None:
    try:
        output = render(template, request)
    except TemplateError as error:
        output = str(error)
    for leak in LEAKS:
        assert leak not in output, (template, output)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates())
def test_random_templates_never_reach_python_internals(template: str) -> None:
    assert_renders_safely(template)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("$#!{}()[]'\".,=+-*/<>|&_ abcdefgi0129\n\\"), max_size=60))
def test_arbitrary_text_raises_only_template_errors(template: str) -> None:
    assert_renders_safely(template)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40))
def test_arbitrary_payloads_and_parameters_raise_only_template_errors(
    body: str, value: str
) -> None:
    request = request_of({"body": body, "querystring": {"q": value}})
    template = "$input.json('$') $input.path('$.a') $util.parseJson($input.params('q')) $input.body"
    assert_renders_safely(template, request)


@pytest.mark.parametrize(
    "value",
    ["text", 1, 1.5, True, None, {"k": "v"}, ["a"], vtl.InputVariable(SANDBOX_REQUEST)],
)
@pytest.mark.parametrize("name", INTERNAL_NAMES)
def test_no_internal_name_resolves_on_any_value(value: object, name: str) -> None:
    """Neither as a property nor as a method with zero, one or two arguments."""
    for args in (None, [], ["x"], [0, "x"]):
        assert java_member(value, name, args) is None, (value, name, args)


# -- JSONPath and $util --------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.text(alphabet="abcxyz-_ ", min_size=1, max_size=4), children, max_size=4
        ),
    ),
    max_leaves=12,
)


@st.composite
def documents_with_paths(draw: st.DrawFn) -> tuple[Any, str, Any]:
    """A JSON document, a path into it in bracket or dot notation, and the value there."""
    document = draw(json_values)
    node, path = document, "$"
    while isinstance(node, dict | list) and node and draw(st.booleans()):
        if isinstance(node, dict):
            key = draw(st.sampled_from(sorted(node)))
            dotted = re.fullmatch(r"[a-z_]+", key) and draw(st.booleans())
            path += f".{key}" if dotted else f"['{key}']"
            node = node[key]
        else:
            index = draw(st.integers(0, len(node) - 1))
            path += f"[{index}]" if draw(st.booleans()) else f"[{index - len(node)}]"
            node = node[index]
    return document, path, node


@settings(max_examples=200, deadline=None)
@given(documents_with_paths())
def test_input_json_follows_the_path(case: tuple[Any, str, Any]) -> None:
    document, path, expected = case
    request = request_of({"body": json.dumps(document)})
    output = render("$input.json($p)".replace("$p", repr(path)), request)
    assert json.loads(output) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_escape_javascript_with_the_documented_replace_all_is_a_json_string(text: str) -> None:
    escaped = escape_javascript(text).replace("\\'", "'")
    assert json.loads(f'"{escaped}"') == text
    assert escaped.isascii()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_util_round_trips(text: str) -> None:
    assert url_decode(url_encode(text)) == text
    assert re.fullmatch(r"[A-Za-z0-9.\-*_+%]*", url_encode(text))
    request = request_of({"querystring": {"t": text}})
    encoded = render("$util.base64Encode($input.params('t'))", request)
    assert encoded == base64.b64encode(text.encode()).decode()
    assert render(f"$util.base64Decode('{encoded}')", request) == text


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_java_double_text_reads_back_as_the_same_number(number: float) -> None:
    text = java_double(number)
    assert float(text) == number
    assert "." in text and "e" not in text
