"""FilterCriteria patterns (basegear/cloud/events/filters.py), against the Lambda developer
guide's "Control which events Lambda sends to your function" (filter rule syntax), "Using event
filtering with an Amazon SQS event source" and "… with a DynamoDB event source"."""

from __future__ import annotations

import base64
import json
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basegear.cloud.events.filters import MAX_FILTERS, FilterError, RecordFilter


def criteria(*patterns: Any) -> dict[str, Any]:
    return {
        "Filters": [
            {"Pattern": pattern if isinstance(pattern, str) else json.dumps(pattern)}
            for pattern in patterns
        ]
    }


def matches(pattern: Any, record: dict[str, Any]) -> bool:
    return RecordFilter(criteria(pattern)).matches(record)


def sqs(body: str, **extra: Any) -> dict[str, Any]:
    return {
        "messageId": "m-1",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SenderId": "AIDA"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        **extra,
    }


# "Filter rule syntax": one row of the guide's table each.
RULE_TABLE = [
    ({"UserID": [None]}, {"UserID": None}, True),
    ({"UserID": [None]}, {"UserID": "u1"}, False),
    ({"UserID": [None]}, {}, False),
    ({"LastName": [""]}, {"LastName": ""}, True),
    ({"LastName": [""]}, {"LastName": " "}, False),
    ({"Name": ["Alice"]}, {"Name": "Alice"}, True),
    ({"Name": ["Alice"]}, {"Name": "alice"}, False),
    ({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "ALICE"}, True),
    ({"Name": [{"equals-ignore-case": "alice"}]}, {"Name": "Alicia"}, False),
    (
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Monday"},
        True,
    ),
    (
        {"Location": ["New York"], "Day": ["Monday"]},
        {"Location": "New York", "Day": "Sunday"},
        False,
    ),
    ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Debit"}, True),
    ({"PaymentType": ["Credit", "Debit"]}, {"PaymentType": "Cash"}, False),
    ({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Day": "Monday"}, True),
    ({"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}, {"Day": "Friday"}, False),
    ({"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Sunny"}, True),
    ({"Weather": [{"anything-but": ["Raining"]}]}, {"Weather": "Raining"}, False),
    ({"Weather": [{"anything-but": ["Raining"]}]}, {}, False),
    ({"Weather": [{"anything-but": "Raining"}]}, {"Weather": "Snow"}, True),
    ({"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "eu-west-1"}, True),
    ({"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "us-east-1"}, False),
    ({"File": [{"anything-but": {"suffix": ".png"}}]}, {"File": "a.png"}, False),
    ({"State": [{"anything-but": {"equals-ignore-case": ["init"]}}]}, {"State": "INIT"}, False),
    ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100}, True),
    ({"Price": [{"numeric": ["=", 100]}]}, {"Price": 100.0}, True),
    ({"Price": [{"numeric": ["=", 100]}]}, {"Price": "100"}, False),
    ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 20}, True),
    ({"Price": [{"numeric": [">", 10, "<=", 20]}]}, {"Price": 10}, False),
    ({"Price": [{"numeric": [">=", 10]}]}, {"Price": 10}, True),
    ({"Price": [{"numeric": ["<", 0]}]}, {"Price": True}, False),
    ({"ProductName": [{"exists": True}]}, {"ProductName": "x"}, True),
    ({"ProductName": [{"exists": True}]}, {}, False),
    ({"ProductName": [{"exists": False}]}, {}, True),
    ({"ProductName": [{"exists": False}]}, {"ProductName": "x"}, False),
    ({"Region": [{"prefix": "us-"}]}, {"Region": "us-east-1"}, True),
    ({"Region": [{"prefix": "us-"}]}, {"Region": "eu-west-1"}, False),
    ({"Region": [{"prefix": {"equals-ignore-case": "US-"}}]}, {"Region": "us-east-1"}, True),
    ({"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.png"}, True),
    ({"FileName": [{"suffix": ".png"}]}, {"FileName": "cat.jpg"}, False),
    # Arrays in a record: the rule matches if any element does.
    ({"Tags": ["blue"]}, {"Tags": ["red", "blue"]}, True),
    ({"Tags": ["blue"]}, {"Tags": ["red"]}, False),
    # Nested objects; a nested pattern on an array of objects matches within one element.
    ({"a": {"b": ["x"], "c": ["y"]}}, {"a": [{"b": "x", "c": "z"}, {"b": "x", "c": "y"}]}, True),
    ({"a": {"b": ["x"], "c": ["y"]}}, {"a": [{"b": "x"}, {"c": "y"}]}, False),
    # exists looks at leaves: an object is not a leaf value.
    ({"a": [{"exists": True}]}, {"a": {"b": 1}}, False),
    ({"a": {"b": [{"exists": False}]}}, {}, True),
]


@pytest.mark.parametrize(("pattern", "record", "expected"), RULE_TABLE)
def test_the_rule_syntax_table(pattern: Any, record: dict[str, Any], expected: bool) -> None:
    # Lambda developer guide, "Control which events Lambda sends to your function",
    # "Filter rule syntax".
    assert matches(pattern, record) is expected


def test_numbers_match_exactly_by_their_text() -> None:
    # "For numbers, Lambda also uses string representation. For example, 300, 300.0, and 3.0e2
    # are not considered equal." (filter rule syntax); numeric compares values.
    exact = {"body": {"n": [300]}}
    assert matches(exact, sqs('{"n": 300}'))
    assert not matches(exact, sqs('{"n": 300.0}'))
    assert not matches(exact, sqs('{"n": 3.0e2}'))
    assert matches('{"body": {"n": [3.0e2]}}', sqs('{"n": 3.0e2}'))
    numeric = {"body": {"n": [{"numeric": ["=", 300]}]}}
    assert all(matches(numeric, sqs(f'{{"n": {n}}}')) for n in ("300", "300.0", "3.0e2"))


def test_sqs_body_json_or_plain_string() -> None:
    # "Using event filtering with an Amazon SQS event source": a JSON body is matched field by
    # field; a plain-string body only by a plain-string pattern on body, and each kind of
    # pattern drops the other kind of message.
    json_pattern = {"body": {"RequestCode": ["BBBB"]}}
    string_pattern = {"body": [{"prefix": "Result: "}]}
    assert matches(json_pattern, sqs('{"RecordNumber": 1234, "RequestCode": "BBBB"}'))
    assert not matches(json_pattern, sqs('{"RequestCode": "AAAA"}'))
    assert not matches(json_pattern, sqs("RequestCode BBBB"))
    assert matches(string_pattern, sqs("Result: done"))
    assert not matches(string_pattern, sqs("Other: done"))
    assert not matches({"body": [{"prefix": "{"}]}, sqs('{"Result": 1}'))
    assert matches(
        {"body": {"RecordNumber": [{"numeric": [">", 9999]}]}}, sqs('{"RecordNumber": 10000}')
    )
    # Metadata filters apply without a body pattern.
    assert matches({"attributes": {"ApproximateReceiveCount": ["1"]}}, sqs("anything"))


def test_dynamodb_record_fields() -> None:
    # "Using event filtering with a DynamoDB event source": patterns on dynamodb fields.
    record = {
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"Id": {"N": "101"}},
            "NewImage": {"Id": {"N": "101"}, "status": {"S": "done"}},
        },
    }
    assert matches({"dynamodb": {"NewImage": {"status": {"S": ["done"]}}}}, record)
    assert matches({"dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}, record)
    assert matches({"eventName": ["INSERT", "MODIFY"]}, record)
    assert not matches(
        {"eventName": ["INSERT"], "dynamodb": {"Keys": {"Id": {"N": ["101"]}}}}, record
    )
    assert matches({"dynamodb": {"OldImage": [{"exists": False}]}}, record)


def test_kinesis_data_is_decoded() -> None:
    # "Using event filtering with a Kinesis event source": data is base64, filtered as JSON.
    data = base64.b64encode(b'{"temperature": 30}').decode()
    record = {"eventSource": "aws:kinesis", "kinesis": {"data": data, "partitionKey": "p"}}
    assert matches({"data": {"temperature": [{"numeric": [">", 25]}]}}, record)
    assert not matches({"data": {"temperature": [{"numeric": ["<", 25]}]}}, record)
    assert matches({"kinesis": {"partitionKey": ["p"]}}, record)


def test_filters_are_ored_and_none_accepts_everything() -> None:
    # "Your filters are logically ORed together" (event filtering basics).
    either = RecordFilter(criteria({"a": ["1"]}, {"b": ["2"]}))
    assert either.matches({"b": "2"}) and not either.matches({"a": "2"})
    assert RecordFilter(None).matches({"anything": 1})
    assert RecordFilter({}).matches({})
    assert RecordFilter({"Filters": []}).accepts_everything


def test_duplicate_keys_last_one_wins() -> None:
    # Filter rule syntax: with a key repeated, Lambda uses the last one.
    assert matches('{"a": ["x"], "a": ["y"]}', {"a": "y"})
    assert not matches('{"a": ["x"], "a": ["y"]}', {"a": "x"})


@pytest.mark.parametrize(
    "pattern",
    [
        "{",
        "[]",
        "{}",
        '{"a": "x"}',
        '{"a": []}',
        '{"a": [["x"]]}',
        '{"a": [{"nope": 1}]}',
        '{"a": [{"prefix": 1}]}',
        '{"a": [{"prefix": "x", "suffix": "y"}]}',
        '{"a": [{"numeric": [">", "x"]}]}',
        '{"a": [{"numeric": ["=", 1, ">", 0]}]}',
        '{"a": [{"numeric": [">", 5, "<", 1]}]}',
        '{"a": [{"numeric": [">", 1, ">=", 2]}]}',
        '{"a": [{"exists": "yes"}]}',
        '{"a": [{"anything-but": []}]}',
        '{"a": [{"anything-but": {"wildcard": "*"}}]}',
        '{"$or": []}',
        '{"a": [NaN]}',
        '{"a": {}}',
    ],
)
def test_invalid_patterns_are_refused(pattern: str) -> None:
    # Lambda answers InvalidParameterValueException "Invalid filter pattern definition."
    # (aws-semantics 1.11).
    with pytest.raises(FilterError, match=r"^Invalid filter pattern definition \(filter 1\): "):
        RecordFilter(criteria(pattern))


def test_at_most_five_filters_and_4096_characters() -> None:
    # "By default, you can define up to five different filters"; Pattern is at most 4096
    # characters (Lambda API reference, Filter).
    RecordFilter(criteria(*[{"a": [str(i)]} for i in range(MAX_FILTERS)]))
    with pytest.raises(FilterError, match="at most 5 filters"):
        RecordFilter(criteria(*[{"a": [str(i)]} for i in range(MAX_FILTERS + 1)]))
    with pytest.raises(FilterError, match="4096"):
        RecordFilter(criteria({"a": ["x" * 4096]}))
    with pytest.raises(FilterError, match="no Pattern"):
        RecordFilter({"Filters": [{"pattern": "{}"}]})


# --- properties ---------------------------------------------------------------------------

ASCII = string.ascii_letters

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=6),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)
NAMES = st.sampled_from(["a", "b", "body", "$or", "numeric", ""])
RULE = st.one_of(
    SCALARS,
    st.dictionaries(
        st.sampled_from(
            ["prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "x"]
        ),
        JSON,
        min_size=1,
        max_size=2,
    ),
)
PATTERN = st.recursive(
    st.dictionaries(NAMES, st.lists(RULE, max_size=3), max_size=3),
    lambda inner: st.dictionaries(NAMES, st.one_of(inner, st.lists(inner, max_size=2)), max_size=3),
    max_leaves=10,
)
RECORD = st.dictionaries(NAMES, JSON, max_size=4)
BODY = st.one_of(st.text(max_size=20), JSON.map(json.dumps))


@settings(max_examples=300, deadline=None)
@given(pattern=st.one_of(PATTERN, JSON), record=RECORD, body=BODY)
def test_any_pattern_is_refused_or_matches_without_crashing(
    pattern: Any, record: dict[str, Any], body: str
) -> None:
    try:
        compiled = RecordFilter(criteria(pattern))
    except FilterError:
        return
    assert compiled.matches(record) in (True, False)
    assert compiled.matches(sqs(body)) in (True, False)


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.text('{}[]":,ab1 -.e', max_size=40)))
def test_any_text_is_refused_or_parsed(text: str) -> None:
    try:
        compiled = RecordFilter({"Filters": [{"Pattern": text}]})
    except FilterError:
        return
    assert len(compiled.patterns) == 1


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(SCALARS.filter(lambda v: not isinstance(v, float)), min_size=1, max_size=3),
    record=RECORD,
)
def test_a_rule_list_is_an_or_of_single_rules(values: list[Any], record: dict[str, Any]) -> None:
    # "Or": ["Credit", "Debit"] matches what either ["Credit"] or ["Debit"] matches, and the same
    # as separate filters or a $or.
    whole = matches({"a": values}, record)
    assert whole == any(matches({"a": [value]}, record) for value in values)
    assert whole == RecordFilter(criteria(*[{"a": [value]} for value in values])).matches(record)
    assert whole == matches({"$or": [{"a": [value]} for value in values]}, record)


@settings(max_examples=200, deadline=None)
@given(value=SCALARS, excluded=st.text(max_size=3))
def test_anything_but_is_the_negation_of_equality_for_a_present_value(
    value: Any, excluded: str
) -> None:
    record = {"a": value}
    assert matches({"a": [{"anything-but": [excluded]}]}, record) != matches(
        {"a": [excluded]}, record
    )


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(-1e6, 1e6),
    low=st.integers(-1000, 1000),
    span=st.integers(0, 1000),
)
def test_numeric_ranges_compare_values(value: float, low: int, span: int) -> None:
    high = low + span
    pattern = {"a": [{"numeric": [">=", low, "<", high]}]}
    assert matches(pattern, {"a": value}) == (low <= value < high)
    assert matches({"a": [{"numeric": ["=", low]}]}, {"a": float(low)})


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=10), prefix=st.text(max_size=3), word=st.text(ASCII, max_size=8))
def test_prefix_suffix_and_ignore_case(text: str, prefix: str, word: str) -> None:
    record = {"a": text}
    assert matches({"a": [{"prefix": prefix}]}, record) == text.startswith(prefix)
    assert matches({"a": [{"suffix": prefix}]}, record) == text.endswith(prefix)
    assert matches({"a": [{"equals-ignore-case": word.swapcase()}]}, {"a": word})
    assert matches({"a": [{"equals-ignore-case": word + "x"}]}, {"a": word}) is False
