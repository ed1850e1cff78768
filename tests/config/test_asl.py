"""Tests for basegear.config.asl: one JSON fixture per case, plus property tests.

Each file in tests/fixtures/statemachines holds ``{"definition": ..., "expected": [[path, message],
...]}`` where ``path`` is dotted and relative to the definition; ``valid_*`` files expect nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basegear.config.asl import check_definition
from basegear.errors import ConfigPath, Problem, dotted

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "statemachines"
CASES = {path.stem: json.loads(path.read_text()) for path in sorted(FIXTURES.glob("*.json"))}
VALID = {name: case["definition"] for name, case in CASES.items() if not case["expected"]}
BASE: ConfigPath = ("stepFunctions", "stateMachines", "orders", "definition")


def relative(problem: Problem) -> str:
    assert problem.path[: len(BASE)] == BASE, problem
    return dotted(problem.path[len(BASE) :])


def assert_well_formed(definition: object, problems: list[Problem]) -> None:
    """Each problem is an error with a message, no location, and a path to an existing node."""
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.severity == "error" and problem.location is None
        assert problem.message and problem.message == problem.message.strip()
        node = definition
        for key in problem.path[len(BASE) :]:
            if isinstance(node, dict):
                matches = [k for k in node if k == key or str(k) == key]
                assert matches, (problem, key)
                node = node[matches[0]]
            else:
                assert isinstance(node, list) and isinstance(key, int), (problem, key)
                node = node[key]
        relative(problem)


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixture(name: str) -> None:
    case = CASES[name]
    problems = check_definition(case["definition"], BASE)
    assert_well_formed(case["definition"], problems)
    found = sorted([relative(problem), problem.message] for problem in problems)
    assert found == sorted(case["expected"])


def test_fixture_names_say_whether_they_are_valid() -> None:
    assert {name for name in CASES if name.startswith("valid_")} == set(VALID)
    for required in ("task_wait_choice_loop_with_catch", "parallel", "map_with_item_processor"):
        assert f"valid_{required}" in VALID


def test_every_problem_is_reported_not_just_the_first() -> None:
    definition = {
        "StartAt": "A",
        "States": {
            "A": {"Type": "Task", "Nxt": "B"},
            "B": {"Type": "Wait", "Next": "Nowhere"},
        },
    }
    messages = [problem.message for problem in check_definition(definition, ())]
    assert messages == [
        "unknown field 'Nxt' in a Task state (did you mean 'Next'?)",
        "a Task state needs either Next or End: true",
        "missing required field 'Resource' in a Task state",
        "Next names state 'Nowhere', which does not exist in this scope",
        "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath or TimestampPath",
        "state 'B' is never reached from StartAt 'A'",
        "no state ends the execution: one needs End: true, or Type Succeed or Fail",
    ]


def test_intrinsics_and_placeholders_stand_in_for_strings() -> None:
    for resource in (
        {"Fn::GetAtt": ["Worker", "Arn"]},
        {"Ref": "WorkerArn"},
        {"Fn::Sub": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:w"},
        "arn:aws:lambda:#{AWS::Region}:#{AWS::AccountId}:function:${self:service}-w",
    ):
        task = {"Type": "Task", "Resource": resource, "TimeoutSeconds": "${self:custom.t}"}
        definition = {"StartAt": "T", "States": {"T": {**task, "End": True}}}
        assert check_definition(definition, BASE) == []


def test_intrinsics_stand_in_for_numbers_of_a_state() -> None:
    # serverless-step-functions accepts `Seconds: !Ref WaitSeconds`; the compiler writes the
    # value unquoted so that it stays a number.
    wait = {"Type": "Wait", "Seconds": {"Ref": "WaitSeconds"}, "Next": "T"}
    retry = {"ErrorEquals": ["States.ALL"], "MaxAttempts": {"Fn::ImportValue": "attempts"}}
    task = {"Type": "Task", "Resource": "arn", "TimeoutSeconds": {"Ref": "Limit"}, "End": True}
    definition = {"StartAt": "W", "States": {"W": wait, "T": {**task, "Retry": [retry]}}}
    assert check_definition(definition, BASE) == []
    # A mapping that is no intrinsic function is still no number.
    wait["Seconds"] = {"Ref": "A", "Other": 1}
    (problem,) = check_definition(definition, BASE)
    assert problem.message == "Seconds must be a non-negative integer, not a mapping"


# --- properties -------------------------------------------------------------------------------

WORDS = sorted(
    {
        *("StartAt", "States", "Type", "Next", "End", "Default", "Choices", "Variable"),
        *("Resource", "Seconds", "Branches", "Iterator", "ItemProcessor", "Retry", "Catch"),
        *("ErrorEquals", "And", "Or", "Not", "Condition", "StringEquals", "NumericEquals"),
        *("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"),
        *("States.ALL", "Fn::GetAtt", "Ref", "A", "B", "IntervalSeconds", "BackoffRate"),
        *("InputPath", "ResultPath", "Timestamp", "Comment", "Error", "Cause", "ProcessorConfig"),
    }
)
keys = st.sampled_from(WORDS) | st.text(max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(WORDS)
    | st.text(max_size=10)
)
json_like = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_like)
def test_never_raises_on_arbitrary_data(definition: object) -> None:
    assert_well_formed(definition, check_definition(definition, BASE))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)), st.data())
def test_never_raises_on_mutated_valid_definitions(name: str, data: st.DataObject) -> None:
    definition: Any = json.loads(json.dumps(VALID[name]))  # a private copy
    for _ in range(data.draw(st.integers(1, 3))):
        definition = mutate(definition, data)
    assert_well_formed(definition, check_definition(definition, BASE))


def mutate(root: Any, data: st.DataObject) -> Any:
    """Replace, drop or rename one node somewhere in ``root``."""
    node = root
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        options = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(options))
        if not isinstance(node[key], dict | list) or not node[key]:
            break
        node = node[key]
    if not isinstance(node, dict | list) or not node:
        return data.draw(json_like)
    options = list(node) if isinstance(node, dict) else list(range(len(node)))
    key = data.draw(st.sampled_from(options))
    action = data.draw(st.sampled_from(["replace", "drop", "rename"]))
    if action == "replace":
        node[key] = data.draw(json_like)
    elif action == "drop":
        del node[key]
    elif isinstance(node, dict):
        node[data.draw(keys)] = node.pop(key)
    return root


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_definitions_stay_valid_at_any_base_path(name: str) -> None:
    assert check_definition(VALID[name], ()) == []
    assert check_definition(VALID[name], ("x", 0)) == []
