"""``StringMatches``, the Choice rule's wildcard comparison (Amazon States Language, Choice
state): "The value MUST be a String which MAY contain one or more ``*`` characters. The
expression yields true if the data value selected by the Variable Path matches the value, where
``*`` in the value matches zero or more characters. … a literal ``*`` is written ``\\*``"
(in JSON ``"\\\\*"``), and a literal backslash ``\\\\``. No other character is special.

moto matched with :func:`fnmatch.fnmatch`, for which ``?`` and ``[…]`` are wildcards too and
``\\*`` is not a literal star.
"""

from __future__ import annotations

import functools
import re
from typing import Any


@functools.lru_cache(maxsize=1024)
def wildcard_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
        elif char == "*":
            parts.append(".*")
            index += 1
        else:
            parts.append(re.escape(char))
            index += 1
    return re.compile("".join(parts), re.DOTALL)


def string_matches(value: Any, pattern: Any) -> bool:
    """Whether ``value`` (a string; anything else never matches) matches ``pattern``."""
    if not isinstance(value, str) or not isinstance(pattern, str):
        return False
    return wildcard_regex(pattern).fullmatch(value) is not None
