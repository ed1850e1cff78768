"""The syntax of Serverless Framework v3 variables: a string cut into text and ``${…}`` parts.

``${`` opens a variable when a lower-case source name follows, then ``:`` or ``(``; any other
``${`` (``${AWS::Region}``, ``${Bucket.Arn}``, ``${ self:x }``) is CloudFormation's and stays
text. After the source come parameters in parentheses and an address after ``:``; both may hold
nested variables. Fallbacks follow commas: other sources, or — last — a quoted string (single
quotes take the text as it is; double quotes read escapes as JSON does), a number as JavaScript
reads one, ``true``, ``false`` or ``null``. A backslash before ``${`` makes it text; of several
backslashes, every pair stands for one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn

NOT_A_LITERAL: Any = object()

_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_SOURCE_NAME = re.compile(r"[a-z][a-zA-Z0-9]*")
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_PREFIXED = re.compile(r"0(?:[xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


class VariableSyntaxError(ValueError):
    """A string that starts a variable but does not follow the variable syntax."""


@dataclass(frozen=True)
class Literal:
    """A fallback written as a value: ``'dev'``, ``10``, ``true``, ``null``."""

    value: object


@dataclass(frozen=True)
class Source:
    """``kind(params):address``; ``params`` is None without parentheses. Each parameter and
    the address is text, a literal value, or a Template when it holds variables."""

    kind: str
    params: tuple[object, ...] | None
    address: object
    text: str = ""


@dataclass(frozen=True)
class Variable:
    text: str
    sources: tuple[Source | Literal, ...]


@dataclass(frozen=True)
class Template:
    """A string cut into literal text and variables (escapes already applied)."""

    parts: tuple[str | Variable, ...]

    @property
    def whole(self) -> Variable | None:
        """The variable, when the string is exactly one variable."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Variable):
            return self.parts[0]
        return None


def parse(text: str) -> Template | None:
    """``text`` cut into parts, or None when it holds no variable and no escape."""
    if "${" not in text:
        return None
    parts = _Parser(text).top()
    if parts == [text]:
        return None
    return Template(tuple(parts))


class _Parser:
    """A cursor over one string; every method takes and returns an index into it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def char(self, index: int) -> str:
        return self.text[index] if index < len(self.text) else ""

    def spaces(self, index: int) -> int:
        while self.char(index) == " ":
            index += 1
        return index

    def error(self, message: str, index: int) -> NoReturn:
        raise VariableSyntaxError(f"{message} at character {index + 1} of '{self.text}'")

    def top(self) -> list[str | Variable]:
        """Scan outside variables, where backslashes escape and ``$`` may open a variable.

        States: "out"; "\\" inside an odd run of backslashes; "\\$" after such a run and a
        ``$``; "$" after one or more ``$``. ``run`` is where the last run of backslashes began
        (-1 when none is pending), ``dollar`` where the current ``$`` run began."""
        parts: list[str | Variable] = []
        text, last, index = self.text, 0, 0
        state, run, dollar = "out", -1, -1
        while index < len(text):
            char = text[index]
            if state == "$" and char == "{":
                if run >= 0:  # an even run of backslashes: each pair stands for one
                    parts.append(text[last:run] + "\\" * ((dollar - run) // 2))
                    last = dollar
                variable, end = self.variable(index - 1, nested=False)
                if variable is not None:
                    parts.extend((text[last:dollar], variable))
                    last, index = end, end
                state, run = "out", -1
                if variable is not None:
                    continue
            elif state == "$":
                run = -1
                state = "$" if char == "$" else "out"  # the ending character is not read again
            elif state == "\\$" and char == "{":  # an odd run: the "${" is text
                parts.append(text[last:run] + "\\" * ((index - 1 - run) // 2) + "$")
                last, state, run = index, "out", -1
            elif state == "\\" and char in ("$", "\\"):
                state = "\\$" if char == "$" else "out"
            elif char == "\\":
                if state == "\\$" or run < 0:
                    run = index
                state = "\\"
            elif char == "$":
                if state == "\\$":
                    run = -1
                state, dollar = "$", index
            else:
                state, run = "out", -1
            index += 1
        parts.append(text[last:])
        merged: list[str | Variable] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        return merged or [""]

    def variable(self, start: int, *, nested: bool) -> tuple[Variable | None, int]:
        """The variable opening at ``start`` and the index after it; None for text."""
        index = start + 2
        if self.char(index) not in _LOWER:
            if nested:
                self.error("a variable inside a variable must start with a source name", index)
            return None, index
        end = index
        while self.char(end) in _NAME_CHARS:
            end += 1
        if self.char(end) not in (":", "("):
            if nested:
                self.error("expected ':' or '(' after the source name", end)
            return None, index
        first, index = self.source(self.text[index:end], end, nested=nested, first=True)
        if first is None:
            return None, start + 2
        sources: list[Source | Literal] = [first]
        while self.char(index) == ",":
            index = self.spaces(index + 1)
            item, index = self.fallback(index)
            sources.append(item)
        if self.char(index) != "}":
            self.unclosed(index)
        return Variable(self.text[start : index + 1], tuple(sources)), index + 1

    def unclosed(self, index: int) -> NoReturn:
        if index >= len(self.text):
            self.error("missing '}' to close the variable", index)
        self.error(f"unexpected '{self.char(index)}'", index)

    def source(
        self, kind: str, index: int, *, nested: bool, first: bool
    ) -> tuple[Source | None, int]:
        begin = index - len(kind)
        params: tuple[object, ...] | None = None
        if self.char(index) == "(":
            params, index = self.params(index + 1)
            index = self.spaces(index)
            if self.char(index) in (",", "}"):
                return Source(kind, params, None, self.text[begin:index].strip()), index
            if self.char(index) != ":":
                self.unclosed(index)
        index = self.spaces(index + 1)
        char = self.char(index)
        if char in (",", "}"):
            return Source(kind, params, None, self.text[begin:index].strip()), index
        if char == ":":
            if params is None and first and not nested:
                return None, index  # "${name::…}" is not a variable
            self.error("unexpected ':' at the start of an address", index)
        address: str | Template
        if char in ("'", '"'):
            address, index = self.quoted(index)
            index = self.spaces(index)
            if self.char(index) not in (",", "}"):
                self.unclosed(index)
            return Source(kind, params, address, self.text[begin:index].strip()), index
        address, index = self.until(index, (",", "}"))
        return Source(kind, params, address, self.text[begin:index].strip()), index

    def params(self, index: int) -> tuple[tuple[object, ...], int]:
        values: list[object] = []
        while True:
            index = self.spaces(index)
            char = self.char(index)
            if char == ")":
                return tuple(values), index + 1
            if char == ",":
                values.append(None)
                index += 1
                continue
            if not char:
                self.unclosed(index)
            if char == "}":
                self.error("expected ')' to close the parameters", index)
            value: object
            if char in ("'", '"'):
                value, index = self.quoted(index)
                index = self.spaces(index)
            else:
                raw, index = self.until(index, (",", ")"))
                value = literal(raw) if isinstance(raw, str) else raw
                if value is NOT_A_LITERAL:
                    value = raw
                elif value in (False, 0):  # the Framework drops these as if not given
                    value = None
            values.append(value)
            if self.char(index) == ")":
                return tuple(values), index + 1
            if self.char(index) != ",":
                self.error("expected ',' or ')' after a parameter", index)
            index += 1

    def fallback(self, index: int) -> tuple[Source | Literal, int]:
        char = self.char(index)
        if char in ("'", '"'):
            value, index = self.quoted(index)
            index = self.spaces(index)
            if self.char(index) != "}":
                self.error("a quoted fallback must be the last one", index)
            return Literal(value), index
        if char in _NAME_CHARS:
            end = index
            while self.char(end) in _NAME_CHARS or self.char(end) == " ":
                end += 1
            word = self.text[index:end]
            if self.char(end) in (":", "("):
                if not _SOURCE_NAME.fullmatch(word):
                    self.error(f"'{word}' is not a source name", index)
                found, end = self.source(word, end, nested=True, first=False)
                assert found is not None
                return found, end
            if self.char(end) == "}":
                value = literal(word.strip())
                if value is NOT_A_LITERAL:
                    self.error(
                        f"the fallback '{word.strip()}' is neither a source (source:address) "
                        "nor a value (a quoted string, a number, true, false or null)",
                        index,
                    )
                return Literal(value), end
            self.unclosed(end)
        if self.text.startswith("${", index):
            self.error("a fallback is written without ${ } (env:NAME, not ${env:NAME})", index)
        self.unclosed(index)

    def quoted(self, index: int) -> tuple[str, int]:
        quote, end = self.char(index), index + 1
        while True:
            char = self.char(end)
            if not char:
                self.error(f"missing closing {quote}", index)
            if quote == '"' and char == "\\":
                end += 2
                continue
            if char == quote:
                break
            end += 1
        if quote == "'":
            return self.text[index + 1 : end], end + 1
        try:
            value = json.loads(self.text[index : end + 1])
        except ValueError as exc:
            self.error(f"invalid string {self.text[index : end + 1]} ({exc.args[0]})", index)
        return str(value), end + 1

    def until(self, index: int, stops: tuple[str, ...]) -> tuple[str | Template, int]:
        """Text up to one of ``stops``, with variables inside it; stripped of spaces."""
        parts: list[str | Variable] = []
        start = index
        while True:
            char = self.char(index)
            if not char:
                self.unclosed(index)
            if char in stops:
                break
            if char == "}":
                self.error("unexpected '}'", index)
            if self.text.startswith("${", index):
                variable, end = self.variable(index, nested=True)
                assert variable is not None
                parts.append(self.text[start:index])
                parts.append(variable)
                index = start = end
                continue
            index += 1
        parts.append(self.text[start:index])
        if len(parts) == 1:
            return str(parts[0]).strip(), index
        if isinstance(parts[0], str):
            parts[0] = parts[0].lstrip()
        if isinstance(parts[-1], str):
            parts[-1] = parts[-1].rstrip()
        return Template(tuple(part for part in parts if part != "")), index


def literal(text: str) -> Any:
    """A value written in a variable: true, false, null or a number as JavaScript reads one."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if _PREFIXED.fullmatch(text):
        return int(text, 0)
    if text in ("Infinity", "+Infinity", "-Infinity"):
        return float(text)
    if _DECIMAL.fullmatch(text):
        number = float(text)
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        return number
    return NOT_A_LITERAL
