"""Which zips a service needs and what goes in each, as ``sls package`` decides it
(lib/plugins/package/lib/package-service.js in the framework, and the python-requirements
plugin's inject.js and layer.js):

- a function with ``package.artifact`` uses that zip as it is; so do the functions packaged
  together when the service sets ``package.artifact``;
- with ``individually`` (the service's or the function's), a function gets ``<key>.zip``, built
  with the service's patterns and then its own; the others share ``<service>.zip``;
- each layer gets ``layers/<key>.zip`` from its ``path`` (or uses its ``package.artifact``);
- patterns run after the framework's default excludes (and the layer folders, for functions),
  the legacy ``exclude`` and ``include`` lists first, ``package.patterns`` next, and the Node
  dev dependencies (``excludeDevDependencies``) last;
- with serverless-python-requirements listed in ``plugins``, the requirements join each Python
  package (its module's, for a function packaged individually with ``module``), or make the
  layer ``pythonRequirements`` with ``layer: true``.
"""

from __future__ import annotations

import os
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from basegear.config.service import LoadedService
from basegear.errors import ConfigError, ConfigPath, GearError, Problem
from basegear.model import Function, Layer
from basegear.model.provider import PackageConfig
from basegear.package.artifact import REQUIREMENTS_LAYER
from basegear.package.files import select_files
from basegear.package.node import dev_dependency_excludes
from basegear.package.patterns import Selection, union, unsafe_reason
from basegear.package.requirements import Installer, RequirementSet, without_no_deploy
from basegear.package.zips import Source

# The framework's own excludes (package-service.js, defaultExcludes) and BaseGear's work folder.
DEFAULT_EXCLUDES = (
    ".git/**",
    ".gitignore",
    ".DS_Store",
    "npm-debug.log",
    "yarn-*.log",
    ".serverless/**",
    ".serverless_plugins/**",
)
# Runtimes whose handler names a file: "src/app.handler" → src/app.py, src/app.js, …
_FILE_HANDLER_RUNTIMES = ("python", "nodejs")


@dataclass
class ZipPlan:
    output: Path
    kind: str  # "service", "function", "layer" or "requirements-layer"
    entries: dict[str, Source]
    functions: list[str] = field(default_factory=list)
    layer: str | None = None


@dataclass(frozen=True)
class Prebuilt:
    """A zip given by ``package.artifact``, used as it is."""

    path: Path
    functions: tuple[str, ...] = ()
    layer: str | None = None


@dataclass
class Plan:
    zips: list[ZipPlan]
    prebuilt: list[Prebuilt]
    requirement_sets: list[RequirementSet]
    requirements_layer: Layer | None
    warnings: list[Problem]


class Planner:
    def __init__(self, loaded: LoadedService, out_dir: Path, installer: Installer | None) -> None:
        self.loaded = loaded
        self.service = loaded.model
        self.root = loaded.file.parent
        self.out_dir = out_dir
        self.installer = installer
        self.layered = installer is not None and bool(installer.options.layer)
        self.warnings: list[Problem] = []
        self.requirement_sets: dict[Path, RequirementSet] = {}

    def plan(self) -> Plan:
        self._check_patterns()
        shared, individual, prebuilt = self._assign_functions()
        zips = [self._service_zip(shared)] if shared else []
        zips += [self._function_zip(key) for key in individual]
        for key, layer in self.service.layers.items():
            if layer.package and layer.package.artifact:
                path = self._artifact(layer.package.artifact, ("layers", key, "package"))
                prebuilt.append(Prebuilt(path, layer=key))
            else:
                zips.append(self._layer_zip(key, layer))
        requirements_layer = self._requirements_layer(zips)
        self._check_handlers(zips)
        sets = list(self.requirement_sets.values())
        warnings = [*self.warnings, *(self.installer.warnings if self.installer else [])]
        return Plan(zips, prebuilt, sets, requirements_layer, warnings)

    # Which function goes where (package-service.js, packageService and packageFunction).

    def _assign_functions(self) -> tuple[list[str], list[str], list[Prebuilt]]:
        service_package = self.service.package
        shared: list[str] = []
        individual: list[str] = []
        prebuilt: dict[Path, list[str]] = {}
        for key, function in self.service.functions.items():
            if function.image is not None:
                continue
            own = function.package or PackageConfig()
            if own.artifact:
                path = self._artifact(own.artifact, ("functions", key, "package"))
            elif service_package.artifact and not own.individually:
                path = self._artifact(service_package.artifact, ("package",))
            elif own.individually or service_package.individually:
                individual.append(key)
                continue
            else:
                if own.patterns:
                    self._warn(
                        "function patterns apply only when the function is packaged "
                        "individually (package.individually); they are ignored here",
                        ("functions", key, "package", "patterns"),
                    )
                shared.append(key)
                continue
            prebuilt.setdefault(path, []).append(key)
        if shared and self.service.service in individual:
            raise self._error(
                f"the function {self.service.service} would be packaged as "
                f"{self.service.service}.zip, the name of the service package",
                ("functions", self.service.service),
                hint="rename the function, or package every function individually",
            )
        return (
            shared,
            individual,
            [Prebuilt(path, tuple(keys)) for path, keys in prebuilt.items()],
        )

    def _artifact(self, given: str, setting: ConfigPath) -> Path:
        where = (*setting, "artifact")
        if re.match(r"(s3://|https?://)", given):
            raise self._error(
                f"the artifact {given} is in S3; BaseGear packages local zips only",
                where,
                hint="download the zip into the service folder and give its path",
            )
        path = self.root / given
        if not path.is_file():
            raise self._error(f"the artifact {given} does not exist", where)
        if not zipfile.is_zipfile(path):
            raise self._error(f"the artifact {given} is not a zip archive", where)
        return path

    # What each zip holds.

    def _service_zip(self, functions: list[str]) -> ZipPlan:
        selection = self._selection(None, self.root, without_layers=True)
        entries = self._files(self.root, selection, ("package", "patterns"))
        if any(self._is_python(key) for key in functions) and not self.layered:
            entries.update(self._requirements(".", prefix=""))
        output = self.out_dir / f"{self.service.service}.zip"
        return ZipPlan(output, "service", entries, functions)

    def _function_zip(self, key: str) -> ZipPlan:
        function = self.service.functions[key]
        selection = self._selection(function.package, self.root, without_layers=True)
        where: ConfigPath = ("functions", key, "package") if function.package else ("package",)
        entries = self._files(self.root, selection, (*where, "patterns"))
        python = self._is_python(key)
        module = self._module(key, function) if python else "."
        if module != ".":
            prefix = module.rstrip("/") + "/"
            entries = {
                name[len(prefix) :]: source
                for name, source in entries.items()
                if name.startswith(prefix)
            }
            if not entries:
                raise self._error(
                    f"no packaged file is under the module folder {module}",
                    ("functions", key, "module"),
                )
        if python and not self.layered:
            entries.update(self._requirements(module, prefix=""))
        return ZipPlan(self.out_dir / f"{key}.zip", "function", entries, [key])

    def _layer_zip(self, key: str, layer: Layer) -> ZipPlan:
        if not layer.path:
            raise self._error("a layer needs a path (or package.artifact)", ("layers", key))
        folder = self.root / layer.path
        real = os.path.realpath(folder)
        boundary = os.path.realpath(self.root)
        if not (real == boundary or real.startswith(boundary + os.sep)):
            raise self._error(
                f"the layer folder {layer.path} is outside the service folder; BaseGear never "
                "packages files from outside it",
                ("layers", key, "path"),
                hint="move or copy the layer's files into the service folder",
            )
        if not folder.is_dir():
            raise self._error(
                f"the layer folder {layer.path} does not exist", ("layers", key, "path")
            )
        selection = self._selection(layer.package, folder, without_layers=False)
        entries = self._files(folder, selection, ("layers", key, "path"))
        return ZipPlan(self.out_dir / "layers" / f"{key}.zip", "layer", entries, layer=key)

    def _requirements_layer(self, zips: list[ZipPlan]) -> Layer | None:
        """``layer: true``: the root requirements as a layer, under ``python/``."""
        if self.installer is None or not self.layered:
            return None
        entries = self._requirements(".", prefix="python/")
        if not entries:
            self._warn(
                "layer is set but there are no requirements to install, so no "
                f"{REQUIREMENTS_LAYER} layer is made",
                ("custom", "pythonRequirements", "layer"),
            )
            return None
        zips.append(
            ZipPlan(
                self.out_dir / "layers" / f"{REQUIREMENTS_LAYER}.zip",
                "requirements-layer",
                entries,
                layer=REQUIREMENTS_LAYER,
            )
        )
        options = self.installer.options
        defaults = {
            "name": f"{self.service.service}-{self.service.stage}-python-requirements",
            "description": "Python requirements of the service, installed by BaseGear",
            "compatibleRuntimes": [self.service.provider.runtime],
        }
        given = options.layer if isinstance(options.layer, dict) else {}
        try:
            return Layer.model_validate({**defaults, **given})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise self._error(
                f"{'.'.join(map(str, first['loc']))}: {first['msg']}",
                ("custom", "pythonRequirements", "layer"),
            ) from exc

    def _requirements(self, module: str, prefix: str) -> dict[str, Source]:
        """The installed packages (and ``vendor`` files) of ``module``, named as they go in a
        package; they replace a packaged file of the same name, as the plugin injects them."""
        if self.installer is None:
            return {}
        entries: dict[str, Source] = {}
        requirements = self.installer.install(module)
        if requirements is not None:
            self.requirement_sets[requirements.file] = requirements
            no_deploy = self.installer.options.no_deploy
            for name, zipped in without_no_deploy(requirements.entries, no_deploy).items():
                entries[prefix + name] = zipped
        for name, source in self.installer.vendor_files().items():
            entries[prefix + name] = source
        return entries

    # Patterns and files.

    def _selection(
        self, own: PackageConfig | None, folder: Path, *, without_layers: bool
    ) -> Selection:
        """The framework's order (package-service.js, getExcludes, getIncludes and
        resolveFilePathsFromPatterns): the excludes — each '!x' in an exclude list includes x —
        then the service's includes and patterns, then the function's or layer's, then the
        Node dev dependencies (which no pattern brings back). BaseGear's own folders come last,
        so that no pattern can put a package in a package."""
        own = own or PackageConfig()
        package = self.service.package
        excludes = union(
            DEFAULT_EXCLUDES,
            [self.loaded.file.name],
            self._plugins_folder(),
            package.exclude,
            self._layer_folders() if without_layers else [],
            [".env*"] if self.service.use_dotenv else [],
            own.exclude,
        )
        rules = [item[1:] if item.startswith("!") else f"!{item}" for item in excludes]
        includes = union(package.include, package.patterns, own.include, own.patterns)
        selection = Selection.of([*rules, *includes], self._own_folders(folder))
        if package.exclude_dev_dependencies and not selection.drops_everything_under(
            "node_modules"
        ):
            selection = Selection(selection.rules, selection.dropped | self._dev_dependencies)
        return selection

    @cached_property
    def _dev_dependencies(self) -> frozenset[str]:
        return frozenset(dev_dependency_excludes(self.root))

    def _files(self, folder: Path, selection: Selection, where: ConfigPath) -> dict[str, Source]:
        files: dict[str, Source] = dict(select_files(folder, self.root, selection))
        if not files:
            raise self._error(
                "no file matches the package patterns (and the default excludes)", where
            )
        return files

    def _layer_folders(self) -> list[str]:
        return [
            posixpath.normpath(layer.path) + "/**"
            for layer in self.service.layers.values()
            if layer.path
        ]

    def _plugins_folder(self) -> list[str]:
        plugins = self.service.plugins
        local = plugins.get("localPath") if isinstance(plugins, dict) else None
        return [local] if isinstance(local, str) else []

    def _own_folders(self, folder: Path) -> list[str]:
        """BaseGear's folders under ``folder`` — its work folder, the output folder and the
        requirements cache — to leave out whatever the patterns say: never package a package."""
        own = [self.root / ".gear", self.out_dir]
        if self.installer is not None:
            own.append(self.installer.cache_root)
        base = folder.resolve()
        dropped = []
        for path in own:
            try:
                inside = path.resolve().relative_to(base)
            except ValueError:
                continue
            if not inside.parts:
                raise GearError(
                    f"the folder {path} would be packaged into itself",
                    hint="give the output (--out) or the cache (cacheLocation) a folder of its "
                    "own, such as .gear/package, the default",
                )
            dropped.append(inside.as_posix())
        return dropped

    def _check_patterns(self) -> None:
        problems = []
        places: list[tuple[ConfigPath, PackageConfig | None]] = [
            (("package",), self.service.package)
        ]
        places += [
            (("functions", k, "package"), f.package) for k, f in self.service.functions.items()
        ]
        places += [
            (("layers", k, "package"), layer.package) for k, layer in self.service.layers.items()
        ]
        for where, package in places:
            if package is None:
                continue
            for name in ("patterns", "include", "exclude"):
                for index, pattern in enumerate(getattr(package, name)):
                    reason = unsafe_reason(pattern)
                    if reason:
                        path = (*where, name, index)
                        problems.append(
                            Problem(
                                f"the pattern {pattern!r} could select files outside the service "
                                f"folder ({reason}); patterns are relative to the service folder",
                                self.loaded.document.location(path),
                                path,
                            )
                        )
            for name in ("include", "exclude"):
                if getattr(package, name):
                    self._warn(
                        f"package.{name} is deprecated (Serverless Framework v3 warns too): use "
                        "package.patterns, with '!' in front of each exclusion",
                        (*where, name),
                    )
        if problems:
            raise ConfigError(problems)

    # Functions.

    def _is_python(self, key: str) -> bool:
        return self._runtime(key).startswith("python")

    def _runtime(self, key: str) -> str:
        return self.service.functions[key].runtime or self.service.provider.runtime

    def _module(self, key: str, function: Function) -> str:
        """The plugin's ``module`` applies to functions packaged individually by the service."""
        if function.module in (None, ".", "./") or self.installer is None:
            return "."
        if not self.service.package.individually:
            self._warn(
                "module applies only when the service sets package.individually: true; "
                "it is ignored here",
                ("functions", key, "module"),
            )
            return "."
        return posixpath.normpath(function.module or ".")

    def _check_handlers(self, zips: list[ZipPlan]) -> None:
        """A handler whose file is not in its package fails at the first call: say so now."""
        for plan in zips:
            names = plan.entries.keys()
            for key in plan.functions:
                function = self.service.functions[key]
                if not function.handler or not self._runtime(key).startswith(
                    _FILE_HANDLER_RUNTIMES
                ):
                    continue
                module = function.handler.rsplit(".", 1)[0]
                if "/" not in module:
                    module = module.replace(".", "/")
                if not any(name.startswith((f"{module}.", f"{module}/")) for name in names):
                    self._warn(
                        f"the handler's file ({module}.*) is not in the package "
                        f"{plan.output.name}; check the package patterns",
                        ("functions", key, "handler"),
                    )

    def _warn(self, message: str, path: ConfigPath) -> None:
        location = self.loaded.document.location(path)
        self.warnings.append(Problem(message, location, path, "warning"))

    def _error(self, message: str, path: ConfigPath, *, hint: str | None = None) -> ConfigError:
        return ConfigError(Problem(message, self.loaded.document.location(path), path), hint=hint)
