"""Tests for basegear.package.patterns: the glob dialect against micromatch's own answers
(tests/fixtures/patterns/micromatch.json, written by micromatch 4.0.8 with ``dot: true``), the
framework's ordered include/exclude rules, and the folder pruning that must never change what
is selected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basegear.package.patterns import (
    Selection,
    compile_glob,
    expand_braces,
    union,
    unsafe_reason,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "patterns" / "micromatch.json"
MICROMATCH = json.loads(FIXTURE.read_text())


@pytest.mark.parametrize("pattern", sorted(MICROMATCH["cases"]))
def test_glob_matches_what_micromatch_matches(pattern: str) -> None:
    glob = compile_glob(pattern)
    matched = [path for path in MICROMATCH["paths"] if glob.matches(path)]
    assert matched == MICROMATCH["cases"][pattern]


def test_braces_expand_lists_ranges_and_nesting() -> None:
    assert expand_braces("a/{b,c}/*.{js,py}") == ["a/b/*.js", "a/b/*.py", "a/c/*.js", "a/c/*.py"]
    assert expand_braces("f{1..3}") == ["f1", "f2", "f3"]
    assert expand_braces("{x,y{1,2}}") == ["x", "y1", "y2"]
    assert expand_braces("{a..c}") == ["a", "b", "c"]
    assert expand_braces("{single}") == ["{single}"]
    assert expand_braces(r"\{a,b}") == [r"\{a,b}"]


def test_the_last_matching_rule_decides() -> None:
    selection = Selection.of(["!src/**", "src/keep/**", "!src/keep/*.pyc"])
    assert not selection.selects("src/drop.py")
    assert selection.selects("src/keep/a.py")
    assert not selection.selects("src/keep/a.pyc")
    assert selection.selects("README.md")  # nothing matched: selected, as '**' selects it


def test_dropped_paths_stay_out_whatever_the_rules_say() -> None:
    selection = Selection.of(
        ["node_modules/**"], dropped=["node_modules/dev", "node_modules/.bin/x"]
    )
    assert selection.selects("node_modules/prod/index.js")
    assert not selection.selects("node_modules/dev/index.js")
    assert not selection.selects("node_modules/.bin/x")
    assert selection.selects("node_modules/.bin/xy")
    assert selection.selects("node_modules/dev2/index.js")
    assert selection.drops_everything_under("node_modules/dev/lib")
    assert not selection.drops_everything_under("node_modules")


def test_a_folder_name_alone_selects_no_file_inside_it() -> None:
    # micromatch matches files only: '!static' drops a file named static, not static/*.
    selection = Selection.of(["!static"])
    assert selection.selects("static/index.html")
    assert not selection.selects("static")


def test_a_folder_is_skipped_only_when_every_file_below_is_dropped() -> None:
    selection = Selection.of(["!node_modules/**", "!**/__pycache__/**", "!.git/**"])
    assert selection.drops_everything_under("node_modules")
    assert selection.drops_everything_under("node_modules/a/b")
    assert selection.drops_everything_under("src/x/__pycache__")
    assert not selection.drops_everything_under("src")
    assert not selection.drops_everything_under("node_modules_extra")
    reincluded = Selection.of(["!node_modules/**", "node_modules/kept/**"])
    assert not reincluded.drops_everything_under("node_modules")
    assert reincluded.drops_everything_under("node_modules/other")
    assert not reincluded.drops_everything_under("node_modules/kept")
    anywhere = Selection.of(["!vendor/**", "**/*.py"])
    assert not anywhere.drops_everything_under("vendor")
    negated = Selection.of(["!!src/**"])  # '!!x': drop every path that is NOT under x
    assert negated.selects("src/a.py") and not negated.selects("docs/a.md")
    assert not negated.drops_everything_under("src")


SEGMENTS = st.sampled_from(["a", "b", "src", "node_modules", "__pycache__", ".git", "x.py"])
PATHS = st.lists(SEGMENTS, min_size=1, max_size=5).map("/".join)
PATTERNS = st.sampled_from(
    [
        "!node_modules/**",
        "node_modules/a/**",
        "!**/__pycache__/**",
        "**/*.py",
        "!src/**",
        "src/a/**",
        "!**",
        "!.git/**",
        "!*/b/**",
        "a/**",
        "!{a,b}/**",
        "!!src/**",
        "!**/a",
    ]
)


@given(st.lists(PATTERNS, max_size=6), PATHS)
def test_skipping_a_folder_never_drops_a_selected_file(patterns: list[str], path: str) -> None:
    selection = Selection.of(patterns)
    parts = path.split("/")
    for depth in range(1, len(parts)):
        if selection.drops_everything_under("/".join(parts[:depth])):
            assert not selection.selects(path), (patterns, path, depth)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("../secrets/**", "it contains '..'"),
        ("!src/../../x", "it contains '..'"),
        ("{src,..}/*", "it contains '..'"),
        ("/etc/passwd", "it is an absolute path"),
        ("src/**", None),
        ("!**/..foo", None),
    ],
)
def test_patterns_that_reach_outside_are_named(pattern: str, reason: str | None) -> None:
    assert unsafe_reason(pattern) == reason


def test_union_keeps_each_pattern_at_its_first_place() -> None:
    assert union(["a", "!b"], ["c", "a"], ["!b", "d"]) == ["a", "!b", "c", "d"]
