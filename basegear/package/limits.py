"""AWS Lambda limits that only packaging can check. The configuration already refuses more than
5 layers on a function and more than 4 KB of environment variables; what it cannot know is how
large the code is once unzipped.

"250 MB: the maximum size of the contents of a deployment package, including layers and custom
runtimes (unzipped)" — Lambda developer guide, "Lambda quotas". Lambda states it in bytes in its
error: "Unzipped size must be smaller than 262144000 bytes".
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from basegear.compile.naming import layer_id
from basegear.config.service import LoadedService
from basegear.errors import ConfigPath, Problem
from basegear.package.artifact import REQUIREMENTS_LAYER

UNZIPPED_LIMIT_BYTES = 262_144_000


def check_sizes(
    loaded: LoadedService, functions: Mapping[str, int], layers: Mapping[str, int]
) -> list[Problem]:
    """``functions`` and ``layers`` map keys to unzipped sizes; a function's layers count with
    it when they are layers of this service (an ARN's size is not known here)."""
    service = loaded.model
    problems = list(_layer_sizes(layers))
    by_logical_id = {layer_id(key): key for key in layers}
    for key, size in functions.items():
        function = service.functions[key]
        references = function.layers if function.layers is not None else service.provider.layers
        own = [by_logical_id[ref] for ref in map(_ref, references) if ref in by_logical_id]
        total = size + sum(layers[layer] for layer in own)
        if total < UNZIPPED_LIMIT_BYTES:
            continue
        parts = [f"its package {_mb(size)}"] + [f"layer {name} {_mb(layers[name])}" for name in own]
        problems.append(
            Problem(
                f"function {key} takes {_mb(total)} unzipped ({', '.join(parts)}); Lambda allows "
                f"less than {UNZIPPED_LIMIT_BYTES:,} bytes (250 MB) for a function and its "
                "layers together",
                None,
                ("functions", key),
            )
        )
    return [
        Problem(problem.message, loaded.document.location(problem.path), problem.path)
        for problem in problems
    ]


def _layer_sizes(layers: Mapping[str, int]) -> Iterator[Problem]:
    for key, size in layers.items():
        if size >= UNZIPPED_LIMIT_BYTES:
            path: ConfigPath = (
                ("custom", "pythonRequirements", "layer")
                if key == REQUIREMENTS_LAYER
                else ("layers", key)
            )
            yield Problem(
                f"layer {key} takes {_mb(size)} unzipped; Lambda allows less than "
                f"{UNZIPPED_LIMIT_BYTES:,} bytes (250 MB)",
                None,
                path,
            )


def _ref(value: Any) -> str:
    """The logical ID in ``{"Ref": "XLambdaLayer"}`` (``!Ref XLambdaLayer``), else ''."""
    if isinstance(value, dict) and len(value) == 1 and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    return ""


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
