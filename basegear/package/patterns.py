"""Package patterns, applied as the Serverless Framework v3 applies them.

The framework lists every file under the folder (``**``, dot files included), then runs the
patterns in order over that list with micromatch: a pattern selects the files it matches, a
pattern starting with ``!`` drops them, and the last pattern that matches a file decides
(lib/plugins/package/lib/package-service.js, ``resolveFilePathsFromPatterns``). The glob dialect
is micromatch's with ``dot: true``: ``*`` and ``?`` stay inside one path segment, ``**`` spans
segments, ``[...]`` classes, ``{a,b}`` and ``{1..3}`` braces, the extglobs ``@(…)``, ``*(…)``,
``+(…)``, ``?(…)`` and ``!(…)``, ``\\`` escapes, a leading ``./`` ignored. A pattern only ever
matches files: ``static`` selects a file named static, not the folder's contents.

Walking skips a folder when the patterns drop everything in it for certain, so that an excluded
``node_modules`` costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

_EXTGLOB_OPENERS = "@*+?!"


@dataclass(frozen=True)
class Glob:
    """One compiled glob. ``negated`` is micromatch's own ``!`` — what remains after the
    framework took off the include/exclude ``!`` (``!!x`` matches every path but ``x``)."""

    text: str
    negated: bool
    regex: re.Pattern[str]
    # Brace-expanded alternatives, each split into per-segment regexes (None for ``**``).
    alternatives: tuple[tuple[re.Pattern[str] | None, ...], ...]

    def matches(self, path: str) -> bool:
        return (self.regex.fullmatch(path) is not None) != self.negated

    def may_match_under(self, folder: str) -> bool:
        """Whether some path below ``folder`` could match (conservative: True when unsure)."""
        if self.negated:
            return True
        parts = folder.split("/")
        return any(_may_reach_below(segments, parts) for segments in self.alternatives)

    def matches_all_under(self, folder: str) -> bool:
        """Whether every path below ``folder`` matches (only ``X/**`` with X matching the
        folder or one of its parents proves it)."""
        if self.negated:
            return False
        parts = folder.split("/")
        return any(_covers(segments, parts) for segments in self.alternatives)


def compile_glob(text: str) -> Glob:
    pattern = text
    negated = False
    if pattern.startswith("!") and not pattern.startswith("!("):
        negated, pattern = True, pattern[1:]
    while pattern.startswith("./"):
        pattern = pattern[2:]
    alternatives = expand_braces(pattern)
    regex = "|".join(_path_regex(alternative.split("/")) for alternative in alternatives)
    compiled = tuple(
        tuple(
            None if segment == "**" else re.compile(_segment_regex(segment), re.DOTALL)
            for segment in alternative.split("/")
        )
        for alternative in alternatives
    )
    return Glob(text, negated, re.compile(f"(?:{regex})", re.DOTALL), compiled)


def unsafe_reason(pattern: str) -> str | None:
    """Why a pattern could reach outside the folder it is applied to, if it could: globby would
    list files under an absolute or ``..`` pattern, so the framework packages them."""
    text = pattern.lstrip("!")
    for alternative in expand_braces(text):
        if alternative.startswith("/"):
            return "it is an absolute path"
        if ".." in alternative.split("/"):
            return "it contains '..'"
    return None


class Reach(Enum):
    """What a list of rules does to every path below a folder."""

    ALL_IN = "all in"
    ALL_OUT = "all out"
    MIXED = "mixed"


@dataclass(frozen=True)
class Rule:
    include: bool
    glob: Glob


class Selection:
    """Ordered include/exclude rules over paths relative to one folder; everything starts
    selected (the framework's ``**``) and the last matching rule wins.

    ``dropped`` paths (files, or folders with all they hold) are left out after every rule,
    whatever the rules say: the framework's Node dev dependencies, which it appends after all
    patterns, and BaseGear's own folders. Checking them is a set lookup per path segment, where
    hundreds of ``x/**`` rules would be hundreds of matches per path."""

    def __init__(self, rules: Sequence[Rule], dropped: Iterable[str] = ()) -> None:
        self.rules = tuple(rules)
        self.dropped = frozenset(dropped)

    @classmethod
    def of(cls, patterns: Iterable[str], dropped: Iterable[str] = ()) -> Selection:
        """Rules from patterns as written in ``package.patterns``: ``!x`` excludes x."""
        rules = []
        for pattern in patterns:
            if pattern.startswith("!"):
                rules.append(Rule(False, compile_glob(pattern[1:])))
            else:
                rules.append(Rule(True, compile_glob(pattern)))
        return cls(rules, dropped)

    def selects(self, path: str) -> bool:
        if self._is_dropped(path):
            return False
        selected = True
        for rule in self.rules:
            if rule.glob.matches(path):
                selected = rule.include
        return selected

    def drops_everything_under(self, folder: str) -> bool:
        if self._is_dropped(folder):
            return True
        reach = Reach.ALL_IN
        for rule in self.rules:
            outcome = Reach.ALL_IN if rule.include else Reach.ALL_OUT
            if rule.glob.matches_all_under(folder):
                reach = outcome
            elif reach is not outcome and rule.glob.may_match_under(folder):
                reach = Reach.MIXED
        return reach is Reach.ALL_OUT

    def _is_dropped(self, path: str) -> bool:
        if not self.dropped:
            return False
        index = path.find("/")
        while index >= 0:
            if path[:index] in self.dropped:
                return True
            index = path.find("/", index + 1)
        return path in self.dropped


def union(*lists: Iterable[str]) -> list[str]:
    """The lists joined, each pattern kept at its first place (lodash ``_.union``, which the
    framework uses to join pattern lists: order decides, so duplicates must not move)."""
    seen: dict[str, None] = {}
    for items in lists:
        for item in items:
            seen.setdefault(item, None)
    return list(seen)


def _may_reach_below(segments: tuple[re.Pattern[str] | None, ...], parts: list[str]) -> bool:
    for index, part in enumerate(parts):
        if index == len(segments):
            return False
        segment = segments[index]
        if segment is None:
            return True
        if segment.fullmatch(part) is None:
            return False
    return len(segments) > len(parts)


def _covers(segments: tuple[re.Pattern[str] | None, ...], parts: list[str]) -> bool:
    if not segments or segments[-1] is not None:
        return False
    head = segments[:-1]
    if not head:
        return True
    if any(segment is None for segment in head):
        return any(_prefix_matches(head, parts[:depth]) for depth in range(1, len(parts) + 1))
    return len(head) <= len(parts) and all(
        segment is not None and segment.fullmatch(part) is not None
        for segment, part in zip(head, parts, strict=False)
    )


def _prefix_matches(segments: tuple[re.Pattern[str] | None, ...], parts: list[str]) -> bool:
    """Segment-wise match where ``None`` (``**``) takes any number of parts."""
    if not segments:
        return not parts
    first, rest = segments[0], segments[1:]
    if first is None:
        return any(_prefix_matches(rest, parts[skip:]) for skip in range(len(parts) + 1))
    return (
        bool(parts) and first.fullmatch(parts[0]) is not None and _prefix_matches(rest, parts[1:])
    )


def _path_regex(segments: list[str]) -> str:
    regex = ""
    separator = False  # whether the next literal segment needs a '/' before it
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == last:
                regex += "(?:/.*)?" if separator else ".*"
            else:
                regex += "(?:/[^/]+)*/" if separator else "(?:[^/]+/)*"
                separator = False
            continue
        if separator:
            regex += "/"
        regex += _segment_regex(segment)
        separator = True
    return regex


def _segment_regex(segment: str) -> str:
    """One path segment's glob as a regex that never crosses '/'."""
    out: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        following = segment[index + 1] if index + 1 < len(segment) else ""
        if char == "\\" and following:
            out.append(re.escape(following))
            index += 2
        elif char in _EXTGLOB_OPENERS and following == "(":
            close = _closing(segment, index + 1, "(", ")")
            if close < 0:
                out.append(re.escape(char))
                index += 1
                continue
            out.append(_extglob(char, segment[index + 2 : close]))
            index = close + 1
        elif char == "*":
            while index < len(segment) and segment[index] == "*":
                index += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
            index += 1
        elif char == "[":
            close = _class_end(segment, index)
            if close < 0:
                out.append(re.escape(char))
                index += 1
                continue
            out.append(_char_class(segment[index + 1 : close]))
            index = close + 1
        else:
            out.append(re.escape(char))
            index += 1
    return "".join(out)


def _extglob(kind: str, body: str) -> str:
    inner = "|".join(_segment_regex(part) for part in _split_top(body, "|"))
    if kind == "!":
        return f"(?:(?!(?:{inner})(?:/|$))[^/]*)"
    suffix = {"@": "", "*": "*", "+": "+", "?": "?"}[kind]
    return f"(?:{inner}){suffix}"


def _class_end(segment: str, start: int) -> int:
    index = start + 1
    if index < len(segment) and segment[index] in "!^":
        index += 1
    if index < len(segment) and segment[index] == "]":
        index += 1
    while index < len(segment):
        if segment[index] == "\\":
            index += 2
            continue
        if segment[index] == "]":
            return index
        index += 1
    return -1


def _char_class(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    escaped = "".join("\\" + char if char in "\\[]^" else char for char in body)
    return f"[^/{escaped}]" if negate else f"[{escaped}]"


def expand_braces(pattern: str) -> list[str]:
    """``a/{b,c}/*.{js,py}`` → four patterns; ``{1..3}`` and ``{a..c}`` are ranges; a brace
    with neither a comma nor a range stays as it is."""
    start = 0
    while True:
        opening = _next_unescaped(pattern, "{", start)
        if opening < 0:
            return [pattern]
        close = _closing(pattern, opening, "{", "}")
        if close < 0:
            return [pattern]
        body = pattern[opening + 1 : close]
        choices = _split_top(body, ",")
        if len(choices) == 1:
            choices = _range(body)
        if choices:
            head, tail = pattern[:opening], pattern[close + 1 :]
            return [
                expanded for choice in choices for expanded in expand_braces(head + choice + tail)
            ]
        start = opening + 1


def _range(body: str) -> list[str]:
    match = re.fullmatch(r"(-?\d+)\.\.(-?\d+)|([a-zA-Z])\.\.([a-zA-Z])", body)
    if match is None:
        return []
    if match.group(1) is not None:
        low, high = int(match.group(1)), int(match.group(2))
        step = 1 if high >= low else -1
        return [str(number) for number in range(low, high + step, step)]
    low, high = ord(match.group(3)), ord(match.group(4))
    step = 1 if high >= low else -1
    return [chr(code) for code in range(low, high + step, step)]


def _next_unescaped(text: str, char: str, start: int) -> int:
    index = start
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == char:
            return index
        index += 1
    return -1


def _closing(text: str, opening: int, open_char: str, close_char: str) -> int:
    depth = 0
    index = opening
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == open_char:
            depth += 1
        elif char == close_char:
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


def _split_top(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside any brackets, braces or parentheses."""
    parts: list[str] = []
    depth = 0
    current = ""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current += text[index : index + 2]
            index += 2
            continue
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        if char == separator and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    parts.append(current)
    return parts
