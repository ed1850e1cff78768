"""Building blocks of the service model: the strict base class and value types whose errors
say what was expected, in the words a serverless.yml author uses."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError


class Model(BaseModel):
    """Frozen, strict about keys (an unknown key is a mistake), camelCase in YAML."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        arbitrary_types_allowed=False,
    )


class OpenModel(Model):
    """A section BaseGear passes through without checking every key (e.g. CloudFormation)."""

    model_config = ConfigDict(extra="allow")


def describe(value: Any) -> str:
    """How a value reads in an error message: ``'ten'``, ``20``, ``a list``, ``a mapping``."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def is_intrinsic(value: Any) -> bool:
    """A CloudFormation intrinsic function in long form: ``{"Ref": …}``, ``{"Fn::…": …}``."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _cfn_string(value: Any) -> Any:
    if isinstance(value, str) or is_intrinsic(value):
        return value
    # A number or boolean where text is expected becomes its text, as the Serverless
    # Framework's schema check (ajv, coerceTypes) and CloudFormation both turn it into a string:
    # `DEBUG: true` is "true".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise PydanticCustomError(
        "cfn_string",
        "expected a string or a CloudFormation function (Ref, Fn::GetAtt, Fn::Sub, …), got {got}",
        {"got": describe(value)},
    )


CfnString = Annotated[Any, BeforeValidator(_cfn_string)]
"""A string that CloudFormation may compute: text, ``!Ref``, ``!GetAtt``, ``!Sub``, …"""


def _cfn_function(value: Any) -> Any:
    if is_intrinsic(value):
        return value
    raise PydanticCustomError(
        "cfn_function",
        "expected a CloudFormation function (Ref, Fn::GetAtt, Fn::ImportValue, Fn::Sub, …), "
        "got {got}",
        {"got": describe(value)},
    )


CfnFunction = Annotated[Any, BeforeValidator(_cfn_function)]
"""A value only CloudFormation computes: ``!Ref``, ``!GetAtt``, ``!ImportValue``, …"""


def Range(low: int | float, high: int | float) -> AfterValidator:  # noqa: N802 - reads as a type
    """An inclusive numeric range with a message naming both ends (AWS API limits)."""
    kind = "an integer" if isinstance(low, int) and isinstance(high, int) else "a number"

    def check(value: int | float) -> int | float:
        if not low <= value <= high:
            raise PydanticCustomError(
                "range",
                "expected {kind} from {low} to {high}, got {got}",
                {"kind": kind, "low": low, "high": high, "got": value},
            )
        return value

    return AfterValidator(check)


def field_errors(model: str, errors: list[tuple[str, str, dict[str, Any], Any]]) -> ValidationError:
    """Errors found by a validator of the whole model, each placed at one of its fields so that
    the problem points at that field's line: ``(key, message template, context, value)``."""
    return ValidationError.from_exception_data(
        model,
        [
            InitErrorDetails(
                type=PydanticCustomError("field_rule", template, context), loc=(key,), input=value
            )
            for key, template, context, value in errors
        ],
    )


def OneOf(*allowed: str) -> AfterValidator:  # noqa: N802 - reads as a type
    """A string from a fixed set; the message lists the set and suggests the closest."""
    from basegear.config.suggest import did_you_mean

    def check(value: str) -> str:
        if value not in allowed:
            raise PydanticCustomError(
                "one_of",
                "expected one of {allowed}, got {got}{hint}",
                {
                    "allowed": ", ".join(allowed),
                    "got": describe(value),
                    "hint": did_you_mean(value, allowed),
                },
            )
        return value

    return AfterValidator(check)


def shorthand(field: str) -> BeforeValidator:
    """Accept ``key: value`` where the Serverless Framework allows a plain value for
    ``key: {field: value}`` (e.g. ``stream: arn:…``, ``sqs: arn:…``, ``s3: bucket``)."""

    def expand(value: Any) -> Any:
        if isinstance(value, str) or is_intrinsic(value):
            return {field: value}
        return value

    return BeforeValidator(expand)


Json = Any
"""Free-form data (CloudFormation properties, templates, definitions)."""
