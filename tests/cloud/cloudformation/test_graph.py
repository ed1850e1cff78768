"""Dependency order and cycles ("DependsOn attribute", CloudFormation User Guide)."""

from __future__ import annotations

import pytest

from basegear.cloud.cloudformation.errors import ValidationError
from basegear.cloud.cloudformation.graph import creation_order, deletion_order, dependencies
from basegear.cloud.cloudformation.query import parse_params


def test_references_and_depends_on_order_creation() -> None:
    resources = {
        "Alarm": {"Type": "T", "Properties": {"Actions": [{"Ref": "Topic"}]}},
        "Topic": {"Type": "T", "DependsOn": "Role"},
        "Role": {"Type": "T"},
        "Fn": {"Type": "T", "Properties": {"Role": {"Fn::Sub": "${Role.Arn}/${Stage}"}}},
    }

    graph = dependencies(resources, frozenset({"Stage"}))

    assert graph == {"Alarm": {"Topic"}, "Topic": {"Role"}, "Role": set(), "Fn": {"Role"}}
    assert creation_order(graph) == ["Role", "Topic", "Fn", "Alarm"]
    assert deletion_order(graph, {"Role", "Topic", "Alarm"}) == ["Alarm", "Topic", "Role"]


def test_a_cycle_is_refused_naming_its_resources() -> None:
    graph = {"A": {"B"}, "B": {"C"}, "C": {"A"}, "D": set()}

    with pytest.raises(
        ValidationError, match=r"Circular dependency between resources: \[A, B, C\]"
    ):
        creation_order(graph)


def test_an_unknown_reference_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"Unresolved resource dependencies \[Ghost\]"):
        dependencies(
            {"A": {"Type": "T", "Properties": {"X": {"Fn::GetAtt": "Ghost.Arn"}}}}, frozenset()
        )


def test_query_parameters_nest_as_botocore_flattens_them() -> None:
    body = (
        b"Action=CreateStack&StackName=s&Capabilities.member.1=CAPABILITY_IAM"
        b"&Parameters.member.2.ParameterKey=B&Parameters.member.2.ParameterValue=2"
        b"&Parameters.member.1.ParameterKey=A&Parameters.member.1.UsePreviousValue=true"
        b"&Tags="
    )

    assert parse_params({}, body) == {
        "Action": "CreateStack",
        "StackName": "s",
        "Capabilities": ["CAPABILITY_IAM"],
        "Parameters": [
            {"ParameterKey": "A", "UsePreviousValue": "true"},
            {"ParameterKey": "B", "ParameterValue": "2"},
        ],
        "Tags": "",
    }
