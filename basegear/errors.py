"""BaseGear's error tree.

Every error a user can see is a ``GearError``; only ``cli.main()`` prints one and picks the exit
code. Third-party errors (YAML, pydantic, boto3) are translated into these at one boundary each.

    GearError                    exit 1   anything BaseGear refuses to do
    └── ConfigError              exit 2   serverless.yml (or a file it names) is wrong
                                           carries one Problem per mistake, each at its location
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

PathKey = str | int
ConfigPath = tuple[PathKey, ...]


@dataclass(frozen=True)
class Location:
    """A place in a file: 1-based line and column, as editors count them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


MAX_DOTTED = 120
"""The longest a dotted path is shown; a longer one keeps its start and end around ``…``."""


def dotted(path: ConfigPath) -> str:
    """``('functions', 'a', 'events', 0)`` → ``functions.a.events[0]``; a path longer than
    ``MAX_DOTTED`` characters is shortened in the middle."""
    steps = [f"[{key}]" if isinstance(key, int) else f".{key}" for key in path]
    text = "".join(steps).removeprefix(".")
    if len(text) <= MAX_DOTTED:
        return text
    head, tail = text[: MAX_DOTTED // 2], text[-(MAX_DOTTED // 2) :]
    return f"{head}…{tail}"


@dataclass(frozen=True)
class Problem:
    """One mistake: where it is, which setting, and what was expected."""

    message: str
    location: Location | None = None
    path: ConfigPath = ()
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        setting = f"{dotted(self.path)}: " if self.path else ""
        return f"{where}{setting}{self.message}"


class GearError(Exception):
    """An error the user can act on. ``hint`` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(GearError):
    """The service definition is wrong; ``problems`` lists every mistake found."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem] | Problem, *, hint: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = (
            (problems,) if isinstance(problems, Problem) else tuple(problems)
        )
        count = len(self.problems)
        heading = "1 problem" if count == 1 else f"{count} problems"
        super().__init__(
            f"{heading} in the service definition:\n"
            + "\n".join(f"  {problem}" for problem in self.problems),
            hint=hint,
        )

    @classmethod
    def at(cls, message: str, location: Location | None, path: ConfigPath = ()) -> ConfigError:
        return cls(Problem(message, location, path))


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [problem for problem in problems if problem.severity == "error"]
