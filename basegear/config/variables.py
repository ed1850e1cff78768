"""Variables in serverless.yml, resolved as the Serverless Framework v3 resolves them.

Syntax (Serverless Framework v3 documentation, "Variables"): ``${source:address}``,
``${source(param, …):address}`` and fallbacks after commas, ``${opt:stage, env:STAGE, 'dev'}``.
A fallback is another source, or — last — a quoted string, a number, ``true``, ``false`` or
``null``. Addresses and parameters may hold variables (``${self:custom.${sls:stage}}``); a
fallback may not be written as ``${…}``. ``\\${`` is a literal ``${``.

A source that gives ``null`` has no value, so the next fallback applies. A string that is exactly
one variable takes the variable's value and type; a variable inside a longer string is turned
into text as JavaScript writes it (a list becomes ``a,b``; a mapping cannot be placed). Text a
variable produced is read again for variables, up to ten levels deep.

``${`` followed by anything but a lower-case source name (``${AWS::Region}``, ``${Bucket.Arn}``,
``${ self:x }``) belongs to CloudFormation's ``Fn::Sub`` and is left alone, as are
``#{AWS::AccountId}`` pseudo parameters (the compiler turns those into ``Fn::Sub``).

File paths in ``${file(…)}`` are relative to the service's folder, also inside included files.
A file that includes itself, directly or through other files, is a file-include cycle.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NoReturn, Protocol

from basegear.config.loader import Document, has_step, js_text, load_file
from basegear.config.suggest import closest, did_you_mean
from basegear.config.variable_syntax import (
    Literal,
    Source,
    Template,
    Variable,
    VariableSyntaxError,
    parse,
)
from basegear.config.variable_values import (
    NOT_FOUND,
    Absent,
    Include,
    UnresolvableError,
    address_step,
    display_path,
    embedded_text,
    include_text,
    nesting_depth,
    parameter_text,
    setting_text,
)
from basegear.errors import ConfigError, ConfigPath, Problem, dotted


class ExternalLookups(Protocol):
    """Sources that need a cloud: ``ssm``, ``cf``, ``s3`` and ``aws:accountId``.

    ``lookup`` returns the value, or ``None`` when the cloud has no value at that address
    (then a fallback applies); it raises ``LookupError`` when it cannot look at all."""

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
MAX_NESTING = 10
"""How many times text that variables produced is read again for variables."""
MAX_CHAIN = 40
"""How many values may wait on one another (``a`` needs ``b`` needs ``c`` …)."""
MAX_PATH = 200
"""The deepest a value may sit once variables placed mappings and lists into one another."""
_STACK = 20_000

# -- resolution --------------------------------------------------------------------------------


class _DependsOnFailureError(Exception):
    """A reference to a value whose own problem is already reported."""


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
        service_file: Path | None = None,
    ) -> None:
        self.document = document
        self.service_dir = service_dir
        self.service_file = service_file.resolve() if service_file is not None else None
        self.options = options
        self.env = env
        self.cloud = cloud or NoCloud()
        self.instance_id = instance_id
        self._active: dict[ConfigPath, None] = {}  # in order; a dict for quick lookups
        self._chain = 0
        self._done: set[ConfigPath] = set()
        self._settled: set[ConfigPath] = set()
        self._failed: set[ConfigPath] = set()
        self.problems: list[Problem] = []
        self._files: dict[Path, Document | ConfigError] = {}
        # Where a ${file(…)} placed a mapping or list, and what it read: the values below it
        # come from that file, and their own ${file(…)} may not read it again (a cycle).
        self._includes: dict[ConfigPath, Include] = {}
        # Text a ${file(…)} produced that is being read for variables, and the last such text.
        self._text_chain: list[tuple[ConfigPath, Include]] = []
        self._text_include: Include | None = None
        self._sources: dict[str, Callable[[str | None, tuple[object, ...], ConfigPath], Any]] = {
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
        # References are followed depth first, through values nested up to the loader's
        # MAX_DEPTH: allow the stack that needs (Python frames are cheap on 3.11).
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, _STACK))
        try:
            self.resolve_path(())
        except RecursionError:
            self.problems.append(
                Problem("variables are nested too deeply to resolve", self.document.location(()))
            )
        finally:
            sys.setrecursionlimit(limit)
        if self.problems:
            raise ConfigError(self.problems)
        return self.document.data

    def value_at(self, address: tuple[str, ...]) -> tuple[ConfigPath, Any]:
        """The path and fully resolved value at a dotted address (``provider.stage``); the
        value is NOT_FOUND when nothing is there."""
        path: ConfigPath = ()
        for part in address:
            step = address_step(self._get(path), part)
            if step is None:
                return path, NOT_FOUND
            path = (*path, step)
            self._resolve_node(path)
        self.resolve_path(path)
        if any(failed[: len(path)] == path for failed in self._failed):
            raise _DependsOnFailureError(path)
        return path, self._get(path)

    @property
    def stage(self) -> str:
        if self.options.stage:
            return self.options.stage
        _, value = self.value_at(("provider", "stage"))
        return setting_text(value, "dev")

    @property
    def region(self) -> str:
        if self.options.region:
            return self.options.region
        _, value = self.value_at(("provider", "region"))
        return setting_text(value, "us-east-1")

    def stage_if_known(self) -> str | None:
        """The stage, or None when ``provider.stage`` cannot be resolved (reported later)."""
        try:
            return self.stage
        except _DependsOnFailureError:
            return None

    # -- the tree ----------------------------------------------------------------------------

    def _get(self, path: ConfigPath) -> Any:
        node = self.document.data
        for key in path:
            if not has_step(node, key):
                return NOT_FOUND
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
        self._active[path] = None
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
            self._active.popitem()
        self._done.add(path)

    def _resolve_node(self, path: ConfigPath) -> None:
        """Replace the string at ``path`` by its value, if it holds variables."""
        if path in self._failed:
            raise _DependsOnFailureError(path)
        if path in self._settled:
            return
        node = self._get(path)
        if not isinstance(node, str):
            return
        if path in self._active:
            self._cycle(path)
        try:
            template = parse(node)
        except VariableSyntaxError as exc:
            self._fail(path, f"variable syntax error: {exc}")
        if template is None:
            self._settled.add(path)
            return
        if self._chain >= MAX_CHAIN:
            self._fail(path, f"more than {MAX_CHAIN} variables wait on one another here")
        self._active[path] = None
        self._chain += 1
        try:
            value = self._render(template, path, 0)
        except UnresolvableError as exc:
            self._fail(path, str(exc))
        except ConfigError as exc:  # a file named here could not be read
            self.problems.extend(exc.problems)
            self._failed.add(path)
            raise _DependsOnFailureError(path) from None
        except _DependsOnFailureError:
            self._failed.add(path)
            raise
        finally:
            self._active.popitem()
            self._chain -= 1
        if isinstance(value, dict | list) and len(path) + nesting_depth(value) > MAX_PATH:
            self._fail(path, f"values here would nest more than {MAX_PATH} levels deep")
        self._set(path, value)
        self._settled.add(path)

    def _cycle(self, path: ConfigPath) -> NoReturn:
        order = list(self._active)
        chain = [*order[order.index(path) :], path]
        text = " → ".join(dotted(step) or "(the whole file)" for step in chain)
        # Reported at the variable the cycle starts from, or at the last one in it.
        holders = [step for step in chain if isinstance(self._get(step), str)]
        self._fail(holders[0] if holders else path, f"variable cycle: {text}")

    def _fail(self, path: ConfigPath, message: str) -> NoReturn:
        """Record a problem at ``path`` once; everything that depends on it fails quietly."""
        if path not in self._failed:
            self._failed.add(path)
            self.problems.append(Problem(message, self.document.location(path), path))
        raise _DependsOnFailureError(path)

    # -- strings -----------------------------------------------------------------------------

    def _render(self, template: Template, path: ConfigPath, depth: int) -> Any:
        whole = template.whole
        if whole is not None:
            return self._value_of(whole, path, depth)
        pieces: list[str] = []
        for part in template.parts:
            if isinstance(part, str):
                pieces.append(part)
            else:
                pieces.append(embedded_text(self._value_of(part, path, depth, embedded=True), part))
        return "".join(pieces)

    def _value_of(
        self, variable: Variable, path: ConfigPath, depth: int, *, embedded: bool = False
    ) -> Any:
        """One variable's value, with the variables in the text it produced resolved in turn
        (while that text is read, the file it came from is part of the include chain)."""
        self._text_include = None
        value = self._evaluate(variable, path, depth)
        include, self._text_include = self._text_include, None
        if embedded:
            value = embedded_text(value, variable)
        if include is not None:
            self._text_chain.append((path, include))
        try:
            return self._settle(value, path, depth)
        finally:
            if include is not None:
                self._text_chain.pop()

    def _settle(self, value: Any, path: ConfigPath, depth: int) -> Any:
        """Text a variable produced, with the variables in it resolved in turn."""
        if not isinstance(value, str):
            return value
        try:
            template = parse(value)
        except VariableSyntaxError as exc:
            raise UnresolvableError(
                f"variable syntax error in the value '{value}': {exc}"
            ) from None
        if template is None:
            return value
        if depth >= MAX_NESTING:
            raise UnresolvableError(
                f"variables produce variables more than {MAX_NESTING} levels deep ('{value}')"
            )
        return self._render(template, path, depth + 1)

    def _evaluate(self, variable: Variable, path: ConfigPath, depth: int) -> Any:
        """One ``${…}``: the value of its first source that has one."""
        reason: str | None = None
        for index, source in enumerate(variable.sources):
            if isinstance(source, Literal):
                return source.value
            value = self._source_value(source, path, depth)
            if isinstance(value, Absent):
                reason = value.reason if index == 0 else reason
            elif value is not None and value is not NOT_FOUND:
                return value
        first = variable.sources[0]
        assert isinstance(first, Source)
        reason = reason or f"the {first.kind} source has nothing at '{first.text}'"
        raise UnresolvableError(
            f"'{variable.text}' has no value: {reason}, and no fallback applies"
        )

    def _argument(self, value: object, path: ConfigPath, depth: int) -> object:
        return self._render(value, path, depth) if isinstance(value, Template) else value

    def _source_value(self, source: Source, path: ConfigPath, depth: int) -> Any:
        kind = source.kind
        handler = self._sources.get(kind)
        if handler is None and kind not in _EXTERNAL:
            raise UnresolvableError(
                f"unknown variable source '{kind}'{did_you_mean(kind, SOURCES)} "
                f"(expected one of {', '.join(SOURCES)})"
            )
        params = tuple(self._argument(p, path, depth) for p in source.params or ())
        address = self._argument(source.address, path, depth)
        if address is not None and not isinstance(address, str):
            if isinstance(address, dict | list):
                raise UnresolvableError(f"the address in a '{kind}' variable must be text")
            address = js_text(address)
        if kind in _EXTERNAL or (kind == "aws" and address == "accountId"):
            return self._external(kind, address or "", params)
        assert handler is not None
        return handler(address or None, params, path)

    # -- sources -----------------------------------------------------------------------------

    def _self(self, address: str | None, params: tuple[object, ...], path: ConfigPath) -> Any:
        parts = tuple(address.split(".")) if address else ()
        target, value = self.value_at(parts)
        if value is NOT_FOUND:
            # The nearest key of the mapping where the address ran out, as a whole address.
            keys = self._get(target)
            match = closest(parts[len(target)], keys) if isinstance(keys, dict) else None
            hint = ""
            if match is not None:
                hint = f" (did you mean 'self:{'.'.join((*parts[: len(target)], match))}'?)"
            return Absent(f"the self source has nothing at 'self:{address}'{hint}")
        if isinstance(value, dict | list):
            self.document.graft(self.document, target, path, below=True)
            return copy.deepcopy(value)
        return value

    def _opt(self, address: str | None, params: tuple[object, ...], path: ConfigPath) -> Any:
        options = self.options.as_opt_source()
        return options if address is None else options.get(address, NOT_FOUND)

    def _env(self, address: str | None, params: tuple[object, ...], path: ConfigPath) -> Any:
        if address is None:
            raise UnresolvableError("env needs a variable name, e.g. ${env:HOME}")
        return self.env.get(address, NOT_FOUND)

    def _sls(self, address: str | None, params: tuple[object, ...], path: ConfigPath) -> Any:
        if address == "stage":
            return self.stage
        if address == "instanceId":
            return self.instance_id
        raise UnresolvableError(
            f"unknown sls variable '{address or ''}'"
            f"{did_you_mean(address or '', ['stage', 'instanceId'])} (expected stage or instanceId)"
        )

    def _aws(self, address: str | None, params: tuple[object, ...], path: ConfigPath) -> Any:
        if address == "region":
            return self.region
        raise UnresolvableError(
            f"unknown aws variable '{address or ''}'"
            f"{did_you_mean(address or '', ['region', 'accountId'])} (expected region or accountId)"
        )

    def _param(self, address: str | None, params: tuple[object, ...], path: ConfigPath) -> Any:
        if address is None:
            raise UnresolvableError("param needs a name, e.g. ${param:tableName}")
        if address in self.options.params:
            return self.options.params[address]
        for block in (self.stage, "default"):
            target, value = self.value_at(("params", block, address))
            if value is not NOT_FOUND and value is not None:
                if isinstance(value, dict | list):
                    self.document.graft(self.document, target, path, below=True)
                    return copy.deepcopy(value)
                return value
        return NOT_FOUND

    def _str_to_bool(
        self, address: str | None, params: tuple[object, ...], path: ConfigPath
    ) -> Any:
        if not params or params[0] is None:
            raise UnresolvableError("strToBool needs a value, e.g. ${strToBool(${env:FLAG})}")
        text = parameter_text(params[0], "strToBool").strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise UnresolvableError(
            f"strToBool expects true, false, 1 or 0, got '{parameter_text(params[0], 'strToBool')}'"
        )

    def _file(self, address: str | None, params: tuple[object, ...], path: ConfigPath) -> Any:
        if not params or params[0] in (None, ""):
            raise UnresolvableError("file() needs a path, e.g. ${file(./config.yml)}")
        named = parameter_text(params[0], "file")
        target = (self.service_dir / named).resolve()
        if not target.exists():
            # The Serverless Framework resolves the path against the service's folder, also
            # in a file that another file included (lib/configuration/variables/sources/file.js).
            return Absent(
                f"the file '{named}' does not exist (looked for {display_path(target)}: paths in "
                "file() are relative to the service's folder)"
            )
        if target.suffix in (".js", ".cjs"):
            raise UnresolvableError(
                f"file({named}) is JavaScript; BaseGear reads YAML, JSON and text files only"
            )
        if not target.is_file():
            raise UnresolvableError(f"file({named}) is not a file")
        include: Include = (target, address or "")
        self._check_include(path, include)
        if target.suffix not in (".yml", ".yaml", ".json", ".tfstate"):
            try:
                content: Any = target.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UnresolvableError(f"cannot read {named}: {exc}") from None
            if address:
                return NOT_FOUND
            self._text_include = include
            return content
        included = self._include(target, path)
        inner: ConfigPath = ()
        value = included.data
        for part in address.split(".") if address else ():
            step = address_step(value, part)
            if step is None:
                return NOT_FOUND
            value = value[step]
            inner = (*inner, step)
        if value is None:
            return NOT_FOUND
        if isinstance(value, dict | list):
            self._includes[path] = include
        elif isinstance(value, str):
            self._text_include = include
        self.document.graft(included, inner, path, below=True)
        return copy.deepcopy(value)

    def _check_include(self, path: ConfigPath, include: Include) -> None:
        """A file may not include what includes it: the values it reads would hold the same
        ${file(…)} again, without end. Reported once, at the variable that starts the cycle,
        with the chain of files (and addresses); what the cycle placed there is dropped."""
        chain: list[tuple[ConfigPath, Include]] = [((), (self.service_file, ""))]
        chain += [
            (path[:end], self._includes[path[:end]])
            for end in range(1, len(path))
            if path[:end] in self._includes
        ]
        chain += [(where, text) for where, text in self._text_chain if where == path]
        starts = [index for index, (_, included) in enumerate(chain) if included == include]
        if not starts:
            return
        start = starts[0]
        files = [include_text(included) for _, included in chain[start:]]
        message = f"file-include cycle: {' → '.join([*files, include_text(include)])}"
        if start == 0 and len(chain) == 1:
            raise UnresolvableError(message)
        where = chain[start][0] if start > 0 else chain[1][0]
        if where not in self._failed:
            self._failed.add(where)
            self.problems.append(Problem(message, self.document.location(where), where))
            self._set(where, None)
        raise _DependsOnFailureError(path)

    def _include(self, target: Path, path: ConfigPath) -> Document:
        """An included file, read once; its problems are reported once."""
        if target not in self._files:
            try:
                self._files[target] = load_file(target, display_name=display_path(target))
            except ConfigError as exc:
                failure = ConfigError(
                    [replace(problem, path=(*path, *problem.path)) for problem in exc.problems]
                )
                self._files[target] = failure
                raise failure from None
        found = self._files[target]
        if isinstance(found, ConfigError):
            raise _DependsOnFailureError(path)
        return found

    def _external(self, source: str, address: str, params: tuple[object, ...]) -> Any:
        argument = parameter_text(params[0], source) if params and params[0] is not None else None
        try:
            value = self.cloud.lookup(source, address, argument)
        except LookupError as exc:
            where = f"({argument})" if argument is not None else ""
            reason = exc.args[0] if exc.args else exc
            raise UnresolvableError(
                f"cannot resolve '${{{source}{where}:{address}}}': {reason}"
            ) from None
        return NOT_FOUND if value is None else value


__all__ = [
    "ExternalLookups",
    "NoCloud",
    "Options",
    "Resolver",
    "Template",
    "VariableSyntaxError",
    "parse",
]
