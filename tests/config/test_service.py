"""Tests for basegear.config.service and what it leans on: finding the service file, the
``--stage`` and ``--region`` options, where a problem about a whole mapping is placed, and how
long a setting's path may be in a message."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from basegear.config.loader import load_text
from basegear.config.service import find_service_file, load_service
from basegear.config.variables import Options
from basegear.errors import ConfigError, GearError, Location, Problem, dotted
from basegear.model.provider import CHINA_REGIONS, GOVCLOUD_REGIONS, REGIONS

SERVICE = """\
service: orders
provider:
  name: aws
functions:
  process:
    handler: handler.process
"""


def write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "serverless.yml").write_text(textwrap.dedent(text))
    return folder


def test_a_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(GearError) as caught:
        find_service_file(tmp_path / "no" / "such" / "dir")
    assert caught.value.message == f"{tmp_path / 'no' / 'such' / 'dir'} does not exist"
    assert not isinstance(caught.value, ConfigError)


def test_a_folder_without_a_service_file(tmp_path: Path) -> None:
    with pytest.raises(GearError) as caught:
        find_service_file(tmp_path)
    assert caught.value.message == f"no serverless.yml in {tmp_path}"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            Options(stage="dev_1"),
            ["--stage: a stage may contain only letters, digits and '-', got 'dev_1'"],
        ),
        (
            Options(stage="prod eu", region="eu-westt-1"),
            [
                "--stage: a stage may contain only letters, digits and '-', got 'prod eu'",
                "--region: unknown AWS region 'eu-westt-1' (did you mean 'eu-west-1'?)",
            ],
        ),
        (
            Options(region="mars-1"),
            ["--region: unknown AWS region 'mars-1' (e.g. us-east-1 or eu-west-1)"],
        ),
    ],
)
def test_stage_and_region_options_follow_the_schema(
    tmp_path: Path, options: Options, expected: list[str]
) -> None:
    write(tmp_path, SERVICE)
    with pytest.raises(ConfigError) as caught:
        load_service(tmp_path, options, environ={})
    assert [str(problem) for problem in caught.value.problems] == expected


@pytest.mark.parametrize(
    "region", ["us-gov-west-1", "cn-northwest-1", "ap-southeast-7", "mx-central-1"]
)
def test_current_regions_are_accepted(tmp_path: Path, region: str) -> None:
    write(tmp_path, SERVICE)
    loaded = load_service(tmp_path, Options(stage="prod-2", region=region), environ={})
    assert (loaded.model.provider.stage, loaded.model.provider.region) == ("prod-2", region)


def test_the_region_list_has_every_partition() -> None:
    assert set(GOVCLOUD_REGIONS) == {"us-gov-east-1", "us-gov-west-1"}
    assert set(CHINA_REGIONS) == {"cn-north-1", "cn-northwest-1"}
    assert len(REGIONS) == len(set(REGIONS))


def test_a_stage_from_a_variable_is_checked_where_it_is_written(tmp_path: Path) -> None:
    write(
        tmp_path,
        """\
        service: orders
        provider:
          name: aws
          stage: ${env:STAGE}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_service(tmp_path / "serverless.yml", Options(), environ={"STAGE": "feature/x"})
    (problem,) = caught.value.problems
    assert problem.path == ("provider", "stage")
    assert problem.location is not None and (problem.location.line, problem.location.column) == (
        4,
        10,
    )
    assert problem.message == "a stage may contain only letters, digits and '-', got 'feature/x'"


# --- where problems are placed ----------------------------------------------------------------

PLACED = """\
functions:
  process:
    handler: handler.process
    events:
      - sqs: arn
    layers: [a, b]
"""


@pytest.mark.parametrize(
    ("path", "where"),
    [
        (("functions", "process"), (2, 3)),  # a mapping: at its key
        (("functions", "process", "layers"), (6, 5)),  # a list: at its key
        (("functions", "process", "handler"), (3, 14)),  # a single value: at the value
        (("functions", "process", "events", 0), (5, 9)),  # a list item has no key
        (("functions", "process", "timeout"), (2, 3)),  # missing: at the mapping that lacks it
        (("functions", "render", "handler"), (1, 1)),
    ],
)
def test_problem_location(path: tuple[str | int, ...], where: tuple[int, int]) -> None:
    document = load_text(PLACED, "serverless.yml")
    assert document.problem_location(path) == Location("serverless.yml", *where)


def test_an_empty_document_places_problems_at_its_start() -> None:
    document = load_text("# nothing here\n", "serverless.yml")
    assert document.problem_location(("service",)) == Location("serverless.yml", 1, 1)


# --- messages ---------------------------------------------------------------------------------


def test_a_long_path_is_shortened_in_the_middle() -> None:
    path = ("provider", "environment", "A") * 60
    text = dotted(path)
    assert len(text) <= 121
    assert text.startswith("provider.environment.A.provider")
    assert text.endswith("environment.A")
    assert "…" in text
    assert len(str(Problem("variable cycle", None, path))) < 160


def test_a_short_path_is_kept_whole() -> None:
    assert dotted(("functions", "a", "events", 0, "sqs")) == "functions.a.events[0].sqs"
    assert dotted((0, "x")) == "[0].x"
