"""What every resource handler shares: the context it runs in, what it returns, and how the
engine asks it whether a change replaces the resource.

A handler creates, updates and deletes one resource type through the service APIs, with boto3
clients the provider was given (against the local cloud's endpoint, or moto in-process). Its
class says which properties need replacement, as the "Update requires" line of each property in
the CloudFormation resource reference does: ``Always`` (Replacement), ``Conditionally`` (Some
interruptions/Replacement depending on the value), otherwise ``Never``."""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from basegear.cloud.cloudformation.errors import ResourceError

Properties = dict[str, Any]
Recreation = Literal["Never", "Conditionally", "Always"]
ClientFor = Callable[[str], Any]

NOT_FOUND_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "ActivityDoesNotExist",
        "NoSuchBucket",
        "NoSuchBucketPolicy",
        "NoSuchEntity",
        "NotFound",
        "NotFoundException",
        "ParameterNotFound",
        "QueueDoesNotExist",
        "ResourceNotFound",
        "ResourceNotFoundException",
        "StateMachineDoesNotExist",
    }
)
"""Error codes that mean "already gone": deleting such a resource succeeds, as CloudFormation
treats a resource deleted outside the stack."""


@dataclass(frozen=True)
class Created:
    """A live resource: its physical ID, what Ref gives (the physical ID unless said otherwise)
    and the values of its Fn::GetAtt attributes."""

    physical_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    ref: Any = None

    @property
    def ref_value(self) -> Any:
        return self.physical_id if self.ref is None else self.ref

    def to_json(self) -> dict[str, Any]:
        return {
            "physical_id": self.physical_id,
            "attributes": dict(self.attributes),
            "ref": self.ref,
        }


@dataclass
class Context:
    """Where a handler works: the stack, the resource, and the service clients of the region."""

    client: ClientFor
    region: str
    account: str
    stack_name: str
    stack_id: str
    logical_id: str
    rng: random.Random
    services: Mapping[str, Any] = field(default_factory=dict)  # shared stores, by name
    resource_type: str = ""

    @property
    def partition(self) -> str:
        return "aws-cn" if self.region.startswith("cn-") else "aws"

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return (
            f"arn:{self.partition}:{service}:{self.region if region else ''}:"
            f"{self.account if account else ''}:{resource}"
        )

    def physical_name(self, max_length: int = 255, *, lowercase: bool = False) -> str:
        """A generated name as CloudFormation makes them: ``<stack>-<LogicalId>-<RANDOM>``,
        shortened to fit ("Name type", CloudFormation resource reference)."""
        alphabet = string.ascii_uppercase + string.digits
        suffix = "".join(self.rng.choice(alphabet) for _ in range(13))
        base = f"{self.stack_name}-{self.logical_id}"[: max(1, max_length - len(suffix) - 1)]
        name = f"{base}-{suffix}"
        return name.lower() if lowercase else name


class Handler:
    """One resource type. Subclasses set ``type_name`` and implement create/update/delete."""

    type_name: ClassVar[str]
    attributes: ClassVar[frozenset[str]] = frozenset()
    replace_on: ClassVar[frozenset[str]] = frozenset()
    conditional: ClassVar[frozenset[str]] = frozenset()
    immutable: ClassVar[bool] = False  # every property change replaces the resource
    name_property: ClassVar[str | None] = None  # the property that names it, if any

    def create(self, ctx: Context, props: Properties) -> Created:
        raise NotImplementedError

    def update(self, ctx: Context, current: Created, old: Properties, new: Properties) -> Created:
        raise ResourceError(f"{self.type_name} does not support updates in place")

    def delete(self, ctx: Context, current: Created, props: Properties) -> None:
        raise NotImplementedError

    def recreation(self, prop: str) -> Recreation:
        if self.immutable or prop in self.replace_on:
            return "Always"
        if prop in self.conditional:
            return "Conditionally"
        return "Never"

    def replaces(self, old: Properties, new: Properties) -> bool:
        """Whether going from ``old`` to ``new`` needs a new physical resource."""
        changed = {key for key in set(old) | set(new) if old.get(key) != new.get(key)}
        return any(self.recreation(key) == "Always" for key in changed) or any(
            self.conditional_replacement(key, old.get(key), new.get(key))
            for key in changed
            if self.recreation(key) == "Conditionally"
        )

    def conditional_replacement(self, prop: str, old: Any, new: Any) -> bool:
        return True


def required(props: Mapping[str, Any], name: str, type_name: str) -> Any:
    if name not in props:
        raise ResourceError(
            f"Properties validation failed for resource: #: required key [{name}] not found "
            f"({type_name})"
        )
    return props[name]


def tag_list(tags: Any) -> list[dict[str, str]]:
    """Template tags (a ``[{Key, Value}]`` list or a map) as a ``[{Key, Value}]`` list."""
    if isinstance(tags, dict):
        return [{"Key": str(key), "Value": str(value)} for key, value in tags.items()]
    return [{"Key": str(tag["Key"]), "Value": str(tag["Value"])} for tag in tags or []]


def tag_map(tags: Any) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tag_list(tags)}


def removed_tag_keys(old: Properties, new: Properties) -> list[str]:
    """The keys of the old properties' Tags that the new properties' Tags no longer hold,
    sorted: what an update untags before it tags the resource with the new Tags."""
    return sorted(set(tag_map(old.get("Tags"))) - set(tag_map(new.get("Tags"))))


def fifo_name(ctx: Context, name: str | None, *, fifo: bool, max_length: int) -> str:
    """The name of an SNS topic or SQS queue: a FIFO one's name ends in ``.fifo``, and a
    generated name leaves room for that suffix within ``max_length`` (TopicName and QueueName,
    CloudFormation resource reference)."""
    name = name or ctx.physical_name(max_length - len(".fifo") if fifo else max_length)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    return name


def as_json(document: Any) -> str:
    """A policy or other JSON property: templates give it as an object or as a string."""
    return document if isinstance(document, str) else json.dumps(document)


def text(value: Any) -> str:
    """A scalar as the APIs want it in string-typed fields (booleans lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = response.get("Error", {}).get("Code", "")
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in NOT_FOUND_CODES or status == 404
