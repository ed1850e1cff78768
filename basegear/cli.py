"""The ``gear`` command. Each command is a few lines that call a package; only ``main()``
prints an error and picks the exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from basegear import console
from basegear.config.variables import Options
from basegear.errors import ConfigError, GearError

# Options every command knows; any other ``--name value`` is passed to ``${opt:name}``, as the
# Serverless Framework passes unknown CLI options to its opt source.
_KNOWN = {"--stage", "-s", "--region", "-r", "--param", "--format", "--debug", "--help"}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [arg for arg in args if arg != "--debug"]
    args, extra = _split_extra_options(args)
    try:
        gear.main(args=args, prog_name="gear", standalone_mode=False, obj={"extra": extra})
    except GearError as exc:
        if debug:
            raise
        _show(exc)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    except Exception as exc:  # a bug in BaseGear: say so without a traceback
        if debug:
            raise
        console.err().print(
            f"[red]internal error[/red] {type(exc).__name__}: {exc}\n"
            "This is a bug in BaseGear; run again with --debug to see where it happened."
        )
        return 70
    return 0


def _show(exc: GearError) -> None:
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            console.show_problem(problem)
        count = len(exc.problems)
        console.err().print(f"[red]{count} problem{'s' if count != 1 else ''} found[/red]")
    else:
        from rich.markup import escape

        console.err().print(f"[red]error[/red] {escape(exc.message)}")
    if exc.hint:
        console.err().print(f"hint: {exc.hint}")


def _split_extra_options(args: list[str]) -> tuple[list[str], dict[str, object]]:
    kept: list[str] = []
    extra: dict[str, object] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        name, has_value, value = arg.partition("=")
        if arg.startswith("--") and name not in _KNOWN:
            key = name[2:]
            if has_value:
                extra[key] = value
            elif index + 1 < len(args) and not args[index + 1].startswith("-"):
                index += 1
                extra[key] = args[index]
            else:
                extra[key] = True
        else:
            kept.append(arg)
        index += 1
    return kept, extra


def _options(stage: str | None, region: str | None, params: tuple[str, ...]) -> Options:
    extra = click.get_current_context().obj["extra"]
    pairs: dict[str, str] = {}
    for param in params:
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise GearError(f"--param expects key=value, got '{param}'")
        pairs[key] = value
    return Options(stage=stage, region=region, params=pairs, extra=extra)


def _service_options(command: Any) -> Any:
    command = click.argument("path", type=click.Path(path_type=Path), default=".")(command)
    command = click.option(
        "--param", "params", multiple=True, help="A ${param:key} value, as key=value (repeatable)."
    )(command)
    command = click.option("--region", "-r", help="The AWS region (${opt:region}).")(command)
    return click.option("--stage", "-s", help="The stage (${opt:stage}).")(command)


@click.group(
    help="BaseGear: build, run and deploy serverless.yml services.",
    epilog="Add --debug to any command to see a traceback on errors.",
)
def gear() -> None:
    """The command group."""


@gear.command(name="print", help="Print the resolved configuration.")
@_service_options
@click.option("--format", "output_format", type=click.Choice(["yaml", "json"]), default="yaml")
def print_command(
    path: Path, stage: str | None, region: str | None, params: tuple[str, ...], output_format: str
) -> None:
    from basegear.config.service import load_service

    loaded = load_service(path, _options(stage, region, params))
    for warning in loaded.warnings:
        console.show_problem(warning)
    if output_format == "json":
        text = json.dumps(loaded.data, indent=2, ensure_ascii=False)
    else:
        import yaml

        text = yaml.dump(
            loaded.data,
            Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
            sort_keys=False,
            allow_unicode=True,
            width=100,
        )
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


@gear.command(help="Check the service and report every problem at once.")
@_service_options
def validate(path: Path, stage: str | None, region: str | None, params: tuple[str, ...]) -> None:
    from basegear.config.service import load_service

    loaded = load_service(path, _options(stage, region, params))
    for warning in loaded.warnings:
        console.show_problem(warning)
    model = loaded.model
    machines = len(model.step_functions.state_machines) if model.step_functions else 0
    console.out().print(
        f"[green]valid[/green] {loaded.file} (stage {model.stage}, region "
        f"{model.provider.region}): {len(model.functions)} functions, {machines} state "
        f"machines, {len(model.resources.Resources)} resources"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
