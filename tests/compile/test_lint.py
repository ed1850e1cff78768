"""cfn-lint finds no error in any template the compiler writes: the example for both stages,
and every fixture project that compiles (the others are mistakes, each reported at its line)."""

from __future__ import annotations

import pytest
from conftest import PROJECTS, Compile, LintErrors, Template

from basegear.errors import ConfigError

PROJECT_NAMES = sorted(path.name for path in PROJECTS.iterdir())


def test_the_example_lints_clean(example: Template, lint_errors: LintErrors) -> None:
    assert lint_errors(example, "eu-west-1") == []


@pytest.mark.parametrize("project", PROJECT_NAMES)
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
