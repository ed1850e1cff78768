"""The ``gear`` command as a user runs it: a real process, real files, real exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# ``python -m basegear`` is the same entry point as the installed ``gear`` script
# (test_installed_script runs that one).
GEAR = (sys.executable, "-m", "basegear")

# One diagnostic: ``error serverless.yml:12:7: functions.a.timeout: expected …``. The setting's
# path has no spaces; a problem that belongs to no setting (malformed YAML) has none.
PROBLEM = re.compile(
    r"^(?P<severity>error|warning) (?P<file>[^\s:]+):(?P<line>\d+):(?P<column>\d+): "
    r"(?:(?P<path>[^\s:]+): )?(?P<message>.+)$"
)
SUMMARY = re.compile(r"^(\d+ errors?)?( and )?(\d+ warnings?)? found$")

VALID = """\
service: demo
frameworkVersion: '3'
params:
  default:
    tableName: demo-${sls:stage}-items
    batchSize: 10
  prod:
    batchSize: 50
provider:
  name: aws
  runtime: python3.11
  stage: ${opt:stage, 'dev'}
  region: ${opt:region, 'eu-west-1'}
  environment:
    TABLE: ${param:tableName}
    GREETING: ${opt:greeting, 'hello'}
functions:
  worker:
    handler: handler.main
    memorySize: 256
    events:
      - sqs:
          arn: arn:aws:sqs:eu-west-1:123456789012:jobs
          batchSize: ${param:batchSize}
          maximumBatchingWindow: 1
custom:
  foo: ${opt:foo, 'none'}
  verbose: ${opt:verbose, false}
"""

# Three mistakes the Serverless Framework would let through or report one at a time.
ERRORS = """\
service: demo
provider:
  name: aws
  runtime: python3.11
  memorySize: 64
functions:
  hello:
    handler: handler.main
    events:
      - stream:
          arn: arn:aws:dynamodb:eu-west-1:123456789012:table/uploads/stream/2024-01-01T00:00:00.000
          batchWindw: 3
      - http:
          path: items
          method: get
          privat: true
"""
ERRORS_FOUND = [
    ("error", "serverless.yml", 5, 15, "provider.memorySize"),
    ("error", "serverless.yml", 12, 11, "functions.hello.events[0].stream.batchWindw"),
    ("error", "serverless.yml", 16, 11, "functions.hello.events[1].http.privat"),
]

UNKNOWN_PLUGIN = """\
service: demo
plugins:
  - serverless-offline
provider:
  name: aws
functions:
  hello:
    handler: handler.main
"""


def _environment(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
    }
    # A narrow "terminal" everywhere: no diagnostic may be wrapped onto a second line.
    env["COLUMNS"] = "40"
    env.update(extra)
    return env


def gear(
    *args: str, cwd: Path, command: tuple[str, ...] = GEAR, **env: str
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--debug" not in args:
        assert "Traceback" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr, "colour codes in piped output"
    return result


def service(folder: Path, text: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serverless.yml").write_text(text)
    for name, content in files.items():
        (folder / name).write_text(content)
    return folder


def problems(stderr: str) -> list[tuple[str, str, int, int, str | None]]:
    """Every diagnostic line, parsed; the last line must be the count."""
    lines = stderr.splitlines()
    assert lines, "no diagnostics"
    assert SUMMARY.match(lines[-1]), f"no count at the end: {lines[-1]!r}"
    found = []
    for line in lines[:-1]:
        match = PROBLEM.match(line)
        assert match, f"not a file:line:column diagnostic: {line!r}"
        found.append(
            (
                match["severity"],
                match["file"],
                int(match["line"]),
                int(match["column"]),
                match["path"],
            )
        )
    return found


# --- commands that succeed --------------------------------------------------------------------


def test_help_lists_the_commands(tmp_path: Path) -> None:
    for flag in ("--help", "-h"):
        result = gear(flag, cwd=tmp_path)
        assert result.returncode == 0
        assert "Usage: gear" in result.stdout
        assert "validate" in result.stdout
        assert "print" in result.stdout
    result = gear("print", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("--stage", "--region", "--param", "--format"):
        assert option in result.stdout


def test_version(tmp_path: Path) -> None:
    result = gear("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert re.fullmatch(r"gear, version \d+\.\d+\.\d+\S*\n", result.stdout)


def test_bare_gear_shows_usage(tmp_path: Path) -> None:
    result = gear(cwd=tmp_path)
    assert "Usage: gear" in result.stdout + result.stderr


def test_installed_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "gear"
    assert script.is_file(), "pip install -e . creates the gear script next to python"
    folder = service(tmp_path / "svc", VALID)
    result = gear("validate", cwd=folder, command=(str(script),))
    assert result.returncode == 0
    assert result.stdout.startswith("valid serverless.yml")


def test_validate_in_the_service_folder(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", VALID)
    result = gear("validate", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "valid serverless.yml (stage dev, region eu-west-1): "
        "1 function, 0 state machines, 0 resources\n"
    )
    assert result.stderr == ""


def test_folder_or_file_argument(tmp_path: Path) -> None:
    service(tmp_path / "svc", VALID)
    by_folder = gear("validate", "svc", cwd=tmp_path)
    assert by_folder.returncode == 0, by_folder.stderr
    assert by_folder.stdout.startswith("valid svc/serverless.yml (stage dev, region eu-west-1)")
    by_file = gear("validate", "svc/serverless.yml", "--stage", "prod", cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr
    assert by_file.stdout.startswith("valid svc/serverless.yml (stage prod, region eu-west-1)")
    printed = gear("print", "svc", "--format", "json", "-s", "prod", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["provider"]["environment"]["TABLE"] == "demo-prod-items"


def test_stage_and_region(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", VALID)
    for args in (
        ("--stage", "prod", "--region", "us-east-2"),
        ("-s", "prod", "-r", "us-east-2"),
        ("--stage=prod", "--region=us-east-2"),
    ):
        result = gear("print", "--format", "json", *args, cwd=folder)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["provider"]["stage"] == "prod"
        assert data["provider"]["region"] == "us-east-2"
        # params.prod wins over params.default; ${sls:stage} inside a param follows --stage.
        assert data["functions"]["worker"]["events"][0]["sqs"]["batchSize"] == 50
        assert data["provider"]["environment"]["TABLE"] == "demo-prod-items"


def test_print_json_defaults(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", VALID)
    result = gear("print", "--format", "json", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["service"] == "demo"
    assert data["provider"]["stage"] == "dev"
    assert data["provider"]["region"] == "eu-west-1"
    assert data["provider"]["environment"] == {"TABLE": "demo-dev-items", "GREETING": "hello"}
    assert data["functions"]["worker"]["events"][0]["sqs"]["batchSize"] == 10
    assert data["custom"] == {"foo": "none", "verbose": False}


def test_print_yaml_is_the_same_data_as_json(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", VALID)
    as_yaml = gear("print", "-s", "prod", cwd=folder)
    as_yaml_explicit = gear("print", "-s", "prod", "--format", "yaml", cwd=folder)
    as_json = gear("print", "-s", "prod", "--format", "json", cwd=folder)
    assert as_yaml.returncode == as_json.returncode == 0
    assert as_yaml.stdout == as_yaml_explicit.stdout
    assert as_yaml.stdout.startswith("service: demo\n")
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)


def test_param_option(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", VALID)
    result = gear(
        "print",
        "--format",
        "json",
        "--stage",
        "prod",
        "--param",
        "tableName=custom=table",
        "--param",
        "batchSize=7",
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    # Command-line params win over params.<stage> and params.default; the value keeps its "=".
    assert data["provider"]["environment"]["TABLE"] == "custom=table"
    # A command-line value is text; the schema reads "7" as the integer batch size.
    assert str(data["functions"]["worker"]["events"][0]["sqs"]["batchSize"]) == "7"


def test_other_options_reach_opt(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", VALID)
    for args in (("--foo", "bar"), ("--foo=bar",)):
        result = gear("print", "--format", "json", *args, "--greeting", "hi", cwd=folder)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["custom"]["foo"] == "bar"
        assert data["provider"]["environment"]["GREETING"] == "hi"
    # A flag without a value is true, as the Serverless Framework reads it.
    flag = gear("print", "--format", "json", "--verbose", cwd=folder)
    assert json.loads(flag.stdout)["custom"]["verbose"] is True
    # An extra option before the path argument still leaves the path alone.
    from_parent = gear("validate", "--foo=bar", "svc", cwd=tmp_path)
    assert from_parent.returncode == 0, from_parent.stderr


# --- configuration problems -------------------------------------------------------------------


def test_every_problem_on_its_own_line(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", ERRORS)
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert result.stdout == ""
    assert problems(result.stderr) == ERRORS_FOUND
    lines = result.stderr.splitlines()
    assert "unknown key 'batchWindw'" in lines[1]
    assert "did you mean 'batchWindow'?" in lines[1]
    assert "did you mean 'private'?" in lines[2]
    assert lines[-1] == "3 errors found"


def test_print_writes_nothing_to_stdout_on_errors(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", ERRORS)
    for output_format in ("yaml", "json"):
        result = gear("print", "--format", output_format, cwd=folder)
        assert result.returncode == 2
        assert result.stdout == ""
        assert problems(result.stderr) == ERRORS_FOUND


def test_locations_are_relative_to_the_working_folder(tmp_path: Path) -> None:
    service(tmp_path / "svc", ERRORS)
    result = gear("validate", "svc", cwd=tmp_path)
    assert result.returncode == 2
    assert [found[1] for found in problems(result.stderr)] == ["svc/serverless.yml"] * 3


def test_problems_in_included_files_point_at_those_files(tmp_path: Path) -> None:
    folder = service(
        tmp_path / "svc",
        "service: demo\n"
        "provider:\n"
        "  name: aws\n"
        "functions: ${file(functions.yml)}\n"
        "resources:\n"
        "  - ${file(queue.yml)}\n",
        **{
            "functions.yml": "hello:\n  handler: handler.main\n  timeout: 0\n",
            "queue.yml": "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n    Propertiez: {}\n",
        },
    )
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert problems(result.stderr) == [
        ("error", "functions.yml", 3, 12, "functions.hello.timeout"),
        ("error", "queue.yml", 4, 5, "resources.Resources.Queue.Propertiez"),
    ]


def test_malformed_yaml(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", "service: demo\nprovider:\n  name: aws\n  x: [1, 2\n")
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    [(severity, file, line, _column, _path)] = problems(result.stderr)
    assert (severity, file) == ("error", "serverless.yml")
    assert line >= 4
    assert result.stderr.splitlines()[-1] == "1 error found"


def test_unresolved_variables(tmp_path: Path) -> None:
    folder = service(
        tmp_path / "svc",
        "service: demo\n"
        "provider:\n"
        "  name: aws\n"
        "custom:\n"
        "  a: ${self:custom.missing}\n"
        "  b: ${env:BASEGEAR_TEST_NOT_SET}\n"
        "  c: ${opt:missing}\n",
    )
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert problems(result.stderr) == [
        ("error", "serverless.yml", 5, 6, "custom.a"),
        ("error", "serverless.yml", 6, 6, "custom.b"),
        ("error", "serverless.yml", 7, 6, "custom.c"),
    ]
    assert "BASEGEAR_TEST_NOT_SET" in result.stderr
    # The same variable resolves once the option is given.
    given = gear("validate", "--missing", "x", cwd=folder, BASEGEAR_TEST_NOT_SET="1")
    assert problems(given.stderr) == [("error", "serverless.yml", 5, 6, "custom.a")]


def test_markup_in_messages_is_printed_as_written(tmp_path: Path) -> None:
    folder = service(
        tmp_path / "svc", "service: demo\nprovider:\n  name: aws\n  '[bold]stage': dev\n"
    )
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert "unknown key '[bold]stage'" in result.stderr
    assert problems(result.stderr) == [("error", "serverless.yml", 4, 3, "provider.[bold]stage")]


def test_a_multi_line_value_stays_on_one_line(tmp_path: Path) -> None:
    folder = service(
        tmp_path / "svc",
        "service: demo\n"
        "provider:\n"
        "  name: aws\n"
        "functions:\n"
        "  hello:\n"
        "    handler: handler.main\n"
        "    events:\n"
        "      - schedule: |\n"
        "          rate(1 minute\n"
        "          every day\n",
    )
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert problems(result.stderr) == [
        ("error", "serverless.yml", 8, 19, "functions.hello.events[0].schedule")
    ]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", ERRORS)
    result = gear("validate", "--debug", cwd=folder)
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "ConfigError" in result.stderr
    # The problems still follow, one a line, with the same exit code.
    assert result.stderr.splitlines()[-1] == "3 errors found"
    for _severity, file, line, column, path in ERRORS_FOUND:
        assert f"error {file}:{line}:{column}: {path}: " in result.stderr


def test_long_lines_are_not_wrapped(tmp_path: Path) -> None:
    # A deep folder makes every location long; a 20-column terminal must not split it.
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "service"
    service(deep, ERRORS)
    relative = deep.relative_to(tmp_path) / "serverless.yml"
    result = gear("validate", str(deep.relative_to(tmp_path)), cwd=tmp_path, COLUMNS="20")
    assert result.returncode == 2
    found = problems(result.stderr)
    assert [entry[1] for entry in found] == [str(relative)] * 3
    assert all(len(line) > 20 for line in result.stderr.splitlines()[:-1])


# --- warnings ---------------------------------------------------------------------------------


def test_warnings_are_shown_and_exit_zero(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", UNKNOWN_PLUGIN)
    result = gear("validate", cwd=folder)
    assert result.returncode == 0
    assert problems(result.stderr) == [("warning", "serverless.yml", 3, 5, "plugins[0]")]
    assert "serverless-offline" in result.stderr
    assert result.stderr.splitlines()[-1] == "1 warning found"
    assert result.stdout.startswith("valid serverless.yml")


def test_print_keeps_warnings_off_stdout(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", UNKNOWN_PLUGIN)
    for output_format, parse in (("yaml", yaml.safe_load), ("json", json.loads)):
        result = gear("print", "--format", output_format, cwd=folder)
        assert result.returncode == 0
        assert parse(result.stdout)["plugins"] == ["serverless-offline"]
        assert problems(result.stderr) == [("warning", "serverless.yml", 3, 5, "plugins[0]")]


def test_errors_and_warnings_are_counted_apart(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", UNKNOWN_PLUGIN + "    alarms:\n      - functionErrrors\n")
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert problems(result.stderr) == [
        ("warning", "serverless.yml", 3, 5, "plugins[0]"),
        ("error", "serverless.yml", 10, 9, "functions.hello.alarms[0]"),
    ]
    assert "did you mean 'functionErrors'?" in result.stderr
    assert result.stderr.splitlines()[-1] == "1 error and 1 warning found"


def test_warn_mode_turns_errors_into_warnings(tmp_path: Path) -> None:
    folder = service(
        tmp_path / "svc",
        ERRORS.replace("service: demo\n", "service: demo\nconfigValidationMode: warn\n"),
    )
    result = gear("validate", cwd=folder)
    assert result.returncode == 0
    assert problems(result.stderr) == [
        ("warning", file, line + 1, column, path) for _, file, line, column, path in ERRORS_FOUND
    ]
    assert result.stderr.splitlines()[-1] == "3 warnings found"


# --- command-line mistakes --------------------------------------------------------------------


def test_missing_service_folder(tmp_path: Path) -> None:
    result = gear("validate", "no-such-service", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    first, *rest = result.stderr.splitlines()
    assert first == "error no-such-service does not exist"
    assert rest and rest[0].startswith("hint: ")
    absolute = gear("validate", "/no/such/dir", cwd=tmp_path)
    assert absolute.stderr.splitlines()[0] == "error /no/such/dir does not exist"


def test_a_bad_stage_or_region_option(tmp_path: Path) -> None:
    service(tmp_path / "svc", VALID)
    result = gear("validate", "svc", "--stage", "dev_1", "--region", "eu-wset-1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error --stage: a stage may contain only letters, digits and '-', got 'dev_1'",
        "error --region: unknown AWS region 'eu-wset-1' (did you mean 'eu-west-1'?)",
        "2 errors found",
    ]


def test_an_empty_service_file(tmp_path: Path) -> None:
    folder = service(tmp_path / "svc", "# nothing yet\n")
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error serverless.yml:1:1: the file is empty: a service needs at least 'service' and "
        "'provider' (name: aws)",
        "1 error found",
    ]


def test_a_file_that_includes_itself_is_one_short_line(tmp_path: Path) -> None:
    folder = service(
        tmp_path / "svc",
        "service: demo\nprovider:\n  name: aws\n  environment:\n    A: ${file(serverless.yml)}\n",
    )
    result = gear("validate", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error serverless.yml:5:8: provider.environment.A: file-include cycle: serverless.yml → "
        "serverless.yml",
        "1 error found",
    ]


def test_folder_without_a_service_file(tmp_path: Path) -> None:
    result = gear("print", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "no serverless.yml" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("print", "--format", "xml"), "Invalid value for '--format'"),
        (("validate", "--param", "tableName"), "expected key=value, got 'tableName'"),
        (("validate", "--param", "=value"), "expected key=value"),
        (("validate", "--stage"), "'--stage' requires an argument"),
        (("validate", "--format", "json"), "No such option '--format'"),
        (("validate", "svc", "other"), "unexpected extra argument"),
        (("deploy-everything",), "No such command 'deploy-everything'"),
    ],
)
def test_command_line_mistakes(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    service(tmp_path / "svc", VALID)
    result = gear(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert expected in result.stderr
