"""YAML and JSON loading that remembers where every value came from.

The result is plain data (dicts, lists, scalars) plus a map from each value's path to its file,
line and column, so that every later stage can report a problem at its line. CloudFormation
short-form tags (``!Ref``, ``!GetAtt``, ``!Sub``, …) become their long forms, as CloudFormation
reads them (CloudFormation User Guide, "Intrinsic function reference").

Plain scalars are typed as the Serverless Framework's YAML reader types them: by the YAML 1.2
core schema, so ``yes``, ``on`` and ``12:30`` stay strings and ``010`` is ten. Nodes are composed
without recursion, so no input can exhaust the stack; nesting deeper than ``MAX_DEPTH`` and
aliases that expand beyond ``MAX_VALUES`` values are reported as problems.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from basegear.errors import ConfigError, ConfigPath, Location, Problem

try:  # the C parser is several times faster; the pure-Python one is a fallback
    from yaml import CSafeLoader as _BaseLoader

    _BYTE_POSITIONS = True  # the C reader counts positions in UTF-8 bytes
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

    _BYTE_POSITIONS = False

MAX_DEPTH = 100
"""Deepest nesting of mappings and sequences accepted in one file."""

MAX_VALUES = 100_000
"""Most values one file may hold once its aliases are expanded."""


class _Loader(_BaseLoader):
    """The parser with the YAML 1.2 core schema's implicit types (see ``_CORE_SCHEMA``)."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


# tag → (pattern, the characters a matching plain scalar can start with; "" is the empty one)
_CORE_SCHEMA = {
    "bool": (r"^(?:true|True|TRUE|false|False|FALSE)$", ["t", "f", "T", "F"]),
    "null": (r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    "int": (r"^[-+]?(?:[0-9]+|0b[01]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    "float": (
        r"^(?:[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
    "merge": (r"^<<$", ["<"]),
}
_PATTERNS = {name: re.compile(pattern) for name, (pattern, _first) in _CORE_SCHEMA.items()}
for _name, (_pattern, _first) in _CORE_SCHEMA.items():
    _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_name}", _PATTERNS[_name], _first)

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

_STANDARD_TAG_PREFIX = "tag:yaml.org,2002:"
_MERGE_TAG = _STANDARD_TAG_PREFIX + "merge"
# Standard tags read as text: js-yaml's default schema knows them, BaseGear keeps their text.
_TEXT_TAGS = ("str", "binary", "timestamp", "merge")
_INVALID: Any = object()


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

    def problem_location(self, path: ConfigPath) -> Location | None:
        """Where a problem about ``path`` is shown: at a single value itself; at the key of a
        mapping or a list (the problem is about the whole of it); for a key that is missing,
        at the key of the mapping that lacks it."""
        node = self.data
        for step in path:
            if not has_step(node, step):
                break
            node = node[step]
        else:
            if not isinstance(node, dict | list):
                return self.location(path)
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            found = self.key_locations.get(prefix) or self.locations.get(prefix)
            if found is not None:
                return found
        return None

    def graft(
        self, other: Document, source: ConfigPath, target: ConfigPath, *, below: bool = False
    ) -> None:
        """Record ``other``'s locations under ``source`` as the locations of ``target``; with
        ``below``, only those of the values inside it (``target`` keeps its own)."""
        for mine, theirs in (
            (self.locations, other.locations),
            (self.key_locations, other.key_locations),
        ):
            for path, where in list(theirs.items()):
                if path[: len(source)] == source and not (below and len(path) == len(source)):
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
        raise ConfigError.at(f"file not found: {name}", None) from None
    except IsADirectoryError:
        raise ConfigError.at(f"cannot read {name}: it is a folder", None) from None
    except UnicodeDecodeError as exc:
        raise ConfigError.at(
            f"cannot read {name}: not UTF-8 text (byte {exc.start})", Location(name, 1, 1)
        ) from None
    except OSError as exc:
        raise ConfigError.at(f"cannot read {name}: {exc.strerror or exc}", None) from None
    return load_text(text, name)


def load_text(text: str, file: str) -> Document:
    """Parse YAML (JSON is read the same way) into a located Document."""
    root = _Composer(text, file).compose()
    document = Document(None)
    if root is None:  # an empty file (or only comments): problems about it are at its start
        document.data = {}
        document.locations[()] = Location(file, 1, 1)
        return document
    builder = _Builder(file, document)
    try:
        document.data = builder.build(root, (), 0)
    except _TooManyValuesError:
        raise ConfigError.at(
            f"aliases expand to more than {MAX_VALUES} values", builder.where(root)
        ) from None
    if builder.problems:
        raise ConfigError(builder.problems)
    return document


class _Composer:
    """Events → one document's node tree, with an explicit stack instead of recursion."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file

    def compose(self) -> yaml.Node | None:
        try:
            loader = _Loader(self.text)
        except UnicodeEncodeError as exc:  # a lone surrogate: not text any file can hold
            raise ConfigError.at(
                "malformed YAML: the text holds an invalid character", self._position(exc.start)
            ) from None
        try:
            return self._compose(loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            reason = exc.problem or "malformed YAML"
            context = f" ({exc.context})" if exc.context else ""
            raise ConfigError.at(f"malformed YAML: {reason}{context}", self._mark(mark)) from None
        except yaml.reader.ReaderError as exc:
            reason = f"{exc.reason}" if exc.reason else "unreadable character"
            raise ConfigError.at(
                f"malformed YAML: {reason} (#x{exc.character:04x})"
                if isinstance(exc.character, int)
                else f"malformed YAML: {reason}",
                self._position(exc.position, in_bytes=_BYTE_POSITIONS),
            ) from None
        except yaml.YAMLError as exc:
            raise ConfigError.at(f"malformed YAML: {exc}", Location(self.file, 1, 1)) from None
        finally:
            loader.dispose()

    def _compose(self, loader: _Loader) -> yaml.Node | None:
        anchors: dict[str, yaml.Node] = {}
        # open collections: (node, its children so far)
        stack: list[tuple[yaml.Node, list[yaml.Node]]] = []
        root: yaml.Node | None = None
        documents = 0
        while loader.check_event():
            event: Any = loader.get_event()
            start: Any = event.start_mark
            end: Any = event.end_mark
            node: yaml.Node
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise ConfigError.at(
                        "malformed YAML: expected one document, found a second one "
                        "(a '---' line starts a new document)",
                        self._mark(event.start_mark),
                    )
                continue
            if isinstance(event, yaml.AliasEvent):
                found = anchors.get(event.anchor or "")
                if found is None:
                    raise ConfigError.at(
                        f"malformed YAML: alias *{event.anchor} names no anchor defined before it",
                        self._mark(event.start_mark),
                    )
                if any(found is open_node for open_node, _ in stack):
                    raise ConfigError.at(
                        f"malformed YAML: alias *{event.anchor} refers to a value that contains it",
                        self._mark(event.start_mark),
                    )
                node = found
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]
                node = yaml.ScalarNode(tag, event.value, start, end)
                if event.anchor:
                    anchors[event.anchor] = node
            elif isinstance(event, yaml.CollectionStartEvent):
                kind = (
                    yaml.SequenceNode
                    if isinstance(event, yaml.SequenceStartEvent)
                    else yaml.MappingNode
                )
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(kind, None, event.implicit)  # type: ignore[no-untyped-call]
                node = kind(tag, [], start, end)
                if event.anchor:
                    anchors[event.anchor] = node
                if len(stack) >= MAX_DEPTH:
                    raise ConfigError.at(
                        f"values are nested more than {MAX_DEPTH} levels deep",
                        self._mark(event.start_mark),
                    )
                stack.append((node, []))
                continue
            elif isinstance(event, yaml.CollectionEndEvent):
                node, children = stack.pop()
                if isinstance(node, yaml.MappingNode):
                    node.value = list(zip(children[::2], children[1::2], strict=True))
                else:
                    node.value = children
                node.end_mark = event.end_mark
            else:  # stream start and end, document end
                continue
            if stack:
                stack[-1][1].append(node)
            else:
                root = node
        return root

    def _mark(self, mark: Any) -> Location:
        if mark is None:
            return Location(self.file, 1, 1)
        return Location(self.file, mark.line + 1, mark.column + 1)

    def _position(self, position: int, *, in_bytes: bool = False) -> Location:
        if in_bytes:
            prefix = self.text.encode("utf-8", "surrogatepass")[:position]
            position = len(prefix.decode("utf-8", "ignore"))
        position = max(0, min(position, len(self.text)))
        line = self.text.count("\n", 0, position) + 1
        column = position - (self.text.rfind("\n", 0, position) + 1) + 1
        return Location(self.file, line, column)


class _TooManyValuesError(Exception):
    """Aliases expand beyond MAX_VALUES."""


class _Builder:
    """Turns a composed YAML node tree into plain data, recording every node's location."""

    def __init__(self, file: str, document: Document) -> None:
        self.file = file
        self.document = document
        self.problems: list[Problem] = []
        self.count = 0

    def where(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: ConfigPath, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise _TooManyValuesError
        self.document.locations.setdefault(path, self.where(node))
        tag = node.tag or ""
        if tag.startswith("!"):
            return self.short_form(node, tag, path, depth)
        if not tag.startswith(_STANDARD_TAG_PREFIX):
            self.problem(f"unknown tag '{tag}'", node, path)
            return None
        kind = tag.removeprefix(_STANDARD_TAG_PREFIX)
        if isinstance(node, yaml.MappingNode):
            if kind not in ("map", "set"):
                self.problem(f"the tag !!{kind} cannot be used on a mapping", node, path)
            return self.mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if kind not in ("seq", "omap", "pairs"):
                self.problem(f"the tag !!{kind} cannot be used on a list", node, path)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def problem(self, message: str, node: yaml.Node, path: ConfigPath) -> None:
        self.problems.append(Problem(message, self.where(node), path))

    def scalar(self, node: yaml.Node, path: ConfigPath) -> Any:
        text: str = node.value
        tag = node.tag or ""
        kind = tag.removeprefix(_STANDARD_TAG_PREFIX)
        if kind == tag or kind in _TEXT_TAGS:  # a local tag on a key, or a text type
            return text
        if kind not in _PATTERNS:
            self.problem(f"the tag !!{kind} cannot be used on a single value", node, path)
            return text
        value = _core_scalar(kind, text)
        if value is _INVALID:
            self.problem(f"malformed YAML: '{text}' is not a valid !!{kind}", node, path)
            return text
        return value

    def mapping(self, node: yaml.MappingNode, path: ConfigPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merges: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG and isinstance(key_node, yaml.ScalarNode):
                merges.append(value_node)
                continue
            key = self.key(key_node, path)
            if key is None:
                continue
            if key in result:
                self.problem(
                    f"duplicate key '{key}' (it is also set earlier in this mapping)",
                    key_node,
                    (*path, key),
                )
                continue
            self.document.key_locations.setdefault((*path, key), self.where(key_node))
            result[key] = self.build(value_node, (*path, key), depth + 1)
        # Merged keys come last so that explicit keys keep their own locations; explicit keys
        # win, and of several merged mappings the earlier one wins (YAML merge key type).
        for merge in merges:
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in sources:
                merged = self.build(source, path, depth)
                if not isinstance(merged, dict):
                    self.problem(
                        "a merge key (<<) expects a mapping or a list of mappings", source, path
                    )
                    continue
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result

    def key(self, node: yaml.Node, path: ConfigPath) -> str | None:
        """A mapping key as text, as the Serverless Framework's reader makes it."""
        if not isinstance(node, yaml.ScalarNode):
            self.problem("expected a plain key (a string or a number)", node, path)
            return None
        value = self.scalar(node, path)
        if isinstance(value, str):
            return value
        return js_text(value)

    def short_form(self, node: yaml.Node, tag: str, path: ConfigPath, depth: int) -> Any:
        long_form = SHORT_FORM_TAGS.get(tag)
        if long_form is None:
            known = ", ".join(SHORT_FORM_TAGS)
            self.problem(f"unknown tag '{tag}' (expected one of {known})", node, path)
            return None
        inner = (*path, long_form)
        value: Any
        if isinstance(node, yaml.MappingNode):
            self.document.locations.setdefault(inner, self.where(node))
            value = self.mapping(node, inner, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            self.document.locations.setdefault(inner, self.where(node))
            value = [self.build(item, (*inner, i), depth + 1) for i, item in enumerate(node.value)]
        else:
            value = str(node.value)
            self.document.locations.setdefault(inner, self.where(node))
        if long_form == "Fn::GetAtt" and isinstance(value, str):
            # "!GetAtt Resource.Attribute": the attribute itself may contain dots.
            resource, _, attribute = value.partition(".")
            value = [resource, attribute]
        return {long_form: value}


def _core_scalar(kind: str, text: str) -> Any:
    """A scalar by its YAML 1.2 core-schema tag, or _INVALID when the text does not fit the tag.
    Numbers too large for a double stay text, as they do for js-yaml."""
    if not _PATTERNS[kind].match(text):
        return _INVALID
    if kind == "null":
        return None
    if kind == "bool":
        return text.lower() == "true"
    if kind == "int":
        digits = text.lstrip("+-")
        if len(digits) > 400:
            return text
        whole = int(text, 0) if digits[:2] in ("0b", "0o", "0x") else int(text, 10)
        try:
            float(whole)
        except OverflowError:
            return text
        return whole
    special = text.lower().lstrip("+")
    if special in (".inf", "-.inf", ".nan"):
        return {".inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}[special]
    number = float(text)
    return text if math.isinf(number) else number


def js_number_text(value: float) -> str:
    """A number as JavaScript's ``String(number)`` writes it: ``1.0`` → ``1``, ``1e21`` →
    ``1e+21``, ``1e-7`` → ``1e-7``."""
    if isinstance(value, int) and abs(value) < 10**21:
        return str(value)
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "0"
    if number.is_integer() and abs(number) < 1e21:
        return str(int(number))
    text = repr(number)
    mantissa, _, exponent = text.partition("e")
    if 1e-6 <= abs(number) < 1e21:
        if not exponent:
            return text
        return format(Decimal(text), "f")
    if not exponent:  # repr wrote it without an exponent; JavaScript would not
        mantissa, _, exponent = f"{number:e}".partition("e")
        mantissa = repr(float(mantissa))
    power = int(exponent)
    mantissa = mantissa.removesuffix(".0")
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def js_text(value: Any) -> str:
    """A scalar as JavaScript's ``String(value)`` writes it (``null``, ``true``, ``1.5``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number_text(value)
    return str(value)
