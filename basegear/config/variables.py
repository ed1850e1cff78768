"""Variables in serverless.yml, resolved as the Serverless Framework v3 resolves them.

Syntax: ``${source:address, fallback, …}`` anywhere in a string value (Serverless Framework v3
documentation, "Variables"). A string that is exactly one variable takes the variable's value
and type; a variable inside a longer string is turned into text. Addresses may themselves hold
variables (``${self:custom.${sls:stage}}``). A fallback is used when a source has no value for
the address; it may be a quoted string, a number, ``true``/``false``/``null`` or another
variable. ``${AWS::Region}`` and ``${Resource.Arn}`` belong to CloudFormation's ``Fn::Sub`` and
are left alone, as are ``#{AWS::AccountId}`` pseudo parameters (the compiler turns those into
``Fn::Sub``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, Protocol

from basegear.config.loader import Document, has_step, load_file
from basegear.config.suggest import did_you_mean
from basegear.errors import ConfigError, ConfigPath, Location, Problem, dotted


class ExternalLookups(Protocol):
    """Sources that need a cloud: ``ssm``, ``cf``, ``s3`` and ``aws:accountId``.

    ``lookup`` returns the value, or ``None`` when the cloud has no value at that address
    (then a fallback applies)."""

    def lookup(self, source: str, address: str, argument: str | None) -> object: ...


class NoCloud:
    """Used until a cloud is attached: every lookup is a clear error naming it."""

    def lookup(self, source: str, address: str, argument: str | None) -> object:
        raise LookupError(f"'{source}' lookups need a cloud to read from, and none is attached")


@dataclass(frozen=True)
class Options:
    """What the command line says: ``--stage``, ``--region``, ``--param k=v``, any ``--x y``."""

    stage: str | None = None
    region: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, object] = field(default_factory=dict)

    def as_opt_source(self) -> dict[str, object]:
        values: dict[str, object] = dict(self.extra)
        if self.stage is not None:
            values["stage"] = self.stage
        if self.region is not None:
            values["region"] = self.region
        if self.params:
            values["param"] = [f"{key}={value}" for key, value in self.params.items()]
        return values


SOURCES = ("self", "opt", "env", "file", "sls", "aws", "param", "ssm", "cf", "s3", "strToBool")
_EXTERNAL = ("ssm", "cf", "s3")
# "source:" or "source(" at the start of a variable; "AWS::Region" is CloudFormation's.
_SOURCE = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)\s*([:(])")
_NOT_FOUND: Any = object()


class _UnresolvableError(Exception):
    """A variable cannot be resolved; carries the message without its location."""


class _DependsOnFailureError(Exception):
    """A reference to a value whose own problem is already reported."""


@dataclass
class _Variable:
    start: int
    end: int
    body: str


def find_variables(text: str) -> list[_Variable]:
    """Top-level ``${…}`` spans in ``text``, with balanced braces; CloudFormation's own
    ``${Name}`` forms (no source prefix, or ``AWS::``) are skipped."""
    found: list[_Variable] = []
    index = text.find("${")
    while index != -1:
        depth, cursor = 0, index
        while cursor < len(text):
            if text.startswith("${", cursor):
                depth += 1
                cursor += 2
                continue
            if text[cursor] == "}":
                depth -= 1
                if depth == 0:
                    break
            cursor += 1
        if depth != 0:
            break  # an unclosed "${" is left as text, as the Serverless Framework does
        body = text[index + 2 : cursor]
        if is_variable(body):
            found.append(_Variable(index, cursor + 1, body))
        index = text.find("${", cursor + 1)
    return found


def is_variable(body: str) -> bool:
    match = _SOURCE.match(body)
    if match is None:
        return False
    return not (match.group(2) == ":" and body[match.end() : match.end() + 1] == ":")


def _split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside quotes, parentheses and nested ``${…}``."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "({":
            depth += 1
        elif char in ")}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts]


class Resolver:
    """Resolves every variable of a service document in place.

    ``self:`` references are resolved lazily and depth first; a reference back to a value that
    is still being resolved is a cycle, reported with its whole chain."""

    def __init__(
        self,
        document: Document,
        *,
        service_dir: Path,
        options: Options,
        env: Mapping[str, str],
        cloud: ExternalLookups | None = None,
        instance_id: str = "",
    ) -> None:
        self.document = document
        self.service_dir = service_dir
        self.options = options
        self.env = env
        self.cloud = cloud or NoCloud()
        self.instance_id = instance_id
        self._active: list[ConfigPath] = []
        self._done: set[ConfigPath] = set()
        self._failed: set[ConfigPath] = set()
        self.problems: list[Problem] = []
        self._files: dict[Path, Document] = {}
        self._sources: dict[str, Callable[[str, str | None, ConfigPath], object]] = {
            "self": self._self,
            "opt": self._opt,
            "env": self._env,
            "file": self._file,
            "sls": self._sls,
            "aws": self._aws,
            "param": self._param,
            "strToBool": self._str_to_bool,
        }

    # -- public ------------------------------------------------------------------------------

    def resolve_all(self) -> Any:
        """Resolve everything; every unresolvable variable is reported, each once."""
        self.resolve_path(())
        if self.problems:
            raise ConfigError(self.problems)
        return self.document.data

    def value_at(self, path: ConfigPath) -> Any:
        """The fully resolved value at ``path``, or _NOT_FOUND."""
        for end in range(len(path) + 1):
            self._resolve_node(path[:end])
            node = self._get(path[:end])
            if node is _NOT_FOUND:
                return _NOT_FOUND
        self.resolve_path(path)
        if any(failed[: len(path)] == path for failed in self._failed):
            raise _DependsOnFailureError(path)
        return self._get(path)

    @property
    def stage(self) -> str:
        if self.options.stage:
            return self.options.stage
        value = self.value_at(("provider", "stage"))
        return "dev" if value in (_NOT_FOUND, None) else str(value)

    @property
    def region(self) -> str:
        if self.options.region:
            return self.options.region
        value = self.value_at(("provider", "region"))
        return "us-east-1" if value in (_NOT_FOUND, None) else str(value)

    # -- the tree ----------------------------------------------------------------------------

    def _get(self, path: ConfigPath) -> Any:
        node = self.document.data
        for key in path:
            if not has_step(node, key):
                return _NOT_FOUND
            node = node[key]
        return node

    def _set(self, path: ConfigPath, value: Any) -> None:
        if not path:
            self.document.data = value
            return
        parent = self._get(path[:-1])
        parent[path[-1]] = value

    def resolve_path(self, path: ConfigPath) -> None:
        """Resolve the node at ``path`` and everything below it."""
        if path in self._done:
            return
        if path in self._active:
            self._cycle(path)
        self._resolve_node(path)
        self._active.append(path)
        try:
            node = self._get(path)
            children = (
                list(node)
                if isinstance(node, dict)
                else (list(range(len(node))) if isinstance(node, list) else [])
            )
            for child in children:
                try:
                    self.resolve_path((*path, child))
                except _DependsOnFailureError:
                    continue  # reported where it failed; the walk goes on
        finally:
            self._active.pop()
        self._done.add(path)

    def _resolve_node(self, path: ConfigPath) -> None:
        """Replace the string at ``path`` by its value, if it holds variables."""
        if path in self._failed:
            raise _DependsOnFailureError(path)
        node = self._get(path)
        if not isinstance(node, str) or path in self._done:
            return
        while isinstance(node, str) and find_variables(node):
            if path in self._active:
                self._cycle(path)
            self._active.append(path)
            try:
                node = self._interpolate(node, path)
            except _UnresolvableError as exc:
                self._fail(path, str(exc))
            except ConfigError as exc:  # a file named here could not be read
                self.problems.extend(exc.problems)
                self._failed.add(path)
                raise _DependsOnFailureError(path) from None
            except _DependsOnFailureError:
                self._failed.add(path)
                raise
            finally:
                self._active.pop()
            self._set(path, node)
            if isinstance(node, dict | list):
                return  # a fresh structure: resolve_path walks into it

    def _cycle(self, path: ConfigPath) -> NoReturn:
        chain = [*self._active[self._active.index(path) :], path]
        text = " → ".join(dotted(step) or "(root)" for step in chain)
        self._fail(path, f"variable cycle: {text}")

    def _fail(self, path: ConfigPath, message: str) -> NoReturn:
        """Record a problem at ``path`` once; everything that depends on it fails quietly."""
        if path not in self._failed:
            self._failed.add(path)
            self.problems.append(Problem(message, self.document.location(path), path))
        raise _DependsOnFailureError(path)

    # -- strings -----------------------------------------------------------------------------

    def _interpolate(self, text: str, path: ConfigPath) -> Any:
        variables = find_variables(text)
        if len(variables) == 1 and variables[0].start == 0 and variables[0].end == len(text):
            return self._evaluate(variables[0].body, path)
        pieces, cursor = [], 0
        for variable in variables:
            value = self._evaluate(variable.body, path)
            if isinstance(value, dict | list):
                raise _UnresolvableError(
                    f"'${{{variable.body}}}' is a {type(value).__name__} and cannot be placed "
                    "inside a string"
                )
            pieces.append(text[cursor : variable.start])
            pieces.append(_as_text(value))
            cursor = variable.end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def _evaluate(self, body: str, path: ConfigPath) -> Any:
        """One ``${…}`` body: the first alternative that has a value."""
        alternatives = _split_top_level(body)
        for index, alternative in enumerate(alternatives):
            value = self._alternative(alternative, path, first=index == 0)
            if value is not _NOT_FOUND:
                return value
        source = re.split(r"[:(]", alternatives[0], maxsplit=1)[0].strip()
        raise _UnresolvableError(
            f"'${{{body}}}' has no value: the {source} source has nothing at "
            f"'{alternatives[0]}', and no fallback applies"
        )

    def _alternative(self, text: str, path: ConfigPath, *, first: bool) -> Any:
        if not first:
            literal = _literal(text)
            if literal is not _NOT_FOUND:
                return literal
            if text.startswith("${") and text.endswith("}"):
                return self._evaluate(text[2:-1], path)
        if not is_variable(text):
            raise _UnresolvableError(f"'{text}' is not a variable (expected source:address)")
        nested = find_variables(text)
        if nested:
            text = str(self._interpolate(text, path))
        return self._lookup(text, path)

    def _lookup(self, reference: str, path: ConfigPath) -> Any:
        match = _SOURCE.match(reference)
        assert match is not None
        source, rest = match.group(1), reference[match.end() :]
        argument: str | None = None
        if match.group(2) == "(":
            argument, _, rest = rest.partition(")")
            rest = rest.removeprefix(":")
        address = rest.strip()
        if source in _EXTERNAL or (source == "aws" and address == "accountId"):
            return self._external(source, address, argument)
        handler = self._sources.get(source)
        if handler is None:
            raise _UnresolvableError(
                f"unknown variable source '{source}'{did_you_mean(source, SOURCES)} "
                f"(expected one of {', '.join(SOURCES)})"
            )
        return handler(address, argument, path)

    # -- sources -----------------------------------------------------------------------------

    def _self(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        target = _address_path(address)
        value = self.value_at(target)
        if isinstance(value, dict | list):
            self.document.graft(self.document, target, path)
            return copy.deepcopy(value)
        return value

    def _opt(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        options = self.options.as_opt_source()
        return options if not address else options.get(address, _NOT_FOUND)

    def _env(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        return self.env.get(address, _NOT_FOUND)

    def _sls(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        if address == "stage":
            return self.stage
        if address == "instanceId":
            return self.instance_id
        raise _UnresolvableError(
            f"unknown sls variable '{address}'{did_you_mean(address, ['stage', 'instanceId'])} "
            "(expected stage or instanceId)"
        )

    def _aws(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        if address == "region":
            return self.region
        raise _UnresolvableError(
            f"unknown aws variable '{address}'{did_you_mean(address, ['region', 'accountId'])} "
            "(expected region or accountId)"
        )

    def _param(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        if address in self.options.params:
            return self.options.params[address]
        for block in (self.stage, "default"):
            value = self.value_at(("params", block, address))
            if value is not _NOT_FOUND:
                return value
        return _NOT_FOUND

    def _str_to_bool(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        text = (argument or "").strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0", ""):
            return False
        raise _UnresolvableError(f"strToBool expects true, false, 1 or 0, got '{argument}'")

    def _file(self, address: str, argument: str | None, path: ConfigPath) -> Any:
        if not argument:
            raise _UnresolvableError("file() needs a path, e.g. ${file(./config.yml)}")
        location = self.document.location(path)
        base = Path(location.file).parent if location else self.service_dir
        target = (base / argument.strip()).resolve()
        if target.suffix in (".js", ".cjs", ".mjs", ".ts"):
            raise _UnresolvableError(
                f"file({argument}) is JavaScript; BaseGear reads YAML and JSON files only"
            )
        if not target.is_file():
            return _NOT_FOUND
        if target.suffix not in (".yml", ".yaml", ".json"):
            return target.read_text(encoding="utf-8")
        if target not in self._files:
            self._files[target] = load_file(target, display_name=_display(target))
        included = self._files[target]
        inner = _address_path(address)
        value = _dig(included.data, inner)
        if value is _NOT_FOUND:
            return _NOT_FOUND
        self.document.graft(included, inner, path)
        return copy.deepcopy(value)

    def _external(self, source: str, address: str, argument: str | None) -> Any:
        try:
            value = self.cloud.lookup(source, address, argument)
        except LookupError as exc:
            where = f"({argument})" if argument else ""
            raise _UnresolvableError(
                f"cannot resolve '${{{source}{where}:{address}}}': {exc}"
            ) from None
        return _NOT_FOUND if value is None else value


def _address_path(address: str) -> ConfigPath:
    if not address:
        return ()
    return tuple(int(part) if part.isdigit() else part for part in address.split("."))


def _dig(data: Any, path: ConfigPath) -> Any:
    for key in path:
        if isinstance(data, dict) and str(key) in data:
            data = data[str(key)]
        elif isinstance(data, list) and isinstance(key, int) and key < len(data):
            data = data[key]
        else:
            return _NOT_FOUND
    return data


def _literal(text: str) -> Any:
    """A fallback written as a literal: 'quoted', "quoted", a number, true, false or null."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d+\.\d*", text):
        return float(text)
    return _NOT_FOUND


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["ExternalLookups", "Location", "NoCloud", "Options", "Resolver", "find_variables"]
