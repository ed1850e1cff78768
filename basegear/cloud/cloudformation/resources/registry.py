"""The explicit registry of resource handlers: ``@handles`` fills it, ``handler_for`` reads it.
A type without a handler gets ``None``, and the engine fails the resource naming the type."""

from __future__ import annotations

from typing import TypeVar

from basegear.cloud.cloudformation.resources.base import Handler

HANDLERS: dict[str, Handler] = {}
CUSTOM = "AWS::CloudFormation::CustomResource"

H = TypeVar("H", bound=type[Handler])


def handles(cls: H) -> H:
    if cls.type_name in HANDLERS:
        raise RuntimeError(f"two handlers for {cls.type_name}")
    HANDLERS[cls.type_name] = cls()
    return cls


def handler_for(type_name: str) -> Handler | None:
    """``Custom::Anything`` is served as AWS::CloudFormation::CustomResource ("Custom resources",
    CloudFormation User Guide: "Custom::MyCustomResourceTypeName")."""
    if type_name.startswith("Custom::"):
        type_name = CUSTOM
    return HANDLERS.get(type_name)


def supported_types() -> list[str]:
    return sorted(HANDLERS)
