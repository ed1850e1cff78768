"""``gear status``: whether a local cloud answers, which ``gear up`` runs from this folder, and
the stacks it holds (ListStacks in each region of the recorded services, or those asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from basegear import console
from basegear.cloud.record import read_record
from basegear.deploy.target import NOT_RUNNING_HINT, aws_errors, local_target
from basegear.errors import GearError

_LIVE = (
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE",
    "ROLLBACK_COMPLETE",
    "CREATE_FAILED",
    "UPDATE_ROLLBACK_FAILED",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "REVIEW_IN_PROGRESS",
    "CREATE_IN_PROGRESS",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "ROLLBACK_IN_PROGRESS",
    "DELETE_IN_PROGRESS",
)
DEFAULT_REGION = "us-east-1"


def show_status(folder: Path, endpoint: str | None, regions: Sequence[str]) -> None:
    """Print the cloud and its stacks on stdout; raise GearError when no cloud answers."""
    from rich.markup import escape
    from rich.table import Table

    record = read_record(folder)
    wanted = list(regions) or list(record.regions if record else ()) or [DEFAULT_REGION]
    stacks: list[tuple[str, str, str]] = []
    where = ""
    for region in dict.fromkeys(wanted):
        target = local_target(region, endpoint, record_dir=folder)
        where = target.where
        try:
            with aws_errors(target, "asking the local cloud for its stacks"):
                pages = (
                    target.client("cloudformation")
                    .get_paginator("list_stacks")
                    .paginate(StackStatusFilter=list(_LIVE))
                )
                for page in pages:
                    for item in page["StackSummaries"]:
                        stacks.append((region, item["StackName"], item["StackStatus"]))
        except GearError as exc:
            raise GearError(f"no local cloud answers at {where}", hint=NOT_RUNNING_HINT) from exc
    out = console.out()
    if record is not None and record.endpoint_url == where:
        services = ", ".join(record.services)
        out.print(
            f"[green]running[/green] {escape(where)} (pid {record.pid}), gear up {escape(services)}"
        )
    else:
        out.print(f"[green]running[/green] {escape(where)}")
    if not stacks:
        out.print(f"no stacks in {', '.join(dict.fromkeys(wanted))}")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("region", "stack", "status"):
        table.add_column(column, overflow="fold")
    for region, name, status in sorted(stacks):
        table.add_row(escape(region), escape(name), escape(status))
    out.print(table)
