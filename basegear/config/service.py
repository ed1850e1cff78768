"""serverless.yml → resolved, validated Service model, one line per stage:
find the file → load it with locations → resolve variables (with ``.env`` files) → merge
``resources`` fragments → check the schema → check cross-section rules."""

from __future__ import annotations

import copy
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from basegear.config.checks import check_service
from basegear.config.loader import Document, load_file
from basegear.config.schema import check_schema
from basegear.config.variables import ExternalLookups, Options, Resolver
from basegear.errors import ConfigError, GearError, Problem, errors_only
from basegear.model import Service

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
    file = find_service_file(target)
    document = load_file(file, display_name=_display(file))
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
    )
    if document.data.get("useDotenv") is True:
        _load_dotenv(file.parent, resolver.stage, env)
    resolver.resolve_all()
    _settle_provider(document, resolver)
    _merge_resources(document)
    model, problems = _check(document)
    for problem in problems:
        if problem.severity == "error":
            raise ConfigError(problems)
    return LoadedService(file, document, model, tuple(problems))


def _check(document: Document) -> tuple[Service, list[Problem]]:
    """Validate; in ``warn`` and ``off`` modes drop what is wrong and go on, as the Serverless
    Framework's ``configValidationMode`` does (``off`` reports nothing)."""
    mode = document.data.get("configValidationMode", "error")
    model, problems = check_schema(document)
    if model is not None:
        problems = check_service(model)
    problems = [_located(problem, document) for problem in problems]
    if mode not in ("warn", "off") or not errors_only(problems):
        if model is None:
            raise ConfigError(_sorted(problems))
        return model, _sorted(problems)
    data = copy.deepcopy(document.data)
    for _ in range(5):
        for problem in problems:
            _remove(data, problem.path)
        model, remaining = check_schema(Document(data, document.locations))
        if model is not None:
            break
        problems = remaining
    if model is None:
        raise ConfigError(_sorted([_located(p, document) for p in problems]))
    reported = (
        [] if mode == "off" else [replace(problem, severity="warning") for problem in problems]
    )
    return model, _sorted(reported)


def _located(problem: Problem, document: Document) -> Problem:
    if problem.location is not None:
        return problem
    return replace(problem, location=document.location(problem.path))


def _sorted(problems: list[Problem]) -> list[Problem]:
    def order(problem: Problem) -> tuple[str, int, int]:
        where = problem.location
        return (where.file, where.line, where.column) if where else ("", 0, 0)

    return sorted(problems, key=order)


def _remove(data: Any, path: tuple[str | int, ...]) -> None:
    node = data
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    if path and isinstance(node, dict):
        node.pop(path[-1], None)
    elif path and isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        node.pop(path[-1])


def _settle_provider(document: Document, resolver: Resolver) -> None:
    """``provider.stage`` and ``provider.region`` hold the resolved values (``--stage`` wins)."""
    provider = document.data.get("provider")
    if isinstance(provider, dict):
        provider["stage"] = resolver.stage
        provider["region"] = resolver.region


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
            for key, value in dotenv_values(path).items():
                if value is not None:
                    env.setdefault(key, value)
            return


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
