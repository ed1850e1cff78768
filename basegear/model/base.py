"""Building blocks of the service model: the strict base class and value types whose errors
say what was expected, in the words a serverless.yml author uses."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError


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
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise PydanticCustomError(
        "cfn_string",
        "expected a string or a CloudFormation function (Ref, Fn::GetAtt, Fn::Sub, …), got {got}",
        {"got": describe(value)},
    )


CfnString = Annotated[Any, BeforeValidator(_cfn_string)]
"""A string that CloudFormation may compute: text, ``!Ref``, ``!GetAtt``, ``!Sub``, …"""


def Range(low: int | float, high: int | float) -> AfterValidator:  # noqa: N802 - reads as a type
    """An inclusive numeric range with a message naming both ends (AWS API limits)."""

    def check(value: int | float) -> int | float:
        if not low <= value <= high:
            raise PydanticCustomError(
                "range",
                "expected a value from {low} to {high}, got {got}",
                {"low": low, "high": high, "got": value},
            )
        return value

    return AfterValidator(check)


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
