"""YAML and JSON loading that remembers where every value came from.

The result is plain data (dicts, lists, scalars) plus a map from each value's path to its file,
line and column, so that every later stage can report a problem at its line. CloudFormation
short-form tags (``!Ref``, ``!GetAtt``, ``!Sub``, …) become their long forms, as CloudFormation
reads them (CloudFormation User Guide, "Intrinsic function reference").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from basegear.errors import ConfigError, ConfigPath, Location, Problem

try:  # the C parser is several times faster; the pure-Python one is a fallback
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):
    """Plain scalars typed by the YAML 1.2 core schema, as the Serverless Framework's parser
    (js-yaml) types them: ``yes``, ``on`` and ``12:30`` stay strings, ``010`` is ten."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}


_CORE_SCHEMA = {
    "bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", "tftfTFTF"),
    "null": (r"^(?:~|null|Null|NULL|)$", "~nN"),
    "int": (r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    "float": (
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+.0123456789",
    ),
    "merge": (r"^<<$", "<"),
}
for _name, (_pattern, _first) in _CORE_SCHEMA.items():
    _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_name}", re.compile(_pattern), list(_first))

# Short-form tag → long-form key (CloudFormation User Guide, "Intrinsic function reference").
SHORT_FORM_TAGS: dict[str, str] = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!FindInMap": "Fn::FindInMap",
    "!ImportValue": "Fn::ImportValue",
    "!Base64": "Fn::Base64",
    "!Cidr": "Fn::Cidr",
    "!GetAZs": "Fn::GetAZs",
    "!Transform": "Fn::Transform",
    "!ToJsonString": "Fn::ToJsonString",
    "!Length": "Fn::Length",
}

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"


@dataclass
class Document:
    """Plain data plus where each value (``locations``) and each mapping key (``key_locations``)
    was written. Paths are tuples of keys and list indexes from the document root."""

    data: Any
    locations: dict[ConfigPath, Location] = field(default_factory=dict)
    key_locations: dict[ConfigPath, Location] = field(default_factory=dict)

    def location(self, path: ConfigPath, *, key: bool = False) -> Location | None:
        """The closest known location of ``path``: the node itself, else its nearest parent."""
        if key and path in self.key_locations:
            return self.key_locations[path]
        for end in range(len(path), -1, -1):
            found = self.locations.get(path[:end])
            if found is not None:
                return found
        return None

    def graft(self, other: Document, source: ConfigPath, target: ConfigPath) -> None:
        """Record ``other``'s locations under ``source`` as the locations of ``target``."""
        for mine, theirs in (
            (self.locations, other.locations),
            (self.key_locations, other.key_locations),
        ):
            for path, where in list(theirs.items()):
                if path[: len(source)] == source:
                    mine[target + path[len(source) :]] = where


def has_step(node: Any, key: str | int) -> bool:
    """Whether ``node[key]`` exists: a mapping key, or an index within a list."""
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)


def load_file(path: Path, *, display_name: str | None = None) -> Document:
    """Read a YAML or JSON file; a missing or unreadable file is a ConfigError."""
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.at(f"file not found: {path}", None) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.at(f"cannot read {path}: {exc}", None) from exc
    return load_text(text, name)


def load_text(text: str, file: str) -> Document:
    """Parse YAML (JSON is read the same way) into a located Document."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(file, mark.line + 1, mark.column + 1) if mark else None
        reason = exc.problem or "malformed YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise ConfigError.at(f"malformed YAML: {reason}{context}", where) from exc
    except yaml.YAMLError as exc:
        raise ConfigError.at(f"malformed YAML: {exc}", Location(file, 1, 1)) from exc
    document = Document(None)
    if root is None:
        document.data = {}
        return document
    builder = _Builder(file, document)
    document.data = builder.build(root, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return document


class _Builder:
    """Turns a composed YAML node tree into plain data, recording every node's location."""

    def __init__(self, file: str, document: Document) -> None:
        self.file = file
        self.document = document
        self.problems: list[Problem] = []

    def where(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: ConfigPath) -> Any:
        self.document.locations.setdefault(path, self.where(node))
        tag = node.tag or ""
        if tag.startswith("!"):
            return self.short_form(node, tag, path)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: ConfigPath) -> Any:
        text: str = node.value
        kind = (node.tag or "").removeprefix(_STANDARD_TAG_PREFIX)
        try:
            return _core_scalar(kind, text)
        except ValueError:
            self.problems.append(
                Problem(f"malformed YAML: '{text}' is not a valid !!{kind}", self.where(node), path)
            )
            return text

    def mapping(self, node: yaml.MappingNode, path: ConfigPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self.merge(merged, value_node, path)
                continue
            key = self.scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float | bool) or key is None:
                self.problems.append(
                    Problem(
                        "expected a plain key (a string or a number)", self.where(key_node), path
                    )
                )
                continue
            key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in result:
                self.problems.append(
                    Problem(
                        f"duplicate key '{key}' (it is also set earlier in this mapping)",
                        self.where(key_node),
                        (*path, key),
                    )
                )
            self.document.key_locations[(*path, key)] = self.where(key_node)
            result[key] = self.build(value_node, (*path, key))
        for key, value in merged.items():  # explicit keys win over merged ones (YAML 1.1)
            result.setdefault(key, value)
        return result

    def merge(self, result: dict[Any, Any], node: yaml.Node, path: ConfigPath) -> None:
        """YAML merge keys (``<<: *defaults`` or ``<<: [*a, *b]``): earlier sources win."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            merged = self.build(source, path)
            if not isinstance(merged, dict):
                self.problems.append(
                    Problem(
                        "a merge key (<<) expects a mapping or a list of mappings",
                        self.where(source),
                        path,
                    )
                )
                continue
            for key, value in merged.items():
                result.setdefault(key, value)

    def short_form(self, node: yaml.Node, tag: str, path: ConfigPath) -> Any:
        long_form = SHORT_FORM_TAGS.get(tag)
        if long_form is None:
            known = ", ".join(SHORT_FORM_TAGS)
            self.problems.append(
                Problem(f"unknown tag '{tag}' (expected one of {known})", self.where(node), path)
            )
            return None
        inner = (*path, long_form)
        if isinstance(node, yaml.MappingNode):
            value: Any = self.mapping(node, inner)
        elif isinstance(node, yaml.SequenceNode):
            value = [self.build(item, (*inner, i)) for i, item in enumerate(node.value)]
        else:
            value = str(node.value)
            self.document.locations.setdefault(inner, self.where(node))
        if long_form == "Fn::GetAtt" and isinstance(value, str):
            # "!GetAtt Resource.Attribute": the attribute itself may contain dots.
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
        return {long_form: value}


def _core_scalar(kind: str, text: str) -> Any:
    """A scalar by its YAML 1.2 core-schema tag; explicit ``!!`` tags of other kinds stay text."""
    if kind == "null":
        return None
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError(text)
        return text.lower() == "true"
    if kind == "int":
        if text.startswith(("0o", "0x")):
            return int(text, 0)
        return int(text, 10)
    if kind == "float":
        lowered = text.lower().lstrip("+")
        if lowered in (".inf", "-.inf", ".nan"):
            return {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[lowered]
        return float(text)
    return text
