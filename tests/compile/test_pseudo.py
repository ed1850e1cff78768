"""``#{…}`` pseudo parameters → Fn::Sub, as serverless-pseudo-parameters rewrites them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from basegear.compile.pseudo import substitute


def test_a_string_with_a_pseudo_parameter_becomes_sub() -> None:
    assert substitute("arn:aws:sqs:#{AWS::Region}:#{AWS::AccountId}:q") == {
        "Fn::Sub": "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:q"
    }


def test_literal_dollar_braces_are_escaped_in_the_new_sub() -> None:
    assert substitute("#{AWS::Region} costs ${price}") == {
        "Fn::Sub": "${AWS::Region} costs ${!price}"
    }


def test_inside_an_existing_sub_only_the_pseudo_parameters_change() -> None:
    assert substitute({"Fn::Sub": "arn:${AWS::Partition}:x:#{AWS::Region}"}) == {
        "Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}"
    }
    assert substitute({"Fn::Sub": ["#{AWS::Region}-${Name}", {"Name": "#{AWS::StackName}"}]}) == {
        "Fn::Sub": ["${AWS::Region}-${Name}", {"Name": {"Fn::Sub": "${AWS::StackName}"}}]
    }


def test_nested_values_and_keys() -> None:
    value = {"a": ["x", {"b": "#{AWS::AccountId}"}], "#{AWS::Region}": 1}
    assert substitute(value) == {
        "a": ["x", {"b": {"Fn::Sub": "${AWS::AccountId}"}}],
        "#{AWS::Region}": 1,  # keys are names, never substituted
    }


names = st.sampled_from(["AWS::Region", "AWS::AccountId", "AWS::StackName", "Custom"])
text = st.text(alphabet=st.characters(blacklist_characters="#"), max_size=12)


@given(st.lists(st.tuples(text, names), max_size=4), text)
def test_substitution_is_reversible(parts: list[tuple[str, str]], tail: str) -> None:
    original = "".join(f"{before}#{{{name}}}" for before, name in parts) + tail
    result = substitute(original)
    if not parts:
        assert result == original
        return
    assert isinstance(result, dict)
    sub = result["Fn::Sub"]
    # Undo: every ${Name} we made is a pseudo parameter, every ${! was a literal ${.
    restored = sub
    for _, name in parts:
        restored = restored.replace(f"${{{name}}}", f"#{{{name}}}", 1)
    assert restored.replace("${!", "${") == original
