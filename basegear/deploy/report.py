"""What a deployment shows while it runs, through the one console (``basegear.console``): a line
per stage and each stack event on stderr, the plan and the outputs — the command's result — on
stdout. ``gear up`` deploys with ``ConsoleReport(quiet=True)``: a spinner per stage and nothing
else, since it shows its own screen at the end."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from rich.markup import escape

from basegear import console
from basegear.deploy.plan import ACTION_COLUMN, STYLES, Change, rows, summary
from basegear.deploy.stack import StackEvent

_EVENT_STYLES = {"COMPLETE": "green", "FAILED": "red", "IN_PROGRESS": "dim"}


class Reporter(Protocol):
    def step(self, doing: str) -> AbstractContextManager[list[str]]:
        """A stage that takes time: ``doing`` while it runs; the caller may append the line
        that says what it did."""

    def plan(self, stack_name: str, changes: Sequence[Change]) -> None: ...

    def note(self, line: str) -> None:
        """A line about what a stage did, beside the stage lines."""

    def event(self, event: StackEvent) -> None: ...

    def outputs(self, stack_name: str, outputs: Mapping[str, str]) -> None: ...


class ConsoleReport:
    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

    @contextmanager
    def step(self, doing: str) -> Iterator[list[str]]:
        done: list[str] = []
        with console.err().status(escape(doing)):
            yield done
        if done and not self.quiet:
            console.err().print(done[0], markup=False)

    def plan(self, stack_name: str, changes: Sequence[Change]) -> None:
        if self.quiet:
            return
        console.out().print(f"plan for {stack_name}: {summary(changes)}", markup=False)
        styles = ["bold", *(STYLES.get(change.kind, "") for change in changes)]
        show_rows(rows(changes), styles=styles, column=ACTION_COLUMN)

    def note(self, line: str) -> None:
        if not self.quiet:
            console.err().print(line, markup=False)

    def event(self, event: StackEvent) -> None:
        if self.quiet and not event.failed:
            return
        style = next((s for end, s in _EVENT_STYLES.items() if event.status.endswith(end)), "")
        status = f"[{style}]{escape(event.status)}[/{style}]" if style else escape(event.status)
        reason = f"  {escape(event.reason)}" if event.reason and event.failed else ""
        console.err().print(
            f"  {status}  {escape(event.resource_type)}  {escape(event.logical_id)}{reason}"
        )

    def outputs(self, stack_name: str, outputs: Mapping[str, str]) -> None:
        if self.quiet or not outputs:
            return
        console.out().print(f"outputs of {stack_name}", markup=False)
        show_rows(list(outputs.items()))


def columns(table: Sequence[Sequence[str]], indent: int = 2) -> list[str]:
    """Rows as aligned plain-text lines: never wrapped or cut, whatever the terminal's width,
    so that values can be copied and CI logs keep them whole."""
    if not table:
        return []
    widths = [max(len(row[index]) for row in table) for index in range(len(table[0]))]
    pad = " " * indent
    return [
        pad + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]


def show_rows(
    table: Sequence[Sequence[str]],
    *,
    styles: Sequence[str] = (),
    indent: int = 2,
    column: int = 0,
) -> None:
    """``columns`` on stdout; ``styles[i]`` colours row i's cell in ``column``."""
    from rich.text import Text

    if not table:
        return
    widths = [max(len(row[index]) for row in table) for index in range(len(table[0]))]
    start = indent + sum(width + 2 for width in widths[:column])
    for index, line in enumerate(columns(table, indent)):
        text = Text(line)
        style = styles[index] if index < len(styles) else ""
        if style:
            text.stylize(style, start, start + len(table[index][column]))
        console.out().print(text)
