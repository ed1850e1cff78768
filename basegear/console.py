"""The one place user-facing text is written: rich consoles for stdout and stderr."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from basegear.errors import Problem

if TYPE_CHECKING:
    from rich.console import Console


@cache
def out() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def show_problem(problem: Problem) -> None:
    from rich.markup import escape

    style = "red" if problem.severity == "error" else "yellow"
    err().print(f"[{style}]{problem.severity}[/{style}] {escape(str(problem))}")
