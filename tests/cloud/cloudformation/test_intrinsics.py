"""Intrinsic functions and conditions, as the CloudFormation User Guide's intrinsic function
reference defines them; properties checked with hypothesis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from basegear.cloud.cloudformation.errors import TemplateError, ValidationError
from basegear.cloud.cloudformation.intrinsics import (
    NO_VALUE,
    Pseudo,
    Resolver,
    evaluate_conditions,
    references,
    select_branches,
)
from basegear.cloud.cloudformation.template import parse

PSEUDO = Pseudo(
    "eu-west-1", "123456789012", "shop", "arn:aws:cloudformation:eu-west-1:1:stack/shop/x"
)
RESOURCES = {"Queue": "https://queue-url", "Bucket": "bucket-name"}
ATTRIBUTES = {("Queue", "Arn"): "arn:aws:sqs:eu-west-1:123456789012:q", ("Bucket", "Arn"): "arn:b"}
EXPORTS = {"shared-Table": "uploads"}


def _ref(logical_id: str) -> Any:
    if logical_id not in RESOURCES:
        raise TemplateError(f"Unresolved resource dependencies [{logical_id}]")
    return RESOURCES[logical_id]


def _getatt(logical_id: str, attribute: str) -> Any:
    if (logical_id, attribute) not in ATTRIBUTES:
        raise TemplateError(f"resource {logical_id} does not support attribute type {attribute}")
    return ATTRIBUTES[(logical_id, attribute)]


def _import(name: str) -> Any:
    if name not in EXPORTS:
        raise TemplateError(f"No export named {name} found.")
    return EXPORTS[name]


def resolver(**conditions: bool) -> Resolver:
    return Resolver(
        PSEUDO,
        {"Stage": "dev", "Subnets": ["a", "b"]},
        {"Regions": {"eu-west-1": {"Ami": "ami-1"}}},
        conditions,
        _ref,
        _getatt,
        _import,
    )


def test_ref_gives_parameters_pseudo_parameters_and_resources() -> None:
    resolve = resolver().resolve
    assert resolve({"Ref": "Stage"}) == "dev"
    assert resolve({"Ref": "Subnets"}) == ["a", "b"]
    assert resolve({"Ref": "AWS::Region"}) == "eu-west-1"
    assert resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert resolve({"Ref": "AWS::Partition"}) == "aws"
    assert resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    assert resolve({"Ref": "AWS::StackName"}) == "shop"
    assert resolve({"Ref": "AWS::NotificationARNs"}) == []
    assert resolve({"Ref": "Queue"}) == "https://queue-url"
    with pytest.raises(TemplateError, match=r"Unresolved resource dependencies \[Nope\]"):
        resolve({"Ref": "Nope"})


def test_sub_in_both_forms_with_literals() -> None:
    resolve = resolver().resolve
    assert resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${Stage}/*"}) == (
        "arn:aws:s3:::bucket-name/dev/*"
    )
    assert resolve({"Fn::Sub": "${Queue.Arn}:*"}) == "arn:aws:sqs:eu-west-1:123456789012:q:*"
    assert resolve({"Fn::Sub": ["${Fn}-${Stage}", {"Fn": {"Fn::GetAtt": ["Bucket", "Arn"]}}]}) == (
        "arn:b-dev"
    )
    assert resolve({"Fn::Sub": "${!Literal} and ${ Stage }"}) == "${Literal} and dev"


def test_join_select_split_find_in_map_azs_base64_cidr_import() -> None:
    resolve = resolver().resolve
    assert resolve({"Fn::Join": [":", ["a", {"Ref": "Stage"}, 3]]}) == "a:dev:3"
    assert resolve({"Fn::Select": ["1", {"Ref": "Subnets"}]}) == "b"
    assert resolve({"Fn::Split": [",", "x,,y"]}) == ["x", "", "y"]
    assert resolve({"Fn::FindInMap": ["Regions", {"Ref": "AWS::Region"}, "Ami"]}) == "ami-1"
    assert resolve({"Fn::GetAZs": ""}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert resolve({"Fn::Base64": "hi"}) == "aGk="
    assert resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]}) == ["10.0.0.0/24", "10.0.1.0/24"]
    assert resolve({"Fn::ImportValue": {"Fn::Sub": "shared-Table"}}) == "uploads"
    with pytest.raises(TemplateError, match=r"No export named missing found\."):
        resolve({"Fn::ImportValue": "missing"})
    with pytest.raises(TemplateError, match="nonexistent value at index 4"):
        resolve({"Fn::Select": [4, ["a"]]})
    with pytest.raises(TemplateError, match="Unable to get mapping for Regions::x::Ami"):
        resolve({"Fn::FindInMap": ["Regions", "x", "Ami"]})
    with pytest.raises(TemplateError, match="does not support attribute type Nope"):
        resolve({"Fn::GetAtt": "Queue.Nope"})


def test_if_and_no_value_remove_properties_and_items() -> None:
    resolve = resolver(Prod=False).resolve
    no_value = {"Ref": "AWS::NoValue"}
    value = {
        "A": {"Fn::If": ["Prod", 1, no_value]},
        "B": ["x", {"Fn::If": ["Prod", "y", no_value]}],
    }
    assert resolve(value) == {"B": ["x"]}
    assert resolver(Prod=True).resolve(value) == {"A": 1, "B": ["x", "y"]}
    assert resolve(no_value) is NO_VALUE


def test_conditions_combine_and_refer_to_each_other() -> None:
    definitions = {
        "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
        "IsEu": {"Fn::Equals": ["eu-west-1", {"Ref": "AWS::Region"}]},
        "DevInEu": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsEu"}]},
        "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
        "Either": {"Fn::Or": [{"Condition": "NotDev"}, {"Fn::Equals": ["1", 1]}]},
    }
    assert evaluate_conditions(definitions, resolver()) == {
        "IsDev": True,
        "IsEu": True,
        "DevInEu": True,
        "NotDev": False,
        "Either": True,
    }
    with pytest.raises(ValidationError, match="Circular dependency between conditions"):
        evaluate_conditions({"A": {"Fn::Not": [{"Condition": "A"}]}}, resolver())


def test_select_branches_keeps_only_the_chosen_references() -> None:
    value = {"Fn::If": ["Prod", {"Ref": "Queue"}, {"Fn::GetAtt": ["Bucket", "Arn"]}]}
    chosen = select_branches({"P": value}, {"Prod": False})
    assert chosen == {"P": {"Fn::GetAtt": ["Bucket", "Arn"]}}
    assert set(references(chosen, frozenset())) == {"Bucket"}
    sub = {"Fn::Sub": ["${A}-${Stage}-${B.Arn}-${!C}", {"A": {"Ref": "Queue"}}]}
    assert set(references(sub, frozenset({"Stage"}))) == {"B", "Queue"}


def test_yaml_short_forms_parse_to_the_long_forms() -> None:
    template = parse(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  Q:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      QueueName: !Sub '${AWS::StackName}-q'\n"
        "      Tags:\n"
        "        - Key: arn\n"
        "          Value: !GetAtt Other.Arn\n"
        "        - Key: joined\n"
        "          Value: !Join [',', [!Ref Other, b]]\n"
    )
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    properties = template["Resources"]["Q"]["Properties"]
    assert properties["QueueName"] == {"Fn::Sub": "${AWS::StackName}-q"}
    assert properties["Tags"][0]["Value"] == {"Fn::GetAtt": ["Other", "Arn"]}
    assert properties["Tags"][1]["Value"] == {"Fn::Join": [",", [{"Ref": "Other"}, "b"]]}


text = st.text(alphabet=st.characters(blacklist_characters="${}", blacklist_categories=["Cs"]))
plain = st.recursive(
    st.none() | st.booleans() | st.integers() | text,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.text(min_size=2).filter(lambda key: key != "Ref" and not key.startswith("Fn::")),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@given(plain)
def test_plain_data_resolves_to_itself(value: Any) -> None:
    assert resolver().resolve(value) == value


@given(st.lists(text, min_size=1, max_size=6), st.sampled_from([",", "|", "::", "-"]))
def test_split_undoes_join(items: list[str], delimiter: str) -> None:
    assume(not any(set(delimiter) & set(item) for item in items))
    joined = resolver().resolve({"Fn::Join": [delimiter, items]})
    assert resolver().resolve({"Fn::Split": [delimiter, joined]}) == items


@given(text)
def test_sub_without_variables_is_the_identity(value: str) -> None:
    assert resolver().resolve({"Fn::Sub": value}) == value


@given(st.text(alphabet="abcXYZ._", min_size=1))
def test_sub_literal_marker_writes_the_variable_syntax(name: str) -> None:
    assert resolver().resolve({"Fn::Sub": "${!" + name + "}"}) == "${" + name + "}"


@given(st.lists(text, min_size=1, max_size=8), st.data())
def test_select_picks_the_item_at_its_index(items: list[str], data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(items) - 1))
    assert resolver().resolve({"Fn::Select": [str(index), items]}) == items[index]


@given(st.booleans(), text, text)
def test_if_chooses_by_its_condition(holds: bool, left: str, right: str) -> None:
    chosen = resolver(C=holds).resolve({"Fn::If": ["C", left, right]})
    assert chosen == (left if holds else right)
