"""``Deployer.deploy``: one line per stage (see the package docstring); ``Deployer.plan``: the
same up to the plan and the guard, then the change set is deleted and nothing is executed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basegear import console
from basegear.build import Build, build
from basegear.compile.naming import DEPLOYMENT_BUCKET, DEPLOYMENT_BUCKET_POLICY, stack_name
from basegear.config.service import LoadedService
from basegear.deploy import guard, versions
from basegear.deploy.plan import Change, additions, changes_from, summary
from basegear.deploy.report import Reporter
from basegear.deploy.stack import NEW, SUCCEEDED, ChangeSet, StackClient
from basegear.deploy.target import Target, aws_errors
from basegear.deploy.upload import upload
from basegear.deploy.versions import Released
from basegear.errors import GearError, Problem
from basegear.model import Service

BUCKET_OUTPUT = "ServerlessDeploymentBucketName"
UPDATABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


@dataclass(frozen=True)
class DeployOptions:
    allow_replace: frozenset[str] = frozenset()  # logical IDs the guard lets go
    force: bool = False  # the guard lets every resource go
    out_dir: Path | None = None  # where the zips and template are built
    aliases: tuple[str, ...] = ()  # moved to each versioned function's newest version


@dataclass(frozen=True)
class DeployResult:
    stack_name: str
    outcome: str  # created | updated | unchanged
    changes: tuple[Change, ...]
    outputs: dict[str, str]
    resources: tuple[dict[str, Any], ...]  # ListStackResources' summaries
    built: Build
    seconds: float
    released: tuple[Released, ...] = ()  # each versioned function: its newest version, aliases
    protected: bool = False  # termination protection turned on by this deploy


@dataclass(frozen=True)
class PlanResult:
    stack_name: str
    exists: bool  # False: the stack would be created, every resource added
    changes: tuple[Change, ...]


class Deployer:
    def __init__(
        self,
        target: Target,
        *,
        report: Reporter,
        stacks: StackClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.target = target
        self.report = report
        self.stacks = stacks or StackClient(target)
        self._clock = clock

    def deploy(self, loaded: LoadedService, options: DeployOptions | None = None) -> DeployResult:
        options = options or DeployOptions()
        started = self._clock()
        service = loaded.model
        name = stack_name(service.service, service.stage, service.provider.stack_name)
        built = self._build(loaded, options)
        created, bucket = self._ensure_stack(name, service, built)
        template_url = self._upload(bucket, built, service)
        change_set = self._change_set(name, service, template_url)
        changes = changes_from(change_set.changes)
        if not change_set.empty:
            self.report.plan(name, changes)
            self._guard(name, change_set, changes, options)
            self._execute(name, change_set)
        protected = created and self._protect(name, built)
        resources = tuple(self.stacks.resources(name))
        released = self._release(built, resources, options)
        outputs = self.stacks.outputs(name)
        self.report.outputs(name, outputs)
        return DeployResult(
            stack_name=name,
            outcome="created" if created else "unchanged" if change_set.empty else "updated",
            changes=changes,
            outputs=outputs,
            resources=resources,
            built=built,
            seconds=self._clock() - started,
            released=released,
            protected=protected,
        )

    def plan(self, loaded: LoadedService, options: DeployOptions | None = None) -> PlanResult:
        """What ``deploy`` would change, shown as a table: a change set created, read and
        deleted, nothing executed. A stack that does not exist yet is not created: its plan
        adds every resource of the template. Raises ``PlanRefusedError`` when the guard would
        refuse the deploy."""
        options = options or DeployOptions()
        service = loaded.model
        name = stack_name(service.service, service.stage, service.provider.stack_name)
        built = self._build(loaded, options)
        stack = self.stacks.find(name)
        if stack is None or stack["StackStatus"] in NEW:
            planned = PlanResult(name, exists=False, changes=additions(built.template))
            self.report.plan(name, planned.changes)
            self.report.note(f"{name} does not exist at {self.target.where}: deploy creates it")
            return planned
        if stack["StackStatus"] not in UPDATABLE:
            status = str(stack["StackStatus"])
            raise GearError(f"stack {name} is {status}", hint=_status_hint(name, status))
        bucket = self.stacks.outputs(name).get(BUCKET_OUTPUT) or self._bucket_resource(name)
        template_url = self._upload(bucket, built, service)
        change_set = self._change_set(name, service, template_url)
        changes = changes_from(change_set.changes)
        if not change_set.empty:
            self.stacks.delete_change_set(change_set.change_set_id)
            self.report.plan(name, changes)
        guard.check(name, changes, allowed=options.allow_replace, force=options.force)
        return PlanResult(name, exists=True, changes=changes)

    # -- the stages ------------------------------------------------------------------------

    def _build(self, loaded: LoadedService, options: DeployOptions) -> Build:
        with self.report.step(f"building {loaded.model.service}") as done:
            started = self._clock()
            built = build(loaded, options.out_dir)
            artifacts = built.package.manifest["artifacts"]
            done.append(
                f"built {len(artifacts)} zips and {len(built.template['Resources'])} resources "
                f"in {self._clock() - started:.2f} s"
            )
        if built.package.warnings:
            console.show_problems(built.package.warnings)
        if loaded.model.provider.stack_policy and self.target.local:
            console.show_problem(
                Problem(
                    "provider.stackPolicy is not applied by the local cloud; the deploy guard "
                    "still refuses to replace or delete stateful resources",
                    severity="warning",
                )
            )
        return built

    def _ensure_stack(self, name: str, service: Service, built: Build) -> tuple[bool, str]:
        """The stack exists with its deployment bucket: a stack that does not exist yet is
        created with only the bucket, in a change set of its own, as the Serverless Framework
        creates its "core" stack. Returns (created now, bucket name)."""
        stack = self.stacks.find(name)
        status = stack["StackStatus"] if stack is not None else None
        created = stack is None or status in NEW
        if created:
            with self.report.step(f"creating stack {name}") as done:
                change_set = self.stacks.create_change_set(
                    name,
                    kind="CREATE",
                    template={"TemplateBody": json.dumps(core_template(built.template))},
                    tags=_tags(service),
                )
                self._run(name, change_set)
                done.append(f"created stack {name} with its deployment bucket")
        elif status not in UPDATABLE:
            raise GearError(f"stack {name} is {status}", hint=_status_hint(name, str(status)))
        outputs = self.stacks.outputs(name)
        bucket = outputs.get(BUCKET_OUTPUT) or self._bucket_resource(name)
        return created, bucket

    def _upload(self, bucket: str, built: Build, service: Service) -> str:
        with self.report.step(f"uploading to {bucket}") as done:
            sent = upload(self.target, bucket, built, service.service, service.stage)
            done.append(
                f"uploaded {sent.sent} files ({sent.bytes_sent / 1024:.0f} KiB), "
                f"{sent.kept} already there"
            )
        return sent.template_url

    def _change_set(self, name: str, service: Service, template_url: str) -> ChangeSet:
        with self.report.step(f"planning {name}") as done:
            change_set = self.stacks.create_change_set(
                name,
                kind="UPDATE",
                template={"TemplateURL": template_url},
                tags=_tags(service),
                parameters=_parameters(service),
            )
            if change_set.empty:
                # AWS keeps a failed change set; it has no use.
                self.stacks.delete_change_set(change_set.change_set_id)
                done.append(f"no changes to {name}")
            else:
                done.append(f"planned {name}: {summary(changes_from(change_set.changes))}")
        return change_set

    def _guard(
        self, name: str, change_set: ChangeSet, changes: tuple[Change, ...], options: DeployOptions
    ) -> None:
        try:
            guard.check(name, changes, allowed=options.allow_replace, force=options.force)
        except guard.PlanRefusedError:
            self.stacks.delete_change_set(change_set.change_set_id)
            raise

    def _protect(self, name: str, built: Build) -> bool:
        """Termination protection for a new stack that holds stateful resources only (the
        example's static stack): deleting it then takes a deliberate step first."""
        if not guard.static_stack(built.template):
            return False
        self.stacks.protect(name)
        self.report.note(f"termination protection on for {name}: it holds stateful resources only")
        return True

    def _release(
        self, built: Build, resources: tuple[dict[str, Any], ...], options: DeployOptions
    ) -> tuple[Released, ...]:
        """Each versioned function at its newest version, the aliases asked for on it."""
        physical = {
            str(item["LogicalResourceId"]): str(item.get("PhysicalResourceId", ""))
            for item in resources
        }
        functions = versions.versioned_functions(built.template, physical)
        if not functions:
            return ()
        counted = console.plural(len(functions), "function")
        with self.report.step(f"publishing the versions of {counted}") as done:
            released = tuple(
                versions.release(self.target, function, options.aliases, managed=managed)
                for function, managed in functions.items()
            )
            done.append(
                f"{counted} at {'their' if len(released) > 1 else 'its'} newest version"
                + (f", alias {', '.join(options.aliases)} on it" if options.aliases else "")
            )
        for item in released:
            for move in item.moves:
                was = f"from version {move.before}" if move.before else "created"
                self.report.note(
                    f"  {item.function}: alias {move.alias} -> version {move.after} ({was})"
                )
            for alias in item.managed:
                self.report.note(f"  {item.function}: alias {alias} is the stack's own; left to it")
        return released

    def _execute(self, name: str, change_set: ChangeSet) -> None:
        with self.report.step(f"deploying {name}") as done:
            started = self._clock()
            status = self._run(name, change_set)
            done.append(f"deployed {name} ({status}) in {self._clock() - started:.2f} s")

    def _run(self, name: str, change_set: ChangeSet) -> str:
        """Execute ``change_set``; raise with the failed events' reasons unless it succeeds."""
        status = self.stacks.execute(change_set, self.report.event)
        if status in SUCCEEDED:
            return status
        failures = self.stacks.failures(name)
        reasons = "\n".join(
            f"  {event.logical_id} ({event.resource_type}): {event.reason}"
            for event in failures[-10:]
        )
        raise GearError(
            f"deploying {name} failed, the stack is {status}"
            + (f":\n{reasons}" if reasons else ""),
            hint=_status_hint(name, status),
        )

    # -- helpers -----------------------------------------------------------------------------

    def _bucket_resource(self, name: str) -> str:
        with aws_errors(self.target, f"finding the deployment bucket of {name}"):
            found = self.stacks.cfn.describe_stack_resource(
                StackName=name, LogicalResourceId=DEPLOYMENT_BUCKET
            )
        return str(found["StackResourceDetail"]["PhysicalResourceId"])


def core_template(template: dict[str, Any]) -> dict[str, Any]:
    """The deployment bucket, its policy and its output, out of the compiled template."""
    resources = template["Resources"]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": template.get("Description", ""),
        "Resources": {
            key: resources[key]
            for key in (DEPLOYMENT_BUCKET, DEPLOYMENT_BUCKET_POLICY)
            if key in resources
        },
        "Outputs": {BUCKET_OUTPUT: template["Outputs"][BUCKET_OUTPUT]},
    }


def _tags(service: Service) -> list[dict[str, str]]:
    """The stack's tags, as the Framework sets them: STAGE, then ``provider.stackTags``."""
    tags = {"STAGE": service.stage}
    tags.update(
        {key: value for key, value in service.provider.stack_tags.items() if isinstance(value, str)}
    )
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _parameters(service: Service) -> list[dict[str, str]]:
    return [
        {"ParameterKey": str(item["ParameterKey"]), "ParameterValue": str(item["ParameterValue"])}
        for item in service.provider.stack_parameters or []
        if "ParameterKey" in item and "ParameterValue" in item
    ]


def _status_hint(name: str, status: str) -> str:
    if status.endswith("_IN_PROGRESS"):
        return f"another operation on {name} is running; wait for it (gear status) and deploy again"
    if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"):
        return (
            f"{name} never deployed successfully; delete it "
            f"(aws cloudformation delete-stack --stack-name {name}) and deploy again"
        )
    return "the events above say which resource failed and why; fix it and deploy again"
