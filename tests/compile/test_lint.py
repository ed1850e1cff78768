"""cfn-lint finds no error in any template the compiler writes: the example for both stages,
and every fixture project that compiles (the others are mistakes, each reported at its line)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from basegear.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = sorted(path.name for path in (ROOT / "tests" / "fixtures" / "projects").iterdir())
EXAMPLE = ROOT / "examples" / "algorithms"

Compile = Callable[..., dict[str, Any]]
LintErrors = Callable[..., list[str]]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_example_lints_clean(
    stage: str, compile_project: Compile, lint_errors: LintErrors
) -> None:
    assert lint_errors(compile_project(EXAMPLE, stage=stage), "eu-west-1") == []


@pytest.mark.parametrize("project", PROJECTS)
def test_every_project_that_compiles_lints_clean(
    project: str, compile_project: Compile, lint_errors: LintErrors
) -> None:
    try:
        template = compile_project(project)
    except ConfigError as error:
        # A fixture of a mistake: its message is checked where the mistake is tested.
        assert all(problem.location for problem in error.problems), error
        return
    assert lint_errors(template, "eu-west-1") == []
