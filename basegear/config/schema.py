"""Checks resolved configuration against the service model and turns each pydantic error into
a Problem at its file, line and column, in the words of a serverless.yml author.

This module is the one boundary where pydantic's errors become BaseGear's."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from basegear.config.loader import Document, has_step
from basegear.config.suggest import did_you_mean
from basegear.errors import ConfigPath, Problem
from basegear.model import Service
from basegear.model.base import describe
from basegear.model.events import Event
from basegear.model.stepfunctions import StateMachineEvent

_KINDS = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "list": "a list",
}


def check_schema(
    document: Document,
    data: Any = None,
    to_original: Callable[[ConfigPath], ConfigPath] | None = None,
) -> tuple[Service | None, list[Problem]]:
    """The model, or None and one Problem per mistake. ``data`` (by default the document's)
    is what is validated; when it is a pruned copy of the document's data, ``to_original``
    turns a path in it into the path of the same value in the document."""
    value = document.data if data is None else data
    try:
        return Service.model_validate(value), []
    except ValidationError as exc:
        return None, _problems(exc, value, document, to_original or (lambda path: path))


def _problems(
    exc: ValidationError,
    data: Any,
    document: Document,
    to_original: Callable[[ConfigPath], ConfigPath],
) -> list[Problem]:
    by_path: dict[ConfigPath, list[tuple[int, Problem]]] = {}
    for error in exc.errors():
        path, depth = _data_path(data, error["loc"], error["type"])
        path = to_original(path)
        # A wrong key (unknown, or a mapping key of the wrong form such as a function name) is
        # shown where the key is written; a problem about a whole mapping or list, or a missing
        # key, at the key that holds the mapping (Document.problem_location).
        if error["type"] == "extra_forbidden" or error["loc"][-1:] == ("[key]",):
            where = document.location(path, key=True)
        else:
            where = document.problem_location(path)
        problem = Problem(_message(error, path), where, path)
        by_path.setdefault(path, []).append((depth, problem))
    problems: list[Problem] = []
    for path, found in by_path.items():
        # A union reports one error per alternative; a deeper error is the meaningful one,
        # and when a deeper path has errors, type errors of its ancestors are noise.
        if any(other[: len(path)] == path and other != path for other in by_path):
            continue
        deepest = max(depth for depth, _ in found)
        messages = list(dict.fromkeys(p.message for d, p in found if d == deepest))
        first = next(p for d, p in found if d == deepest)
        problems.append(Problem(_merge(messages), first.location, path))
    return problems


def _merge(messages: list[str]) -> str:
    """``expected a string, got 5`` + ``expected a mapping, got 5`` → one message."""
    if len(messages) > 1 and all(m.startswith("expected ") and ", got " in m for m in messages):
        got = messages[0].rsplit(", got ", 1)[1]
        kinds = [m.removeprefix("expected ").rsplit(", got ", 1)[0] for m in messages]
        return f"expected {' or '.join(dict.fromkeys(kinds))}, got {got}"
    return "; ".join(messages)


def _data_path(data: Any, loc: tuple[int | str, ...], kind: str) -> tuple[ConfigPath, int]:
    """pydantic's loc holds union member names (``str``, ``AlarmDefinition``, …) and ``[key]``
    markers; keep only the steps that exist in the data. Returns the path and how many loc
    steps were taken (deeper is more specific)."""
    path: list[str | int] = []
    node = data
    for index, step in enumerate(loc):
        if has_step(node, step):
            node = node[step]
            path.append(step)
        elif index == len(loc) - 1 and kind in ("missing", "extra_forbidden"):
            path.append(step)
    return tuple(path), len(loc)


def _message(error: Any, path: ConfigPath) -> str:
    kind: str = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        noun = "event type" if _model_at(path[:-1]) in (Event, StateMachineEvent) else "key"
        return f"unknown {noun} '{key}'{did_you_mean(key, _allowed_keys(path[:-1]))}"
    if kind == "missing":
        return f"missing required key '{path[-1]}'" if path else "missing required key"
    if kind.endswith(("_type", "_parsing")) or kind in ("int_from_float", "model_attributes_type"):
        family = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float")
        if family in _KINDS:
            return f"expected {_KINDS[family]}, got {describe(value)}"
    if kind == "string_pattern_mismatch":
        return f"{describe(value)} does not match the pattern {error['ctx']['pattern']}"
    if kind in ("too_long", "too_short"):
        return str(error["msg"]).replace("List should", "expected a list that should").lower()
    message = str(error["msg"])
    if message.startswith("Input should be"):
        return f"expected {message.removeprefix('Input should be ')}, got {describe(value)}"
    if message.startswith("Value error, "):
        return message.removeprefix("Value error, ")
    return message


def _allowed_keys(path: ConfigPath) -> list[str]:
    """The keys the model accepts at ``path``, for did-you-mean suggestions."""
    model = _model_at(path)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(path: ConfigPath) -> type[BaseModel] | None:
    """The model that validates the mapping at ``path``, if there is one."""
    current: Any = Service
    for step in path:
        current = _step_into(current, step)
        if current is None:
            return None
    return _first_model(current)


def _step_into(annotation: Any, step: str | int) -> Any:
    model = _first_model(annotation)
    if model is not None:
        for name, field in model.model_fields.items():
            if step in (field.alias, name):
                return field.annotation
        return None
    for option in _options(annotation):
        origin = typing.get_origin(option)
        args = typing.get_args(option)
        if origin is dict and len(args) == 2:
            return args[1]
        if origin is list and args and isinstance(step, int):
            return args[0]
    return None


def _options(annotation: Any) -> list[Any]:
    """The alternatives of a union (and the type inside ``Annotated``)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _options(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [option for arg in typing.get_args(annotation) for option in _options(arg)]
    return [annotation]


def _first_model(annotation: Any) -> type[BaseModel] | None:
    for option in _options(annotation):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None
