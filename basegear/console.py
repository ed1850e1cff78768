"""The one place user-facing text is written: rich consoles for stdout and stderr.

Diagnostics go to stderr, one line each, so that stdout carries only a command's result (the
YAML or JSON of ``gear print``). Lines are never wrapped, whatever the terminal width: a
``file:line:column`` line stays whole for editors and CI log parsers. Text from the user's files
is escaped, so ``[brackets]`` in a message are printed, not read as rich markup."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from basegear.errors import Problem

if TYPE_CHECKING:
    from rich.console import Console

_STYLES = {"error": "red", "warning": "yellow"}


@cache
def out() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, emoji=False)


@cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def show_problem(problem: Problem) -> None:
    """``error serverless.yml:12:7: functions.a.timeout: expected …`` (or ``warning …``)."""
    from rich.markup import escape

    style = _STYLES.get(problem.severity, "red")
    # One line per problem, even when a message quotes a multi-line value from the file.
    text = str(problem).replace("\r", "\\r").replace("\n", "\\n")
    err().print(f"[{style}]{problem.severity}[/{style}] {escape(text)}")


def show_problems(problems: Sequence[Problem]) -> None:
    """Every problem, then a count: ``2 errors and 1 warning found``."""
    for problem in problems:
        show_problem(problem)
    errors = sum(1 for problem in problems if problem.severity == "error")
    warnings = len(problems) - errors
    counts = [plural(errors, "error")] if errors or not warnings else []
    if warnings:
        counts.append(plural(warnings, "warning"))
    style = "red" if errors else "yellow"
    err().print(f"[{style}]{' and '.join(counts)} found[/{style}]")


def show_error(message: str, hint: str | None = None, *, label: str = "error") -> None:
    from rich.markup import escape

    err().print(f"[red]{escape(label)}[/red] {escape(message)}")
    if hint:
        show_hint(hint)


def show_hint(hint: str) -> None:
    from rich.markup import escape

    err().print(f"hint: {escape(hint)}")


def show_valid(summary: str, *, label: str = "valid") -> None:
    """The result of a command that succeeded (``valid …``, ``packaged …``), on stdout."""
    from rich.markup import escape

    out().print(f"[green]{label}[/green] {escape(summary)}")


def show_traceback(text: str) -> None:
    """A traceback as Python prints it (``--debug``)."""
    err().out(text, end="", highlight=False)


def plural(count: int, noun: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
