"""Matching a request path against resource paths (REST APIs) and route keys (HTTP APIs).

A path template is split into segments, each a literal (``items``), a path parameter (``{id}``)
or, as the last segment only, a greedy parameter (``{proxy+}``) that takes one or more of the
remaining segments. When several templates match, the most specific wins, segment by segment: a
literal before a parameter before a greedy parameter (API Gateway developer guide, "Set up a
proxy integration with a proxy resource": a more specific resource takes precedence over
``{proxy+}``; "Working with routes for HTTP APIs", "Routing API requests": "the most-specific
match" is selected, greedy path variables last).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

_T = TypeVar("_T")

LITERAL, PARAMETER, GREEDY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Segment:
    kind: int
    text: str  # the literal, or the parameter's name


def parse_template(template: str) -> tuple[Segment, ...]:
    """``/items/{id}/{proxy+}`` → its segments; ``/`` → none."""
    segments = []
    parts = [part for part in template.split("/") if part]
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}") and index == len(parts) - 1:
            segments.append(Segment(GREEDY, part[1:-2]))
        elif part.startswith("{") and part.endswith("}"):
            segments.append(Segment(PARAMETER, part[1:-1]))
        else:
            segments.append(Segment(LITERAL, part))
    return tuple(segments)


def split_path(path: str) -> list[str]:
    """The request path's segments, percent-decoded; empty segments dropped as API Gateway
    collapses repeated slashes."""
    return [unquote(part) for part in path.split("/") if part]


@dataclass(slots=True)
class Match(Generic[_T]):
    value: _T
    parameters: dict[str, str]


class _Node(Generic[_T]):
    __slots__ = ("greedy", "literals", "parameter", "values")

    def __init__(self) -> None:
        self.literals: dict[str, _Node[_T]] = {}
        self.parameter: dict[str, _Node[_T]] = {}
        self.greedy: tuple[str, list[_T]] | None = None
        self.values: list[_T] = []


class PathTable(Generic[_T]):
    """Templates → values, looked up by request path. A template may hold several values (one
    per method, say); ``find`` yields matches most specific first, so the caller can skip one
    whose values do not fit (a method not defined on that resource)."""

    def __init__(self, entries: Iterable[tuple[str, _T]] = ()) -> None:
        self._root: _Node[_T] = _Node()
        for template, value in entries:
            self.add(template, value)

    def add(self, template: str, value: _T) -> None:
        node = self._root
        for segment in parse_template(template):
            if segment.kind == LITERAL:
                node = node.literals.setdefault(segment.text, _Node())
            elif segment.kind == PARAMETER:
                node = node.parameter.setdefault(segment.text, _Node())
            else:
                if node.greedy is None:
                    node.greedy = (segment.text, [])
                node.greedy[1].append(value)
                return
        node.values.append(value)

    def find(self, path: str) -> list[Match[_T]]:
        """Every value whose template matches ``path``, most specific first."""
        found: list[Match[_T]] = []
        self._walk(self._root, split_path(path), 0, {}, found)
        return found

    def _walk(
        self,
        node: _Node[_T],
        segments: list[str],
        index: int,
        parameters: dict[str, str],
        found: list[Match[_T]],
    ) -> None:
        if index == len(segments):
            found.extend(Match(value, dict(parameters)) for value in node.values)
            return
        segment = segments[index]
        child = node.literals.get(segment)
        if child is not None:
            self._walk(child, segments, index + 1, parameters, found)
        for name, child in node.parameter.items():
            saved = parameters.get(name)
            parameters[name] = segment
            self._walk(child, segments, index + 1, parameters, found)
            if saved is None:
                del parameters[name]
            else:
                parameters[name] = saved
        if node.greedy is not None:
            name, values = node.greedy
            rest = "/".join(segments[index:])
            found.extend(Match(value, {**parameters, name: rest}) for value in values)
