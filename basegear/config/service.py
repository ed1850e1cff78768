"""serverless.yml → resolved, validated Service model, one line per stage:
find the file → load it with locations → resolve variables (with ``.env`` files) → merge
``resources`` fragments → check the schema → check cross-section rules."""

from __future__ import annotations

import copy
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from basegear.config.checks import check_service
from basegear.config.loader import Document, has_step, load_file
from basegear.config.schema import check_schema
from basegear.config.variables import ExternalLookups, Options, Resolver
from basegear.errors import ConfigError, ConfigPath, GearError, Location, Problem, errors_only
from basegear.model import Service
from basegear.model.provider import region_problem, stage_problem

SERVICE_FILES = ("serverless.yml", "serverless.yaml", "serverless.json")


@dataclass(frozen=True)
class LoadedService:
    file: Path
    document: Document
    model: Service
    warnings: tuple[Problem, ...]

    @property
    def data(self) -> Any:
        """The resolved configuration, as ``gear print`` shows it."""
        return self.document.data


def find_service_file(target: Path) -> Path:
    if not target.exists():
        raise GearError(
            f"{target} does not exist",
            hint="give the service's folder or its serverless.yml, or run gear in that folder",
        )
    if target.is_file():
        return target
    for name in SERVICE_FILES:
        if (target / name).is_file():
            return target / name
    raise GearError(
        f"no serverless.yml in {target}",
        hint="run gear in the service's folder or give the folder or file as an argument",
    )


def load_service(
    target: Path,
    options: Options,
    *,
    environ: Mapping[str, str] | None = None,
    cloud: ExternalLookups | None = None,
) -> LoadedService:
    _check_options(options)
    file = find_service_file(target)
    document = load_file(file, display_name=_display(file))
    if document.data == {}:
        raise ConfigError.at(
            "the file is empty: a service needs at least 'service' and 'provider' (name: aws)",
            document.location(()),
        )
    if not isinstance(document.data, dict):
        raise ConfigError.at("expected a mapping at the top of the file", document.location(()))
    env = dict(os.environ if environ is None else environ)
    resolver = Resolver(
        document,
        service_dir=file.parent,
        options=options,
        env=env,
        cloud=cloud,
        instance_id=secrets.token_hex(8),
        service_file=file,
    )
    if document.data.get("useDotenv") is True:
        stage = resolver.stage_if_known()
        if stage is not None:  # else resolve_all reports why provider.stage has no value
            _load_dotenv(file.parent, stage, env)
    resolver.resolve_all()
    _settle_provider(document, resolver)
    _merge_resources(document)
    model, problems = _check(document)
    return LoadedService(file, document, model, tuple(problems))


def _check_options(options: Options) -> None:
    """``--stage`` and ``--region`` follow the rules of ``provider.stage`` and ``.region``."""
    problems = [
        Problem(f"{option}: {problem}")
        for option, value, rule in (
            ("--stage", options.stage, stage_problem),
            ("--region", options.region, region_problem),
        )
        if value is not None and (problem := rule(value)) is not None
    ]
    if problems:
        raise ConfigError(problems)


def _check(document: Document) -> tuple[Service, list[Problem]]:
    """Validate the schema and the cross-section rules, and report every problem at once; in
    ``warn`` and ``off`` modes drop what is wrong and go on, as the Serverless Framework's
    ``configValidationMode`` does (``off`` reports nothing)."""
    mode = document.data.get("configValidationMode", "error")
    if mode in ("warn", "off"):
        return _Lenient(document).check(report=mode == "warn")
    model, problems = check_schema(document)
    problems += check_service(document.data, [problem.path for problem in problems])
    found = _sorted(_unique(_located(problem, document) for problem in problems))
    if model is None or errors_only(found):
        raise ConfigError(found)
    return model, found


_GONE: Any = object()
"""Stands in the working copy for a list item that was dropped, so that the other items keep
their indexes (and their locations) while the copy is pruned round by round."""
MAX_ROUNDS = 10


class _Lenient:
    """``warn`` and ``off``: drop every wrong value and validate again, until the model is
    valid; then the cross-section rules, on the final configuration, drop what they find too.

    Each problem is reported once, with the path and location of the value as written: the
    working copy keeps dropped list items as ``_GONE``, and only the copy that is validated
    leaves them out. A problem that follows from an earlier drop (an event left with no type,
    a mapping left without a required key) is not the author's and is not reported."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.working = copy.deepcopy(document.data)
        self.found: dict[tuple[ConfigPath, str], Problem] = {}
        self.dropped: list[ConfigPath] = []
        self.reported: list[ConfigPath] = []

    def check(self, *, report: bool) -> tuple[Service, list[Problem]]:
        model = self._settle()
        rules = [
            replace(problem, path=self._original(problem.path))
            for problem in check_service(_without_gone(self.working), self.reported)
        ]
        self._note(rules)
        if errors_only(rules):
            self._drop(errors_only(rules))
            model = self._settle()
        found = [replace(problem, severity="warning") for problem in self.found.values()]
        return model, _sorted(
            [_located(problem, self.document) for problem in found] if report else []
        )

    def _settle(self) -> Service:
        problems: list[Problem] = []
        for _ in range(MAX_ROUNDS):
            model, problems = check_schema(
                self.document, _without_gone(self.working), self._original
            )
            if model is not None:
                return model
            self.reported += [problem.path for problem in problems]
            self._note(problems)
            self._drop(problems)
        raise ConfigError(_sorted([*self.found.values(), *problems]))

    def _note(self, problems: list[Problem]) -> None:
        for problem in problems:
            if not any(self._follows(problem.path, dropped) for dropped in self.dropped):
                self.found.setdefault((problem.path, problem.message), problem)

    def _follows(self, path: ConfigPath, dropped: ConfigPath) -> bool:
        """Whether a problem at ``path`` follows from dropping ``dropped``: it is at or inside
        what was dropped (a required key now missing), or about a mapping or list that the drop
        left empty (an event with no type). A problem about a mapping the drop left with other
        values is the author's and is reported."""
        if path[: len(dropped)] == dropped:
            return True
        if dropped[: len(path)] != path:
            return False
        node = self.working
        for step in path:
            if not has_step(node, step):
                return True
            node = node[step]
        items = node.values() if isinstance(node, dict) else node
        return isinstance(node, dict | list) and all(item is _GONE for item in items)

    def _drop(self, problems: list[Problem]) -> None:
        for problem in problems:
            _remove(self.working, problem.path)
            self.dropped.append(problem.path)

    def _original(self, path: ConfigPath) -> ConfigPath:
        """A path in the validated copy (dropped list items left out) as a path in the
        working copy, that is, in the file."""
        node, steps = self.working, []
        for step in path:
            if isinstance(node, list) and isinstance(step, int):
                kept = [index for index, item in enumerate(node) if item is not _GONE]
                step = kept[step] if step < len(kept) else step
            steps.append(step)
            node = node[step] if has_step(node, step) else None
        return tuple(steps)


def _without_gone(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_gone(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_gone(item) for item in node if item is not _GONE]
    return node


def _remove(data: Any, path: ConfigPath) -> None:
    """Drop the value at ``path``: a mapping key is removed, a list item becomes ``_GONE``."""
    node = data
    for key in path[:-1]:
        if not has_step(node, key):
            return
        node = node[key]
    if path and isinstance(node, dict):
        node.pop(path[-1], None)
    elif path and isinstance(node, list) and isinstance(path[-1], int) and has_step(node, path[-1]):
        node[path[-1]] = _GONE


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    return list({(p.path, p.message, p.severity): p for p in problems}.values())


def _located(problem: Problem, document: Document) -> Problem:
    if problem.location is not None:
        return problem
    return replace(problem, location=document.problem_location(problem.path))


def _sorted(problems: list[Problem]) -> list[Problem]:
    def order(problem: Problem) -> tuple[str, int, int]:
        where = problem.location
        return (where.file, where.line, where.column) if where else ("", 0, 0)

    return sorted(problems, key=order)


def _settle_provider(document: Document, resolver: Resolver) -> None:
    """``provider.stage`` and ``provider.region`` hold the resolved values (``--stage`` wins)."""
    provider = document.data.get("provider")
    if isinstance(provider, dict):
        for key, value in (("stage", resolver.stage), ("region", resolver.region)):
            if not isinstance(provider.get(key), dict | list):  # else the schema reports it
                provider[key] = value


def _merge_resources(document: Document) -> None:
    """``resources`` may be a list of fragments (often ``${file(…)}``); they are merged deeply,
    later fragments winning, as the Serverless Framework merges them."""
    fragments = document.data.get("resources")
    if not isinstance(fragments, list):
        return
    merged: dict[str, Any] = {}
    for index, fragment in enumerate(fragments):
        if not isinstance(fragment, dict):
            raise ConfigError.at(
                "each entry of resources must be a mapping (Resources, Outputs, …)",
                document.location(("resources", index)),
                ("resources", index),
            )
        _deep_merge(merged, fragment)
        document.graft(document, ("resources", index), ("resources",))
    document.data["resources"] = merged


def _deep_merge(target: dict[str, Any], source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _load_dotenv(service_dir: Path, stage: str, env: dict[str, str]) -> None:
    """``.env.<stage>`` if it exists, else ``.env``; variables already set are kept
    (Serverless Framework v3 documentation, "Resolution of environment variables")."""
    from dotenv import dotenv_values

    for name in (f".env.{stage}", ".env"):
        path = service_dir / name
        if path.is_file():
            try:
                values = dotenv_values(path, encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError.at(
                    f"cannot read environment variables from {name}: {exc}",
                    Location(_display(path), 1, 1),
                ) from None
            for key, value in values.items():
                if value is not None:
                    env.setdefault(key, value)
            return


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
