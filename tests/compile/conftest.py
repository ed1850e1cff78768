"""Compile fixture projects and the example as ``gear package`` does, lint the templates with
cfn-lint, and read what the tests check in them."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from basegear.compile import compile_service
from basegear.config.service import LoadedService, load_service
from basegear.config.variables import Options
from basegear.errors import ConfigError, Problem
from basegear.model import Layer
from basegear.package.artifact import REQUIREMENTS_LAYER, Artifact, Artifacts, RequirementsLayer

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = ROOT / "tests" / "fixtures" / "projects"
EXAMPLE = ROOT / "examples" / "algorithms"

Template = dict[str, Any]
Compile = Callable[..., Template]
OnlyProblem = Callable[..., Problem]
LintErrors = Callable[..., list[str]]


def zip_artifact(path: Path, content: str) -> Artifact:
    """A deterministic zip holding ``handler.py`` with ``content``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("handler.py", (1980, 1, 1, 0, 0, 0)), content)
    return Artifact.of(path, unzipped_size=len(content))


def artifacts_for(loaded: LoadedService, folder: Path) -> Artifacts:
    """One small real zip per function and layer."""
    folder.mkdir(parents=True, exist_ok=True)
    model = loaded.model
    requirements = model.custom.python_requirements
    requirements_layer = None
    if requirements is not None and requirements.layer:
        name = f"{model.service}-{model.stage}-python-requirements"
        path = folder / f"layer-{REQUIREMENTS_LAYER}.zip"
        artifact = zip_artifact(path, f"# {REQUIREMENTS_LAYER}\n")
        requirements_layer = RequirementsLayer(Layer(name=name), artifact)
    return Artifacts(
        functions={
            key: zip_artifact(folder / f"{key}.zip", f"# {key}\n") for key in model.functions
        },
        layers={
            key: zip_artifact(folder / f"layer-{key}.zip", f"# {key}\n") for key in model.layers
        },
        requirements_layer=requirements_layer,
    )


@pytest.fixture
def compile_project(tmp_path: Path) -> Compile:
    """``compile_project("name")`` compiles tests/fixtures/projects/name (or a given folder)."""

    def compile_(project: str | Path, stage: str = "dev", **options: Any) -> Template:
        folder = project if isinstance(project, Path) else PROJECTS / project
        loaded = load_service(folder, Options(stage=stage, **options), environ={})
        return compile_service(loaded, artifacts_for(loaded, tmp_path / "artifacts"))

    return compile_


@pytest.fixture(params=["dev", "prod"])
def example_stage(request: pytest.FixtureRequest) -> str:
    """Every test of the example runs for both its stages; a test that parametrizes
    ``example_stage`` itself picks its own."""
    stage: str = request.param
    return stage


@pytest.fixture
def example(compile_project: Compile, example_stage: str) -> Template:
    """The algorithms example, compiled for ``example_stage``."""
    return compile_project(EXAMPLE, stage=example_stage)


@pytest.fixture
def only_problem(compile_project: Compile) -> OnlyProblem:
    """``only_problem("name")``: the one problem that compiling the project reports."""

    def only_problem_(project: str | Path, **options: Any) -> Problem:
        with pytest.raises(ConfigError) as caught:
            compile_project(project, **options)
        (problem,) = caught.value.problems
        return problem

    return only_problem_


def _lint_errors(template: Template, region: str = "us-east-1") -> list[str]:
    """cfn-lint's errors (not warnings or informational findings) for ``template``."""
    matches = lint(json.dumps(template), config=ManualArgs(regions=[region]))
    return [
        f"{match.rule.id} {match.message} ({'/'.join(map(str, match.path))})"
        for match in matches
        if match.rule.id.startswith("E")
    ]


@pytest.fixture
def lint_errors() -> LintErrors:
    """``lint_errors(template, region="us-east-1")``: cfn-lint's errors for a template."""
    return _lint_errors


# Reading compiled templates.


def resources_of_type(template: Template, kind: str) -> dict[str, Any]:
    """The template's resources of type ``kind``, by logical ID, in template order."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == kind
    }


def role_statements(template: Template, role_id: str = "IamRoleLambdaExecution") -> list[Any]:
    """The statements of a role's one inline policy (by default, the Lambda execution role)."""
    role = template["Resources"][role_id]
    assert role["Type"] == "AWS::IAM::Role"
    policies = role["Properties"]["Policies"]
    assert len(policies) == 1
    statements: list[Any] = policies[0]["PolicyDocument"]["Statement"]
    return statements


def method(template: Template, logical_id: str) -> dict[str, Any]:
    """The properties of an API Gateway method."""
    resource = template["Resources"][logical_id]
    assert resource["Type"] == "AWS::ApiGateway::Method"
    properties: dict[str, Any] = resource["Properties"]
    return properties


def function_arn(prefix: str) -> Template:
    """``Fn::GetAtt <prefix>LambdaFunction.Arn``."""
    return {"Fn::GetAtt": [f"{prefix}LambdaFunction", "Arn"]}


def service_uri(*path: Any) -> Template:
    """``arn:<partition>:apigateway:<region><path>``: an API Gateway integration URI."""
    parts = ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"}, *path]
    return {"Fn::Join": ["", parts]}


def lambda_uri(function: Any) -> Template:
    """The integration URI that invokes the function ARN ``function``."""
    return service_uri(":lambda:path/2015-03-31/functions/", function, "/invocations")


def execute_api_arn(api: Any, suffix: str) -> Template:
    """The source ARN of API Gateway's requests to Lambda: ``arn:…:execute-api:…:<api><suffix>``."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":execute-api:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":",
                api,
                suffix,
            ],
        ]
    }


# State machine roles.

LOG_DELIVERY = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]
DENY_ALL = [{"Effect": "Deny", "Action": "*", "Resource": "*"}]


def invoke(function: Any) -> list[Any]:
    """A function and its versions and aliases, as the derived role grants them."""
    if isinstance(function, str):
        return [function, f"{function}:*"]
    return [function, {"Fn::Sub": ["${FunctionArn}:*", {"FunctionArn": function}]}]
