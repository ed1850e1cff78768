"""Tests for the variable syntax (basegear.config.variable_syntax) as the resolver applies it:
fallbacks, nested variables, text around variables, escapes, CloudFormation's own ``${…}``
placeholders and syntax errors, each as the Serverless Framework v3 reads them."""

from __future__ import annotations

import contextlib
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basegear.config.loader import load_text
from basegear.config.variable_syntax import Template, VariableSyntaxError, parse
from basegear.config.variables import Options, Resolver
from basegear.errors import ConfigError, Location, Problem


def resolve(text: str, *, env: dict[str, str] | None = None) -> Any:
    document = load_text(textwrap.dedent(text), "serverless.yml")
    resolver = Resolver(
        document, service_dir=Path("."), options=Options(stage="dev"), env=env or {}
    )
    return resolver.resolve_all()


def custom(text: str, **kwargs: Any) -> Any:
    """``custom`` after resolving ``text`` (a YAML block under ``custom:``)."""
    return resolve("custom:\n" + textwrap.indent(textwrap.dedent(text), "  "), **kwargs)["custom"]


def value(expression: str, **kwargs: Any) -> Any:
    """The resolved value of one string."""
    return custom(f"value: {json.dumps(expression)}\n", **kwargs)["value"]


def only_problem(text: str) -> Problem:
    with pytest.raises(ConfigError) as caught:
        resolve(text)
    (problem,) = caught.value.problems
    return problem


def at(line: int, column: int) -> Location:
    return Location("serverless.yml", line, column)


# -- fallbacks and nesting -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${opt:stage, 'prod'}", "dev"),
        ("${opt:nope, 'dev'}", "dev"),
        ('${opt:nope, "a\\tb"}', "a\tb"),
        ("${opt:nope, 'a,b}c'}", "a,b}c"),
        ("${opt:nope, 10}", 10),
        ("${opt:nope, -1.5}", -1.5),
        ("${opt:nope, 1e3}", 1000),
        ("${opt:nope, 0x1F}", 31),
        ("${opt:nope, true}", True),
        ("${opt:nope,false}", False),
        ("${opt:nope, null}", None),
        ("${opt:a, env:B, 'c'}", "c"),
        ("${opt:a, env:HOME, 'c'}", "/home"),
        ("${opt:stage, env:HOME, 'c'}", "dev"),
        ("${opt:a, self:custom.other}", "other"),
        ("${opt:a, self:custom.${opt:stage}}", "dev-value"),
    ],
)
def test_fallbacks(expression: str, expected: Any) -> None:
    found = custom(
        f"value: {json.dumps(expression)}\nother: other\ndev: dev-value\n", env={"HOME": "/home"}
    )["value"]
    assert found == expected
    assert type(found) is type(expected)


def test_nested_addresses() -> None:
    found = custom(
        """\
        dev: {memory: 512}
        prod: {memory: 2048}
        which: prod
        memory: ${self:custom.${opt:stage}.memory}
        other: ${self:custom.${self:custom.which}.memory}
        deep: ${self:custom.${self:custom.${opt:kind, 'which'}}.memory}
        """
    )
    assert (found["memory"], found["other"], found["deep"]) == (512, 2048, 2048)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("arn:aws:sqs:${opt:region, 'eu-west-1'}:q-${opt:stage}", "arn:aws:sqs:eu-west-1:q-dev"),
        ("n=${self:custom.number}", "n=1"),
        ("f=${self:custom.fraction}", "f=2.5"),
        ("b=${self:custom.flag}", "b=false"),
        ("l=${self:custom.list}", "l=a,1,,[object Object]"),
        ("${opt:stage}${opt:stage}", "devdev"),
        ("{${opt:stage}}", "{dev}"),
        ("${opt:stage}}", "dev}"),
    ],
)
def test_variables_inside_longer_strings_become_text(expression: str, expected: str) -> None:
    found = custom(
        f"value: {json.dumps(expression)}\nnumber: 1.0\nfraction: 2.5\nflag: false\n"
        "list: [a, 1, ~, {k: v}]\n"
    )
    assert found["value"] == expected


def test_a_mapping_cannot_be_placed_inside_a_string() -> None:
    problem = only_problem("custom:\n  map: {a: 1}\n  value: x-${self:custom.map}\n")
    assert "is a mapping and cannot be placed inside a string" in problem.message
    assert problem.location == at(3, 10)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("\\${opt:stage}", "${opt:stage}"),
        ("\\\\${opt:stage}", "\\dev"),
        ("\\\\\\${opt:stage}", "\\${opt:stage}"),
        ("a\\b", "a\\b"),
        ("$${opt:stage}", "dev"),
        ("$\\${opt:stage}", "$\\dev"),
        ("#{AWS::AccountId}", "#{AWS::AccountId}"),
        ("${AWS::Region}", "${AWS::Region}"),
        ("${Bucket.Arn}-${opt:stage}", "${Bucket.Arn}-dev"),
        ("${ opt:stage }", "${ opt:stage }"),
        ("${Foo:bar}", "${Foo:bar}"),
        ("${}", "${}"),
        ("${opt}", "${opt}"),
        ("arn:aws:s3:::${Bucket}-#{AWS::Region}", "arn:aws:s3:::${Bucket}-#{AWS::Region}"),
    ],
)
def test_escapes_and_cloudformation_placeholders(expression: str, expected: str) -> None:
    assert value(expression) == expected


def test_escaped_text_is_read_again_where_it_is_referenced() -> None:
    # As in v3: the escape keeps "${opt:stage}" as text here, but a reference reads it again.
    found = custom("esc: \\${opt:stage}\nref: ${self:custom.esc}\nin: x-${self:custom.esc}\n")
    assert found == {"esc": "${opt:stage}", "ref": "dev", "in": "x-dev"}


def test_sub_with_both_kinds_of_placeholder() -> None:
    found = resolve("Resources:\n  A:\n    Name: !Sub '${AWS::StackName}-${opt:stage}-${B.Arn}'\n")
    assert found["Resources"]["A"]["Name"] == {"Fn::Sub": "${AWS::StackName}-dev-${B.Arn}"}


def test_keys_are_not_resolved() -> None:
    assert resolve("${opt:stage}: value\n") == {"${opt:stage}": "value"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("${opt:stage", "missing '}' to close the variable"),
        ("${opt:nope, ${env:HOME}}", "a fallback is written without ${ }"),
        ("${opt:nope, dev}", "the fallback 'dev' is neither a source"),
        ("${opt:nope, 'a', 'b'}", "a quoted fallback must be the last one"),
        ("${opt:nope, 1, 'b'}", "unexpected ','"),
        ("${self:custom.${ nope}}", "a variable inside a variable must start with a source"),
        ("${file(a.yml}", "unexpected '}'"),
        ("${file(a.yml, }", "expected ')' to close the parameters"),
        ("${opt:nope, 'unclosed}", "missing closing '"),
        ('${opt:nope, "bad \\x"}', "invalid string"),
    ],
)
def test_syntax_errors(expression: str, message: str) -> None:
    problem = only_problem(f"custom:\n  value: {json.dumps(expression)}\n")
    assert problem.message.startswith("variable syntax error: ")
    assert message in problem.message
    assert problem.location == at(2, 10)


# -- the parser on its own -----------------------------------------------------------------------


def test_parse_returns_none_for_plain_text() -> None:
    assert parse("plain") is None
    assert parse("${AWS::Region} and #{AWS::AccountId}") is None
    template = parse("a-${opt:stage}")
    assert isinstance(template, Template) and template.whole is None
    whole = parse("${opt:stage, 'dev'}")
    assert whole is not None and whole.whole is not None
    assert whole.whole.text == "${opt:stage, 'dev'}"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["${", "}", "opt:", "self:", "file(", ")", ",", " ", "'", '"', "\\", "$", "a", ".", ":"]
        ),
        max_size=30,
    ).map("".join)
    | st.text(max_size=60)
)
def test_parse_raises_only_syntax_errors(text: str) -> None:
    with contextlib.suppress(VariableSyntaxError):
        parse(text)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["${", "}", "opt:stage", "self:custom.", "env:HOME", ", ", "'x'", "\\", "$", "a"]
        ),
        max_size=20,
    ).map("".join)
)
def test_resolving_any_string_raises_only_config_errors(text: str) -> None:
    try:
        custom(f"value: {json.dumps(text)}\n", env={"HOME": "/home"})
    except ConfigError as exc:
        assert all(p.path and p.location for p in exc.problems)
