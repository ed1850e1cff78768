"""``#{AWS::Region}``-style pseudo parameters (serverless-pseudo-parameters) → ``Fn::Sub``.

Every string holding ``#{…}`` becomes ``{"Fn::Sub": "…${…}…"}``. A ``${`` that was already in
such a string is literal text, so it is escaped as ``${!`` (CloudFormation User Guide,
Fn::Sub: "To write a dollar sign and curly braces literally, add an exclamation point").
Inside an existing ``Fn::Sub`` the ``#{…}`` is only rewritten in place.
"""

from __future__ import annotations

import re

from basegear.compile.context import Context, Json

PSEUDO = re.compile(r"#\{([A-Za-z0-9_.:]+)\}")


def substitute_pseudo_parameters(context: Context) -> None:
    template = context.template
    template.resources = substitute(template.resources)
    template.outputs = substitute(template.outputs)
    if "Conditions" in template.sections:
        template.sections["Conditions"] = substitute(template.sections["Conditions"])


def substitute(value: Json) -> Json:
    """``value`` with every string holding ``#{…}`` turned into ``Fn::Sub``."""
    if isinstance(value, str):
        if not PSEUDO.search(value):
            return value
        return {"Fn::Sub": PSEUDO.sub(r"${\1}", value.replace("${", "${!"))}
    if isinstance(value, list):
        return [substitute(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return {"Fn::Sub": _in_sub(value["Fn::Sub"])}
        return {key: substitute(item) for key, item in value.items()}
    return value


def _in_sub(argument: Json) -> Json:
    if isinstance(argument, str):
        return PSEUDO.sub(r"${\1}", argument)
    if isinstance(argument, list) and argument and isinstance(argument[0], str):
        return [PSEUDO.sub(r"${\1}", argument[0]), *(substitute(item) for item in argument[1:])]
    return substitute(argument)
