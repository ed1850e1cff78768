"""The ``gear`` command. Each command is a few lines that call a package; only ``main()``
prints an error and picks the exit code:

    0   done (warnings may have been printed)
    1   a GearError: BaseGear refuses to go on (e.g. no serverless.yml)
    2   a ConfigError (one line per problem, then the count), or a command-line mistake
    70  a bug in BaseGear (the traceback only with --debug)
    130 interrupted

Diagnostics go to stderr, so that stdout holds only a command's result."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from basegear import console
from basegear.config.variables import Options
from basegear.errors import ConfigError, GearError

# Options every command knows; any other ``--name value`` is passed to ``${opt:name}``, as the
# Serverless Framework passes unknown CLI options to its opt source.
_KNOWN = {
    "--stage",
    "--region",
    "--param",
    "--format",
    "--out",
    "--diff",
    "--debug",
    "--help",
    "--version",
    # deploy, plan, prune, up and the commands that talk to a running cloud
    "--endpoint",
    "--target",
    "--profile",
    "--allow-replace",
    "--allow-destroy",
    "--force",
    "--alias",
    "--keep",
    "--port",
    "--host",
    "--state-dir",
    "--fresh",
    "--detach",
    "--clock",
    "--function",
    "--data",
    "--path",
    "--type",
    "--tail",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [arg for arg in args if arg != "--debug"]
    args, extra = _split_extra_options(args)
    try:
        gear.main(args=args, prog_name="gear", standalone_mode=False, obj={"extra": extra})
    except GearError as exc:
        if debug:
            console.show_traceback(traceback.format_exc())
        _show(exc)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    except Exception as exc:  # a bug in BaseGear: say so; the traceback only with --debug
        if debug:
            console.show_traceback(traceback.format_exc())
        console.show_error(
            f"{type(exc).__name__}: {exc}",
            "this is a bug in BaseGear; run again with --debug to see where it happened",
            label="internal error",
        )
        return 70
    return 0


def _show(exc: GearError) -> None:
    if isinstance(exc, ConfigError):
        console.show_problems(exc.problems)
        if exc.hint:
            console.show_hint(exc.hint)
    else:
        console.show_error(exc.message, exc.hint)


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


def _options(stage: str | None, region: str | None, params: dict[str, str]) -> Options:
    extra = click.get_current_context().obj["extra"]
    return Options(stage=stage, region=region, params=params, extra=extra)


def _parse_params(_ctx: click.Context, _param: click.Parameter, values: Sequence[str]) -> Any:
    """``--param key=value`` (repeatable) → ``{key: value}``; the value may hold ``=``."""
    pairs: dict[str, str] = {}
    for text in values:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected key=value, got '{text}'")
        pairs[key.strip()] = value
    return pairs


def _service_options(command: Any) -> Any:
    command = click.argument("path", type=click.Path(path_type=Path), default=".")(command)
    command = click.option(
        "--param",
        "params",
        multiple=True,
        callback=_parse_params,
        metavar="KEY=VALUE",
        help="A ${param:key} value (repeatable).",
    )(command)
    command = click.option("--region", "-r", help="The AWS region (${opt:region}).")(command)
    return click.option("--stage", "-s", help="The stage (${opt:stage}).")(command)


@click.group(
    help="BaseGear: build, run and deploy serverless.yml services.",
    epilog="Add --debug to any command to see a traceback on errors. Any other --name value "
    "is passed to ${opt:name}.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="basegear", prog_name="gear")
def gear() -> None:
    """The command group."""


@gear.command(name="print", help="Print the resolved configuration.")
@_service_options
@click.option("--format", "output_format", type=click.Choice(["yaml", "json"]), default="yaml")
def print_command(
    path: Path, stage: str | None, region: str | None, params: dict[str, str], output_format: str
) -> None:

    loaded = _load(path, stage, region, params)
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
def validate(path: Path, stage: str | None, region: str | None, params: dict[str, str]) -> None:

    loaded = _load(path, stage, region, params)
    model = loaded.model
    machines = len(model.step_functions.state_machines) if model.step_functions else 0
    counts = (
        console.plural(len(model.functions), "function"),
        console.plural(machines, "state machine"),
        console.plural(len(model.resources.Resources), "resource"),
    )
    console.show_valid(
        f"{loaded.file} (stage {model.stage}, region {model.provider.region}): " + ", ".join(counts)
    )


@gear.command(
    name="package",
    help="Package the zips and compile the CloudFormation template (default out: .gear/package).",
)
@_service_options
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), help="Where to write zips and template."
)
@click.option(
    "--diff",
    "other",
    type=click.Path(path_type=Path),
    help="Compare the template, resource by resource, with another one (e.g. sls package's).",
)
def package_command(
    path: Path,
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    out_dir: Path | None,
    other: Path | None,
) -> None:
    from basegear.build import build
    from basegear.compile.diff import diff_templates, read_template
    from basegear.config.service import load_service

    loaded = load_service(path, _options(stage, region, params))
    result = build(loaded, out_dir)
    warnings = loaded.warnings + result.package.warnings
    if warnings:
        console.show_problems(warnings)
    if other is None:
        zips = len(result.package.manifest["artifacts"])
        resources = len(result.template["Resources"])
        console.show_valid(
            f"{result.template_file}: {console.plural(resources, 'resource')}, "
            f"{console.plural(zips, 'zip')}",
            label="packaged",
        )
        return
    changes = diff_templates(result.template, read_template(other))
    for change in changes:
        console.out().print(str(change), markup=False)
    console.out().print(f"{console.plural(len(changes), 'resource')} differ", markup=False)


def _endpoint_option(command: Any) -> Any:
    return click.option(
        "--endpoint",
        metavar="URL",
        help="The cloud to talk to (default: the one gear up runs here, else "
        "http://127.0.0.1:4566).",
    )(command)


def _target_options(command: Any) -> Any:
    command = _endpoint_option(command)
    command = click.option(
        "--profile",
        metavar="NAME",
        help="With --target aws: the AWS profile (default: provider.profile, else AWS_PROFILE "
        "or the default chain).",
    )(command)
    return click.option(
        "--target",
        type=click.Choice(["local", "aws"]),
        default="local",
        show_default=True,
        help="The cloud: local (the local cloud) or aws (AWS, only when asked for).",
    )(command)


def _guard_options(command: Any) -> Any:
    command = click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path),
        help="Where to build zips and template.",
    )(command)
    command = click.option(
        "--force", is_flag=True, help="Let the plan replace or delete any resource."
    )(command)
    return click.option(
        "--allow-destroy",
        "--allow-replace",
        "allowed",
        multiple=True,
        metavar="LOGICAL_ID",
        help="Let the plan replace or delete this stateful resource (repeatable).",
    )(command)


def _load(path: Path, stage: str | None, region: str | None, params: dict[str, str]) -> Any:
    """The service at ``path``, its warnings shown."""
    from basegear.config.service import load_service

    loaded = load_service(path, _options(stage, region, params))
    if loaded.warnings:
        console.show_problems(loaded.warnings)
    return loaded


def _deploy_target(loaded: Any, target: str, profile: str | None, endpoint: str | None) -> Any:
    """The target of deploy, plan and prune; on AWS, the account the credentials belong to is
    shown (and so checked) before anything else."""
    from basegear.deploy.target import caller_identity, resolve_target

    provider = loaded.model.provider
    chosen = resolve_target(
        target,
        provider.region,
        profile=profile or (provider.profile if target == "aws" else None),
        endpoint=endpoint,
    )
    if not chosen.local:
        console.show_valid(f"{chosen.where}: {caller_identity(chosen)}", label="target")
    return chosen


@gear.command(
    help="Deploy the service: build, plan, guard, execute, publish versions (default: the "
    "local cloud; --target aws for AWS)."
)
@_service_options
@_target_options
@_guard_options
@click.option(
    "--alias",
    "aliases",
    multiple=True,
    metavar="NAME",
    help="Point this alias of each versioned function at its newest version (repeatable).",
)
def deploy(
    path: Path,
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    endpoint: str | None,
    target: str,
    profile: str | None,
    allowed: tuple[str, ...],
    force: bool,
    out_dir: Path | None,
    aliases: tuple[str, ...],
) -> None:
    from basegear.deploy import ConsoleReport, Deployer, DeployOptions

    loaded = _load(path, stage, region, params)
    chosen = _deploy_target(loaded, target, profile, endpoint)
    options = DeployOptions(frozenset(allowed), force, out_dir, aliases)
    result = Deployer(chosen, report=ConsoleReport()).deploy(loaded, options)
    console.show_valid(
        f"{result.stack_name} {result.outcome} at {chosen.where} in {result.seconds:.2f} s",
        label="deployed",
    )


@gear.command(
    help="Show what a deploy would change, as a table (a change set created, shown and "
    "deleted; nothing is executed). Exits 1 when the guard would refuse the deploy."
)
@_service_options
@_target_options
@_guard_options
def plan(
    path: Path,
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    endpoint: str | None,
    target: str,
    profile: str | None,
    allowed: tuple[str, ...],
    force: bool,
    out_dir: Path | None,
) -> None:
    from basegear.deploy import ConsoleReport, Deployer, DeployOptions
    from basegear.deploy.plan import summary

    loaded = _load(path, stage, region, params)
    chosen = _deploy_target(loaded, target, profile, endpoint)
    options = DeployOptions(frozenset(allowed), force, out_dir)
    planned = Deployer(chosen, report=ConsoleReport()).plan(loaded, options)
    what = summary(planned.changes) if planned.changes else "no changes"
    console.show_valid(f"{planned.stack_name} at {chosen.where}: {what}", label="planned")


@gear.command(
    help="Delete old versions of the service's functions and layers, keeping the newest N and "
    "every version an alias routes to or the stack holds."
)
@_service_options
@_target_options
@click.option("--keep", type=click.IntRange(min=1), required=True, help="Versions to keep.")
@click.option("--function", "-f", "function", help="Only this function (its key or deployed name).")
def prune(
    path: Path,
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    endpoint: str | None,
    target: str,
    profile: str | None,
    keep: int,
    function: str | None,
) -> None:
    from basegear.compile.naming import stack_name
    from basegear.config.service import load_service
    from basegear.deploy.report import show_rows
    from basegear.deploy.versions import prune_stack

    loaded = load_service(path, _options(stage, region, params))
    chosen = _deploy_target(loaded, target, profile, endpoint)
    service = loaded.model
    name = stack_name(service.service, service.stage, service.provider.stack_name)
    deployed = None
    if function is not None:
        deployed = service.function_name(function) if function in service.functions else function
    pruned = prune_stack(chosen, name, keep=keep, function=deployed)
    show_rows([("deleted", item.kind, item.name, item.version) for item in pruned.deleted])
    show_rows([("kept", item.kind, item.name, item.version, item.reason) for item in pruned.kept])
    console.show_valid(
        f"deleted {console.plural(len(pruned.deleted), 'version')} at {chosen.where}, kept "
        f"the newest {keep} of each"
        + (f" and {len(pruned.kept)} more that are in use" if pruned.kept else ""),
        label="pruned",
    )


@gear.command(
    help="Start the local cloud, deploy the services into it (in the order given: a service "
    "that imports another's exports comes after it) and serve until Ctrl-C.",
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--stage", "-s", help="The stage (${opt:stage}).")
@click.option("--region", "-r", help="The AWS region (${opt:region}).")
@click.option(
    "--param",
    "params",
    multiple=True,
    callback=_parse_params,
    metavar="KEY=VALUE",
    help="A ${param:key} value (repeatable).",
)
@click.option("--port", "-p", type=int, default=4566, show_default=True, help="0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen on this address.")
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    help="Where the cloud keeps its state (default: <last service>/.gear/state).",
)
@click.option("--fresh", is_flag=True, help="Start from an empty state.")
@click.option("--detach", "-d", is_flag=True, help="Run in the background; stop with gear down.")
@click.option(
    "--clock",
    "clock_mode",
    default="real",
    show_default=True,
    metavar="real|manual|fast=N",
    help="The cloud's clock: real time, stopped until gear clock advance, or N times faster.",
)
def up(
    paths: tuple[Path, ...],
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    port: int,
    host: str,
    state_dir: Path | None,
    fresh: bool,
    detach: bool,
    clock_mode: str,
) -> None:
    from basegear.cloud.clock import parse_mode
    from basegear.cloud.up import Up, UpOptions, start_detached

    folders = paths or (Path("."),)
    mode = parse_mode(clock_mode)
    if detach:
        arguments = _up_arguments(folders, stage, region, params, port, host, state_dir, fresh)
        record = start_detached([*arguments, "--clock", str(mode)], Path("."))
        if record.log_file:
            sys.stdout.write(Path(record.log_file).read_text(errors="replace"))
        console.show_valid(f"{record.endpoint_url} (pid {record.pid})", label="running")
        return
    options = UpOptions(
        folders=tuple(folders),
        options=_options(stage, region, params),
        host=host,
        port=port,
        state_dir=state_dir,
        fresh=fresh,
        clock=mode,
    )
    Up(options).run()


def _up_arguments(
    folders: Sequence[Path],
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    port: int,
    host: str,
    state_dir: Path | None,
    fresh: bool,
) -> list[str]:
    """``gear up``'s arguments again, for the detached child."""
    arguments = [str(folder) for folder in folders]
    arguments += ["--port", str(port), "--host", host]
    if stage:
        arguments += ["--stage", stage]
    if region:
        arguments += ["--region", region]
    for key, value in params.items():
        arguments += ["--param", f"{key}={value}"]
    if state_dir is not None:
        arguments += ["--state-dir", str(state_dir)]
    if fresh:
        arguments.append("--fresh")
    for key, value in click.get_current_context().obj["extra"].items():
        arguments += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    return arguments


@gear.command(help="Stop the local cloud gear up runs from this folder.")
def down() -> None:
    from basegear.cloud.up import stop_running

    stopped = stop_running(Path("."))
    if stopped is None:
        console.show_valid("no local cloud is running from this folder", label="down")
    else:
        console.show_valid(f"stopped the local cloud (pid {stopped.pid})", label="down")


@gear.command(help="Whether a local cloud is running, and its stacks.")
@_endpoint_option
@click.option("--region", "-r", "regions", multiple=True, help="List this region's stacks.")
def status(endpoint: str | None, regions: tuple[str, ...]) -> None:
    from basegear.cloud.status import show_status

    show_status(Path("."), endpoint, regions)


@gear.command(help="Invoke a deployed function and print what it returned.")
@_service_options
@_endpoint_option
@click.option("--function", "-f", "function", required=True, help="Its key or deployed name.")
@click.option("--data", "-d", help="The event, as JSON.")
@click.option(
    "--path", "event_file", type=click.Path(path_type=Path), help="The event, from a JSON file."
)
@click.option(
    "--type",
    "-t",
    "invocation_type",
    type=click.Choice(["RequestResponse", "Event", "DryRun"]),
    default="RequestResponse",
    show_default=True,
)
def invoke(
    path: Path,
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    endpoint: str | None,
    function: str,
    data: str | None,
    event_file: Path | None,
    invocation_type: str,
) -> None:
    from basegear.deploy import functions, local_target

    payload = functions.read_payload(data, event_file)
    ref = functions.function_ref(function, path, options=_options(stage, region, params))
    answer = functions.invoke(local_target(ref.region, endpoint), ref, payload, invocation_type)
    if answer.payload:
        sys.stdout.write(answer.pretty() + "\n")
    if answer.function_error:
        raise GearError(
            f"{ref.name} failed ({answer.function_error}): {answer.error_summary()}",
            hint=f"its logs say more: gear logs -f {function}",
        )
    if invocation_type != "RequestResponse":
        console.show_valid(f"{ref.name} ({invocation_type}, {answer.status})", label="invoked")


@gear.command(help="Print a deployed function's logs (CloudWatch Logs).")
@_service_options
@_endpoint_option
@click.option("--function", "-f", "function", required=True, help="Its key or deployed name.")
@click.option("--tail", is_flag=True, help="Keep printing new events until Ctrl-C.")
def logs(
    path: Path,
    stage: str | None,
    region: str | None,
    params: dict[str, str],
    endpoint: str | None,
    function: str,
    tail: bool,
) -> None:
    from basegear.deploy import functions, local_target

    ref = functions.function_ref(function, path, options=_options(stage, region, params))
    target = local_target(ref.region, endpoint)
    try:
        for event in functions.read_logs(target, ref, follow=tail):
            sys.stdout.write(functions.log_line(event) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


# The commands that talk to a running cloud's control API (cli_control.py) join the group.
from basegear import cli_control  # noqa: E402,F401
