"""Values in variables: how they become text (as JavaScript writes them, since the Serverless
Framework is JavaScript), how a dotted address steps into them, and the outcomes of a source
that has no value. Used by ``basegear.config.variables``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear.config.loader import js_text
from basegear.config.variable_syntax import Variable

NOT_FOUND: Any = object()
"""A source has nothing at the address (so a fallback applies)."""


class UnresolvableError(Exception):
    """A variable cannot be resolved; carries the message without its location."""


@dataclass(frozen=True)
class Absent:
    """A source has no value here (so a fallback applies), and says why."""

    reason: str


Include = tuple[Path | None, str]
"""A file and the address read from it (``""`` for the whole file)."""


def nesting_depth(value: Any) -> int:
    """How many mappings and lists are nested in ``value``, itself included."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            stack.extend(
                (child, level + 1) for child in (node.values() if isinstance(node, dict) else node)
            )
    return deepest


def address_step(node: Any, part: str) -> str | int | None:
    """One step of a dotted address into ``node``: a key, a list index, or None."""
    if isinstance(node, list) and re.fullmatch(r"0|[1-9][0-9]*", part):
        index = int(part)
        return index if index < len(node) else None
    return part if isinstance(node, dict) and part in node else None


def embedded_text(value: Any, variable: Variable) -> str:
    """A variable's value placed inside a longer string, as JavaScript turns it into text."""
    if isinstance(value, dict):
        raise UnresolvableError(
            f"'{variable.text}' is a mapping and cannot be placed inside a string"
        )
    if isinstance(value, list):
        return ",".join(list_item_text(item) for item in value)
    return js_text(value)


def list_item_text(item: Any) -> str:
    if item is None:
        return ""
    if isinstance(item, dict):
        return "[object Object]"
    if isinstance(item, list):
        return ",".join(list_item_text(inner) for inner in item)
    return js_text(item)


def setting_text(value: Any, default: str) -> str:
    """``provider.stage`` or ``provider.region`` as text; the default when it is unset, empty or
    not a single value (the schema reports a mapping or a list there)."""
    if value is NOT_FOUND or value is None or value == "" or isinstance(value, dict | list):
        return default
    return js_text(value)


def parameter_text(value: object, source: str) -> str:
    """A parameter as text: scalars and lists as JavaScript writes them; no mappings."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        raise UnresolvableError(f"the parameter of '{source}' must be text, not a mapping")
    if isinstance(value, list):
        return ",".join(list_item_text(item) for item in value)
    return js_text(value)


def include_text(include: Include) -> str:
    """``config.yml`` or ``config.yml:table`` (the address read from it)."""
    file, address = include
    name = display_path(file) if file is not None else "(the service file)"
    return f"{name}:{address}" if address else name


def display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
