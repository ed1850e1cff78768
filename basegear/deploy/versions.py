"""Function versions and aliases after a deploy (``release``), and ``gear prune``.

Every listing follows ``NextMarker`` to the last page. ListVersionsByFunction returns at most
50 versions a call whatever ``MaxItems`` asks (Lambda API reference, ListVersionsByFunction):
code that reads one page and takes its last version as the newest moves an alias back to
version 49 once a function has more than 50 versions. ListAliases and ListLayerVersions are
paged the same way (``Marker`` / ``NextMarker``).

release (after a deploy, for each function the stack versions, i.e. that has an
``AWS::Lambda::Version`` in the template):

    publish   PublishVersion with $LATEST's CodeSha256: a new version when the code or the
              configuration changed since the last one, else the last one (Lambda API
              reference, PublishVersion) — after CloudFormation's own AWS::Lambda::Version it
              publishes nothing new
    newest    every version, every page: the highest number
    aliases   each alias asked for (``--alias``) to the newest version, all its traffic
              (UpdateAlias, or CreateAlias when it does not exist yet — as the example's
              stream processor moves the ``prod`` alias of its algorithm functions). An alias
              the stack defines (AWS::Lambda::Alias) is CloudFormation's to move; it is left
              alone.

prune keeps, of each function, its newest N versions and every version an alias routes to
(``FunctionVersion`` and the ``AdditionalVersionWeights`` of a weighted alias, Lambda developer
guide, "Lambda function aliases") or the stack holds (its AWS::Lambda::Version resources); of
each layer of the stack, its newest N versions, the versions the stack holds and every version
a kept function version uses. It deletes the rest, oldest first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from basegear.deploy.target import Target, aws_errors
from basegear.errors import GearError

LATEST = "$LATEST"
FUNCTION = "AWS::Lambda::Function"
VERSION = "AWS::Lambda::Version"
ALIAS = "AWS::Lambda::Alias"
LAYER_VERSION = "AWS::Lambda::LayerVersion"


@dataclass(frozen=True)
class AliasMove:
    alias: str
    before: str | None  # the version it pointed at; None when created now
    after: str


@dataclass(frozen=True)
class Released:
    function: str
    version: str  # the newest version, which the aliases now point at
    versions: int  # how many versions the function has
    moves: tuple[AliasMove, ...] = ()
    managed: tuple[str, ...] = ()  # aliases asked for that the stack itself moves


@dataclass(frozen=True)
class Deleted:
    kind: str  # function | layer
    name: str
    version: str


@dataclass(frozen=True)
class Kept:
    """A version older than the newest N that prune keeps, and why."""

    kind: str
    name: str
    version: str
    reason: str  # "alias live", "held by the stack", "used by version 7 of f"


@dataclass(frozen=True)
class Pruned:
    deleted: tuple[Deleted, ...]
    kept: tuple[Kept, ...]


@dataclass(frozen=True)
class StackLambdas:
    """What prune and release need of a stack: its functions and layers (physical names and
    layer ARNs), the versions it holds, and the aliases it defines."""

    functions: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()  # layer names
    held: frozenset[tuple[str, str]] = frozenset()  # (function or layer name, version)

    @classmethod
    def from_resources(cls, resources: Iterable[Mapping[str, Any]]) -> StackLambdas:
        """From ListStackResources' summaries: a function's physical ID is its name, a
        version's and a layer version's are their ARNs (``…:function:name:3``,
        ``…:layer:name:3``)."""
        functions: list[str] = []
        layers: list[str] = []
        held: set[tuple[str, str]] = set()
        for resource in resources:
            kind, physical = resource.get("ResourceType"), str(resource.get("PhysicalResourceId"))
            if kind == FUNCTION:
                functions.append(physical)
            elif kind == VERSION and physical.count(":") >= 7:
                name, version = physical.split(":")[6:8]
                held.add((name, version))
            elif kind == LAYER_VERSION and physical.count(":") >= 7:
                layer, version = layer_version(physical)
                layers.append(layer)
                held.add((layer, version))
        return cls(tuple(sorted(set(functions))), tuple(sorted(set(layers))), frozenset(held))


def layer_version(arn: str) -> tuple[str, str]:
    """``arn:aws:lambda:eu-west-1:123456789012:layer:shared:3`` → (``shared``, ``3``). Layers
    are listed and deleted by name: AWS takes a name or an ARN as ``LayerName``, moto a name
    only."""
    parts = arn.split(":")
    return parts[6], parts[7] if len(parts) > 7 else ""


# -- listings, every page ------------------------------------------------------------------


def _pages(call: Callable[..., Mapping[str, Any]], field: str, **arguments: Any) -> Iterator[Any]:
    """The items of every page of a Lambda listing that pages with Marker / NextMarker."""
    marker: str | None = None
    seen: set[str] = set()
    while True:
        page = call(**arguments, **({"Marker": marker} if marker else {}))
        yield from page.get(field) or []
        marker = page.get("NextMarker")
        if not marker:
            return
        if marker in seen:  # a service that hands the same marker back would loop forever
            raise GearError(f"the Lambda API returned the marker {marker} twice in one listing")
        seen.add(marker)


def list_versions(client: Any, function: str) -> list[dict[str, Any]]:
    """Every published version of ``function`` (not $LATEST), oldest first."""
    versions = [
        dict(item)
        for item in _pages(client.list_versions_by_function, "Versions", FunctionName=function)
        if item.get("Version") != LATEST
    ]
    return sorted(versions, key=lambda item: int(item["Version"]))


def list_aliases(client: Any, function: str) -> list[dict[str, Any]]:
    return [dict(item) for item in _pages(client.list_aliases, "Aliases", FunctionName=function)]


def list_layer_versions(client: Any, layer: str) -> list[dict[str, Any]]:
    """Every version of ``layer`` (its name), oldest first."""
    versions = [
        dict(item) for item in _pages(client.list_layer_versions, "LayerVersions", LayerName=layer)
    ]
    return sorted(versions, key=lambda item: int(item["Version"]))


def routed_versions(aliases: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """version → the aliases that send it traffic: each alias's FunctionVersion and the
    versions of its RoutingConfig.AdditionalVersionWeights."""
    routed: dict[str, list[str]] = {}
    for alias in aliases:
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        for version in (alias.get("FunctionVersion"), *weights):
            if version and version != LATEST:
                routed.setdefault(str(version), []).append(str(alias["Name"]))
    return routed


# -- release ---------------------------------------------------------------------------------


def release(
    target: Target, function: str, aliases: Sequence[str] = (), *, managed: Iterable[str] = ()
) -> Released:
    """Publish ``function``'s $LATEST (nothing new when unchanged) and point each of
    ``aliases`` at its newest version; ``managed`` are aliases the stack moves itself."""
    client = target.client("lambda")
    with aws_errors(target, f"publishing a version of {function}"):
        latest = client.get_function_configuration(FunctionName=function)
        if latest.get("LastUpdateStatus") == "InProgress":
            # PublishVersion is refused while an update is in progress (Lambda developer
            # guide, "Lambda function states"); wait for it as the AWS CLI's waiter does.
            client.get_waiter("function_updated_v2").wait(FunctionName=function)
            latest = client.get_function_configuration(FunctionName=function)
        client.publish_version(FunctionName=function, CodeSha256=latest["CodeSha256"])
    with aws_errors(target, f"listing the versions and aliases of {function}"):
        versions = list_versions(client, function)
        current = {str(alias["Name"]): alias for alias in list_aliases(client, function)}
    if not versions:
        raise GearError(f"{function} has no published version after PublishVersion")
    newest = str(versions[-1]["Version"])
    stack_moves = set(managed)
    moves: list[AliasMove] = []
    for name in aliases:
        if name in stack_moves:
            continue
        before = current.get(name)
        previous = str(before["FunctionVersion"]) if before is not None else None
        weighted = bool(((before or {}).get("RoutingConfig") or {}).get("AdditionalVersionWeights"))
        if previous == newest and not weighted:
            continue
        with aws_errors(target, f"pointing alias {name} of {function} at version {newest}"):
            if before is None:
                client.create_alias(FunctionName=function, Name=name, FunctionVersion=newest)
            else:
                # All the traffic to the newest version: a weighted alias loses its weights.
                client.update_alias(
                    FunctionName=function,
                    Name=name,
                    FunctionVersion=newest,
                    RoutingConfig={"AdditionalVersionWeights": {}},
                )
        moves.append(AliasMove(name, previous, newest))
    managed_asked = tuple(name for name in aliases if name in stack_moves)
    return Released(function, newest, len(versions), tuple(moves), managed_asked)


def versioned_functions(
    template: Mapping[str, Any], physical: Mapping[str, str]
) -> dict[str, frozenset[str]]:
    """The functions ``template`` versions (the target of an AWS::Lambda::Version's
    ``FunctionName: {Ref}``), by physical name, each with the names of the aliases the
    template defines for it. ``physical`` maps logical IDs to physical IDs (the stack's
    resources); a function the stack does not hold (a false Condition) is left out."""
    resources = [item for item in (template.get("Resources") or {}).values() if item]
    functions: dict[str, set[str]] = {}
    for kind in (VERSION, ALIAS):  # versions first: an alias counts for a versioned function
        for resource in resources:
            properties = resource.get("Properties") or {}
            reference = properties.get("FunctionName")
            if resource.get("Type") != kind or not isinstance(reference, Mapping):
                continue
            name = physical.get(str(reference.get("Ref")))
            if name is None:
                continue
            if kind == VERSION:
                functions.setdefault(name, set())
            elif name in functions and isinstance(properties.get("Name"), str):
                functions[name].add(properties["Name"])
    return {name: frozenset(aliases) for name, aliases in sorted(functions.items())}


# -- prune -----------------------------------------------------------------------------------


def prune(
    target: Target,
    *,
    keep: int,
    functions: Sequence[str],
    layers: Sequence[str] = (),
    held: frozenset[tuple[str, str]] = frozenset(),
) -> Pruned:
    """Delete the versions of ``functions`` and ``layers`` (names) beyond the newest ``keep``,
    but never one an alias routes to, one in ``held`` (the stack's) or a layer version a kept
    function version (or $LATEST) uses."""
    if keep < 1:
        raise GearError(f"--keep must be at least 1, got {keep}", hint="e.g. --keep 3")
    client = target.client("lambda")
    deleted: list[Deleted] = []
    kept: list[Kept] = []
    layers_in_use: dict[tuple[str, str], str] = {}
    for function in functions:
        gone, pinned, used = _prune_function(target, client, function, keep, held)
        deleted += gone
        kept += pinned
        for key, user in used.items():
            layers_in_use.setdefault(key, user)
    for layer in layers:
        gone, pinned = _prune_layer(target, client, layer, keep, held, layers_in_use)
        deleted += gone
        kept += pinned
    return Pruned(tuple(deleted), tuple(kept))


def _prune_function(
    target: Target, client: Any, function: str, keep: int, held: frozenset[tuple[str, str]]
) -> tuple[list[Deleted], list[Kept], dict[tuple[str, str], str]]:
    with aws_errors(target, f"listing the versions and aliases of {function}"):
        latest = client.get_function_configuration(FunctionName=function)
        versions = list_versions(client, function)
        routed = routed_versions(list_aliases(client, function))
    newest = {str(item["Version"]) for item in versions[-keep:]}
    deleted: list[Deleted] = []
    kept: list[Kept] = []
    used: dict[tuple[str, str], str] = {}
    for item in [*versions, latest]:
        version = str(item["Version"])
        reason = _function_reason(function, version, newest, routed, held)
        if reason is None:
            with aws_errors(target, f"deleting version {version} of {function}"):
                client.delete_function(FunctionName=function, Qualifier=version)
            deleted.append(Deleted("function", function, version))
            continue
        if reason:
            kept.append(Kept("function", function, version, reason))
        for layer in item.get("Layers") or []:
            arn = str(layer.get("Arn", ""))
            if arn.count(":") >= 7:
                used.setdefault(layer_version(arn), f"version {version} of {function}")
    return deleted, kept, used


def _function_reason(
    function: str,
    version: str,
    newest: set[str],
    routed: Mapping[str, list[str]],
    held: frozenset[tuple[str, str]],
) -> str | None:
    """Why ``version`` stays: '' for $LATEST and the newest, a reason for an older one, None
    when it goes."""
    if version == LATEST or version in newest:
        return ""
    if version in routed:
        names = routed[version]
        return f"alias{'es' if len(names) > 1 else ''} {', '.join(sorted(names))}"
    if (function, version) in held:
        return "held by the stack"
    return None


def _prune_layer(
    target: Target,
    client: Any,
    layer: str,
    keep: int,
    held: frozenset[tuple[str, str]],
    in_use: Mapping[tuple[str, str], str],
) -> tuple[list[Deleted], list[Kept]]:
    with aws_errors(target, f"listing the versions of layer {layer}"):
        versions = list_layer_versions(client, layer)
    newest = {str(item["Version"]) for item in versions[-keep:]}
    deleted: list[Deleted] = []
    kept: list[Kept] = []
    for item in versions:
        version = str(item["Version"])
        if version in newest:
            continue
        if (layer, version) in held:
            kept.append(Kept("layer", layer, version, "held by the stack"))
        elif (layer, version) in in_use:
            kept.append(Kept("layer", layer, version, f"used by {in_use[(layer, version)]}"))
        else:
            with aws_errors(target, f"deleting version {version} of layer {layer}"):
                client.delete_layer_version(LayerName=layer, VersionNumber=int(version))
            deleted.append(Deleted("layer", layer, version))
    return deleted, kept


def prune_stack(target: Target, stack: str, *, keep: int, function: str | None = None) -> Pruned:
    """``gear prune``: the functions and layers of ``stack``, or only ``function`` (a deployed
    name, in the stack or not), keeping what ``prune`` keeps."""
    from basegear.deploy.stack import StackClient

    stacks = StackClient(target)
    found = stacks.find(stack)
    lambdas = StackLambdas.from_resources(stacks.resources(stack)) if found else StackLambdas()
    if function is not None:
        return prune(target, keep=keep, functions=(function,), held=lambdas.held)
    if found is None:
        raise GearError(
            f"stack {stack} does not exist at {target.where}: there is nothing to prune",
            hint="deploy it first, or name a deployed function with --function",
        )
    return prune(
        target, keep=keep, functions=lambdas.functions, layers=lambdas.layers, held=lambdas.held
    )
