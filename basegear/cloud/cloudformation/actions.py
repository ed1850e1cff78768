"""The registry of CloudFormation API actions: ``@action("CreateStack")`` adds a function that
takes the provider and the call's parameters and returns the result's fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from basegear.cloud.cloudformation.provider import CloudFormationProvider

NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
"""Stack and change set names (CreateStack, CreateChangeSet: ``[a-zA-Z][-a-zA-Z0-9]*``, at most
128 characters)."""


@dataclass(frozen=True)
class Call:
    region: str
    account: str
    params: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    def flag(self, key: str) -> bool:
        return str(self.params.get(key, "false")).lower() == "true"


Action = Callable[["CloudFormationProvider", Call], dict[str, Any] | None]
ACTIONS: dict[str, Action] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(function: Action) -> Action:
        ACTIONS[name] = function
        return function

    return register
