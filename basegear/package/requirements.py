"""Python requirements, as serverless-python-requirements installs them
(``custom.pythonRequirements``, the plugin's README, "Options").

For each requirements file (the service's ``fileName``, or ``<module>/<fileName>`` for a
function packaged individually with ``module``): read it as the plugin does (``-r`` includes
inlined, comments and blank lines dropped, pip options kept in front, ``-e`` flags removed,
``noDeploy`` packages left out, the rest sorted) → look the result up in the cache → on a miss,
``pip install -t`` it, strip shared objects and drop the ``slim`` patterns, and zip what is left
once, deterministically. A package then copies the cached entries as they are, still compressed.

The cache entry is named by the SHA-256 of everything that decides its content: the filtered
requirements, the interpreter, the machine and architecture, ``pipCmdExtraArgs`` and the slim
settings. It lives under ``.gear/cache/requirements/<hash>`` in the service folder (or under
``cacheLocation``) and is complete once its ``requirements.zip`` exists: an unchanged set is
never installed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from basegear.config.service import LoadedService
from basegear.errors import ConfigError, ConfigPath, GearError, Problem
from basegear.model.plugins import PythonRequirements
from basegear.package.files import select_files
from basegear.package.patterns import Selection, compile_glob
from basegear.package.zips import FileSource, ZippedSource, write_zip, zipped_entries

PLUGIN = "serverless-python-requirements"
SETTINGS: ConfigPath = ("custom", "pythonRequirements")
# The plugin's slim defaults (lib/slim.js): compiled files, caches and package metadata.
DEFAULT_SLIM_PATTERNS = ("**/*.py[c|o]", "**/__pycache__*", "**/*.dist-info*")
CACHE_FORMAT = 1  # raise when the cache's layout or content changes
# Lines the plugin keeps, in their order, in front of the sorted requirements: pip options.
_OPTION_PREFIXES = ("--", "-c", "-e", "-f", "-i", "-r")


@dataclass(frozen=True)
class RequirementSet:
    """One requirements file, installed and zipped in the cache."""

    file: Path  # the requirements file it was read from
    key: str  # SHA-256 naming the cache entry
    archive: Path  # the installed packages, zipped once (slim applied)
    installed: bool  # pip ran in this run; False when the cache already had the set

    @cached_property
    def entries(self) -> dict[str, ZippedSource]:
        return zipped_entries(self.archive)


def plugin_enabled(loaded: LoadedService) -> bool:
    plugins = loaded.model.plugins
    names = plugins.get("modules", []) if isinstance(plugins, dict) else plugins
    return PLUGIN in names


def settings(loaded: LoadedService) -> PythonRequirements:
    return loaded.model.custom.python_requirements or PythonRequirements()


def read_requirements(file: Path, no_deploy: Iterable[str]) -> list[str]:
    """The requirements as the plugin passes them to pip: options first (in file order), then
    the requirements sorted, without comments, blank lines and ``noDeploy`` packages."""
    skipped = set(no_deploy)
    options: list[str] = []
    requirements: list[str] = []
    for line in _lines(file, seen=set()):
        if not line or line.startswith("#"):
            continue
        if line.startswith(_OPTION_PREFIXES):
            # An editable install means nothing inside a zip (and trips pip); keep the target.
            options.append(line[2:].strip() if line.startswith("-e") else line)
        elif re.split(r"[=<> \t]", line, maxsplit=1)[0].strip() not in skipped:
            requirements.append(line)
    return options + sorted(requirements)


def without_no_deploy(
    entries: Mapping[str, ZippedSource], no_deploy: Iterable[str]
) -> dict[str, ZippedSource]:
    """The entries a package receives: not a top-level ``__pycache__``, nor a ``noDeploy``
    package (named by what comes before the first '-', '/' or a final '.py'/'.pyc')."""
    skipped = set(no_deploy)
    return {
        name: source
        for name, source in entries.items()
        if not name.startswith("__pycache__/")
        and re.split(r"[-\\/]|\.py$|\.pyc$", name, maxsplit=1)[0] not in skipped
    }


def slim_patterns(options: PythonRequirements) -> list[str]:
    if not options.slim_patterns_append_defaults:
        return list(options.slim_patterns)
    return [*DEFAULT_SLIM_PATTERNS, *options.slim_patterns]


def slimmed(files: Mapping[str, FileSource], patterns: Iterable[str]) -> dict[str, FileSource]:
    """The files ``slim`` keeps: a file goes when its path or one of its folders matches a
    pattern, as the plugin deletes each match, folders whole (lib/slim.js)."""
    globs = [compile_glob(pattern) for pattern in patterns]
    kept = {}
    for name, source in files.items():
        parts = name.split("/")
        prefixes = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
        if not any(glob.matches(prefix) for glob in globs for prefix in prefixes):
            kept[name] = source
    return kept


class Installer:
    """Installs requirement sets for one service, at most once each per run."""

    def __init__(self, loaded: LoadedService) -> None:
        self.loaded = loaded
        self.options = settings(loaded)
        self.service_dir = loaded.file.parent
        self.warnings: list[Problem] = []
        self._sets: dict[str, RequirementSet | None] = {}
        self._check_options()

    @cached_property
    def cache_root(self) -> Path:
        location = self.options.cache_location
        if isinstance(location, str) and location:
            return (self.service_dir / location).resolve()
        return self.service_dir / ".gear" / "cache" / "requirements"

    def install(self, module: str = ".") -> RequirementSet | None:
        """The set for ``module`` ('.' for the service), or None when it has no requirements."""
        if not self._sets:
            self._trim_cache()
        if module not in self._sets:
            self._sets[module] = self._install(module)
        return self._sets[module]

    def vendor_files(self) -> dict[str, FileSource]:
        """``vendor``: a folder whose files go beside the installed packages."""
        if not self.options.vendor:
            return {}
        folder = self.service_dir / self.options.vendor
        if not folder.is_dir():
            raise self._fail(f"the vendor folder {self.options.vendor} does not exist", "vendor")
        return select_files(folder, self.service_dir, Selection([]))

    def _install(self, module: str) -> RequirementSet | None:
        folder = self.service_dir / module
        self._refuse_other_formats(folder)
        file = folder / self.options.file_name
        if not file.is_file():
            return None
        lines = read_requirements(file, self.options.no_deploy)
        if not any(not line.startswith(_OPTION_PREFIXES) for line in lines):
            return None  # only options, nothing to install
        text = "\n".join(lines) + "\n"
        python, python_version = self._python()
        self._check_target(python_version)
        key = self._key(text, python_version)
        entry = self.cache_root / key
        archive = entry / "requirements.zip"
        if (
            archive.is_file()
            and self.options.use_static_cache
            and not self.options.invalidate_caches
        ):
            with contextlib.suppress(OSError):
                os.utime(entry)  # most recently used, for staticCacheMaxVersions
            return RequirementSet(file, key, archive, installed=False)
        self._build(entry, text, python)
        return RequirementSet(file, key, archive, installed=True)

    def _build(self, entry: Path, text: str, python: str) -> None:
        """Install into a private folder beside the entry, then rename it into place: an entry
        exists only once complete, and a second gear run installing the same set at the same
        time cannot break it (the first rename wins)."""
        try:
            self.cache_root.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=f".{entry.name[:16]}-", dir=self.cache_root))
        except OSError as exc:
            raise self._unwritable(exc) from exc
        try:
            (work / "requirements.txt").write_text(text)
            site = work / "site"
            self._pip(python, work / "requirements.txt", site)
            files = select_files(site, site, Selection([]))
            kept = slimmed(files, slim_patterns(self.options)) if self.options.slim else files
            self._strip(kept)
            write_zip(work / "requirements.zip", kept)
            shutil.rmtree(site)
            if entry.exists():
                shutil.rmtree(entry)
            work.rename(entry)
        except OSError as exc:
            if not (entry / "requirements.zip").is_file():
                raise self._unwritable(exc) from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _unwritable(self, exc: OSError) -> GearError:
        return GearError(
            f"cannot write the requirements cache {self.cache_root}: {exc.strerror or exc}",
            hint="check that the folder is writable, or set cacheLocation to one that is",
        )

    def _pip(self, python: str, requirements: Path, target: Path) -> None:
        command = [python, "-m", "pip", "install"]
        for argument in self.options.pip_cmd_extra_args:
            # One option and its value per entry, as the plugin splits them (it drops anything
            # after a second space; BaseGear keeps it with the value).
            command += argument.split(None, 1)
        command += ["-t", str(target), "-r", str(requirements), "--no-compile", "--no-input"]
        if not self.options.use_download_cache:
            command.append("--no-cache-dir")
        environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        try:
            result = subprocess.run(
                command,
                cwd=self.service_dir,
                env=environment,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise self._fail(f"cannot run {python}: {exc.strerror or exc}", "pythonBin") from exc
        if result.returncode != 0:
            output = (result.stderr.strip() or result.stdout.strip()).splitlines()[-15:]
            raise GearError(
                f"pip could not install {requirements.name} (exit {result.returncode}):\n"
                + "\n".join(f"  {line}" for line in output),
                hint="check the requirements file and pipCmdExtraArgs; the command was: "
                + " ".join(command),
            )

    def _strip(self, files: Mapping[str, FileSource]) -> None:
        """With ``slim`` (and ``strip`` left on), shared objects lose their symbols, as the
        plugin runs ``strip`` on each ``*.so`` on Linux."""
        if not (self.options.slim and self.options.strip) or sys.platform != "linux":
            return
        objects = [
            str(source.path) for name, source in sorted(files.items()) if name.endswith(".so")
        ]
        if not objects:
            return
        strip = shutil.which("strip")
        if strip is None:
            self._warn("slim asks to strip shared objects, but 'strip' is not installed", "strip")
            return
        for start in range(0, len(objects), 200):
            # A file strip cannot handle stays as it is, as with the plugin's `find -exec`.
            subprocess.run([strip, *objects[start : start + 200]], capture_output=True, check=False)

    def _python(self) -> tuple[str, str]:
        """The interpreter that runs pip, and its implementation and version for the key."""
        if not self.options.python_bin:
            return (
                sys.executable,
                f"{sys.implementation.name}-{sys.version_info[0]}.{sys.version_info[1]}",
            )
        python = self.options.python_bin
        try:
            result = subprocess.run(
                [python, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=True,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise self._fail(f"cannot run the Python interpreter {python}", "pythonBin") from exc
        name, major, minor = result.stdout.split()
        return python, f"{name}-{major}.{minor}"

    def _key(self, text: str, python_version: str) -> str:
        options = self.options
        material = {
            "format": CACHE_FORMAT,
            "requirements": text,
            "python": python_version,
            "machine": platform.machine(),
            "architecture": self.loaded.model.provider.architecture,
            "pip": options.pip_cmd_extra_args,
            "slim": options.slim,
            "slimPatterns": options.slim_patterns,
            "slimDefaults": options.slim_patterns_append_defaults,
            "strip": options.strip,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def _trim_cache(self) -> None:
        """``staticCacheMaxVersions``: keep only the most recently used entries (checked once
        per run, before any install, as the plugin does)."""
        keep = self.options.static_cache_max_versions
        if keep <= 0 or not self.cache_root.is_dir():
            return
        entries = [
            path for path in self.cache_root.iterdir() if (path / "requirements.zip").is_file()
        ]
        entries.sort(key=lambda path: path.stat().st_mtime, reverse=True)
        for stale in entries[keep:]:
            shutil.rmtree(stale, ignore_errors=True)

    def _check_target(self, python_version: str) -> None:
        """Compiled packages built for another Python or processor fail to import on Lambda."""
        runtime = self.loaded.model.provider.runtime
        wanted = runtime.removeprefix("python")
        if runtime.startswith("python") and not python_version.endswith(f"-{wanted}"):
            self._warn(
                f"the requirements are installed with {python_version.replace('-', ' ')} for "
                f"the {runtime} runtime: packages with compiled code may not load; set "
                f"pythonBin to a Python {wanted} interpreter",
                "pythonBin",
            )
        arm = self.loaded.model.provider.architecture == "arm64"
        if arm and platform.machine() not in ("aarch64", "arm64"):
            self._warn(
                f"the requirements are installed on {platform.machine()} for arm64 functions: "
                "packages with compiled code will not load; add '--platform "
                "manylinux2014_aarch64' and '--only-binary=:all:' to pipCmdExtraArgs",
                "pipCmdExtraArgs",
            )

    def _check_options(self) -> None:
        options = self.options
        if options.zip:
            raise self._fail(
                "zip: true (requirements unzipped at run time by a helper) is not supported",
                "zip",
                hint="use layer: true to keep the requirements out of the function packages",
            )
        if options.dockerize_pip is True or (
            options.dockerize_pip == "non-linux" and sys.platform != "linux"
        ):
            self._warn(
                "dockerizePip: BaseGear runs no Docker and installs with the local pip, so "
                f"compiled packages are built for this machine ({platform.machine()}); for "
                "Lambda's, add '--platform manylinux2014_x86_64' and '--only-binary=:all:' to "
                "pipCmdExtraArgs",
                "dockerizePip",
            )

    def _refuse_other_formats(self, folder: Path) -> None:
        """The plugin reads a Pipfile or a Poetry pyproject.toml before requirements.txt;
        BaseGear reads requirements files only, and says so rather than skip them."""
        if self.options.use_pipenv and (self.service_dir / "Pipfile").is_file():
            raise self._fail(
                "the service has a Pipfile, which serverless-python-requirements would install "
                "from; BaseGear reads requirements files only",
                "usePipenv",
                hint="export it (pipenv requirements > requirements.txt) and set usePipenv: false",
            )
        pyproject = folder / "pyproject.toml"
        if (
            self.options.use_poetry
            and pyproject.is_file()
            and re.search(r"requires\s*=\s*\[[^\]]*[\"']poetry", pyproject.read_text())
        ):
            raise self._fail(
                f"{pyproject.relative_to(self.service_dir)} is a Poetry project, which "
                "serverless-python-requirements would install from; BaseGear reads "
                "requirements files only",
                "usePoetry",
                hint="export it (poetry export -o requirements.txt) and set usePoetry: false",
            )

    def _fail(self, message: str, option: str, *, hint: str | None = None) -> ConfigError:
        path = self._setting(option)
        return ConfigError(Problem(message, self.loaded.document.location(path), path), hint=hint)

    def _warn(self, message: str, option: str) -> None:
        path = self._setting(option)
        warning = Problem(message, self.loaded.document.location(path), path, "warning")
        if warning not in self.warnings:
            self.warnings.append(warning)

    def _setting(self, option: str) -> ConfigPath:
        data = (self.loaded.data.get("custom") or {}).get("pythonRequirements")
        return (*SETTINGS, option) if isinstance(data, dict) and option in data else SETTINGS


def _lines(file: Path, seen: set[Path]) -> list[str]:
    """The file's lines with continuations joined and ``-r`` includes read in their place."""
    real = file.resolve()
    if real in seen:
        raise GearError(f"{file} includes itself through -r", hint="remove the circular -r line")
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise GearError(
            f"cannot read the requirements file {file}: {exc.strerror or exc}",
            hint="check the -r lines and the fileName option",
        ) from exc
    lines: list[str] = []
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line.startswith("-r"):
            lines += _lines(file.parent / line[2:].strip(), seen | {real})
        else:
            lines.append(line)
    return lines
