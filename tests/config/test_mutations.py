"""The whole loading path on broken copies of the example: examples/algorithms/serverless.yml,
mutated at random and loaded for stage dev, must load or fail with a ConfigError or GearError
whose every problem says where it is — never with any other exception."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basegear.config.service import load_service
from basegear.config.variables import Options
from basegear.errors import ConfigError, GearError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "algorithms"
ORIGINAL = (EXAMPLE / "serverless.yml").read_text(encoding="utf-8")
LINES = ORIGINAL.splitlines()
SCALAR_LINE = re.compile(r"^(\s*(?:- )?[^\s:#][^:#]*:\s+)(\S.*)$")
SCALAR_LINES = [index for index, line in enumerate(LINES) if SCALAR_LINE.match(line)]

REPLACEMENTS = [
    "0",
    "-1",
    "3.5",
    "1e400",
    "true",
    "no",
    "~",
    "''",
    "[]",
    "{}",
    "[1, [2, {a: b}]]",
    "{Ref: X}",
    "!Ref Nothing",
    "!GetAtt A.B.C",
    "!Sub '${AWS::Region}'",
    "!Unknown x",
    "&anchor value",
    "*anchor",
    "|\n  text",
    "'unclosed",
    "${self:provider}",
    "${self:functions}",
    "x-${self:custom}",
    "${file(resources/queues.yml)}",
    "${file(statemachines/package-delete.yml):StartAt}",
]
GARBAGE = [
    "${",
    "}",
    "${self:",
    "${self:custom.${opt:stage}",
    "${opt:stage, }",
    "${opt:nope, ${env:X}}",
    "${opt:nope, dev}",
    "${env:}",
    "${sls:}",
    "${aws:accountId}",
    "${ssm:/a/b}",
    "${file()}",
    "${file(nope.yml)}",
    "${file(resources)}",
    "${file(package.json):name}",
    "${strToBool(perhaps)}",
    "${param:nothing}",
    "${self:}",
    "${self:params.default}",
    "${self:provider.stage}",
    "${foo:bar}",
    "\\${opt:stage}",
    "#{AWS::AccountId}",
    "${AWS::Region}",
    "'",
    '"',
    ": ",
    "- ",
    "\t",
    "&a ",
    "*a",
    "<<: ",
]


@pytest.fixture(scope="session")
def service_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example folder with its resources, state machines and layers, copied once."""
    folder = tmp_path_factory.mktemp("mutations") / "algorithms"
    shutil.copytree(
        EXAMPLE, folder, ignore=shutil.ignore_patterns("node_modules", ".serverless", "__pycache__")
    )
    return folder


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The example's text after one to three random edits."""
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["delete", "duplicate", "indent", "scalar", "key", "truncate", "garbage"]
            )
        )
        index = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            lines = [""]
        if kind == "delete":
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, lines[index])
        elif kind == "indent":
            shift = draw(st.integers(-4, 4))
            line = lines[index]
            lines[index] = " " * shift + line if shift > 0 else line[min(-shift, len(line)) :]
        elif kind == "scalar":
            index = draw(st.sampled_from(SCALAR_LINES)) if index >= len(lines) else index
            match = SCALAR_LINE.match(lines[index]) or SCALAR_LINE.match(LINES[SCALAR_LINES[0]])
            assert match is not None
            replacement = draw(st.sampled_from(REPLACEMENTS) | st.text(max_size=12))
            lines[index] = match.group(1) + replacement
        elif kind == "key":
            indent = re.match(r"\s*", lines[index])
            name = draw(st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,8}", fullmatch=True))
            entry = draw(st.sampled_from(REPLACEMENTS))
            lines.insert(index, f"{indent.group(0) if indent else ''}{name}: {entry}")
        elif kind == "truncate":
            text = "\n".join(lines)
            cut = draw(st.integers(0, len(text)))
            lines = text[:cut].split("\n")
        else:
            line = lines[index]
            at = draw(st.integers(0, len(line)))
            lines[index] = line[:at] + draw(st.sampled_from(GARBAGE)) + line[at:]
    return "\n".join(lines) + "\n"


def test_the_example_loads_unmutated(service_copy: Path) -> None:
    (service_copy / "serverless.yml").write_text(ORIGINAL, encoding="utf-8")
    loaded = load_service(service_copy, Options(stage="dev"), environ={})
    assert loaded.data["provider"]["stage"] == "dev"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=mutated(), options=st.sampled_from([Options(stage="dev"), Options()]))
def test_mutated_example_fails_only_with_located_config_errors(
    service_copy: Path, text: str, options: Options
) -> None:
    # Stage dev: given as --stage, or left to the file's own default (dev).
    (service_copy / "serverless.yml").write_text(text, encoding="utf-8")
    try:
        load_service(service_copy, options, environ={})
    except ConfigError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.location is not None or problem.path, problem
            assert problem.message.strip()
    except GearError as exc:
        assert exc.message.strip()
