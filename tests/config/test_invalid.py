"""Every validation rule, one serverless.yml per case, each problem checked to the character.

Each ``tests/fixtures/invalid/<case>.yml`` starts with comment lines. Those of the form

    # error: 12:11: functions.a.events[0].stream.batchWindw: unknown key 'batchWindw' (…)
    # warning: 8:5: plugins[1]: plugin 'serverless-offline' is not built into BaseGear: …

are the exact ``str(problem)`` of every problem the case must produce, file name left out when
the problem is in the case file itself (a problem in an included file names that file, relative
to the fixtures folder). A case that must load without any problem says ``# loads cleanly``.
The test fails on a missing problem, an unexpected one, or a wrong line, column, path or message.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from basegear.config.service import LoadedService, load_service
from basegear.config.variables import Options
from basegear.errors import ConfigError, Problem
from basegear.model.events import StreamEvent

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "invalid"
CASES = sorted(path.stem for path in FIXTURES.glob("*.yml"))
EXPECTATION = re.compile(r"# (error|warning): (.+)")
CLEAN = "# loads cleanly"


def expectations(case: str) -> tuple[list[str], list[str], bool]:
    """The expected errors and warnings (as ``str(problem)``), and whether ``# loads cleanly``."""
    errors: list[str] = []
    warnings: list[str] = []
    clean = False
    for line in (FIXTURES / f"{case}.yml").read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        clean = clean or line.strip() == CLEAN
        match = EXPECTATION.fullmatch(line)
        if match:
            text = match.group(2)
            # "12:7: …" is in the case file itself; "folder/file.yml:4:3: …" names its file.
            text = f"{case}.yml:{text}" if text[0].isdigit() else text
            (errors if match.group(1) == "error" else warnings).append(text)
    return errors, warnings, clean


def load(case: str) -> LoadedService:
    return load_service(Path(f"{case}.yml"), Options(), environ={})


def outcome(case: str) -> tuple[LoadedService | None, list[Problem]]:
    try:
        loaded = load(case)
    except ConfigError as exc:
        return None, list(exc.problems)
    return loaded, list(loaded.warnings)


@pytest.fixture(autouse=True)
def _in_fixtures(monkeypatch: pytest.MonkeyPatch) -> None:
    """File names in messages are relative to the working folder: make them short and stable."""
    monkeypatch.chdir(FIXTURES)


@pytest.mark.parametrize("case", CASES)
def test_case(case: str) -> None:
    errors, warnings, clean = expectations(case)
    assert errors or warnings or clean, f"{case}.yml states no expectation"
    assert not (clean and (errors or warnings)), f"{case}.yml cannot both load cleanly and fail"
    loaded, problems = outcome(case)
    found = {
        severity: sorted(str(problem) for problem in problems if problem.severity == severity)
        for severity in ("error", "warning")
    }
    assert found == {"error": sorted(errors), "warning": sorted(warnings)}
    # A case with errors must refuse to load; one with only warnings must load.
    assert (loaded is None) == bool(errors)
    assert all(problem.location is not None for problem in problems)


def test_the_cases_cover_every_rule_of_the_brief() -> None:
    required = {
        "stream_batch_window_typo",
        "function_reserved_concurrency_typo",
        "state_machine_http_privat",
        "state_machine_alarm_metric_typo",
        "stream_starting_position_typo",
        "stream_batch_size_wrong_type",
        "stream_batch_size_range",
        "stream_batch_window_range",
        "stream_retry_attempts_range",
        "stream_record_age_range",
        "stream_parallelization_factor_range",
        "memory_size_range",
        "timeout_range",
        "ranges_at_boundaries",
        "function_six_layers",
        "environment_over_4kb",
        "dead_letter_sqs_ranges",
        "sqs_batch_size_without_window",
        "alerts_unknown_alarm",
        "alerts_definition_without_metric",
        "state_machine_bad_definition",
        "plugin_unknown",
        "validation_mode_warn",
        "validation_mode_off",
        "function_without_handler",
        "event_unknown_type",
        "top_level_unknown_key",
        "resource_bad_type",
        "resource_unknown_attribute",
        "duplicate_keys",
        "function_name_bad_characters",
        "yaml_malformed",
        "file_missing",
        "self_unresolvable",
        "variable_cycle",
        "two_streams_same_table",
    }
    assert required <= set(CASES), sorted(required - set(CASES))


def test_the_cases_cover_every_fix_of_the_second_brief() -> None:
    required = {
        "file_include_cycle",
        "file_include_cycle_indirect",
        "file_include_cycle_address",
        "empty_file",
        "file_missing_nested",
        "self_unresolvable",
        "validation_mode_warn_rounds",
        "all_at_once",
        "function_without_handler",
        "stage_and_region",
        "stage_not_text",
        "schedule_expression",
        "destination_type",
        "s3_rules",
        "alarm_statistic",
        "state_machine_alarm_settings",
    }
    assert required <= set(CASES), sorted(required - set(CASES))


def test_warn_mode_keeps_the_valid_items_of_a_list() -> None:
    model = load("validation_mode_warn_rounds").model
    first = model.functions["a"]
    assert first.timeout is None
    assert [event.sqs.arn for event in first.events if event.sqs] == [
        "arn:aws:sqs:eu-west-1:123456789012:keep"
    ]
    assert len(first.events) == 1
    assert "b" not in model.functions  # no handler: dropped, as a warning said
    (batched,) = model.functions["c"].events
    assert batched.sqs is not None
    assert (batched.sqs.enabled, batched.sqs.batch_size) == (True, 10)
    assert model.functions["d"].dead_letter is None


def test_a_file_include_cycle_is_reported_once_and_briefly() -> None:
    _, problems = outcome("file_include_cycle")
    (problem,) = problems
    assert len(str(problem)) < 200


def test_warn_mode_drops_what_is_wrong_and_keeps_the_rest() -> None:
    function = load("validation_mode_warn").model.functions["process"]
    assert function.reserved_concurrency is None
    (event,) = function.events
    assert event.stream is not None
    assert event.stream.batch_window is None
    assert event.stream.batch_size == 10  # the invalid 10001 gave way to the default


def test_off_mode_loads_the_same_model_as_warn_mode() -> None:
    off, warn = load("validation_mode_off").model, load("validation_mode_warn").model
    assert (off.config_validation_mode, warn.config_validation_mode) == ("off", "warn")
    assert off.functions == warn.functions


def test_boundary_values_are_kept_as_written() -> None:
    model = load("ranges_at_boundaries").model
    smallest, largest = model.functions["smallest"], model.functions["largest"]
    assert (smallest.memory_size, smallest.timeout) == (128, 1)
    assert (model.provider.memory_size, model.provider.timeout) == (10240, 900)
    first = smallest.events[0].stream
    last = largest.events[0].stream
    assert first is not None and last is not None
    assert (first.batch_size, first.batch_window, first.parallelization_factor) == (1, 0, 1)
    assert (first.maximum_retry_attempts, first.maximum_record_age_in_seconds) == (-1, -1)
    assert (last.batch_size, last.batch_window, last.parallelization_factor) == (10000, 300, 10)


def test_two_stream_events_on_one_table_stay_distinct() -> None:
    events = load("two_streams_same_table").model.functions["process"].events
    streams = [event.stream for event in events]
    assert all(isinstance(stream, StreamEvent) for stream in streams)
    first, second = (stream for stream in streams if stream is not None)
    assert first.arn == second.arn
    assert first.type == second.type == "dynamodb"
    assert (first.batch_size, first.batch_window, first.starting_position) == (100, 3, "LATEST")
    assert first.maximum_retry_attempts == 10
    assert first.destinations is not None
    assert first.destinations.on_failure.arn.endswith(":process-failures")
    assert first.filter_patterns is None
    assert (second.batch_size, second.batch_window, second.starting_position) == (
        1,
        None,
        "TRIM_HORIZON",
    )
    assert second.maximum_retry_attempts is None and second.destinations is None
    assert second.filter_patterns == [{"eventName": ["REMOVE"]}]


def test_environment_numbers_and_booleans_become_text() -> None:
    model = load("environment_values_as_text").model
    assert model.provider.environment == {"DEBUG": "true", "RETRIES": "3"}
    assert model.functions["process"].environment == {"RATIO": "0.5", "VERBOSE": "false"}
