"""Intrinsic functions (``States.Format(…)`` and the rest) as Step Functions reads them, where
moto's interpreter (``moto/stepfunctions/parser/asl/parse/intrinsic``) reads them otherwise.

What differs, and what this module does about it (Step Functions developer guide, "Intrinsic
functions"):

- **Reserved characters.** "The following characters are reserved … ``' { } \\``. If any of
  these characters need to appear as part of the value without performing a function, they
  must be escaped with a backslash". moto's lexer knows no escapes inside a string, so
  ``'it\\'s'`` does not parse, and ``\\{`` reaches ``States.Format`` unread. Here string
  arguments are read first: ``\\'``, ``\\{``, ``\\}`` and ``\\\\`` stand for the character
  itself, and a backslash before any other character is kept.
- **null arguments.** The guide's own example ``States.Array('Foo', 2022, $.someJson, null)``
  returns ``["Foo", 2022, {…}, null]``; moto's grammar has no ``null`` and dropped the
  argument with a message on stderr. ``null`` is an argument here.
- **Decimal arguments.** ``States.MathAdd($.n, 1.5)`` made moto's parser fail
  (``Func_arg_floatContext`` has no ``INT``): a decimal is read here.
- **Syntax errors.** moto's parser recovered from them silently (an argument less, a name cut
  short); a malformed call is now an error, so CreateStateMachine answers
  ``InvalidDefinition`` as AWS does.
- **States.Format** was Python's ``str.format``: ``{x}`` or a ``{`` in a value from the input
  raised ``KeyError``, and ``\\{\\}`` could not be written. Here each unescaped ``{}`` of the
  template takes the next argument, an escaped brace is a brace, and a template whose ``{}``
  count differs from the number of arguments fails the state with a message saying so.

moto hands the call over as it stands in the definition's JSON text; its JSON escapes are read
first (the guide: "in JSON, ``\\\\'``"). Each string argument is then replaced by a
placeholder literal (``'s0'``, ``'s1'``, …) before moto's ANTLR grammar reads the call, as are
``null`` (``'n'``) and decimals (``'d2'``, …); the placeholders are put back as the values they
stand for once the call is parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

ESCAPABLE = "'{}\\"
"""Characters a backslash escapes in an intrinsic's string argument."""
NULL_PLACEHOLDER = "n"
STRING_PLACEHOLDER = "s"
NUMBER_PLACEHOLDER = "d"
_DECIMAL = re.compile(r"-?\d+\.\d+(?:[eE][+-]?\d+)?")


class IntrinsicSyntaxError(ValueError):
    """An intrinsic function call that cannot be read; the message names the call and where."""


class FormatTemplate(str):
    """A ``States.Format`` template written in the definition: its value, plus the text as
    written, in which escaped braces are told apart from ``{}`` slots."""

    written: str

    def __new__(cls, value: str, written: str | None = None) -> FormatTemplate:
        # ``written`` defaults for copies: copy and deepcopy call ``cls(value)`` and then
        # restore the attribute.
        template = super().__new__(cls, value)
        template.written = value if written is None else written
        return template


@dataclass(frozen=True)
class PreparedCall:
    """The call with its strings and nulls replaced by placeholders, and their values."""

    source: str
    values: dict[str, Any]


def prepare(call: str) -> PreparedCall:
    """Replace each quoted string and each ``null`` argument of ``call`` by a placeholder."""
    out: list[str] = []
    values: dict[str, Any] = {}
    index = 0
    while index < len(call):
        char = call[index]
        if char == "'":
            end, written = _string_at(call, index)
            name = f"{STRING_PLACEHOLDER}{len(values)}"
            values[name] = FormatTemplate(unescape(written), written)
            out.append(f"'{name}'")
            index = end
        elif call.startswith("null", index) and _is_whole_argument(call, index, 4):
            values[NULL_PLACEHOLDER] = None
            out.append(f"'{NULL_PLACEHOLDER}'")
            index += 4
        elif (number := _DECIMAL.match(call, index)) and _is_whole_argument(
            call, index, len(number[0])
        ):
            name = f"{NUMBER_PLACEHOLDER}{len(values)}"
            values[name] = float(number[0])
            out.append(f"'{name}'")
            index = number.end()
        else:
            out.append(char)
            index += 1
    return PreparedCall("".join(out), values)


def _string_at(call: str, start: int) -> tuple[int, str]:
    """The end (past the closing quote) and the text between the quotes of the string that
    opens at ``start``."""
    index = start + 1
    while index < len(call):
        char = call[index]
        if char == "\\" and index + 1 < len(call):
            index += 2
            continue
        if char == "'":
            return index + 1, call[start + 1 : index]
        index += 1
    raise IntrinsicSyntaxError(
        f"the string that starts at character {start + 1} of {call!r} has no closing quote "
        "(escape a quote inside a string as \\')"
    )


def _is_whole_argument(call: str, start: int, length: int) -> bool:
    """Whether the ``length`` characters at ``start`` are a whole argument."""
    before = call[:start].rstrip()
    after = call[start + length :].lstrip()
    return before.endswith(("(", ",")) and after.startswith((")", ","))


def unescape(written: str) -> str:
    """A string argument's value: ``\\'``, ``\\{``, ``\\}`` and ``\\\\`` are the character."""
    out: list[str] = []
    index = 0
    while index < len(written):
        char = written[index]
        if char == "\\" and index + 1 < len(written) and written[index + 1] in ESCAPABLE:
            out.append(written[index + 1])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def format_pieces(template: str) -> list[str | None]:
    """The template as literal text and ``None`` for each ``{}`` slot. A template written in the
    definition is read with its escapes; one from the input has none."""
    written = template.written if isinstance(template, FormatTemplate) else None
    text = written if written is not None else template
    pieces: list[str | None] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if written is not None and char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            literal.append(following if following in ESCAPABLE else char + following)
            index += 2
        elif text.startswith("{}", index):
            pieces.append("".join(literal))
            literal = []
            pieces.append(None)
            index += 2
        else:
            literal.append(char)
            index += 1
    pieces.append("".join(literal))
    return pieces


def render_format(template: Any, values: Sequence[Any], show: Callable[[Any], str]) -> str:
    """``States.Format``: each ``{}`` of ``template`` replaced by the next value, shown as
    Step Functions shows it (``show``)."""
    if not isinstance(template, str):
        raise ValueError(f"States.Format expects a string as its first argument, got {template!r}")
    pieces = format_pieces(template)
    slots = pieces.count(None)
    if slots != len(values):
        raise ValueError(
            f"States.Format template {str(template)!r} has {slots} '{{}}' but "
            f"{len(values)} value(s) were given"
        )
    remaining = iter(values)
    return "".join(show(next(remaining)) if piece is None else piece for piece in pieces)


def parse_call(call: str) -> tuple[Any, Any]:
    """moto's ``IntrinsicParser.parse``, reading strings, escapes and ``null`` as Step Functions
    does and failing on a syntax error. Returns moto's ``(Function, parse tree)``."""
    from antlr4 import CommonTokenStream, InputStream  # type: ignore[import-untyped]
    from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicLexer import ASLIntrinsicLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLIntrinsicParser import (
        ASLIntrinsicParser,
    )
    from moto.stepfunctions.parser.asl.parse.intrinsic.preprocessor import Preprocessor

    prepared = prepare(_json_decoded(call))

    class Raising(ErrorListener):  # type: ignore[misc]
        def syntaxError(  # noqa: N802 (ANTLR's name)
            self, recognizer: Any, symbol: Any, line: int, column: int, msg: str, e: Any
        ) -> None:
            raise IntrinsicSyntaxError(
                f"cannot read the intrinsic function call {call!r}: {msg} (near character "
                f"{column + 1})"
            )

    lexer = ASLIntrinsicLexer(InputStream(prepared.source))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Raising())
    parser: Any = ASLIntrinsicParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(Raising())
    tree = parser.func_decl()
    function = Preprocessor().visit(tree)
    _restore_values(function, prepared.values)
    return function, tree


def _json_decoded(call: str) -> str:
    """moto hands over the call as written in the definition's JSON, its escapes still in it
    (``\\\\'`` for ``\\'``); the call is what that JSON string says."""
    try:
        decoded = json.loads(f'"{call}"')
    except ValueError:
        return call
    return decoded if isinstance(decoded, str) else call


def _restore_values(function: Any, values: dict[str, Any]) -> None:
    from moto.stepfunctions.parser.asl.component.intrinsic.argument.argument import (
        ArgumentFunction,
        ArgumentLiteral,
    )

    for argument in function.argument_list.arguments:
        if isinstance(argument, ArgumentLiteral) and isinstance(argument.definition_value, str):
            if argument.definition_value in values:
                setattr(argument, "definition_value", values[argument.definition_value])  # noqa: B010
        elif isinstance(argument, ArgumentFunction):
            _restore_values(argument.function, values)
