"""Tests for basegear.config.variables: every variable source, ``useDotenv``, cycles and
problems, each compared with what the Serverless Framework v3 does (fallbacks, nesting and
escapes are in test_variable_syntax.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from basegear.config.loader import load_text
from basegear.config.service import load_service
from basegear.config.variables import ExternalLookups, Options, Resolver
from basegear.errors import ConfigError, Location, Problem

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "variables"
INCLUDES = FIXTURES / "includes"
DEV = Options(stage="dev")


def resolve(
    text: str,
    *,
    options: Options = DEV,
    env: dict[str, str] | None = None,
    cloud: ExternalLookups | None = None,
    service_dir: Path = INCLUDES,
) -> Any:
    document = load_text(textwrap.dedent(text), "serverless.yml")
    resolver = Resolver(
        document,
        service_dir=service_dir,
        options=options,
        env=env or {},
        cloud=cloud,
        instance_id="instance-1",
    )
    return resolver.resolve_all()


def custom(text: str, **kwargs: Any) -> Any:
    """``custom`` after resolving ``text`` (a YAML block under ``custom:``)."""
    return resolve("custom:\n" + textwrap.indent(textwrap.dedent(text), "  "), **kwargs)["custom"]


def value(expression: str, **kwargs: Any) -> Any:
    """The resolved value of one string."""
    return custom(f"value: {json.dumps(expression)}\n", **kwargs)["value"]


def problems(text: str, **kwargs: Any) -> list[Problem]:
    with pytest.raises(ConfigError) as caught:
        resolve(text, **kwargs)
    return list(caught.value.problems)


def only_problem(text: str, **kwargs: Any) -> Problem:
    (problem,) = problems(text, **kwargs)
    return problem


def at(line: int, column: int, file: str = "serverless.yml") -> Location:
    return Location(file, line, column)


class StaticCloud:
    """A cloud that answers from a fixed table and records what it was asked."""

    def __init__(self, values: dict[tuple[str, str], object]) -> None:
        self.values = values
        self.asked: list[tuple[str, str, str | None]] = []

    def lookup(self, source: str, address: str, argument: str | None) -> object:
        self.asked.append((source, address, argument))
        return self.values.get((source, address))


# -- self ----------------------------------------------------------------------------------------


def test_self_reads_any_resolved_value_with_its_type() -> None:
    found = resolve(
        """\
        service: demo
        provider:
          name: aws
          memorySize: 256
          tags: {team: core}
        custom:
          name: ${self:service}
          memory: ${self:provider.memorySize}
          tags: ${self:provider.tags}
          first: ${self:custom.list.0}
          list: [a, b]
          chained: ${self:custom.name}-${self:custom.list.1}
        """
    )["custom"]
    assert found == {
        "name": "demo",
        "memory": 256,
        "tags": {"team": "core"},
        "first": "a",
        "list": ["a", "b"],
        "chained": "demo-b",
    }


def test_self_copies_are_independent() -> None:
    data = resolve("a: {b: [1]}\nc: ${self:a}\n")
    data["c"]["b"].append(2)
    assert data["a"] == {"b": [1]}


def test_self_copies_resolve_the_variables_inside_them() -> None:
    assert custom("a: {stage: '${opt:stage}'}\nb: ${self:custom.a}\n")["b"] == {"stage": "dev"}


def test_self_null_counts_as_no_value() -> None:
    assert custom("nothing: ~\nvalue: ${self:custom.nothing, 'fallback'}\n")["value"] == "fallback"
    problem = only_problem("custom:\n  nothing: ~\n  value: ${self:custom.nothing}\n")
    assert problem.path == ("custom", "value")


# -- opt -----------------------------------------------------------------------------------------


def test_opt_reads_stage_region_params_and_any_other_option() -> None:
    options = Options(
        stage="prod", region="eu-west-1", params={"a": "1"}, extra={"verbose": True, "n": "3"}
    )
    found = custom(
        """\
        stage: ${opt:stage}
        region: ${opt:region}
        param: ${opt:param}
        verbose: ${opt:verbose}
        n: ${opt:n}
        all: ${opt:}
        """,
        options=options,
    )
    assert found["stage"] == "prod"
    assert found["region"] == "eu-west-1"
    assert found["param"] == ["a=1"]
    assert found["verbose"] is True
    assert found["n"] == "3"
    assert found["all"] == {
        "verbose": True,
        "n": "3",
        "stage": "prod",
        "region": "eu-west-1",
        "param": ["a=1"],
    }


def test_opt_without_the_option_is_a_problem_naming_it() -> None:
    problem = only_problem("custom:\n  value: ${opt:region}\n")
    assert problem.location == at(2, 10)
    assert problem.path == ("custom", "value")
    assert "'${opt:region}' has no value" in problem.message
    assert "opt:region" in problem.message


# -- env -----------------------------------------------------------------------------------------


def test_env_reads_the_environment() -> None:
    assert value("${env:TABLE}", env={"TABLE": "orders"}) == "orders"
    assert value("${env:EMPTY}", env={"EMPTY": ""}) == ""
    problem = only_problem("custom:\n  value: ${env:NOT_SET_ANYWHERE}\n")
    assert "NOT_SET_ANYWHERE" in problem.message


def test_text_a_variable_produced_is_read_again() -> None:
    env = {"TEMPLATE": "${opt:stage}", "LOOP": "${env:LOOP}"}
    assert value("${env:TEMPLATE}", env=env) == "dev"
    assert value("x-${env:TEMPLATE}", env=env) == "x-dev"
    problem = only_problem("custom:\n  value: ${env:LOOP}\n", env=env)
    assert "more than 10 levels deep" in problem.message


# -- file ----------------------------------------------------------------------------------------


def test_file_includes_yaml_relative_to_the_service_folder() -> None:
    found = custom(
        """\
        marker: M
        settings: ${file(config/settings.yml)}
        dotted: ${file(./config/settings.yml):table.name}
        item: ${file(config/settings.yml):list.1}
        """
    )
    assert found["settings"] == {
        "region": "eu-west-1",
        "deeper": {"leaf": True, "marker": "M", "sibling": 1},
        "stageName": "dev",
        "table": {"name": "orders-dev"},
        "list": ["a", "b"],
        "empty": None,
    }
    assert found["dotted"] == "orders-dev"
    assert found["item"] == "b"


def test_file_in_a_subfolder_includes_files_relative_to_the_service_folder() -> None:
    # config/deeper/leaf.yml names ./config/data.json: the service folder's, as v3 resolves it.
    found = custom("marker: M\nleaf: ${file(config/deeper/leaf.yml)}\n")
    assert found["leaf"] == {"leaf": True, "marker": "M", "sibling": 1}


def test_file_reads_json_and_text() -> None:
    found = custom(
        """\
        json: ${file(config/data.json)}
        key: ${file(config/data.json):k}
        index: ${file(config/data.json):items.1}
        text: ${file(config/notes.txt)}
        """
    )
    assert found["json"] == {"k": "from-json", "nested": {"n": 1}, "items": [10, 20]}
    assert found["key"] == "from-json"
    assert found["index"] == 20
    assert found["text"] == "hello dev\n"


def test_file_values_keep_the_included_files_locations() -> None:
    problem = only_problem("custom:\n  value: ${file(config/unresolvable.yml)}\n")
    assert problem.location is not None
    assert Path(problem.location.file).resolve() == INCLUDES / "config" / "unresolvable.yml"
    assert (problem.location.line, problem.location.column) == (2, 8)
    assert problem.path == ("custom", "value", "value")
    assert "${self:custom.nothing}" in problem.message


def test_missing_file() -> None:
    assert value("${file(config/missing.yml), 'fallback'}") == "fallback"
    problem = only_problem("custom:\n  value: ${file(config/missing.yml)}\n")
    assert problem.location == at(2, 10)
    assert "config/missing.yml" in problem.message
    assert "has no value" in problem.message
    # An address the file does not have is no value either; a null one too.
    assert value("${file(config/settings.yml):nope, 1}") == 1
    assert value("${file(config/settings.yml):empty, 2}") == 2


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("${file()}", "file() needs a path"),
        ("${file(config/script.js)}", "is JavaScript"),
        ("${file(config)}", "is not a file"),
    ],
)
def test_file_problems(expression: str, message: str) -> None:
    problem = only_problem(f"custom:\n  value: {expression}\n")
    assert message in problem.message
    assert problem.location == at(2, 10)


def test_malformed_included_file_is_reported_in_that_file_once() -> None:
    found = problems("custom:\n  a: ${file(config/broken.yml)}\n  b: ${file(config/broken.yml)}\n")
    assert len(found) == 1
    (problem,) = found
    assert problem.message.startswith("malformed YAML")
    assert problem.location is not None
    assert Path(problem.location.file).resolve() == INCLUDES / "config" / "broken.yml"


# -- sls, aws and the cloud sources ----------------------------------------------------------------


def test_sls_and_aws_sources() -> None:
    found = resolve(
        """\
        provider: {name: aws, stage: staging, region: eu-central-1}
        custom:
          stage: ${sls:stage}
          instance: ${sls:instanceId}
          region: ${aws:region}
        """,
        options=Options(),
    )["custom"]
    assert found == {"stage": "staging", "instance": "instance-1", "region": "eu-central-1"}
    # Options win over provider settings; without either, dev and us-east-1.
    given = Options(stage="prod", region="ap-south-1")
    assert custom("s: ${sls:stage}\nr: ${aws:region}\n", options=given) == {
        "s": "prod",
        "r": "ap-south-1",
    }
    assert custom("s: ${sls:stage}\nr: ${aws:region}\n", options=Options()) == {
        "s": "dev",
        "r": "us-east-1",
    }


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("${sls:stag}", "unknown sls variable 'stag' (did you mean 'stage'?)"),
        ("${aws:regoin}", "unknown aws variable 'regoin' (did you mean 'region'?)"),
        ("${slf:stage}", "unknown variable source 'slf'"),
        ("${self:stage, slef:x}", "unknown variable source 'slef' (did you mean 'self'?)"),
    ],
)
def test_unknown_sources_and_addresses(expression: str, message: str) -> None:
    assert message in only_problem(f"custom:\n  value: {expression}\n").message


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("${ssm:/algorithms/dev/size}", "${ssm:/algorithms/dev/size}"),
        ("${ssm(eu-west-1):/a/b}", "${ssm(eu-west-1):/a/b}"),
        ("${cf:network-dev.VpcId}", "${cf:network-dev.VpcId}"),
        ("${s3:bucket/key.txt}", "${s3:bucket/key.txt}"),
        ("${aws:accountId}", "${aws:accountId}"),
    ],
)
def test_cloud_lookups_without_a_cloud_are_clear_errors(expression: str, named: str) -> None:
    problem = only_problem(f"custom:\n  value: {expression}\n")
    assert problem.location == at(2, 10)
    assert named in problem.message
    assert "need a cloud" in problem.message


def test_cloud_lookups_use_the_cloud_given() -> None:
    cloud = StaticCloud(
        {
            ("ssm", "/algorithms/dev/size"): "1024",
            ("cf", "network-dev.VpcId"): "vpc-123",
            ("s3", "bucket/key.txt"): "content",
            ("aws", "accountId"): "123456789012",
        }
    )
    found = custom(
        """\
        size: ${ssm:/algorithms/${sls:stage}/size}
        vpc: ${cf(eu-west-1):network-dev.VpcId}
        object: ${s3:bucket/key.txt}
        account: arn:aws:iam::${aws:accountId}:root
        missing: ${ssm:/not/there, 'fallback'}
        """,
        cloud=cloud,
    )
    assert found == {
        "size": "1024",
        "vpc": "vpc-123",
        "object": "content",
        "account": "arn:aws:iam::123456789012:root",
        "missing": "fallback",
    }
    assert ("cf", "network-dev.VpcId", "eu-west-1") in cloud.asked
    assert ("ssm", "/not/there", None) in cloud.asked


# -- param ---------------------------------------------------------------------------------------

PARAMS = """\
params:
  default:
    table: default-table
    size: 1
    onlyDefault: d
    nulled: from-default
  dev:
    table: dev-table
    size: 2
    nulled: ~
  prod:
    table: prod-${sls:stage}
custom:
  table: ${param:table}
  size: ${param:size}
  onlyDefault: ${param:onlyDefault}
  nulled: ${param:nulled}
"""


def test_param_precedence_cli_then_stage_then_default() -> None:
    assert resolve(PARAMS)["custom"] == {
        "table": "dev-table",
        "size": 2,
        "onlyDefault": "d",
        "nulled": "from-default",
    }
    cli = Options(stage="dev", params={"table": "cli-table", "size": "9"})
    assert resolve(PARAMS, options=cli)["custom"]["table"] == "cli-table"
    assert resolve(PARAMS, options=cli)["custom"]["size"] == "9"
    prod = resolve(PARAMS, options=Options(stage="prod"))["custom"]
    assert prod["table"] == "prod-prod"
    assert prod["size"] == 1


def test_missing_param_is_a_problem() -> None:
    problem = only_problem("custom:\n  value: ${param:nope}\n")
    assert "'${param:nope}' has no value" in problem.message
    assert value("${param:nope, 'fallback'}") == "fallback"


# -- strToBool -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${strToBool(true)}", True),
        ("${strToBool(1)}", True),
        ("${strToBool('false')}", False),
        ("${strToBool('0')}", False),
        ("${strToBool( TRUE )}", True),
        ("${strToBool(${env:FLAG})}", False),
        ("${strToBool(${env:ON})}", True),
    ],
)
def test_str_to_bool(expression: str, expected: bool) -> None:
    assert value(expression, env={"FLAG": " False ", "ON": "1"}) is expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("${strToBool(maybe)}", "strToBool expects true, false, 1 or 0, got 'maybe'"),
        ("${strToBool()}", "strToBool needs a value"),
        # As in v3, a bare false or 0 counts as not given.
        ("${strToBool(false)}", "strToBool needs a value"),
        ("${strToBool(0)}", "strToBool needs a value"),
    ],
)
def test_str_to_bool_problems(expression: str, message: str) -> None:
    assert message in only_problem(f"custom:\n  value: {expression}\n").message


# -- cycles and problems -------------------------------------------------------------------------


def test_cycles_are_reported_once_with_their_chain() -> None:
    problem = only_problem(
        """\
        custom:
          first: ${self:custom.second}
          second: ${self:custom.third}
          third: ${self:custom.first}
          dependent: x-${self:custom.second}
        """
    )
    assert problem.message == (
        "variable cycle: custom.first → custom.second → custom.third → custom.first"
    )
    assert problem.location == at(2, 10)
    assert problem.path == ("custom", "first")


def test_a_value_that_contains_a_reference_to_itself_is_a_cycle() -> None:
    problem = only_problem("custom:\n  a:\n    b: ${self:custom.a}\n")
    assert problem.message == "variable cycle: custom.a → custom.a.b → custom.a"
    assert problem.path == ("custom", "a", "b")
    assert problem.location == at(3, 8)


def test_a_file_include_cycle_names_every_file_and_address_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # cycle_a.yml includes cycle_b.yml, whose `back` reads cycle_a.yml's `next`: the text
    # '${file(config/cycle_b.yml)}', which includes cycle_b.yml again.
    monkeypatch.chdir(INCLUDES)
    problem = only_problem("custom:\n  value: ${file(config/cycle_a.yml)}\n")
    assert problem.message == (
        "file-include cycle: config/cycle_b.yml → config/cycle_a.yml:next → config/cycle_b.yml"
    )
    # Reported at the variable that starts the cycle: `next` in cycle_a.yml.
    assert problem.path == ("custom", "value", "next")
    assert problem.location == Location("config/cycle_a.yml", 2, 7)


def test_a_text_file_that_includes_itself_is_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "loop.txt").write_text("again ${file(loop.txt)}")
    problem = only_problem("custom:\n  value: ${file(loop.txt)}\n", service_dir=tmp_path)
    loop = tmp_path.resolve() / "loop.txt"
    assert problem.message == f"file-include cycle: {loop} → {loop}"
    assert problem.path == ("custom", "value")
    assert problem.location == at(2, 10)


def test_the_same_file_read_twice_in_one_value_is_no_cycle() -> None:
    assert value("${file(config/notes.txt)}|${file(config/notes.txt)}") == (
        "hello dev\n|hello dev\n"
    )


def test_a_misspelt_self_address_suggests_the_closest_key() -> None:
    found = problems(
        """\
        custom:
          tables:
            orders: orders-table
          value: ${self:custom.tables.ordres}
          other: ${self:custom.zzz}
        """
    )
    assert [problem.message for problem in found] == [
        "'${self:custom.tables.ordres}' has no value: the self source has nothing at "
        "'self:custom.tables.ordres' (did you mean 'self:custom.tables.orders'?), and no "
        "fallback applies",
        "'${self:custom.zzz}' has no value: the self source has nothing at 'self:custom.zzz', "
        "and no fallback applies",
    ]


def test_unresolvable_variable_is_located_at_the_string_holding_it() -> None:
    problem = only_problem(
        """\
        service: demo
        functions:
          worker:
            environment:
              TABLE: orders-${self:custom.table}
        """
    )
    assert problem.location == at(5, 14)
    assert problem.path == ("functions", "worker", "environment", "TABLE")
    assert str(problem).startswith("serverless.yml:5:14: functions.worker.environment.TABLE: ")


def test_several_failures_are_reported_at_once() -> None:
    found = problems(
        """\
        custom:
          a: ${self:custom.missing}
          b: ${env:NOT_SET}
          c: ${opt:missing}
          d: ${file(config/missing.yml)}
          e: fine-${self:custom.a}
        """
    )
    assert [(p.location, p.path) for p in found] == [
        (at(2, 6), ("custom", "a")),
        (at(3, 6), ("custom", "b")),
        (at(4, 6), ("custom", "c")),
        (at(5, 6), ("custom", "d")),
    ]


def test_long_chains_of_references_are_a_problem_not_a_crash() -> None:
    lines = [f"  a{i}: ${{self:custom.a{i + 1}}}" for i in range(200)]
    found = problems("custom:\n" + "\n".join(lines) + "\n  a200: end\n")
    assert found and all("wait on one another" in p.message for p in found)


def test_values_placed_into_one_another_without_bound_are_a_problem() -> None:
    nested = "".join(f"\n{'  ' * (level + 1)}k{level}:" for level in range(9))
    lines = [f"x{i}:{nested} ${{self:x{i + 1}}}" for i in range(30)]
    found = problems("\n".join(lines) + "\nx30: end\n")
    assert any("levels deep" in p.message for p in found)


# -- useDotenv -----------------------------------------------------------------------------------


def test_dotenv_files_feed_env_with_existing_variables_winning() -> None:
    service = FIXTURES / "dotenv"
    environ = {"ALREADY_SET": "from-environment"}
    dev = load_service(service, Options(stage="dev"), environ=environ)
    assert dev.data["provider"]["environment"] == {
        "FROM_FILE": "base",
        "ALREADY_SET": "from-environment",
        "ONLY_IN_BASE": "base-only",
    }
    prod = load_service(service, Options(stage="prod"), environ={})
    assert prod.data["provider"]["environment"] == {
        "FROM_FILE": "prod",
        "ALREADY_SET": "from-prod-file",
        "ONLY_IN_BASE": "not-in-this-file",
    }


def test_dotenv_with_an_unresolvable_stage_reports_the_stage(tmp_path: Path) -> None:
    (tmp_path / "serverless.yml").write_text(
        "service: demo\nuseDotenv: true\nprovider:\n  name: aws\n  stage: ${env:NO_STAGE}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_service(tmp_path, Options(), environ={})
    (problem,) = caught.value.problems
    assert problem.path == ("provider", "stage")


def test_an_unreadable_dotenv_file_is_a_located_problem(tmp_path: Path) -> None:
    (tmp_path / "serverless.yml").write_text(
        "service: demo\nuseDotenv: true\nprovider:\n  name: aws\n  runtime: python3.11\n"
    )
    (tmp_path / ".env").write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        load_service(tmp_path, Options(stage="dev"), environ={})
    (problem,) = caught.value.problems
    assert "cannot read environment variables from .env" in problem.message
    assert problem.location is not None and problem.location.file.endswith(".env")
