"""Checks a Step Functions state machine definition against the Amazon States Language.

``check_definition`` takes the already-parsed ``definition`` of a serverless.yml state machine and
returns one ``Problem`` per mistake, each at the most precise path inside the definition. It never
raises and never stops at the first mistake. Section names in the comments refer to the spec at
https://states-language.net/spec.html; the JSONata fields come from the AWS Step Functions guide.

CloudFormation intrinsics (``{"Ref": ...}``, ``{"Fn::GetAtt": ...}``) and strings holding
``${...}``, ``#{...}`` or JSONata ``{% ... %}`` are accepted wherever a string is expected, and
also in the numeric fields of a state (``Seconds: !Ref WaitSeconds``), as serverless-step-functions
accepts them: they are resolved later (the compiler writes such a number unquoted).
"""

from __future__ import annotations

from typing import TypeGuard

from basegear.config.suggest import did_you_mean
from basegear.errors import ConfigPath, PathKey, Problem

Node = dict[object, object]
Names = set[str] | None  # the state names of the current scope, when they are known


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Spec "Top-level fields": the definition's top, a Parallel branch and a Map's ItemProcessor.
_TOP_FIELDS = _names("Comment StartAt States TimeoutSeconds Version QueryLanguage")
_BRANCH_FIELDS = _names("Comment StartAt States")
_PROCESSOR_FIELDS = _names("Comment StartAt States ProcessorConfig")

# Spec "State Types" and its table of fields per type, plus the JSONata fields from AWS.
_BASE = _names("Type Comment QueryLanguage InputPath OutputPath Output Assign")
_FLOW = _names("Next End")
_WORK = _FLOW | _names("Retry Catch ResultPath Parameters ResultSelector")
_FIELDS: dict[str, frozenset[str]] = {
    "Task": _BASE | _WORK | _names("Resource Arguments Credentials TimeoutSeconds")
    | _names("TimeoutSecondsPath HeartbeatSeconds HeartbeatSecondsPath"),
    "Pass": _BASE | _FLOW | _names("Result ResultPath Parameters"),
    "Choice": _BASE | _names("Choices Default"),
    "Wait": _BASE | _FLOW | _names("Seconds Timestamp SecondsPath TimestampPath"),
    "Succeed": _names("Type Comment QueryLanguage InputPath OutputPath Output"),
    "Fail": _names("Type Comment QueryLanguage Error Cause ErrorPath CausePath"),
    "Parallel": _BASE | _WORK | _names("Branches Arguments"),
    "Map": _BASE | _WORK | _names("Iterator ItemProcessor ItemsPath ItemSelector ItemReader")
    | _names("ResultWriter Items Label MaxConcurrency MaxConcurrencyPath ToleratedFailureCount")
    | _names("ToleratedFailureCountPath ToleratedFailurePercentage")
    | _names("ToleratedFailurePercentagePath"),
}  # fmt: skip
_TYPES = tuple(_FIELDS)
_ALL_FIELDS = frozenset().union(*_FIELDS.values())
_TERMINAL_TYPES = ("Succeed", "Fail", "Choice")  # spec "Transitions": never Next or End

# Fields holding a string (or an intrinsic); the three in _NULLABLE may also be null.
_NULLABLE = _names("InputPath OutputPath ResultPath")
_STRINGS = _NULLABLE | _names("Comment Timestamp Error Cause Label Version")
_STRINGS |= {name for name in _ALL_FIELDS if name.endswith("Path")}
_ENUMS = {"QueryLanguage": ("JSONPath", "JSONata"), "JitterStrategy": ("FULL", "NONE")}
# Numeric fields: (least, most, integer only).
_NUMBERS: dict[str, tuple[float, float | None, bool]] = {
    "TimeoutSeconds": (1, None, True),
    "HeartbeatSeconds": (1, None, True),
    "Seconds": (0, None, True),
    "MaxConcurrency": (0, None, True),
    "ToleratedFailureCount": (0, None, True),
    "ToleratedFailurePercentage": (0, 100, False),
    "IntervalSeconds": (1, None, True),  # spec "Retrying after error"
    "MaxAttempts": (0, None, True),
    "BackoffRate": (1.0, None, False),
    "MaxDelaySeconds": (1, None, True),
}
# A field and its ...Path twin are alternatives (spec "Task State", "Fail State", "Map State").
_EXCLUSIVE = _names(
    "TimeoutSeconds HeartbeatSeconds MaxConcurrency ToleratedFailureCount"
    " ToleratedFailurePercentage Error Cause"
)
_WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")  # spec "Wait State"

# Spec "Choice Rules": the comparison operators and the kind of value each compares with.
_SUFFIXES = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")
_OPERATORS: dict[str, str] = {
    **{f"String{suffix}": "a string" for suffix in _SUFFIXES},
    **{f"Numeric{suffix}": "a number" for suffix in _SUFFIXES},
    **{f"Timestamp{suffix}": "a string" for suffix in _SUFFIXES},
    **{f"{kind}{suffix}Path": "a string" for kind in ("String", "Numeric", "Timestamp")
       for suffix in _SUFFIXES},
    "StringMatches": "a string", "BooleanEquals": "a boolean", "BooleanEqualsPath": "a string",
    **{f"Is{kind}": "a boolean"
       for kind in ("Null", "Present", "Numeric", "String", "Boolean", "Timestamp")},
}  # fmt: skip
_COMBINATORS = ("And", "Or", "Not")

# Spec "Retrying after error" and "Fallback states".
_RETRIER_FIELDS = _names("ErrorEquals IntervalSeconds MaxAttempts BackoffRate MaxDelaySeconds")
_RETRIER_FIELDS |= _names("JitterStrategy Comment")
_CATCHER_FIELDS = _names("ErrorEquals Next ResultPath Comment Assign Output")
_KNOWN_FIELDS = _ALL_FIELDS | _TOP_FIELDS | _PROCESSOR_FIELDS | _RETRIER_FIELDS | _CATCHER_FIELDS
# Spec "Error names": the predefined ones; no other name may start with "States.".
_BUILTIN_ERRORS = sorted(
    "States." + name
    for name in _names(
        "ALL BranchFailed DataLimitExceeded ExceedToleratedFailureThreshold HeartbeatTimeout"
        " IntrinsicFailure ItemReaderFailed NoChoiceMatched ParameterPathFailure Permissions"
        " QueryEvaluationError ResultPathMatchFailure ResultWriterFailed Runtime TaskFailed Timeout"
    )
)


def check_definition(definition: object, path: ConfigPath) -> list[Problem]:
    """Every mistake in an Amazon States Language ``definition`` found at ``path``."""
    problems: list[Problem] = []
    _machine(definition, path, _TOP_FIELDS, "the state machine", problems)
    return problems


# --- helpers ---------------------------------------------------------------------------------


def _problem(out: list[Problem], path: ConfigPath, message: str) -> None:
    out.append(Problem(message=message, location=None, path=path, severity="error"))


def _key(key: object) -> PathKey:
    return key if isinstance(key, str) else str(key)


def _shown(value: object) -> str:
    """How a wrong value is named in a message: ``-1``, ``true``, ``'yes'``, ``a list``."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f"'{value}'" if len(value) <= 40 and value.isprintable() else "a string"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return "a mapping"


def _is_intrinsic(value: object) -> bool:
    """``{"Ref": ...}`` or ``{"Fn::...": ...}``, resolved by CloudFormation at deploy time."""
    if not isinstance(value, dict) or len(value) != 1:
        return False
    (key,) = value
    return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::"))


def _is_placeholder(value: object) -> bool:
    """A serverless variable, a CloudFormation pseudo-parameter or a JSONata expression."""
    return isinstance(value, str) and any(mark in value for mark in ("${", "#{", "{%"))


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_non_empty_list(value: object) -> TypeGuard[list[object]]:
    return isinstance(value, list) and bool(value)


def _report_unknown(
    node: Node, allowed: frozenset[str], where: str, path: ConfigPath, out: list[Problem]
) -> None:
    """Fields outside ``allowed``: misplaced ones (valid elsewhere) or unknown ones."""
    for key in node:
        if key in allowed:
            continue
        if key in _KNOWN_FIELDS:
            _problem(out, (*path, _key(key)), f"field '{key}' is not allowed in {where}")
        else:
            hint = did_you_mean(str(key), sorted(allowed))
            _problem(out, (*path, _key(key)), f"unknown field '{key}' in {where}{hint}")


def _check_values(
    node: Node, allowed: frozenset[str], path: ConfigPath, out: list[Problem]
) -> None:
    """Type and range of the plain string, number and enum fields of ``node``."""
    for key, value in node.items():
        if not isinstance(key, str) or key not in allowed:
            continue  # reported as an unknown field
        at, expected = (*path, key), ""
        if key == "Resource" and not (isinstance(value, str) or _is_intrinsic(value)):
            expected = "a string or an intrinsic function such as Fn::GetAtt"
        elif key in _STRINGS and not (isinstance(value, str) or _is_intrinsic(value)):
            if value is not None or key not in _NULLABLE:
                expected = "a string or null" if key in _NULLABLE else "a string"
        elif key in _NUMBERS and not _fits(value, *_NUMBERS[key]):
            expected = _describe(*_NUMBERS[key])
        elif key in _ENUMS and value not in _ENUMS[key]:
            expected = " or ".join(f"'{choice}'" for choice in _ENUMS[key])
        if expected:
            _problem(out, at, f"{key} must be {expected}, not {_shown(value)}")


def _fits(value: object, least: float, most: float | None, integer: bool) -> bool:
    if _is_placeholder(value) or _is_intrinsic(value):
        return True
    if _is_number(value) and (isinstance(value, int) or not integer):
        return least <= value and (most is None or value <= most)
    return False


def _describe(least: float, most: float | None, integer: bool) -> str:
    if most is not None:
        return f"a number from {least:g} to {most:g}"
    if integer:
        return "a non-negative integer" if least == 0 else "a positive integer"
    return f"a number of at least {least:.1f}"


def _target(node: Node, key: str, path: ConfigPath, names: Names, out: list[Problem]) -> None:
    """``node[key]``, when given, names a state of this scope (spec "Transitions")."""
    if key not in node:
        return
    value = node[key]
    if not isinstance(value, str):
        _problem(out, (*path, key), f"{key} must be a string naming a state, not {_shown(value)}")
    elif names is not None and value not in names:
        hint = did_you_mean(value, sorted(names))
        message = f"{key} names state '{value}', which does not exist in this scope{hint}"
        _problem(out, (*path, key), message)


# --- state machines and scopes ----------------------------------------------------------------


def _machine(
    node: object, path: ConfigPath, allowed: frozenset[str], where: str, out: list[Problem]
) -> None:
    """A whole state machine, a Parallel branch or a Map's ItemProcessor: one scope of names."""
    if not isinstance(node, dict):
        expected = "a mapping with StartAt and States"
        _problem(out, path, f"{where} must be {expected}, not {_shown(node)}")
        return
    _report_unknown(node, allowed, where, path, out)
    _check_values(node, allowed, path, out)
    config = node.get("ProcessorConfig", {})
    if not isinstance(config, dict):
        message = f"ProcessorConfig must be a mapping, not {_shown(config)}"
        _problem(out, (*path, "ProcessorConfig"), message)

    # Spec "Top-level fields": States is a non-empty object of state names to states.
    states = node.get("States")
    names: Names = None
    if "States" not in node:
        _problem(out, path, f"missing required field 'States' in {where}")
    elif not isinstance(states, dict):
        message = f"States must be a mapping of state names to states, not {_shown(states)}"
        _problem(out, (*path, "States"), message)
    elif not states:
        _problem(out, (*path, "States"), "States must contain at least one state")
    else:
        names = {name for name in states if isinstance(name, str)}
        for name, state in states.items():
            _state(name, state, (*path, "States", _key(name)), names, out)

    if "StartAt" not in node:
        _problem(out, path, f"missing required field 'StartAt' in {where}")
    _target(node, "StartAt", path, names, out)
    if isinstance(states, dict) and states:
        _reachability(node.get("StartAt"), states, path, out)


def _reachability(start: object, states: Node, path: ConfigPath, out: list[Problem]) -> None:
    """Every state is reached from StartAt, and some state ends the scope (spec "Transitions")."""
    if isinstance(start, str) and start in states:
        seen, todo = {start}, [start]
        while todo:
            for target in _transitions(states[todo.pop()]):
                if target in states and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for name in states:
            if name not in seen:
                message = f"state '{name}' is never reached from StartAt '{start}'"
                _problem(out, (*path, "States", _key(name)), message)
    if not any(_is_terminal(state) for state in states.values()):
        message = "no state ends the execution: one needs End: true, or Type Succeed or Fail"
        _problem(out, (*path, "States"), message)


def _transitions(state: object) -> list[str]:
    """The states ``state`` may go to: Next, Default, Choices[*].Next and Catch[*].Next."""
    if not isinstance(state, dict):
        return []
    targets = [state.get("Next"), state.get("Default")]
    for key in ("Choices", "Catch"):
        rules = state.get(key)
        if isinstance(rules, list):
            targets += [rule.get("Next") for rule in rules if isinstance(rule, dict)]
    return [target for target in targets if isinstance(target, str)]


def _is_terminal(state: object) -> bool:
    if not isinstance(state, dict):
        return False
    return state.get("End") is True or state.get("Type") in ("Succeed", "Fail")


# --- states -----------------------------------------------------------------------------------


def _state(name: object, state: object, path: ConfigPath, names: Names, out: list[Problem]) -> None:
    """One state: its name, Type, fields, transition and the rules of its type."""
    if not isinstance(name, str):
        _problem(out, path, f"state names must be strings, not {_shown(name)}")
    elif len(name) > 80:  # spec "States": names are at most 80 Unicode characters
        _problem(out, path, f"state name is {len(name)} characters long; at most 80 are allowed")
    if not isinstance(state, dict):
        _problem(out, path, f"a state must be a mapping with a Type, not {_shown(state)}")
        return

    # Spec "Common State Fields": Type is required and names one of the eight state types.
    kind, types = state.get("Type"), ", ".join(_TYPES)
    if "Type" not in state:
        _problem(out, path, f"missing required field 'Type' (one of {types})")
    elif not isinstance(kind, str):
        _problem(out, (*path, "Type"), f"Type must be one of {types}, not {_shown(kind)}")
    elif kind not in _FIELDS:
        hint = did_you_mean(kind, _TYPES)
        message = f"unknown state type '{kind}'{hint}; expected one of {types}"
        _problem(out, (*path, "Type"), message)
    if not isinstance(kind, str) or kind not in _FIELDS:
        _target(state, "Next", path, names, out)  # still check the transition we can see
        return

    where, allowed = f"a {kind} state", _FIELDS[kind]
    # Next and End on terminal types are reported by _transition.
    _report_unknown(
        state, allowed | _FLOW if kind in _TERMINAL_TYPES else allowed, where, path, out
    )
    _check_values(state, allowed, path, out)
    for field in _EXCLUSIVE:
        if field in state and field + "Path" in state:
            _problem(out, path, f"{where} takes {field} or {field}Path, not both")

    _transition(kind, state, path, names, out)
    if kind == "Task" and "Resource" not in state:  # spec "Task State"
        _problem(out, path, "missing required field 'Resource' in a Task state")
    elif kind == "Wait":
        _wait(state, path, out)
    elif kind == "Choice":
        _choice(state, path, names, out)
    elif kind == "Parallel":
        _parallel(state, path, out)
    elif kind == "Map":
        _map(state, path, out)
    for key in ("Retry", "Catch"):
        if key in state and key in allowed:
            _handlers(key, state[key], (*path, key), names, out)


def _transition(kind: str, state: Node, path: ConfigPath, names: Names, out: list[Problem]) -> None:
    """Spec "Transitions" and "Terminal State": exactly one of Next or End: true, except that
    Succeed, Fail and Choice states have neither."""
    where = f"a {kind} state"
    if kind in _TERMINAL_TYPES:
        why = "uses Next on each rule and Default" if kind == "Choice" else "is terminal"
        for key in ("Next", "End"):
            if key in state:
                _problem(out, (*path, key), f"{where} cannot have {key}; it {why}")
        return
    if "End" in state and state["End"] is not True:
        _problem(out, (*path, "End"), f"End must be true, not {_shown(state['End'])}")
    elif "Next" in state and "End" in state:
        _problem(out, (*path, "End"), f"{where} cannot have both Next and End")
    elif "Next" not in state and "End" not in state:
        _problem(out, path, f"{where} needs either Next or End: true")
    _target(state, "Next", path, names, out)


def _wait(state: Node, path: ConfigPath, out: list[Problem]) -> None:
    """Spec "Wait State": exactly one of Seconds, Timestamp, SecondsPath, TimestampPath."""
    given = [field for field in _WAIT_FIELDS if field in state]
    if not given:
        expected = "exactly one of Seconds, Timestamp, SecondsPath or TimestampPath"
        _problem(out, path, f"a Wait state needs {expected}")
    elif len(given) > 1:
        expected = "only one of Seconds, Timestamp, SecondsPath or TimestampPath"
        _problem(out, path, f"a Wait state takes {expected}, not {' and '.join(given)}")


def _choice(state: Node, path: ConfigPath, names: Names, out: list[Problem]) -> None:
    """Spec "Choice State": a non-empty list of Choices, each with Next; an optional Default."""
    _target(state, "Default", path, names, out)
    choices = state.get("Choices")
    if "Choices" not in state:
        _problem(out, path, "missing required field 'Choices' in a Choice state")
    elif not _is_non_empty_list(choices):
        message = f"Choices must be a non-empty list of choice rules, not {_shown(choices)}"
        _problem(out, (*path, "Choices"), message)
    else:
        for index, rule in enumerate(choices):
            _rule(rule, (*path, "Choices", index), True, names, out)


def _rule(rule: object, path: ConfigPath, top: bool, names: Names, out: list[Problem]) -> None:
    """Spec "Choice Rules": a comparison, a Boolean combination (And, Or, Not) or a JSONata
    Condition. Only top-level rules carry Next (required), Assign and Output."""
    if not isinstance(rule, dict):
        _problem(out, path, f"a choice rule must be a mapping, not {_shown(rule)}")
        return
    extras = _names("Comment Next Assign Output" if top else "Comment Next")
    if top and "Next" not in rule:
        _problem(out, path, "missing required field 'Next' in a choice rule")
    elif top:
        _target(rule, "Next", path, names, out)
    elif "Next" in rule:
        message = "Next is only allowed on a top-level choice rule, not inside And, Or or Not"
        _problem(out, (*path, "Next"), message)

    combinators = [key for key in _COMBINATORS if key in rule]
    used = ["Condition"] if "Condition" in rule else combinators
    for key in rule:
        if used and key not in extras and key not in used:
            _problem(out, (*path, _key(key)), f"field '{key}' cannot be used with {used[0]}")
    if "Condition" in rule:  # JSONata: one boolean expression instead of Variable and operator
        if not isinstance(condition := rule["Condition"], str | bool):
            message = f"Condition must be a JSONata string or a boolean, not {_shown(condition)}"
            _problem(out, (*path, "Condition"), message)
    elif not combinators:
        _comparison(rule, path, extras, out)
    elif len(combinators) > 1:
        message = f"a choice rule takes one of And, Or or Not, not {' and '.join(combinators)}"
        _problem(out, path, message)
    for key in combinators if "Condition" not in rule else []:
        value, at = rule[key], (*path, key)
        if key == "Not":
            _rule(value, at, False, names, out)
        elif not _is_non_empty_list(value):
            message = f"{key} must be a non-empty list of choice rules, not {_shown(value)}"
            _problem(out, at, message)
        else:
            for index, inner in enumerate(value):
                _rule(inner, (*at, index), False, names, out)


def _comparison(rule: Node, path: ConfigPath, extras: frozenset[str], out: list[Problem]) -> None:
    """A comparison: Variable plus exactly one operator, with a value of the right kind."""
    operators, unknown = [], False
    for key, value in rule.items():
        if key in extras or key == "Variable":
            continue
        if not isinstance(key, str) or key not in _OPERATORS:
            unknown = True
            hint = did_you_mean(str(key), _OPERATORS)
            _problem(out, (*path, _key(key)), f"unknown comparison operator '{key}'{hint}")
            continue
        operators.append(key)
        expected = _OPERATORS[key]
        fits = {"a string": isinstance(value, str), "a boolean": isinstance(value, bool)}
        if not (fits.get(expected, _is_number(value)) or _is_placeholder(value)):
            message = f"{key} must be compared with {expected}, not {_shown(value)}"
            _problem(out, (*path, key), message)
    if "Variable" not in rule:
        _problem(out, path, "missing required field 'Variable' in a choice rule")
    elif not isinstance(variable := rule["Variable"], str):
        message = f"Variable must be a path string such as '$.status', not {_shown(variable)}"
        _problem(out, (*path, "Variable"), message)
    if not operators and not unknown:
        expected = "a comparison operator such as StringEquals, or And, Or or Not"
        _problem(out, path, f"a choice rule needs {expected}")
    elif len(operators) > 1:
        given = " and ".join(operators)
        _problem(out, path, f"a choice rule takes exactly one comparison operator, not {given}")


def _parallel(state: Node, path: ConfigPath, out: list[Problem]) -> None:
    """Spec "Parallel State": Branches is a non-empty list of state machines, each a scope."""
    branches = state.get("Branches")
    if "Branches" not in state:
        _problem(out, path, "missing required field 'Branches' in a Parallel state")
    elif not _is_non_empty_list(branches):
        message = f"Branches must be a non-empty list of state machines, not {_shown(branches)}"
        _problem(out, (*path, "Branches"), message)
    else:
        for index, branch in enumerate(branches):
            _machine(branch, (*path, "Branches", index), _BRANCH_FIELDS, "a branch", out)


def _map(state: Node, path: ConfigPath, out: list[Problem]) -> None:
    """Spec "Map State": ItemProcessor (Iterator in older definitions) is a scope of its own."""
    given = [key for key in ("ItemProcessor", "Iterator") if key in state]
    if not given:
        message = "a Map state needs ItemProcessor (or the older Iterator) to run for each item"
        _problem(out, path, message)
    elif len(given) > 1:
        _problem(out, path, "a Map state takes ItemProcessor or Iterator, not both")
    for key in given:
        _machine(state[key], (*path, key), _PROCESSOR_FIELDS, key, out)


def _handlers(
    key: str, handlers: object, path: ConfigPath, names: Names, out: list[Problem]
) -> None:
    """Retry (spec "Retrying after error") or Catch (spec "Fallback states"): a list of mappings,
    each with a non-empty ErrorEquals; States.ALL alone and only in the last one."""
    noun, fields = ("retrier", _RETRIER_FIELDS) if key == "Retry" else ("catcher", _CATCHER_FIELDS)
    if not isinstance(handlers, list):
        _problem(out, path, f"{key} must be a list of {noun}s, not {_shown(handlers)}")
        return
    for index, handler in enumerate(handlers):
        at = (*path, index)
        if not isinstance(handler, dict):
            _problem(out, at, f"a {noun} must be a mapping with ErrorEquals, not {_shown(handler)}")
            continue
        _report_unknown(handler, fields, f"a {noun}", at, out)
        _check_values(handler, fields, at, out)
        if key == "Catch" and "Next" not in handler:
            _problem(out, at, "missing required field 'Next' in a catcher")
        elif key == "Catch":
            _target(handler, "Next", at, names, out)
        errors = handler.get("ErrorEquals")
        if "ErrorEquals" not in handler:
            _problem(out, at, f"missing required field 'ErrorEquals' in a {noun}")
        elif not _is_non_empty_list(errors):
            message = f"ErrorEquals must be a non-empty list of error names, not {_shown(errors)}"
            _problem(out, (*at, "ErrorEquals"), message)
        else:
            _error_names(errors, (*at, "ErrorEquals"), noun, index == len(handlers) - 1, out)


def _error_names(
    errors: list[object], path: ConfigPath, noun: str, last: bool, out: list[Problem]
) -> None:
    """Spec "Error names": strings; States.ALL alone, in the last retrier or catcher."""
    for index, error in enumerate(errors):
        if not isinstance(error, str):
            _problem(out, (*path, index), f"an error name must be a string, not {_shown(error)}")
        elif error.startswith("States.") and error not in _BUILTIN_ERRORS:
            hint = did_you_mean(error, _BUILTIN_ERRORS)
            _problem(out, (*path, index), f"unknown predefined error '{error}'{hint}")
    if "States.ALL" in errors and len(errors) > 1:
        _problem(out, path, "States.ALL must appear alone in ErrorEquals")
    if "States.ALL" in errors and not last:
        _problem(out, path, f"States.ALL may only appear in the last {noun}")
