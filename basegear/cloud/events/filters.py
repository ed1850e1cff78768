"""``FilterCriteria`` of an event source mapping: which records Lambda sends to the function.

Lambda developer guide, "Control which events Lambda sends to your function" (filter rule
syntax) and "Using event filtering with an Amazon SQS event source" / "… DynamoDB …":

- ``{"Filters": [{"Pattern": "<JSON text>"}]}``, at most five filters (the default quota),
  OR'ed: a record that satisfies any one of them is sent; a pattern is at most 4096 characters
  (the API's ``Pattern`` shape);
- within a pattern every field named must match (AND), and ``"$or": [{…}, {…}]`` at any level
  matches if any of its alternatives does; a field's value is either a nested pattern (an
  object) or a non-empty array of rules, any of which may match (OR);
- rules: an exact value (string, number, ``true``/``false``, ``null``, ``""``), and objects
  with one operator each — ``equals-ignore-case``, ``prefix``, ``suffix`` (both also as
  ``{"equals-ignore-case": …}``), ``anything-but`` (a value, a list of values, or a
  ``prefix``/``suffix``/``equals-ignore-case`` object), ``numeric`` (``=``, or a lower and/or
  an upper bound of ``>``, ``>=``, ``<``, ``<=``) and ``exists`` (true/false);
- matching is character by character without case folding, and numbers are compared by their
  JSON text for exact values ("300, 300.0 and 3.0e2 are not considered equal"), by value for
  ``numeric``; when a record's field is an array, the rule matches if any element does;
  ``exists`` looks at leaf values only (a field holding an object, or an empty array, does not
  exist as a leaf); a field that is absent matches only ``exists: false``;
- duplicate keys in a pattern: the last one wins (JSON decoding keeps the last).

What a pattern is matched against is the record as Lambda delivers it, with its data field
decoded: SQS's ``body`` is matched as JSON when it is a JSON object or array and as a plain
string otherwise — so a JSON-body pattern drops a plain-string message and a plain-string
pattern drops a JSON message (the guide's table for SQS message bodies); Kinesis's
``kinesis.data`` is base64-decoded and matched as the top-level ``data`` field the same way;
DynamoDB records are structured already (``{"dynamodb": {"NewImage": {"status": {"S":
["done"]}}}}``).

A pattern that cannot be read raises :class:`FilterError`; the Lambda API answers
``InvalidParameterValueException`` with "Invalid filter pattern definition." for it.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MAX_FILTERS = 5
MAX_PATTERN_LENGTH = 4096
_NUMERIC_LOWER = (">", ">=")
_NUMERIC_UPPER = ("<", "<=")


class FilterError(ValueError):
    """A ``FilterCriteria`` Lambda would refuse; ``aws_message`` is Lambda's own text, the
    error's own says what is wrong and in which filter (numbered from 1)."""

    aws_message = "Invalid filter pattern definition."

    def __init__(self, detail: str, filter_number: int | None = None) -> None:
        where = f" (filter {filter_number})" if filter_number else ""
        super().__init__(f"Invalid filter pattern definition{where}: {detail}")
        self.detail = detail
        self.filter_number = filter_number


@dataclass(frozen=True)
class JsonNumber:
    """A number as written in JSON: its text (for exact matching) and its value."""

    text: str
    value: float


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _number(text: str) -> JsonNumber:
    return JsonNumber(text, float(text))


def load_json(text: str | bytes) -> Any:
    """Decode JSON keeping each number's text; NaN and Infinity are not JSON."""
    return json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_reject_constant)


# --- rules --------------------------------------------------------------------------------

Leaf = str | bool | None | JsonNumber | int | float | Decimal
_ABSENT = object()


def _is_number(value: object) -> bool:
    return isinstance(value, JsonNumber | int | float | Decimal) and not isinstance(value, bool)


def _number_text(value: Any) -> str:
    if isinstance(value, JsonNumber):
        return value.text
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _number_value(value: Any) -> float:
    return value.value if isinstance(value, JsonNumber) else float(value)


def _equal(expected: Leaf, actual: Leaf) -> bool:
    """Exact matching: same type, same characters (numbers by their JSON text)."""
    if expected is None or isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    return _is_number(actual) and _number_text(actual) == _number_text(expected)


Test = Callable[[Leaf], bool]


@dataclass(frozen=True)
class Rules:
    """The array of rules for one field: matches if any rule matches a leaf value, or if an
    ``exists`` rule holds."""

    tests: tuple[Test, ...] = ()
    exists: frozenset[bool] = frozenset()

    def match(self, value: Any) -> bool:
        leaves = [] if value is _ABSENT else _leaves(value)
        if (True in self.exists and leaves) or (False in self.exists and not leaves):
            return True
        return any(test(leaf) for leaf in leaves for test in self.tests)


@dataclass(frozen=True)
class Fields:
    """An object of a pattern: every field matches (AND) and one of each ``$or``'s
    alternatives does."""

    fields: tuple[tuple[str, Rules | Fields], ...]
    alternatives: tuple[tuple[Fields, ...], ...] = field(default=())

    def match(self, document: Mapping[str, Any]) -> bool:
        for name, node in self.fields:
            value = document.get(name, _ABSENT)
            if isinstance(node, Rules):
                if not node.match(value):
                    return False
            elif not any(node.match(candidate) for candidate in _objects(value)):
                return False
        return all(
            any(alternative.match(document) for alternative in choice)
            for choice in self.alternatives
        )

    def names(self) -> set[str]:
        """The top-level field names this pattern can look at."""
        found = {name for name, _ in self.fields}
        for choice in self.alternatives:
            for alternative in choice:
                found |= alternative.names()
        return found


def _leaves(value: Any) -> list[Leaf]:
    """A record value's leaves: itself if it is a scalar, the scalars of an array (nested
    arrays flattened); an object has none."""
    if isinstance(value, str | bool | int | float | Decimal | JsonNumber) or value is None:
        return [value]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return []


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The objects a nested pattern is matched against: the value, or each object of an
    array; an empty object when there is none (so that only ``exists: false`` holds)."""
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, list | tuple):
        found = [item for entry in value for item in _objects(entry) if item]
        return found or [{}]
    return [{}]


# --- parsing ------------------------------------------------------------------------------


def _invalid(detail: str) -> FilterError:
    return FilterError(detail)


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{what} takes a string, not {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, JsonNumber):
        return value.text
    try:
        return json.dumps(value, default=_shown)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


def _affix_test(operator: str, argument: Any) -> Test:
    """``prefix``/``suffix`` with a string or ``{"equals-ignore-case": string}``."""
    ignore_case = False
    if isinstance(argument, dict):
        if list(argument) != ["equals-ignore-case"]:
            raise _invalid(f'{operator} takes a string or {{"equals-ignore-case": string}}')
        argument = argument["equals-ignore-case"]
        ignore_case = True
    text = _string(argument, operator)
    if ignore_case:
        text = text.lower()
    check = str.startswith if operator == "prefix" else str.endswith

    def test(leaf: Leaf) -> bool:
        if not isinstance(leaf, str):
            return False
        return check(leaf.lower() if ignore_case else leaf, text)

    return test


def _ignore_case_test(argument: Any) -> Test:
    wanted = _string(argument, "equals-ignore-case").lower()
    return lambda leaf: isinstance(leaf, str) and leaf.lower() == wanted


def _scalar(value: Any, what: str) -> Leaf:
    if isinstance(value, str | bool | JsonNumber) or value is None:
        return value
    raise _invalid(f"{what} takes strings or numbers, not {_shown(value)}")


def _anything_but_test(argument: Any) -> Test:
    """``anything-but``: the negation of exact matching (a value or a list of values), of
    ``prefix``, ``suffix`` or ``equals-ignore-case``. A field that is absent does not match."""
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise _invalid("anything-but takes one of prefix, suffix or equals-ignore-case")
        ((operator, inner),) = argument.items()
        if operator in ("prefix", "suffix"):
            positive = _affix_test(operator, _string(inner, f"anything-but {operator}"))
        elif operator == "equals-ignore-case":
            values = inner if isinstance(inner, list) else [inner]
            if not values:
                raise _invalid("anything-but equals-ignore-case takes a non-empty list")
            tests = [_ignore_case_test(value) for value in values]
            return lambda leaf: not any(test(leaf) for test in tests)
        else:
            raise _invalid(f"anything-but does not take {operator!r}")
        return lambda leaf: not positive(leaf)
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise _invalid("anything-but takes a non-empty list")
    excluded = [_scalar(value, "anything-but") for value in values]
    if any(value is None or isinstance(value, bool) for value in excluded):
        raise _invalid("anything-but takes strings or numbers")
    return lambda leaf: not any(_equal(value, leaf) for value in excluded)


def _numeric_test(argument: Any) -> Test:
    """``numeric``: ``["=", n]``, or a lower bound (``>``, ``>=``) and/or an upper bound
    (``<``, ``<=``), e.g. ``[">", 10, "<=", 20]``."""
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise _invalid('numeric takes ["=", n] or one or two comparisons such as [">", 10]')
    pairs = [(argument[i], argument[i + 1]) for i in range(0, len(argument), 2)]
    bounds: dict[str, tuple[str, float]] = {}
    for operator, number in pairs:
        if not _is_number(number):
            raise _invalid(f"numeric compares with numbers, not {_shown(number)}")
        if operator == "=" and len(pairs) == 1:
            side = "equal"
        elif operator in _NUMERIC_LOWER:
            side = "lower"
        elif operator in _NUMERIC_UPPER:
            side = "upper"
        else:
            raise _invalid(f"numeric does not take the operator {_shown(operator)}")
        if side in bounds:
            raise _invalid("numeric takes at most one lower and one upper bound")
        bounds[side] = (operator, _number_value(number))
    lower, upper = bounds.get("lower"), bounds.get("upper")
    if lower and upper and lower[1] > upper[1]:
        raise _invalid("numeric's lower bound is above its upper bound")

    def test(leaf: Leaf) -> bool:
        if not _is_number(leaf):
            return False
        value = _number_value(leaf)
        return all(_compare(operator, value, bound) for operator, bound in bounds.values())

    return test


def _compare(operator: str, value: float, bound: float) -> bool:
    if operator == "=":
        return value == bound
    if operator == ">":
        return value > bound
    if operator == ">=":
        return value >= bound
    if operator == "<":
        return value < bound
    return value <= bound


_OPERATORS: dict[str, Callable[[Any], Test]] = {
    "equals-ignore-case": _ignore_case_test,
    "prefix": lambda argument: _affix_test("prefix", argument),
    "suffix": lambda argument: _affix_test("suffix", argument),
    "anything-but": _anything_but_test,
    "numeric": _numeric_test,
}


def _exact_test(expected: Leaf) -> Test:
    return lambda leaf: _equal(expected, leaf)


def _rules(name: str, values: list[Any]) -> Rules:
    if not values:
        raise _invalid(f"the rules of {name!r} are an empty array")
    tests: list[Test] = []
    exists: set[bool] = set()
    for value in values:
        if isinstance(value, dict):
            if len(value) != 1:
                raise _invalid(f"a rule of {name!r} has {len(value)} operators, not one")
            ((operator, argument),) = value.items()
            if operator == "exists":
                if not isinstance(argument, bool):
                    raise _invalid("exists takes true or false")
                exists.add(argument)
            elif operator in _OPERATORS:
                tests.append(_OPERATORS[operator](argument))
            else:
                raise _invalid(f"unknown operator {operator!r} in the rules of {name!r}")
        elif isinstance(value, list):
            raise _invalid(f"the rules of {name!r} contain an array")
        else:
            tests.append(_exact_test(_scalar(value, name)))
    return Rules(tuple(tests), frozenset(exists))


def _fields(pattern: Any, where: str) -> Fields:
    if not isinstance(pattern, dict):
        raise _invalid(f"{where} must be a JSON object, not {_shown(pattern)}")
    if not pattern:
        raise _invalid(f"{where} is an empty object")
    fields: list[tuple[str, Rules | Fields]] = []
    alternatives: list[tuple[Fields, ...]] = []
    for name, value in pattern.items():
        if name == "$or":
            if not isinstance(value, list) or not value:
                raise _invalid("$or takes a non-empty array of patterns")
            alternatives.append(tuple(_fields(item, "each $or alternative") for item in value))
        elif isinstance(value, dict):
            fields.append((name, _fields(value, f"the pattern of {name!r}")))
        elif isinstance(value, list):
            fields.append((name, _rules(name, value)))
        else:
            raise _invalid(
                f"{name!r} must hold an array of rules or an object, not {_shown(value)}"
            )
    return Fields(tuple(fields), tuple(alternatives))


def parse_pattern(text: str) -> Fields:
    """One filter's ``Pattern``; raises :class:`FilterError`."""
    if not isinstance(text, str):
        raise _invalid("a Pattern is a string of JSON")
    if len(text) > MAX_PATTERN_LENGTH:
        raise _invalid(f"a Pattern is at most {MAX_PATTERN_LENGTH} characters")
    try:
        pattern = load_json(text)
    except (ValueError, RecursionError) as exc:
        raise _invalid(f"the Pattern is not JSON: {exc}") from None
    try:
        return _fields(pattern, "a Pattern")
    except RecursionError:
        raise _invalid("the Pattern is nested too deeply") from None


def parse_criteria(criteria: Mapping[str, Any] | None) -> tuple[Fields, ...]:
    """Every filter of a ``FilterCriteria``; no criteria, or no filters, is none."""
    if not criteria:
        return ()
    if not isinstance(criteria, Mapping):
        raise _invalid('FilterCriteria is {"Filters": [{"Pattern": "…"}]}')
    filters = criteria.get("Filters") or []
    if not isinstance(filters, list | tuple):
        raise _invalid("FilterCriteria.Filters must be a list")
    if len(filters) > MAX_FILTERS:
        raise _invalid(f"at most {MAX_FILTERS} filters are allowed, not {len(filters)}")
    parsed = []
    for number, entry in enumerate(filters, 1):
        if not isinstance(entry, Mapping) or "Pattern" not in entry:
            raise _invalid(f"filter {number} has no Pattern")
        try:
            parsed.append(parse_pattern(entry["Pattern"]))
        except FilterError as exc:
            raise FilterError(exc.detail, number) from None
    return tuple(parsed)


# --- matching a record --------------------------------------------------------------------


def _decoded_data(text: str) -> Any:
    """A message body or record data as a pattern sees it: a JSON object or array when it is
    one, else the plain string."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return load_json(text)
        except (ValueError, RecursionError):
            pass
    return text


def _document(record: Mapping[str, Any], names: set[str]) -> Mapping[str, Any]:
    """``record`` with its data field decoded, if a pattern looks at it."""
    source = record.get("eventSource") or record.get("EventSource")
    if source == "aws:sqs" and "body" in names and isinstance(record.get("body"), str):
        return {**record, "body": _decoded_data(record["body"])}
    if source == "aws:kinesis" and "data" in names:
        encoded = (record.get("kinesis") or {}).get("data")
        if isinstance(encoded, str):
            try:
                text = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return record
            return {**record, "data": _decoded_data(text)}
    return record


class RecordFilter:
    """A mapping's ``FilterCriteria``, parsed once; ``matches`` is true when there are no
    filters or any filter matches the record."""

    def __init__(self, criteria: Mapping[str, Any] | None) -> None:
        self.patterns = parse_criteria(criteria)
        names: set[str] = set()
        for pattern in self.patterns:
            names |= pattern.names()
        self._names = names

    @property
    def accepts_everything(self) -> bool:
        return not self.patterns

    def matches(self, record: Mapping[str, Any]) -> bool:
        if not self.patterns:
            return True
        document = _document(record, self._names)
        return any(pattern.match(document) for pattern in self.patterns)

    def split(
        self, records: Iterable[Mapping[str, Any]]
    ) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
        """``records`` as (matching, filtered out), each in order."""
        kept: list[Mapping[str, Any]] = []
        dropped: list[Mapping[str, Any]] = []
        for record in records:
            (kept if self.matches(record) else dropped).append(record)
        return kept, dropped


def check_criteria(criteria: Mapping[str, Any] | None) -> None:
    """Raise :class:`FilterError` if Lambda would refuse ``criteria`` (CreateEventSourceMapping
    and UpdateEventSourceMapping validate it)."""
    parse_criteria(criteria)


__all__: Sequence[str] = (
    "MAX_FILTERS",
    "FilterError",
    "JsonNumber",
    "RecordFilter",
    "check_criteria",
    "load_json",
    "parse_pattern",
)
