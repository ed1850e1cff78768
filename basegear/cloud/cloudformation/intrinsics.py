"""Intrinsic functions, condition functions and pseudo parameters, as the CloudFormation User
Guide's "Intrinsic function reference" and "Pseudo parameters reference" define them.

Three passes use this module:
1. ``evaluate_conditions`` — the Conditions section, once per operation (Fn::Equals, Fn::And,
   Fn::Or, Fn::Not, Condition; Fn::And/Fn::Or take 2 to 10 conditions).
2. ``select_branches`` — every Fn::If replaced by its chosen branch, so that the dependency graph
   only follows references that take effect.
3. ``Resolver.resolve`` — one resource's properties (or an output) resolved to plain data, with
   Ref and Fn::GetAtt answered by the resources created so far. A ``Ref: AWS::NoValue``
   removes the property or list item that holds it."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from basegear.cloud.cloudformation.errors import TemplateError, ValidationError


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()

PSEUDO = frozenset(
    {
        "AWS::AccountId",
        "AWS::NotificationARNs",
        "AWS::NoValue",
        "AWS::Partition",
        "AWS::Region",
        "AWS::StackId",
        "AWS::StackName",
        "AWS::URLSuffix",
    }
)
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Pseudo:
    """The pseudo parameters' values for one stack."""

    region: str
    account: str
    stack_name: str
    stack_id: str
    notification_arns: tuple[str, ...] = ()

    def values(self) -> dict[str, Any]:
        china = self.region.startswith("cn-")
        return {
            "AWS::AccountId": self.account,
            "AWS::NotificationARNs": list(self.notification_arns),
            "AWS::NoValue": NO_VALUE,
            "AWS::Partition": "aws-cn" if china else "aws",
            "AWS::Region": self.region,
            "AWS::StackId": self.stack_id,
            "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com.cn" if china else "amazonaws.com",
        }


def intrinsic(value: Any) -> tuple[str, Any] | None:
    """``(name, argument)`` when ``value`` is an intrinsic function call."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, argument),) = value.items()
        if name == "Ref" or name.startswith("Fn::"):
            return name, argument
    return None


def split_getatt(argument: Any) -> tuple[str, Any]:
    """``["A", "B.C"]`` or ``"A.B.C"`` → ``("A", "B.C")``: the attribute keeps its dots."""
    if isinstance(argument, str):
        logical_id, _, attribute = argument.partition(".")
        return logical_id, attribute
    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        return argument[0], argument[1]
    raise TemplateError(f"Fn::GetAtt requires a resource name and an attribute, got {argument!r}")


def _sub_argument(argument: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(argument, str):
        return argument, {}
    if (
        isinstance(argument, list)
        and len(argument) == 2
        and isinstance(argument[0], str)
        and isinstance(argument[1], dict)
    ):
        return argument[0], argument[1]
    raise TemplateError("Fn::Sub requires a string or a [string, {variables}] pair")


def references(value: Any, parameters: Mapping[str, Any] | frozenset[str]) -> Iterator[str]:
    """The logical IDs that ``value`` refers to through Ref, Fn::GetAtt and Fn::Sub."""
    call = intrinsic(value)
    if call is not None:
        name, argument = call
        if name == "Ref":
            if isinstance(argument, str) and argument not in PSEUDO and argument not in parameters:
                yield argument
            return
        if name == "Fn::GetAtt":
            try:
                logical_id, attribute = split_getatt(argument)
            except TemplateError:
                return
            yield logical_id
            yield from references(attribute, parameters)
            return
        if name == "Fn::Sub":
            try:
                text, variables = _sub_argument(argument)
            except TemplateError:
                return
            for match in SUB_VARIABLE.finditer(text):
                inner = match.group(1).strip()
                if inner.startswith("!") or inner in variables:
                    continue
                head = inner.partition(".")[0]
                if head not in PSEUDO and head not in parameters:
                    yield head
            yield from references(variables, parameters)
            return
    if isinstance(value, dict):
        for item in value.values():
            yield from references(item, parameters)
    elif isinstance(value, list):
        for item in value:
            yield from references(item, parameters)


def select_branches(value: Any, conditions: Mapping[str, bool]) -> Any:
    """``value`` with every Fn::If replaced by the branch its condition chooses."""
    call = intrinsic(value)
    if call is not None and call[0] == "Fn::If":
        argument = call[1]
        if not (isinstance(argument, list) and len(argument) == 3):
            raise TemplateError("Fn::If requires a condition name and two values")
        chosen = argument[1] if _condition(conditions, argument[0]) else argument[2]
        return select_branches(chosen, conditions)
    if isinstance(value, dict):
        return {key: select_branches(item, conditions) for key, item in value.items()}
    if isinstance(value, list):
        return [select_branches(item, conditions) for item in value]
    return value


def _condition(conditions: Mapping[str, bool], name: Any) -> bool:
    if not isinstance(name, str) or name not in conditions:
        raise TemplateError(f"Unresolved condition dependency {name} in Fn::If")
    return conditions[name]


RefLookup = Callable[[str], Any]
GetAttLookup = Callable[[str, str], Any]
ImportLookup = Callable[[str], Any]


def _unresolved(logical_id: str) -> Any:
    raise TemplateError(f"Unresolved resource dependencies [{logical_id}] in the Resources block")


def _no_attributes(logical_id: str, attribute: str) -> Any:
    return _unresolved(logical_id)


def _no_exports(name: str) -> Any:
    raise TemplateError(f"No export named {name} found.")


@dataclass
class Resolver:
    pseudo: Pseudo
    parameters: Mapping[str, Any] = field(default_factory=dict)
    mappings: Mapping[str, Any] = field(default_factory=dict)
    conditions: Mapping[str, bool] = field(default_factory=dict)
    ref: RefLookup = _unresolved
    getatt: GetAttLookup = _no_attributes
    import_value: ImportLookup = _no_exports

    def resolve(self, value: Any) -> Any:
        call = intrinsic(value)
        if call is not None:
            return self._call(*call)
        if isinstance(value, dict):
            resolved = {key: self.resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        return value

    def _call(self, name: str, argument: Any) -> Any:
        function = self._functions().get(name)
        if function is None:
            raise TemplateError(f"Unsupported intrinsic function {name}")
        return function(argument)

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._getatt,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::ImportValue": self._import,
            "Fn::GetAZs": self._azs,
            "Fn::Base64": self._base64,
            "Fn::Cidr": self._cidr,
        }

    def _ref(self, argument: Any) -> Any:
        if not isinstance(argument, str):
            raise TemplateError("Ref requires a string: a parameter, resource or pseudo parameter")
        pseudo = self.pseudo.values()
        if argument in pseudo:
            return pseudo[argument]
        if argument in self.parameters:
            return self.parameters[argument]
        return self.ref(argument)

    def _getatt(self, argument: Any) -> Any:
        logical_id, attribute = split_getatt(argument)
        attribute = self.resolve(attribute)
        if not isinstance(attribute, str):
            raise TemplateError("Fn::GetAtt requires the attribute name as a string")
        return self.getatt(logical_id, attribute)

    def _sub(self, argument: Any) -> str:
        text, variables = _sub_argument(argument)
        values = {key: self.resolve(value) for key, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("!"):  # ${!Literal} writes ${Literal}
                return "${" + inner[1:] + "}"
            name = inner.strip()
            if name in values:
                value = values[name]
            elif "." in name and name.partition(".")[0] not in PSEUDO:
                value = self._getatt(name)
            else:
                value = self._ref(name)
            return _string(value, "Fn::Sub")

        return SUB_VARIABLE.sub(replace, text)

    def _join(self, argument: Any) -> str:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError("Fn::Join requires a delimiter and a list of values")
        delimiter, items = self.resolve(argument[0]), self.resolve(argument[1])
        if not isinstance(delimiter, str) or not isinstance(items, list):
            raise TemplateError("Fn::Join requires a string delimiter and a list of values")
        return delimiter.join(_string(item, "Fn::Join") for item in items)

    def _select(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError("Fn::Select requires an index and a list of values")
        index, items = self.resolve(argument[0]), self.resolve(argument[1])
        try:
            position = int(index)
        except (TypeError, ValueError):
            raise TemplateError("Fn::Select requires a numeric index") from None
        if not isinstance(items, list):
            raise TemplateError("Fn::Select requires a list of values")
        if not 0 <= position < len(items):
            raise TemplateError(f"Fn::Select cannot select nonexistent value at index {position}")
        return items[position]

    def _split(self, argument: Any) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError("Fn::Split requires a delimiter and a string")
        delimiter, source = self.resolve(argument[0]), self.resolve(argument[1])
        if not isinstance(delimiter, str) or not delimiter or not isinstance(source, str):
            raise TemplateError("Fn::Split requires a non-empty delimiter and a string")
        return source.split(delimiter)

    def _if(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise TemplateError("Fn::If requires a condition name and two values")
        chosen = argument[1] if _condition(self.conditions, argument[0]) else argument[2]
        return self.resolve(chosen)

    def _find_in_map(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise TemplateError("Fn::FindInMap requires a map name and two keys")
        name, top, second = (self.resolve(item) for item in argument)
        try:
            return self.mappings[name][top][second]
        except (KeyError, TypeError):
            raise TemplateError(f"Unable to get mapping for {name}::{top}::{second}") from None

    def _import(self, argument: Any) -> Any:
        name = self.resolve(argument)
        if not isinstance(name, str):
            raise TemplateError("Fn::ImportValue requires an export name")
        return self.import_value(name)

    def _azs(self, argument: Any) -> list[str]:
        region = self.resolve(argument) or self.pseudo.region
        return [f"{region}{zone}" for zone in "abc"]

    def _base64(self, argument: Any) -> str:
        value = _string(self.resolve(argument), "Fn::Base64")
        return base64.b64encode(value.encode()).decode()

    def _cidr(self, argument: Any) -> list[str]:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise TemplateError("Fn::Cidr requires an IP block, a count and CIDR bits")
        block, count, bits = (self.resolve(item) for item in argument)
        try:
            network = ipaddress.ip_network(str(block), strict=False)
            prefix = network.max_prefixlen - int(bits)
            subnets = network.subnets(new_prefix=prefix)
            return [str(subnet) for _, subnet in zip(range(int(count)), subnets, strict=False)]
        except ValueError as exc:
            raise TemplateError(f"Fn::Cidr: {exc}") from None


def _string(value: Any, function: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"{function} requires string values, got {type(value).__name__}")


def evaluate_conditions(definitions: Mapping[str, Any], resolver: Resolver) -> dict[str, bool]:
    """Every condition's value. A condition may name another; a loop is a template error."""
    results: dict[str, bool] = {}
    for name in definitions:
        results[name] = _evaluate_named(name, definitions, resolver, results, ())
    return results


def _evaluate_named(
    name: str,
    definitions: Mapping[str, Any],
    resolver: Resolver,
    results: dict[str, bool],
    stack: tuple[str, ...],
) -> bool:
    if name in results:
        return results[name]
    if name in stack:
        raise ValidationError(
            f"Template format error: Circular dependency between conditions: {list(stack)}"
        )
    if name not in definitions:
        raise ValidationError(f"Template format error: Unresolved condition dependency {name}")
    lookup = {"definitions": definitions, "results": results, "stack": (*stack, name)}
    results[name] = evaluate(definitions[name], resolver, lookup, name=name)
    return results[name]


def evaluate(value: Any, resolver: Resolver, lookup: Mapping[str, Any], *, name: str) -> bool:
    """One condition function's truth value."""
    if isinstance(value, dict) and len(value) == 1 and "Condition" in value:
        other = value["Condition"]
        if not lookup:
            return _condition(resolver.conditions, other)
        return _evaluate_named(
            other, lookup["definitions"], resolver, lookup["results"], lookup["stack"]
        )
    call = intrinsic(value)
    if call is None:
        if isinstance(value, bool):
            return value
        raise ValidationError(
            f"Template format error: Condition {name} is not a condition function"
        )
    function, argument = call
    if function == "Fn::Equals":
        if not (isinstance(argument, list) and len(argument) == 2):
            raise ValidationError("Template error: Fn::Equals requires two values")
        left, right = (_comparable(resolver.resolve(item)) for item in argument)
        return bool(left == right)
    if function == "Fn::Not":
        if not (isinstance(argument, list) and len(argument) == 1):
            raise ValidationError("Template error: Fn::Not requires one condition")
        return not evaluate(argument[0], resolver, lookup, name=name)
    if function in ("Fn::And", "Fn::Or"):
        if not (isinstance(argument, list) and 2 <= len(argument) <= 10):
            raise ValidationError(f"Template error: {function} requires 2 to 10 conditions")
        values = [evaluate(item, resolver, lookup, name=name) for item in argument]
        return all(values) if function == "Fn::And" else any(values)
    if function == "Fn::If":
        raise ValidationError(f"Template error: Fn::If is not a condition function ({name})")
    return bool(resolver.resolve(value))


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value
